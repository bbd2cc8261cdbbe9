import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'electron-vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * electron-vite builds the three parts of the desktop app from Earmark's own folders (not the tool's
 * default `src/main`, `src/preload`, `src/renderer`): the Electron shell in `src-main/app` over the plain-Node
 * core in `src-main/core` (with its backend utility process and the worker threads for analysis, tag heads and encoder training), the preload bridge in
 * `src-preload` (CommonJS: sandboxed preloads cannot be ES modules), and the Vue renderer in `src-renderer`,
 * which web mode (`earmark serve`) serves as well. Native modules and ffmpeg stay external to the bundles.
 */
export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: {
          index: here('src-main/app/index.ts'),
          backend: here('src-main/app/backend.ts'),
          'analyze-worker': here('src-main/core/jobs/analyze-worker.ts'),
          'spawner-process': here('src-main/core/audio/spawner-process.ts'),
          'head-worker': here('src-main/core/learn/heads/head-worker.ts'),
          'inference-worker': here('src-main/core/learn/published/inference-worker.ts'),
          'train-worker': here('src-main/core/learn/train-worker.ts'),
        },
        // PFFFT's Emscripten glue finds its .wasm beside itself, so it stays in node_modules.
        external: ['electron', 'better-sqlite3', 'hnswlib-node', '@ffmpeg-installer/ffmpeg', '@echogarden/pffft-wasm/simd', /^@tensorflow\//],
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: here('src-preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: here('src-renderer'),
    base: './',
    plugins: [vue()],
    build: {
      outDir: here('out/renderer'),
      emptyOutDir: true,
      // No inline scripts or styles: the CSP allows 'self' only.
      assetsInlineLimit: 0,
      rollupOptions: { input: { index: here('src-renderer/index.html') } },
    },
  },
});

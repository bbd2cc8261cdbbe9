import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';

/**
 * electron-vite builds the three parts of the desktop app from Earmark's own folders (not the tool's
 * default `src/main`, `src/preload`, `src/renderer`): the Electron shell in `src-main/app` over the plain-Node
 * core in `src-main/core`, the preload bridge in `src-preload`, and the Vue renderer in `src-renderer`.
 * Native modules (better-sqlite3, hnswlib-node) and ffmpeg stay external to the bundles.
 */
export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: {
        input: { index: resolve(__dirname, 'src-main/app/index.ts'), 'analyze-worker': resolve(__dirname, 'src-main/core/jobs/analyze-worker.ts') },
        external: ['better-sqlite3', 'hnswlib-node', '@ffmpeg-installer/ffmpeg', /^@tensorflow\//],
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: { input: { index: resolve(__dirname, 'src-preload/index.ts') } },
    },
  },
  renderer: {
    root: resolve(__dirname, 'src-renderer'),
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      rollupOptions: { input: { index: resolve(__dirname, 'src-renderer/index.html') } },
    },
  },
});

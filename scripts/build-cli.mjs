// Bundles the CLI, ffmpeg's process starter, the analysis, head-training and encoder-training workers and the benchmark into out/cli (Node ESM). Dependencies stay external.
import { build } from 'esbuild';

await build({
  entryPoints: {
    earmark: 'src-main/cli/main.ts',
    'analyze-worker': 'src-main/core/jobs/analyze-worker.ts',
    'spawner-process': 'src-main/core/audio/spawner-process.ts',
    'head-worker': 'src-main/core/learn/heads/head-worker.ts',
    'inference-worker': 'src-main/core/learn/published/inference-worker.ts',
    'train-worker': 'src-main/core/learn/train-worker.ts',
    bench: 'src-main/cli/bench.ts',
    'bench-quality': 'src-main/cli/bench-quality.ts',
  },
  outdir: 'out/cli',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
  banner: { js: "import { createRequire as __earmarkCreateRequire } from 'node:module'; const require = __earmarkCreateRequire(import.meta.url);" },
});

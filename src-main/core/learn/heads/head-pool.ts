import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { findBundledScript } from '../../util/worker-script.js';
import type { BackendName } from '../compute.js';
import type { Tf } from '../tf/backend.js';
import { HeadDataError } from './head.js';
import { type FoldResult, type FoldRunner } from './cross-fit.js';
import type { FromHeadWorker, SharedHeadData, ToHeadWorker } from './head-protocol.js';

/** Where the bundled head worker lives (beside the running bundle, or the repository's out/cli). */
export function findHeadWorkerScript(explicit?: string): string {
  return findBundledScript('head-worker.js', { explicit, envVar: 'EARMARK_HEAD_WORKER', from: import.meta.url });
}

/** Below this many labelled samples a fold trains in well under the second a worker takes to load TensorFlow.js. */
export const POOL_MIN_SAMPLES = 1500;

/**
 * How to run a cross-fit's folds on this machine: side by side in worker threads when TensorFlow.js computes
 * on one thread here (the WebAssembly and JavaScript backends) and there are cores to spare; in this thread
 * when libtensorflow (which spreads each operation over the cores itself, and cannot be loaded in a second
 * thread) is loaded, on one core, or when the data is too small to pay for starting workers. `workers` forces a
 * count (1 = in this thread). `offThread` asks for at least one worker whatever the size, for a caller whose
 * thread must stay free (the app's service answering the window while a head trains).
 */
export function foldRunnerFor(tf: Tf, o: { samples: number; folds: number; workers?: number; offThread?: boolean; script?: string }): FoldRunner | undefined {
  const backend = tf.getBackend();
  if (backend !== 'wasm' && backend !== 'cpu') return undefined;
  let workers = o.workers ?? (o.samples >= POOL_MIN_SAMPLES ? Math.min(cpus().length, o.folds) : 1);
  if (o.offThread) workers = Math.max(1, workers);
  else if (workers <= 1) return undefined;
  let script: string;
  try {
    script = findHeadWorkerScript(o.script);
  } catch (e) {
    // Without the bundled worker (a build without it), the folds train here unless threads were asked for.
    if (o.workers !== undefined && o.workers > 1) throw e;
    return undefined;
  }
  return headPool({ workers, backend, script });
}

function rowsOf(flat: Float32Array, width: number): Float32Array[] {
  return Array.from({ length: flat.length / width }, (_, i) => flat.slice(i * width, (i + 1) * width));
}

function share(list: Float32Array[], dim: number): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(list.length * dim * 4);
  const view = new Float32Array(buffer);
  list.forEach((v, i) => view.set(v, i * dim));
  return buffer;
}

/**
 * A fold runner over `workers` threads: the samples are put in shared memory once, each worker takes the next
 * fold when it finishes one, and every worker is stopped when the last fold is in, on the first error, or on
 * cancellation.
 */
export function headPool(o: { workers: number; backend: BackendName; script: string }): FoldRunner {
  return (data, config, extra, tasks, { onEpoch, signal }) => {
    if (signal?.aborted) return Promise.reject(new DOMException('Training was cancelled.', 'AbortError'));
    const dim = data.x[0].length;
    const shared: SharedHeadData = { dim, nValues: data.nValues, x: share(data.x, dim), y: data.y, extra: share(extra, dim) };
    const results = new Array<FoldResult>(tasks.length);
    const queue = tasks.map((task, at) => ({ task, at }));
    const byFold = new Map(tasks.map((t, at) => [t.fold, at]));
    let left = tasks.length;
    return new Promise<FoldResult[]>((resolve, reject) => {
      const workers: Worker[] = [];
      let over = false;
      const onAbort = () => finish(new DOMException('Training was cancelled.', 'AbortError'));
      const finish = (err?: Error) => {
        if (over) return;
        over = true;
        signal?.removeEventListener('abort', onAbort);
        for (const w of workers) void w.terminate();
        if (err) reject(err);
        else resolve(results);
      };
      const give = (w: Worker) => {
        const next = queue.shift();
        if (next) w.postMessage({ type: 'fold', backend: o.backend, data: shared, config, task: next.task } satisfies ToHeadWorker);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      for (let i = 0; i < Math.min(o.workers, tasks.length); i++) {
        const w = new Worker(o.script);
        workers.push(w);
        w.on('message', (m: FromHeadWorker) => {
          if (over) return;
          const at = byFold.get(m.fold) as number;
          if (m.type === 'epoch') onEpoch?.(tasks[at], m.progress);
          else if (m.type === 'error') {
            const e = m.name === 'HeadDataError' ? new HeadDataError(m.message) : m.name === 'AbortError' ? new DOMException(m.message, 'AbortError') : new Error(m.message);
            finish(e);
          } else {
            results[at] = { test: rowsOf(m.test, data.nValues), extra: rowsOf(m.extra, data.nValues), bestEpoch: m.bestEpoch };
            if (--left === 0) finish();
            else give(w);
          }
        });
        w.on('error', (e) => finish(new Error(`A head-training worker failed: ${e.message}`)));
        w.on('exit', (code) => {
          if (!over) finish(new Error(`A head-training worker stopped unexpectedly (exit code ${code}).`));
        });
        give(w);
      }
    });
  };
}

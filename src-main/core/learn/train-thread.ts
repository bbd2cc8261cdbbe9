import { Worker } from 'node:worker_threads';
import type { Ffmpeg } from '../audio/decode.js';
import { findBundledScript } from '../util/worker-script.js';
import type { TrainRequest, TrainResult } from './encoder-jobs.js';

/**
 * Encoder training in a worker thread, so the service's thread (its API, event streams and other jobs) never
 * waits on a training step. The worker opens the library read-only (training only reads tags and tracks),
 * loads its own TensorFlow.js, writes the model's checkpoints itself, and reports each step back; a stop is
 * a message, after which the worker saves where it is, exactly as a stop in this thread would.
 */
export interface TrainThreadInit {
  db: string;
  modelsDir: string;
  cacheDir: string;
  cacheBytes: number;
  /** null when none was found; `ffmpegError` says why, and is thrown if training needs to decode. */
  ffmpeg: Ffmpeg | null;
  ffmpegError?: string;
}

/** A training request without its callbacks (what crosses to the worker). */
export type TrainThreadRequest = Omit<TrainRequest, 'onProgress' | 'signal'>;

export type ToTrainWorker = { type: 'train'; init: TrainThreadInit; request: TrainThreadRequest } | { type: 'stop' };

export type FromTrainWorker =
  | { type: 'progress'; progress: Parameters<NonNullable<TrainRequest['onProgress']>>[0] }
  | { type: 'done'; result: TrainResult }
  | { type: 'error'; name: string; message: string };

export function findTrainWorkerScript(explicit?: string): string {
  return findBundledScript('train-worker.js', { explicit, envVar: 'EARMARK_TRAIN_WORKER', from: import.meta.url });
}

export function trainInThread(script: string, init: TrainThreadInit, r: TrainRequest): Promise<TrainResult> {
  const { onProgress, signal, ...request } = r;
  return new Promise<TrainResult>((resolve, reject) => {
    const w = new Worker(script);
    let over = false;
    const onAbort = () => w.postMessage({ type: 'stop' } satisfies ToTrainWorker);
    const finish = (f: () => void) => {
      if (over) return;
      over = true;
      signal?.removeEventListener('abort', onAbort);
      void w.terminate();
      f();
    };
    w.on('message', (m: FromTrainWorker) => {
      if (m.type === 'progress') onProgress?.(m.progress);
      else if (m.type === 'done') finish(() => resolve(m.result));
      else
        finish(() => {
          const e = new Error(m.message);
          e.name = m.name;
          reject(e);
        });
    });
    w.on('error', (e) => finish(() => reject(new Error(`The training thread failed: ${e.message}`))));
    w.on('exit', (code) => finish(() => reject(new Error(`The training thread stopped unexpectedly (exit code ${code}).`))));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    w.postMessage({ type: 'train', init, request } satisfies ToTrainWorker);
  });
}

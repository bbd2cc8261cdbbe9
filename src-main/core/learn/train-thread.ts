import { Worker } from 'node:worker_threads';
import type { Ffmpeg } from '../audio/decode.js';
import { findBundledScript } from '../util/worker-script.js';
import type { EmbedResult, TrainRequest, TrainResult } from './encoder-jobs.js';

/**
 * Encoder training and embedding in a worker thread, so the service's thread (its API, event streams and
 * other jobs) never waits on a network. The worker loads its own TensorFlow.js and opens the library itself:
 * read-only to train (training reads tags and tracks, and writes only the model's checkpoints), read-write to
 * embed (the vectors go into the store; WAL and a busy timeout let both connections write). Progress comes
 * back as messages; a stop is a message, after which the worker saves where it is (training) or stops between
 * tracks (embedding), exactly as a stop in this thread would.
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

export type ToTrainWorker =
  | { type: 'train'; init: TrainThreadInit; request: TrainThreadRequest }
  | { type: 'embed'; init: TrainThreadInit; model: string; rand: boolean }
  | { type: 'stop' };

export type FromTrainWorker =
  | { type: 'progress'; progress: Parameters<NonNullable<TrainRequest['onProgress']>>[0] }
  | { type: 'done'; result: TrainResult | EmbedResult }
  | { type: 'error'; name: string; message: string };

export function findTrainWorkerScript(explicit?: string): string {
  return findBundledScript('train-worker.js', { explicit, envVar: 'EARMARK_TRAIN_WORKER', from: import.meta.url });
}

export function trainInThread(script: string, init: TrainThreadInit, r: TrainRequest): Promise<TrainResult> {
  const { onProgress, signal, ...request } = r;
  return inThread<TrainResult>(script, { type: 'train', init, request }, { onProgress, signal });
}

export function embedInThread(
  script: string,
  init: TrainThreadInit,
  model: string,
  o: { rand?: boolean; onProgress?: TrainRequest['onProgress']; signal?: AbortSignal } = {},
): Promise<EmbedResult> {
  return inThread<EmbedResult>(script, { type: 'embed', init, model, rand: !!o.rand }, o);
}

function inThread<R>(script: string, first: ToTrainWorker, { onProgress, signal }: { onProgress?: TrainRequest['onProgress']; signal?: AbortSignal }): Promise<R> {
  return new Promise<R>((resolve, reject) => {
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
      else if (m.type === 'done') finish(() => resolve(m.result as R));
      else
        finish(() => {
          const e = new Error(m.message);
          e.name = m.name;
          reject(e);
        });
    });
    w.on('error', (e) => finish(() => reject(new Error(`The training thread failed: ${e.message}`))));
    w.on('exit', (code) => finish(() => reject(new Error(`The training thread stopped unexpectedly (exit code ${code}).`))));
    w.postMessage(first);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

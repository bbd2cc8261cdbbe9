import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { findBundledScript } from '../../util/worker-script.js';
import type { Tf } from '../tf/backend.js';
import type { FromInferenceWorker, ToInferenceWorker } from './inference-protocol.js';
import type { PublishedOutputs } from './published-model.js';

/** Where the bundled inference worker lives (beside the running bundle, or the repository's out/cli). */
export function findInferenceWorkerScript(explicit?: string): string {
  return findBundledScript('inference-worker.js', { explicit, envVar: 'EARMARK_INFERENCE_WORKER', from: import.meta.url });
}

/** Published-model inference spread over worker threads, one track per thread at a time. */
export interface InferencePool {
  readonly size: number;
  /** Front end, patches and graph for one track's excerpts (16 kHz mono), on the next free thread. */
  run(audio: Float32Array[]): Promise<PublishedOutputs>;
  close(): Promise<void>;
}

/**
 * Start `workers` inference threads for the published model in `dir` (default: one per core), each with its own
 * TensorFlow.js on this thread's backend and the graph loaded once. Only where TensorFlow.js computes on one
 * thread (the WebAssembly and JavaScript backends) and there are two cores or more; null otherwise, or when the
 * worker script is not built: then inference runs in the caller's thread. Throws when a thread cannot load the
 * model (its message says why).
 */
export async function startInferencePool(tf: Tf, dir: string, o: { workers?: number; script?: string } = {}): Promise<InferencePool | null> {
  const backend = tf.getBackend();
  if (backend !== 'wasm' && backend !== 'cpu') return null;
  const n = o.workers ?? cpus().length;
  if (n < 2) return null;
  let script: string;
  try {
    script = findInferenceWorkerScript(o.script);
  } catch {
    return null;
  }
  const workers = Array.from({ length: n }, () => new Worker(script));
  const idle: Worker[] = [];
  const queue: Array<{ id: number; audio: Float32Array[] }> = [];
  const pending = new Map<number, { resolve: (r: PublishedOutputs) => void; reject: (e: Error) => void; worker: Worker | null }>();
  let nextId = 1;
  let closed = false;
  let alive = n;
  const dispatch = () => {
    while (idle.length && queue.length) {
      const w = idle.pop() as Worker;
      const job = queue.shift()!;
      const p = pending.get(job.id);
      if (!p) continue;
      p.worker = w;
      w.postMessage({ type: 'run', id: job.id, audio: job.audio } satisfies ToInferenceWorker);
    }
  };
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const onMessage = (m: FromInferenceWorker) => {
              if (m.type === 'ready') {
                w.off('message', onMessage);
                w.off('error', reject);
                resolve();
              } else if (m.type === 'init-failed') reject(new Error(m.message));
            };
            w.on('message', onMessage);
            w.once('error', reject);
            w.postMessage({ type: 'init', dir, backend } satisfies ToInferenceWorker);
          }),
      ),
    );
  } catch (e) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw e;
  }
  for (const w of workers) {
    idle.push(w);
    w.on('message', (m: FromInferenceWorker) => {
      if (m.type !== 'result' && m.type !== 'failure') return;
      const p = pending.get(m.id);
      pending.delete(m.id);
      idle.push(w);
      if (p) {
        if (m.type === 'result') p.resolve({ values: m.values, embedding: m.embedding, patches: m.patches });
        else p.reject(new Error(m.message));
      }
      dispatch();
    });
    // A thread that dies (out of memory) fails its track; the others go on, and when none is left, every track does.
    w.on('error', (e) => {
      alive--;
      for (const [id, p] of pending) {
        if (p.worker === w || alive === 0) {
          pending.delete(id);
          p.reject(new Error(`The inference thread stopped: ${e.message}`));
        }
      }
      const i = idle.indexOf(w);
      if (i >= 0) idle.splice(i, 1);
    });
  }
  return {
    size: n,
    run(audio) {
      if (closed || alive === 0) return Promise.reject(new Error(closed ? 'The inference pool is closed.' : 'Every inference thread has stopped.'));
      const id = nextId++;
      return new Promise<PublishedOutputs>((resolve, reject) => {
        pending.set(id, { resolve, reject, worker: null });
        queue.push({ id, audio });
        dispatch();
      });
    },
    async close() {
      closed = true;
      for (const p of pending.values()) p.reject(new DOMException('Cancelled.', 'AbortError'));
      pending.clear();
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

import { parentPort } from 'node:worker_threads';
import { loadTf } from '../tf/backend.js';
import { type HeadData } from './head.js';
import { fitFold } from './cross-fit.js';
import type { FromHeadWorker, SharedHeadData, ToHeadWorker } from './head-protocol.js';

/**
 * A head-training worker thread: trains one cross-fit fold at a time on its own TensorFlow.js (the backend
 * the pool names, so every fold computes as it would in the main thread) and sends back the probabilities.
 */
if (!parentPort) throw new Error('head-worker must run in a worker thread');
const port = parentPort;

function rows(buffer: SharedArrayBuffer, dim: number): Float32Array[] {
  const all = new Float32Array(buffer);
  return Array.from({ length: all.length / dim }, (_, i) => all.subarray(i * dim, (i + 1) * dim));
}

function flat(list: Float32Array[], width: number): Float32Array {
  const out = new Float32Array(list.length * width);
  list.forEach((p, i) => out.set(p, i * width));
  return out;
}

let cached: { buffer: SharedArrayBuffer; data: HeadData; extra: Float32Array[] } | null = null;

function unpack(d: SharedHeadData): { data: HeadData; extra: Float32Array[] } {
  if (cached?.buffer !== d.x) cached = { buffer: d.x, data: { x: rows(d.x, d.dim), y: d.y, nValues: d.nValues }, extra: rows(d.extra, d.dim) };
  return cached;
}

port.on('message', (msg: ToHeadWorker) => {
  if (msg.type !== 'fold') return;
  const { task } = msg;
  void (async () => {
    try {
      const { tf } = await loadTf({ prefer: msg.backend });
      const { data, extra } = unpack(msg.data);
      const r = await fitFold(tf, data, msg.config, extra, task, {
        onEpoch: (progress) => port.postMessage({ type: 'epoch', fold: task.fold, progress } satisfies FromHeadWorker),
      });
      const test = flat(r.test, msg.data.nValues);
      const ex = flat(r.extra, msg.data.nValues);
      port.postMessage({ type: 'done', fold: task.fold, test, extra: ex, bestEpoch: r.bestEpoch } satisfies FromHeadWorker, [test.buffer as ArrayBuffer, ex.buffer as ArrayBuffer]);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      port.postMessage({ type: 'error', fold: task.fold, name: err.name, message: err.message } satisfies FromHeadWorker);
    }
  })();
});

import { parentPort } from 'node:worker_threads';
import type { Ffmpeg } from '../audio/decode.js';
import { computeBuiltins, decodeForAnalysis, failureOf } from './analyze-file.js';
import type { FromWorker, ToWorker } from './analyze-protocol.js';

/**
 * An analysis worker thread. It takes up to two tasks at a time: both start decoding at once (ffmpeg runs in
 * child processes), and features are computed as each decode finishes, so decoding overlaps computation.
 */
if (!parentPort) throw new Error('analyze-worker must run in a worker thread');
const port = parentPort;
let ffmpeg: Ffmpeg | null = null;
let controller = new AbortController();
let computing: Promise<void> = Promise.resolve();

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'init') ffmpeg = msg.ffmpeg;
  else if (msg.type === 'cancel') {
    controller.abort();
    controller = new AbortController();
  } else if (msg.type === 'task') void run(msg);
});

async function run(task: Extract<ToWorker, { type: 'task' }>): Promise<void> {
  const signal = controller.signal;
  const send = (m: FromWorker) => port.postMessage(m, m.type === 'result' ? Object.values(m.vectors).map((v) => v.buffer as ArrayBuffer) : []);
  try {
    if (!ffmpeg) throw new Error('worker not initialised');
    const dec = await decodeForAnalysis(ffmpeg, task.path, task.duration, signal);
    // Compute one track at a time; the next track's decode keeps going meanwhile.
    const prev = computing;
    let release!: () => void;
    computing = new Promise((r) => (release = r));
    await prev;
    try {
      signal.throwIfAborted();
      const { vectors, ms } = computeBuiltins(dec.audio, task.reps);
      send({ type: 'result', id: task.id, vectors, excerpts: dec.excerpts, decodeMs: dec.ms, computeMs: ms });
    } finally {
      release();
    }
  } catch (e) {
    if (signal.aborted) return;
    send({ type: 'failure', id: task.id, failure: failureOf(e) });
  }
}

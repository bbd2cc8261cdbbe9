import { parentPort } from 'node:worker_threads';
import { computeBuiltins, failureOf } from './analyze-file.js';
import type { FromWorker, ToWorker } from './analyze-protocol.js';

/**
 * An analysis worker thread: computes the built-in representations of decoded audio, one track at a time.
 * Decoding happens in the job's thread, so ffmpeg never waits on a busy worker.
 */
if (!parentPort) throw new Error('analyze-worker must run in a worker thread');
const port = parentPort;

port.on('message', (msg: ToWorker) => {
  if (msg.type !== 'task') return;
  let out: FromWorker;
  try {
    const { vectors, ms } = computeBuiltins(msg.audio, msg.reps);
    out = { type: 'result', id: msg.id, vectors, computeMs: ms };
  } catch (e) {
    out = { type: 'failure', id: msg.id, failure: failureOf(e) };
  }
  // Copied, never transferred: a transfer detaches an ArrayBuffer, and the first detach in an isolate invalidates
  // V8's "no buffer was ever detached" protector, after which every optimised typed-array access in this thread
  // checks for detachment. That made all feature code here 25 % slower (30.5 ms against 24.5 ms per 30 s
  // track, `dsp`), for the sake of not copying a few hundred floats.
  port.postMessage(out);
});

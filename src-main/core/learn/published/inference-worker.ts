import { parentPort } from 'node:worker_threads';
import { loadTf } from '../tf/backend.js';
import type { FromInferenceWorker, ToInferenceWorker } from './inference-protocol.js';
import { runOnAudio } from './published-jobs.js';
import { loadGraph, readPublishedMeta, type PublishedMeta } from './published-model.js';
import type { GraphModel } from '@tensorflow/tfjs';

/**
 * A published model's inference thread: loads TensorFlow.js (the pool's backend) and the graph once, then runs
 * tracks' excerpts through it one at a time (front end, patches, graph; `runOnAudio`), sending back the outputs.
 */
if (!parentPort) throw new Error('inference-worker must run in a worker thread');
const port = parentPort;
let state: { tf: Awaited<ReturnType<typeof loadTf>>['tf']; model: GraphModel; meta: PublishedMeta } | null = null;

port.on('message', (msg: ToInferenceWorker) => {
  void (async () => {
    if (msg.type === 'init') {
      try {
        const { tf } = await loadTf({ prefer: msg.backend });
        state = { tf, model: await loadGraph(tf, msg.dir), meta: readPublishedMeta(msg.dir) };
        port.postMessage({ type: 'ready' } satisfies FromInferenceWorker);
      } catch (e) {
        port.postMessage({ type: 'init-failed', message: e instanceof Error ? e.message : String(e) } satisfies FromInferenceWorker);
      }
      return;
    }
    if (!state) {
      port.postMessage({ type: 'failure', id: msg.id, message: 'the inference worker was not initialised' } satisfies FromInferenceWorker);
      return;
    }
    try {
      const r = runOnAudio(state.tf, state.model, state.meta, msg.audio);
      port.postMessage({ type: 'result', id: msg.id, values: r.values, embedding: r.embedding, patches: r.patches } satisfies FromInferenceWorker);
    } catch (e) {
      port.postMessage({ type: 'failure', id: msg.id, message: e instanceof Error ? e.message : String(e) } satisfies FromInferenceWorker);
    }
  })();
});

import { parentPort } from 'node:worker_threads';
import { LibraryStore } from '../store/library-store.js';
import { embedWithModel, trainEncoder, type EncoderContext, type TrainRequest } from './encoder-jobs.js';
import type { TrainThreadInit } from './train-thread.js';
import type { FromTrainWorker, ToTrainWorker } from './train-thread.js';
import { loadTf } from './tf/backend.js';

/** The encoder thread (see `train-thread.ts`): one training or embedding run, then it is terminated. */
if (!parentPort) throw new Error('train-worker must run in a worker thread');
const port = parentPort;
const stop = new AbortController();

function context(init: TrainThreadInit, store: LibraryStore): EncoderContext {
  return {
    store,
    modelsDir: init.modelsDir,
    cacheDir: init.cacheDir,
    cacheBytes: init.cacheBytes,
    ffmpeg: () => {
      if (!init.ffmpeg) throw new Error(init.ffmpegError ?? 'No ffmpeg.');
      return init.ffmpeg;
    },
    tf: () => loadTf(),
  };
}

port.on('message', (msg: ToTrainWorker) => {
  if (msg.type === 'stop') {
    stop.abort();
    return;
  }
  void (async () => {
    // Training only reads the library; embedding writes the vectors.
    const store = new LibraryStore(msg.init.db, { readonly: msg.type === 'train' });
    const onProgress = (progress: Parameters<NonNullable<TrainRequest['onProgress']>>[0]) => port.postMessage({ type: 'progress', progress } satisfies FromTrainWorker);
    try {
      const ctx = context(msg.init, store);
      const result =
        msg.type === 'train'
          ? await trainEncoder(ctx, { ...msg.request, signal: stop.signal, onProgress })
          : await embedWithModel(ctx, msg.model, { rand: msg.rand, signal: stop.signal, onProgress });
      port.postMessage({ type: 'done', result } satisfies FromTrainWorker);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      port.postMessage({ type: 'error', name: err.name, message: err.message } satisfies FromTrainWorker);
    } finally {
      store.close();
    }
  })();
});

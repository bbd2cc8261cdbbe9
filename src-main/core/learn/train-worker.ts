import { parentPort } from 'node:worker_threads';
import { LibraryStore } from '../store/library-store.js';
import { trainEncoder } from './encoder-jobs.js';
import type { FromTrainWorker, ToTrainWorker } from './train-thread.js';
import { loadTf } from './tf/backend.js';

/** The encoder-training thread (see `train-thread.ts`): one training run, then the pool terminates it. */
if (!parentPort) throw new Error('train-worker must run in a worker thread');
const port = parentPort;
const stop = new AbortController();

port.on('message', (msg: ToTrainWorker) => {
  if (msg.type === 'stop') {
    stop.abort();
    return;
  }
  const { init, request } = msg;
  void (async () => {
    const store = new LibraryStore(init.db, { readonly: true });
    try {
      const result = await trainEncoder(
        { store, modelsDir: init.modelsDir, cacheDir: init.cacheDir, cacheBytes: init.cacheBytes, ffmpeg: () => {
            if (!init.ffmpeg) throw new Error(init.ffmpegError ?? 'No ffmpeg.');
            return init.ffmpeg;
          }, tf: () => loadTf() },
        { ...request, signal: stop.signal, onProgress: (progress) => port.postMessage({ type: 'progress', progress } satisfies FromTrainWorker) },
      );
      port.postMessage({ type: 'done', result } satisfies FromTrainWorker);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      port.postMessage({ type: 'error', name: err.name, message: err.message } satisfies FromTrainWorker);
    } finally {
      store.close();
    }
  })();
});

import { setMaxListeners } from 'node:events';
import { cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Ffmpeg } from '../audio/decode.js';
import { BUILTIN_REPRESENTATIONS, isBuiltin } from '../audio/representations.js';
import type { LibraryStore, TrackRow } from '../store/library-store.js';
import { decodeForAnalysis, failureOf, truncationMessage, type AnalysisFailure, type Truncation } from './analyze-file.js';
import type { Excerpt } from '../audio/representations.js';
import type { FromWorker, ToWorker } from './analyze-protocol.js';
import { findBundledScript } from '../util/worker-script.js';
import { ProcessSpawner } from '../audio/spawner.js';

export interface AnalyzeProgress {
  done: number;
  total: number;
  failed: number;
  elapsedMs: number;
  /** Estimated time left, from the rate so far; null until a few tracks are done. */
  etaMs: number | null;
  tracksPerSecond: number;
  current: string | null;
}

export interface AnalyzeReport {
  representations: string[];
  total: number;
  analyzed: number;
  failed: number;
  skipped: number;
  cancelled: boolean;
  elapsedMs: number;
  decodeMs: number;
  computeMs: number;
  failures: Array<{ path: string } & AnalysisFailure>;
  /** Analysed on what decodes, and reported: files that hold less audio than their header says. */
  truncated: Array<{ path: string; message: string }>;
}

export interface AnalyzeOptions {
  representations?: string[];
  jobs?: number;
  signal?: AbortSignal;
  onProgress?: (p: AnalyzeProgress) => void;
  /** Try again files whose decoding failed before (they are skipped until they change otherwise). */
  retryFailed?: boolean;
  /** Path of the bundled worker script; found next to this module or in out/cli otherwise. */
  workerScript?: string;
  /**
   * Start ffmpeg from a small helper process (`ProcessSpawner`, Linux): true by default. When the helper cannot
   * start, ffmpeg is started from this process, as with false.
   */
  spawner?: boolean;
}

/** Where the bundled analysis worker lives: beside the running bundle, or in the repository's out/cli. */
export function findWorkerScript(explicit?: string): string {
  return findBundledScript('analyze-worker.js', { explicit, envVar: 'EARMARK_WORKER', from: import.meta.url });
}

const IN_FLIGHT_PER_WORKER = 2;

/**
 * Compute built-in representations for every track that lacks them, with a pool of worker threads (each
 * overlapping ffmpeg decoding with feature computation). Each result is committed in its own transaction, so
 * a kill at any moment loses at most the tracks in flight; running again resumes where it stopped.
 */
export async function analyzeLibrary(store: LibraryStore, ffmpeg: Ffmpeg, o: AnalyzeOptions = {}): Promise<AnalyzeReport> {
  const reps = o.representations?.length ? o.representations : ['dsp', 'mfcc'];
  for (const r of reps) {
    if (!isBuiltin(r)) throw new Error(`"${r}" is not a built-in representation (dsp, mfcc); trained models are embedded with \`earmark embed\`.`);
    const def = BUILTIN_REPRESENTATIONS[r];
    store.ensureRepresentation(r, 'builtin', def.dim, def.version);
  }
  const pending = store.tracksNeedingAnalysis(reps, o.retryFailed);
  const total = pending.length;
  const started = performance.now();
  const report: AnalyzeReport = {
    representations: reps,
    total,
    analyzed: 0,
    failed: 0,
    skipped: 0,
    cancelled: false,
    elapsedMs: 0,
    decodeMs: 0,
    computeMs: 0,
    failures: [],
    truncated: [],
  };
  const progress = (current: string | null) => {
    const done = report.analyzed + report.failed;
    const elapsedMs = performance.now() - started;
    const rate = done / Math.max(1e-3, elapsedMs / 1000);
    o.onProgress?.({
      done,
      total,
      failed: report.failed,
      elapsedMs,
      etaMs: done >= 2 && rate > 0 ? ((total - done) / rate) * 1000 : null,
      tracksPerSecond: rate,
      current,
    });
  };
  progress(null);
  if (total === 0) return report;

  const nWorkers = Math.max(1, Math.min(o.jobs ?? cpus().length, total));
  const script = findWorkerScript(o.workerScript);
  let next = 0;

  const saveResult = (t: TrackRow, vectors: Record<string, Float32Array>, excerpts: unknown, truncated: Truncation | null) => {
    store.transaction(() => {
      // The file may have changed or gone while we worked: only store results for the content we analysed.
      const now = store.trackById(t.id);
      if (!now || now.content_hash !== t.content_hash) return;
      for (const r of reps) store.putVector(t.id, r, t.content_hash, vectors[r], excerpts);
      store.clearErrors(t.id, 'decode');
      store.clearErrors(t.id, 'analyze');
      // Analysed, and reported: the file holds less than its header says.
      if (truncated) store.setError(t.id, 'decode', 'truncated', truncationMessage(truncated), JSON.stringify(truncated), t.content_hash);
    });
    if (truncated) report.truncated.push({ path: t.path, message: truncationMessage(truncated) });
  };
  const saveFailure = (t: TrackRow, f: AnalysisFailure) => {
    store.transaction(() => {
      if (store.trackById(t.id)) store.setError(t.id, f.stage, f.code, f.message, f.detail, t.content_hash);
    });
    report.failures.push({ path: t.path, ...f });
  };

  // The pipeline: up to DECODING tracks decode at once here (ffmpeg processes, drained by this thread's event
  // loop); decoded tracks wait in `ready` (bounded) until a worker is free; each worker computes one track and
  // holds one more, so it never idles between tracks.
  const DECODING = nWorkers * IN_FLIGHT_PER_WORKER;
  const READY_MAX = nWorkers * IN_FLIGHT_PER_WORKER;
  const decodeController = new AbortController();
  // Every ffmpeg process in flight listens to this signal: with many cores that is more than Node's default of
  // 10 listeners, which is not a leak (each is removed when its process ends).
  setMaxListeners(DECODING + 1, decodeController.signal);
  const onOuterAbort = () => decodeController.abort();
  o.signal?.addEventListener('abort', onOuterAbort, { once: true });
  interface Decoded {
    t: TrackRow;
    audio: Float32Array[];
    excerpts: Excerpt[];
    decodeMs: number;
    truncated: Truncation | null;
  }

  // ffmpeg starts from a small helper: started from this (big) process, each start would cost ~7 ms of CPU.
  const spawner = o.spawner !== false && ProcessSpawner.supported ? await ProcessSpawner.start().catch(() => null) : null;
  try {
    await new Promise<void>((resolveAll, rejectAll) => {
      const workers: Worker[] = [];
      const inFlight = new Map<Worker, Map<number, Decoded>>();
      const ready: Decoded[] = [];
      let decoding = 0;
      let finished = false;
      const finish = (err?: Error) => {
        if (finished) return;
        finished = true;
        o.signal?.removeEventListener('abort', onAbort);
        decodeController.abort();
        for (const w of workers) void w.terminate();
        if (err) rejectAll(err);
        else resolveAll();
      };
      const onAbort = () => {
        report.cancelled = true;
        finish();
      };
      if (o.signal?.aborted) return onAbort();
      o.signal?.addEventListener('abort', onAbort, { once: true });

      const settled = () => decoding === 0 && ready.length === 0 && next >= pending.length && [...inFlight.values()].every((m) => m.size === 0);

      const pump = () => {
        if (finished) return;
        // Hand decoded tracks to workers with room.
        for (const w of workers) {
          const held = inFlight.get(w);
          while (held && held.size < IN_FLIGHT_PER_WORKER && ready.length > 0) {
            const d = ready.shift() as Decoded;
            held.set(d.t.id, d);
            // Shared, not transferred: nothing is copied, and this thread never detaches a buffer (see decodeExcerpt).
            w.postMessage({ type: 'task', id: d.t.id, audio: d.audio, reps } satisfies ToWorker);
          }
        }
        // Keep ffmpeg busy, but do not run far ahead of the workers.
        while (decoding < DECODING && ready.length < READY_MAX && next < pending.length) {
          const t = pending[next++];
          decoding++;
          decodeForAnalysis(ffmpeg, t.path, t.duration, decodeController.signal, true, spawner).then(
            (dec) => {
              decoding--;
              if (finished) return;
              ready.push({ t, audio: dec.audio, excerpts: dec.excerpts, decodeMs: dec.ms, truncated: dec.truncated });
              pump();
            },
            (e: unknown) => {
              decoding--;
              if (finished) return;
              try {
                saveFailure(t, failureOf(e));
              } catch (err) {
                finish(err as Error);
                return;
              }
              report.failed++;
              progress(t.path);
              pump();
            },
          );
        }
        if (settled()) finish();
      };

      const spawnWorker = (): Worker => {
        const w = new Worker(script);
        workers.push(w);
        inFlight.set(w, new Map());
        w.on('message', (m: FromWorker) => {
          if (finished) return;
          const d = inFlight.get(w)?.get(m.id);
          inFlight.get(w)?.delete(m.id);
          if (!d) return;
          try {
            if (m.type === 'result') {
              saveResult(d.t, m.vectors, d.excerpts, d.truncated);
              report.analyzed++;
              report.decodeMs += d.decodeMs;
              report.computeMs += m.computeMs;
            } else {
              saveFailure(d.t, m.failure);
              report.failed++;
            }
          } catch (e) {
            finish(e as Error);
            return;
          }
          progress(d.t.path);
          pump();
        });
        w.on('error', (e) => {
          // A worker that dies (out of memory on a pathological file, a native crash) takes its tasks with it:
          // record them as failed and carry on with a fresh worker.
          if (finished) return;
          const lost = [...(inFlight.get(w)?.values() ?? [])];
          inFlight.delete(w);
          workers.splice(workers.indexOf(w), 1);
          for (const d of lost) {
            saveFailure(d.t, { stage: 'analyze', code: 'worker-crashed', message: `The analysis worker crashed on this file: ${e.message}`, detail: e.stack ?? null });
            report.failed++;
          }
          progress(null);
          if (!settled()) spawnWorker();
          pump();
        });
        return w;
      };
      for (let i = 0; i < nWorkers; i++) spawnWorker();
      pump();
    });
  } finally {
    o.signal?.removeEventListener('abort', onOuterAbort);
    await spawner?.close();
  }

  report.skipped = total - report.analyzed - report.failed;
  report.elapsedMs = performance.now() - started;
  return report;
}

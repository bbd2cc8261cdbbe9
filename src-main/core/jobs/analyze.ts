import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Ffmpeg } from '../audio/decode.js';
import { BUILTIN_REPRESENTATIONS, isBuiltin } from '../audio/representations.js';
import type { LibraryStore, TrackRow } from '../store/library-store.js';
import type { AnalysisFailure } from './analyze-file.js';
import type { FromWorker, ToWorker } from './analyze-protocol.js';

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
}

/** Where the bundled analysis worker lives: beside the running bundle, or in the repository's out/cli. */
export function findWorkerScript(explicit?: string): string {
  const candidates: string[] = [];
  if (explicit) candidates.push(explicit);
  if (process.env.EARMARK_WORKER) candidates.push(process.env.EARMARK_WORKER);
  const here = dirname(fileURLToPath(import.meta.url));
  candidates.push(join(here, 'analyze-worker.js'));
  // From the TypeScript sources (tests): <repo>/src-main/core/jobs → <repo>/out/cli.
  candidates.push(resolve(here, '../../../out/cli/analyze-worker.js'));
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`The analysis worker is not built (looked in ${candidates.join(', ')}). Run \`npm run build:cli\`.`);
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

  const nWorkers = Math.max(1, Math.min(o.jobs ?? cpus().length, Math.ceil(total / IN_FLIGHT_PER_WORKER)));
  const script = findWorkerScript(o.workerScript);
  const byId = new Map<number, TrackRow>(pending.map((t) => [t.id, t]));
  let next = 0;

  const saveResult = (t: TrackRow, vectors: Record<string, Float32Array>, excerpts: unknown) => {
    store.transaction(() => {
      // The file may have changed or gone while we worked: only store results for the content we analysed.
      const now = store.trackById(t.id);
      if (!now || now.content_hash !== t.content_hash) return;
      for (const r of reps) store.putVector(t.id, r, t.content_hash, vectors[r], excerpts);
      store.clearErrors(t.id, 'decode');
      store.clearErrors(t.id, 'analyze');
    });
  };
  const saveFailure = (t: TrackRow, f: AnalysisFailure) => {
    store.transaction(() => {
      if (store.trackById(t.id)) store.setError(t.id, f.stage, f.code, f.message, f.detail, t.content_hash);
    });
    report.failures.push({ path: t.path, ...f });
  };

  await new Promise<void>((resolveAll, rejectAll) => {
    const workers: Worker[] = [];
    const inFlight = new Map<Worker, Set<number>>();
    let finished = false;
    let alive = 0;
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      o.signal?.removeEventListener('abort', onAbort);
      for (const w of workers) {
        w.postMessage({ type: 'cancel' } satisfies ToWorker);
        void w.terminate();
      }
      if (err) rejectAll(err);
      else resolveAll();
    };
    const onAbort = () => {
      report.cancelled = true;
      finish();
    };
    if (o.signal?.aborted) return onAbort();
    o.signal?.addEventListener('abort', onAbort, { once: true });

    const feed = (w: Worker) => {
      const set = inFlight.get(w) as Set<number>;
      while (!finished && set.size < IN_FLIGHT_PER_WORKER && next < pending.length) {
        const t = pending[next++];
        set.add(t.id);
        w.postMessage({ type: 'task', id: t.id, path: t.path, duration: t.duration, reps } satisfies ToWorker);
      }
      if (!finished && next >= pending.length && [...inFlight.values()].every((s) => s.size === 0)) finish();
    };

    const spawnWorker = () => {
      const w = new Worker(script);
      alive++;
      workers.push(w);
      inFlight.set(w, new Set());
      w.postMessage({ type: 'init', ffmpeg } satisfies ToWorker);
      w.on('message', (m: FromWorker) => {
        if (finished) return;
        const t = byId.get(m.id);
        inFlight.get(w)?.delete(m.id);
        if (!t) return;
        try {
          if (m.type === 'result') {
            saveResult(t, m.vectors, m.excerpts);
            report.analyzed++;
            report.decodeMs += m.decodeMs;
            report.computeMs += m.computeMs;
          } else {
            saveFailure(t, m.failure);
            report.failed++;
          }
        } catch (e) {
          finish(e as Error);
          return;
        }
        progress(t.path);
        feed(w);
      });
      w.on('error', (e) => {
        // A worker that dies (out of memory on a pathological file, a native crash) takes its tasks with it:
        // record them as failed and carry on with a fresh worker.
        if (finished) return;
        const lost = [...(inFlight.get(w) ?? [])];
        inFlight.delete(w);
        alive--;
        for (const id of lost) {
          const t = byId.get(id);
          if (!t) continue;
          saveFailure(t, { stage: 'analyze', code: 'worker-crashed', message: `The analysis worker crashed on this file: ${e.message}`, detail: e.stack ?? null });
          report.failed++;
        }
        progress(null);
        if (next < pending.length) feed(spawnWorker());
        else if (alive === 0 || [...inFlight.values()].every((s) => s.size === 0)) finish();
      });
      return w;
    };
    for (let i = 0; i < nWorkers; i++) feed(spawnWorker());
  });

  report.skipped = total - report.analyzed - report.failed;
  report.elapsedMs = performance.now() - started;
  return report;
}

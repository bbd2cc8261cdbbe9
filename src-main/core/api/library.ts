import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { defaultRepresentation } from './recommend.js';
import { dirname, resolve } from 'node:path';
import { decodeExcerpt, SR, type Ffmpeg } from '../audio/decode.js';
import { delta, melspectrogram, mfccFromMel, powerToDb } from '../audio/features.js';
import { toNested, type Matrix } from '../audio/matrix.js';
import type { LibraryInfo } from '../contract.js';
import { applyNormaliser } from '../index/normalise.js';
import { analyzeLibrary, type AnalyzeOptions, type AnalyzeReport } from '../jobs/analyze.js';
import { detectCompute } from '../learn/compute.js';
import { scanLibrary, type ScanOptions, type ScanReport } from '../library/scan.js';
import { schemaVersion } from '../store/db.js';
import type { TrackRow } from '../store/library-store.js';
import type { ApiContext } from './context.js';
import { logMelCache, models, publishedModels } from './models.js';

/** The library itself: scanning and analysing it, what it holds, its vectors out to other tools, and front-end matrices. */

export interface FeatureRequest {
  kind: 'mel' | 'logmel' | 'mfcc';
  nFft?: number;
  hopLength?: number;
  nMels?: number;
  nMfcc?: number;
  fmin?: number;
  fmax?: number;
  offset?: number;
  duration?: number;
  /** For `mfcc`: 0 plain, 1 Δ, 2 ΔΔ. */
  deltaOrder?: 0 | 1 | 2;
}

export interface FeatureMatrix {
  shape: [number, number];
  data: number[][];
  sr: number;
}

export function scan(ctx: ApiContext, folders: string[], o?: ScanOptions): Promise<ScanReport> {
  if (folders.length === 0) {
    const roots = ctx.store.roots().map((r) => r.path);
    if (roots.length === 0) throw new Error('No folders to scan: name one (earmark scan ~/Music).');
    return scanLibrary(ctx.store, roots, o);
  }
  return scanLibrary(ctx.store, folders, o);
}

/** Analyse what needs analysing, then bring the indexes of the analysed representations up to date. */
export async function analyze(ctx: ApiContext, o: AnalyzeOptions = {}): Promise<AnalyzeReport & { indexes: Record<string, 'built' | 'loaded'> }> {
  const report = await analyzeLibrary(ctx.store, ctx.ffmpeg(), o);
  const indexes: Record<string, 'built' | 'loaded'> = {};
  if (!report.cancelled) {
    for (const r of report.representations) if (ctx.store.vectorCount(r) > 0) indexes[r] = ctx.indexes.ensure(r).origin;
  }
  return { ...report, indexes };
}

export function info(ctx: ApiContext): LibraryInfo {
  const errors = ctx.store.errors();
  const byStage: Record<string, number> = {};
  const byCode: Record<string, number> = {};
  for (const e of errors) {
    byStage[e.stage] = (byStage[e.stage] ?? 0) + 1;
    byCode[e.code] = (byCode[e.code] ?? 0) + 1;
  }
  let ffmpeg: LibraryInfo['ffmpeg'];
  try {
    ffmpeg = { ...ctx.ffmpeg(), ok: true };
  } catch (e) {
    ffmpeg = { ok: false, error: (e as Error).message };
  }
  const representations = ctx.store.representations().map((r) => {
    const st = ctx.indexes.state(r.name);
    const meta = ctx.indexes.readMeta(r.name);
    return {
      name: r.name,
      kind: r.kind,
      dim: r.dim,
      version: r.version,
      vectors: r.vectors,
      index: { state: st.state, reason: st.reason, count: meta?.count ?? null, builtAt: meta?.builtAt ?? null },
    };
  });
  return {
    home: ctx.paths.home,
    database: ctx.paths.db,
    schemaVersion: schemaVersion(ctx.store.db),
    roots: ctx.store.roots().map((r) => r.path),
    tracks: ctx.store.trackCount(),
    analyzed: Object.fromEntries(representations.map((r) => [r.name, r.vectors])),
    errors: { total: errors.length, byStage, byCode },
    scanProblems: ctx.store.scanProblems().length,
    tagFields: ctx.store.tagFieldCounts(),
    representations,
    ffmpeg,
    compute: detectCompute(),
    models: [
      ...models(ctx).map((m) => ({ name: m.name, kind: m.kind, arch: m.arch, done: m.done, iterations: m.iterations })),
      // Published models: imported, never trained here (done = iterations = 0).
      ...publishedModels(ctx).map((m) => ({ name: m.name, kind: 'published', arch: m.task, done: 0, iterations: 0 })),
    ],
    logMelCache: logMelCache(ctx),
    defaultRepresentation: defaultRepresentation(ctx),
  };
}

/**
 * Write a representation's vectors as `FILE.f32` (row-major float32, one row per track, as normalised for the
 * index unless `raw`) and `FILE.tsv` (row, track id, path, artist, album, title, genre) for other tools.
 */
export function exportEmbeddings(ctx: ApiContext, rep: string, out: string, { raw = false } = {}): { rows: number; dim: number; f32: string; tsv: string } {
  const r = ctx.store.representation(rep);
  if (!r || ctx.store.vectorCount(rep) === 0) throw new Error(`No "${rep}" vectors to export. Run \`earmark analyze\` first.`);
  const { ids, data } = ctx.store.vectors(rep);
  const normaliser = raw ? null : ctx.indexes.ensure(rep).meta.normaliser;
  const base = out.replace(/\.(f32|tsv)$/i, '');
  mkdirSync(dirname(resolve(base)), { recursive: true });
  const f32 = `${base}.f32`;
  const tsv = `${base}.tsv`;
  const fd = openSync(f32, 'w');
  try {
    for (const v of data) {
      const row = normaliser ? applyNormaliser(normaliser, v) : v;
      writeSync(fd, Buffer.from(row.buffer, row.byteOffset, row.byteLength));
    }
  } finally {
    closeSync(fd);
  }
  const genres = ctx.store.fieldValues('genre');
  const clean = (s: string | null) => (s ?? '').replace(/[\t\r\n]+/g, ' ');
  const lines = ['row\ttrack_id\tpath\tartist\talbum\ttitle\tgenre'];
  ids.forEach((id, i) => {
    const t = ctx.store.trackById(id) as TrackRow;
    lines.push([i, id, clean(t.path), clean(t.artist), clean(t.album), clean(t.title), clean((genres.get(id) ?? []).join('; '))].join('\t'));
  });
  const fdT = openSync(tsv, 'w');
  try {
    writeSync(fdT, `${lines.join('\n')}\n`);
  } finally {
    closeSync(fdT);
  }
  return { rows: ids.length, dim: r.dim, f32, tsv };
}

/** A front-end matrix of any audio file, for comparison with other implementations (e.g. librosa). */
export async function computeFeatures(ff: Ffmpeg, file: string, req: FeatureRequest): Promise<FeatureMatrix> {
  const nFft = req.nFft ?? 2048;
  const hopLength = req.hopLength ?? 512;
  const nMels = req.nMels ?? 128;
  const y = await decodeExcerpt(ff, resolve(file), { offset: req.offset, duration: req.duration, sr: SR });
  const mel = melspectrogram(y, { sr: SR, nFft, hopLength, nMels, fmin: req.fmin, fmax: req.fmax });
  let m: Matrix;
  if (req.kind === 'mel') m = mel;
  else if (req.kind === 'logmel') m = powerToDb(mel, { topDb: null });
  else {
    m = mfccFromMel(mel, req.nMfcc ?? 20);
    if (req.deltaOrder) m = delta(m, { width: 9, order: req.deltaOrder });
  }
  return { shape: [m.rows, m.cols], data: toNested(m), sr: SR };
}

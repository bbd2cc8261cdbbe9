import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import {
  acceptedEdits,
  evaluateTags,
  markWritten,
  predictField,
  reviewPredictions,
  reviewSummary,
  trackPredictions,
  type FieldPrediction,
  type PredictionRow,
  type PredictOptions,
  type ReviewFilter,
  type ReviewSummary,
  type TagEvaluation,
} from './learn/tag-predictions.js';
import { loadTf, type TfRuntime } from './learn/tf/backend.js';
import { HeadDataError } from './learn/heads/head.js';
import { embedInThread, findTrainWorkerScript, trainInThread, type TrainThreadInit } from './learn/train-thread.js';
import { embedWithModel, evaluateRepresentations, trainEncoder, type EmbedResult, type EncoderContext, type RetrievalScores, type TrainRequest, type TrainResult } from './learn/encoder-jobs.js';
import { checkModelName, exportModel, importModel, listModels, readMeta, type ModelMeta } from './learn/model-store.js';
import { LogMelCache, type CacheInfo } from './learn/patches.js';
import { Random } from './util/random.js';

/** Log-mel cache bound unless the `cache.logmelBytes` setting says otherwise: 4 GiB. */
export const DEFAULT_LOGMEL_CACHE_BYTES = 4 * 2 ** 30;
import { dirname, join, resolve } from 'node:path';
import { decodeExcerpt, resolveFfmpeg, SR, type Ffmpeg } from './audio/decode.js';
import { delta, melspectrogram, mfccFromMel, powerToDb } from './audio/features.js';
import { toNested, type Matrix } from './audio/matrix.js';
import { BUILTIN_REPRESENTATIONS, isBuiltin } from './audio/representations.js';
import { generateDemoLibrary, type DemoManifest, type DemoOptions } from './demo/demo-library.js';
import { resolveHome, type HomePaths } from './home.js';
import { applyNormaliser } from './index/normalise.js';
import { VectorIndexes, type IndexState } from './index/vector-index.js';
import { analyzeFile } from './jobs/analyze-file.js';
import { analyzeLibrary, type AnalyzeOptions, type AnalyzeReport } from './jobs/analyze.js';
import { detectCompute, type ComputeInfo } from './learn/compute.js';
import { scanLibrary, type ScanOptions, type ScanReport } from './library/scan.js';
import { cleanStrayTemps, listBatches, newBatchId, readJournal, safeWriteTags, TagWriteError, type FacetChanges } from './library/tag-writer.js';
import { schemaVersion } from './store/db.js';
import { LibraryStore, type ErrorRow, type TrackRow } from './store/library-store.js';

export type { AnalyzeProgress, AnalyzeReport } from './jobs/analyze.js';
export type { ScanProgress, ScanReport } from './library/scan.js';
export type { DemoManifest, DemoOptions } from './demo/demo-library.js';
export type { ComputeInfo } from './learn/compute.js';
export type { EmbedResult, RetrievalScores, TrainRequest, TrainResult } from './learn/encoder-jobs.js';
export type { ModelMeta } from './learn/model-store.js';
export type { FieldPrediction, PredictionRow, ReviewFilter, ReviewSummary, TagEvaluation } from './learn/tag-predictions.js';

/** A track as every shell shows it. */
export interface TrackSummary {
  id: number;
  path: string;
  artist: string | null;
  album: string | null;
  title: string | null;
  year: number | null;
  duration: number | null;
  genre: string[];
  mood: string[];
  style: string[];
}

export interface SimilarQuery {
  /** A library track id. */
  trackId?: number;
  /** Several library tracks: results are near all of them (the mean of their directions). */
  trackIds?: number[];
  /** A file: a library track's path, or any audio file outside the library (analysed on the fly). */
  path?: string;
  k?: number;
  representation?: string;
  /** Keep only tracks by the query's artist (`same`), or only other artists' (`different`). */
  artist?: 'same' | 'different';
  /** Leave out the query's own album. */
  excludeSameAlbum?: boolean;
  /** Keep only tracks carrying one of the values in each field, e.g. `{ genre: ['Jazz'], mood: ['Calm'] }`. */
  tags?: Record<string, string[]>;
}

export interface SimilarResult {
  query: { trackId: number | null; trackIds: number[]; path: string; inLibrary: boolean; artist: string | null; title: string | null };
  representation: string;
  results: Array<TrackSummary & { score: number; rank: number }>;
}

export interface RepresentationInfo {
  name: string;
  kind: string;
  dim: number;
  version: string;
  vectors: number;
  index: { state: IndexState; reason: string; count: number | null; builtAt: number | null };
}

/** One head field's held-out scores for a representation (null where the metric does not apply). */
export interface HeadScore {
  field: string;
  multiLabel: boolean | null;
  train: number;
  test: number;
  accuracy: number | null;
  macroF1: number | null;
  meanAveragePrecision: number | null;
  /** Why no head could be trained for the field on this library. */
  refused: string | null;
}

export interface RepresentationComparison {
  /** The model whose held-out tracks are the queries, or null for 15 % of the library by seed. */
  queriesFrom: string | null;
  queries: number;
  headKind: 'mlp' | 'linear';
  at: number;
  rows: Array<RetrievalScores & { heads: HeadScore[] }>;
}

export interface LibraryInfo {
  home: string;
  database: string;
  schemaVersion: number;
  roots: string[];
  tracks: number;
  analyzed: Record<string, number>;
  errors: { total: number; byStage: Record<string, number>; byCode: Record<string, number> };
  scanProblems: number;
  tagFields: Array<{ field: string; tracks: number; values: number }>;
  representations: RepresentationInfo[];
  ffmpeg: (Ffmpeg & { ok: true }) | { ok: false; error: string };
  compute: ComputeInfo;
  /** Trained encoders in models/. */
  models: Array<{ name: string; kind: string; arch: string; done: number; iterations: number }>;
  /** The log-mel cache of encoder training and embedding: files, bytes, and its bound. */
  logMelCache: CacheInfo;
}

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

export interface TagWriteReport {
  batch: string;
  dryRun: boolean;
  written: Array<{ trackId: number; path: string; before: Record<string, string[]>; after: Record<string, string[]> }>;
  refused: Array<{ trackId: number | null; path: string | null; code: string; message: string }>;
  undoOf?: string;
}

export interface PredictReport {
  fields: FieldPrediction[];
  /** Fields with too little to learn from, and why. */
  refused: Array<{ field: string; reason: string }>;
}

export interface EarmarkOptions {
  home?: string | null;
  /** A user-chosen ffmpeg; otherwise the stored setting, the bundled binary, then PATH. */
  ffmpegPath?: string | null;
}

function summary(t: TrackRow, tags: Record<string, string[]>): TrackSummary {
  return {
    id: t.id,
    path: t.path,
    artist: t.artist,
    album: t.album,
    title: t.title,
    year: t.year,
    duration: t.duration,
    genre: tags.genre ?? [],
    mood: tags.mood ?? [],
    style: tags.style ?? [],
  };
}

/**
 * The one facade the CLI, the Electron shell and the web server call. Plain Node: it never imports electron.
 */
export class Earmark {
  readonly paths: HomePaths;
  readonly store: LibraryStore;
  readonly indexes: VectorIndexes;
  private readonly ffmpegSetting: string | null;

  private constructor(o: EarmarkOptions) {
    this.paths = resolveHome(o.home);
    mkdirSync(this.paths.home, { recursive: true });
    this.store = new LibraryStore(this.paths.db);
    this.ffmpegSetting = o.ffmpegPath ?? null;
    this.indexes = new VectorIndexes(this.paths.indexDir, this.store, (rep, dim) => {
      if (isBuiltin(rep)) return { groups: BUILTIN_REPRESENTATIONS[rep].groups, standardise: true };
      // Multi-task features (mean ‖ std of activations) are standardised like dsp; triplet embeddings are
      // unit vectors already compared by cosine.
      const kind = this.store.representation(rep)?.kind;
      return { groups: [{ name: rep, start: 0, end: dim }], standardise: kind === 'model:multitask' };
    });
  }

  static open(o: EarmarkOptions = {}): Earmark {
    return new Earmark(o);
  }

  close(): void {
    this.store.close();
  }

  ffmpeg(): Ffmpeg {
    // An explicit choice first, then the user's stored setting (read each time, so a change applies at once).
    return resolveFfmpeg(this.ffmpegSetting ?? this.store.setting('ffmpeg.path') ?? null);
  }

  scan(folders: string[], o?: ScanOptions): Promise<ScanReport> {
    if (folders.length === 0) {
      const roots = this.store.roots().map((r) => r.path);
      if (roots.length === 0) throw new Error('No folders to scan: name one (earmark scan ~/Music).');
      return scanLibrary(this.store, roots, o);
    }
    return scanLibrary(this.store, folders, o);
  }

  removeFolder(folder: string): number {
    return this.store.removeRoot(resolve(folder));
  }

  /** Analyse what needs analysing, then bring the indexes of the analysed representations up to date. */
  async analyze(o: AnalyzeOptions = {}): Promise<AnalyzeReport & { indexes: Record<string, 'built' | 'loaded'> }> {
    const report = await analyzeLibrary(this.store, this.ffmpeg(), o);
    const indexes: Record<string, 'built' | 'loaded'> = {};
    if (!report.cancelled) {
      for (const r of report.representations) if (this.store.vectorCount(r) > 0) indexes[r] = this.indexes.ensure(r).origin;
    }
    return { ...report, indexes };
  }

  track(id: number): TrackSummary | undefined {
    const t = this.store.trackById(id);
    return t ? summary(t, this.store.tagsOf(id)) : undefined;
  }

  async similar(q: SimilarQuery): Promise<SimilarResult> {
    const rep = q.representation ?? 'dsp';
    const k = q.k ?? 10;
    if (!Number.isInteger(k) || k < 1 || k > 1000) throw new Error(`k must be a whole number from 1 to 1000, got ${q.k}`);
    const repRow = this.store.representation(rep);
    if (!repRow || this.store.vectorCount(rep) === 0) {
      throw new Error(`No "${rep}" vectors yet. Run \`earmark analyze${isBuiltin(rep) ? ` --representation ${rep}` : ''}\` first.`);
    }
    const seedIds = q.trackIds ?? (q.trackId !== undefined ? [q.trackId] : []);
    const seeds: TrackRow[] = [];
    for (const id of seedIds) {
      const t = this.store.trackById(id);
      if (!t) throw new Error(`No track with id ${id} in the library.`);
      seeds.push(t);
    }
    if (seeds.length === 0) {
      if (!q.path) throw new Error('Give a track id or a file path to search from.');
      const t = this.store.trackByPath(resolve(q.path));
      if (t) seeds.push(t);
    }
    const track: TrackRow | undefined = seeds[0];

    // The query: each seed's vector in the index's space, unit length, averaged ("more like these").
    const queryVectors: Float32Array[] = [];
    for (const t of seeds) {
      const raw = this.store.vector(t.id, rep);
      if (!raw) {
        const how = isBuiltin(rep) ? '`earmark analyze`' : `\`earmark embed --model ${rep}\``;
        throw Object.assign(new Error(`Track ${t.id} has no "${rep}" vector yet (${this.errorOf(t.id) ?? 'not analysed'}). Run ${how}.`), { code: 'not-found' });
      }
      queryVectors.push(raw);
    }
    const path = track ? track.path : resolve(q.path as string);
    if (queryVectors.length === 0) {
      if (!isBuiltin(rep)) throw new Error(`Files outside the library can be searched with the built-in representations (dsp, mfcc), not "${rep}" yet.`);
      const a = await analyzeFile(this.ffmpeg(), path, null, [rep]);
      queryVectors.push(a.vectors[rep]);
    }
    const dim = repRow.dim;
    const query = new Float32Array(dim);
    for (const raw of queryVectors) {
      const v = this.indexes.normalise(rep, raw);
      let n = 0;
      for (let i = 0; i < dim; i++) n += v[i] * v[i];
      n = Math.sqrt(n) || 1;
      for (let i = 0; i < dim; i++) query[i] += v[i] / n / queryVectors.length;
    }

    const filters: Array<(id: number) => boolean> = [];
    const selves = new Set(seeds.map((t) => t.id));
    if (selves.size) filters.push((id) => !selves.has(id));
    if (q.artist && track?.artist) {
      const same = new Set(
        (this.store.db.prepare('SELECT id FROM tracks WHERE artist = ? COLLATE NOCASE').all(track.artist) as Array<{ id: number }>).map((r) => r.id),
      );
      filters.push(q.artist === 'same' ? (id) => same.has(id) : (id) => !same.has(id));
    }
    if (q.excludeSameAlbum) {
      const same = new Set<number>();
      for (const t of seeds) {
        if (!t.album) continue;
        const rows = this.store.db
          .prepare("SELECT id FROM tracks WHERE album = ? COLLATE NOCASE AND coalesce(album_artist, artist, '') = coalesce(?, ?, '') COLLATE NOCASE")
          .all(t.album, t.album_artist, t.artist) as Array<{ id: number }>;
        for (const r of rows) same.add(r.id);
      }
      filters.push((id) => !same.has(id));
    }
    for (const [field, values] of Object.entries(q.tags ?? {})) {
      if (values.length === 0) continue;
      const allowed = new Set<number>();
      for (const v of values) for (const id of this.store.tracksWithTag(field, v)) allowed.add(id);
      filters.push((id) => allowed.has(id));
    }
    const allow = filters.length ? (id: number) => filters.every((f) => f(id)) : undefined;
    const hits = this.indexes.searchNormalised(rep, query, k, allow);
    const results = hits.map((h, i) => {
      const t = this.store.trackById(h.trackId) as TrackRow;
      return { ...summary(t, this.store.tagsOf(t.id)), score: h.score, rank: i + 1 };
    });
    return {
      query: {
        trackId: track?.id ?? null,
        trackIds: seeds.map((t) => t.id),
        path,
        inLibrary: !!track,
        artist: track?.artist ?? null,
        title: track ? (seeds.length > 1 ? `${seeds.length} tracks` : track.title) : null,
      },
      representation: rep,
      results,
    };
  }

  private errorOf(id: number): string | null {
    const e = this.store.errors().find((r) => r.track_id === id);
    return e ? e.message : null;
  }

  errors(): ErrorRow[] {
    return this.store.errors();
  }

  scanProblems(): Array<{ path: string; code: string; message: string }> {
    return this.store.scanProblems();
  }

  info(): LibraryInfo {
    const errors = this.store.errors();
    const byStage: Record<string, number> = {};
    const byCode: Record<string, number> = {};
    for (const e of errors) {
      byStage[e.stage] = (byStage[e.stage] ?? 0) + 1;
      byCode[e.code] = (byCode[e.code] ?? 0) + 1;
    }
    let ffmpeg: LibraryInfo['ffmpeg'];
    try {
      ffmpeg = { ...this.ffmpeg(), ok: true };
    } catch (e) {
      ffmpeg = { ok: false, error: (e as Error).message };
    }
    const representations = this.store.representations().map((r) => {
      const st = this.indexes.state(r.name);
      const meta = this.indexes.readMeta(r.name);
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
      home: this.paths.home,
      database: this.paths.db,
      schemaVersion: schemaVersion(this.store.db),
      roots: this.store.roots().map((r) => r.path),
      tracks: this.store.trackCount(),
      analyzed: Object.fromEntries(representations.map((r) => [r.name, r.vectors])),
      errors: { total: errors.length, byStage, byCode },
      scanProblems: this.store.scanProblems().length,
      tagFields: this.store.tagFieldCounts(),
      representations,
      ffmpeg,
      compute: detectCompute(),
      models: this.models().map((m) => ({ name: m.name, kind: m.kind, arch: m.arch, done: m.done, iterations: m.iterations })),
      logMelCache: this.logMelCache(),
    };
  }

  /**
   * Write a representation's vectors as `FILE.f32` (row-major float32, one row per track, as normalised for the
   * index unless `raw`) and `FILE.tsv` (row, track id, path, artist, album, title, genre) for other tools.
   */
  exportEmbeddings(rep: string, out: string, { raw = false } = {}): { rows: number; dim: number; f32: string; tsv: string } {
    const r = this.store.representation(rep);
    if (!r || this.store.vectorCount(rep) === 0) throw new Error(`No "${rep}" vectors to export. Run \`earmark analyze\` first.`);
    const { ids, data } = this.store.vectors(rep);
    const normaliser = raw ? null : this.indexes.ensure(rep).meta.normaliser;
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
    const genres = this.store.fieldValues('genre');
    const clean = (s: string | null) => (s ?? '').replace(/[\t\r\n]+/g, ' ');
    const lines = ['row\ttrack_id\tpath\tartist\talbum\ttitle\tgenre'];
    ids.forEach((id, i) => {
      const t = this.store.trackById(id) as TrackRow;
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

  /**
   * Write facet tags into library files, safely (see `safeWriteTags`), as one journaled batch that `undoTags`
   * reverses. Each file is refused on its own (changed since the scan, read-only, unsupported…); the rest go on.
   */
  async writeTags(
    edits: Array<{ trackId: number; changes: FacetChanges }>,
    o: { dryRun?: boolean; id3Version?: 3 | 4; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<TagWriteReport> {
    const batch = newBatchId();
    const report: TagWriteReport = { batch, written: [], refused: [], dryRun: !!o.dryRun };
    let done = 0;
    for (const { trackId, changes } of edits) {
      const t = this.store.trackById(trackId);
      if (!t) {
        report.refused.push({ trackId, path: null, code: 'missing', message: `No track with id ${trackId}.` });
        continue;
      }
      const before = this.store.tagsOf(trackId);
      const changed = Object.fromEntries(
        Object.entries(changes)
          .map(([f, v]) => [f.toLowerCase(), v] as const)
          .filter(([f, v]) => (before[f] ?? []).join('\u0000') !== v.join('\u0000')),
      );
      if (Object.keys(changed).length === 0) continue;
      if (o.dryRun) {
        report.written.push({ trackId, path: t.path, before: Object.fromEntries(Object.keys(changed).map((f) => [f, before[f] ?? []])), after: changed });
        continue;
      }
      try {
        cleanStrayTemps(dirname(t.path));
        const r = await safeWriteTags(t.path, changed, {
          ffmpeg: this.ffmpeg(),
          journalDir: this.paths.journalDir,
          batch,
          expected: { size: t.size, mtimeMs: t.mtime_ms, hash: t.content_hash },
          id3Version: o.id3Version,
        });
        this.store.transaction(() => {
          this.store.updateFileIdentity(trackId, { size: r.file.size, mtimeMs: r.file.mtimeMs, hash: r.file.hash });
          this.store.setFacts(trackId, r.facts);
          // The audio is bit-identical: the analysis stays valid for the new content hash.
          this.store.db.prepare('UPDATE vectors SET content_hash = ? WHERE track_id = ?').run(r.file.hash, trackId);
        });
        report.written.push({ trackId, path: t.path, before: r.before, after: r.after });
      } catch (e) {
        const code = e instanceof TagWriteError ? e.code : 'write-failed';
        report.refused.push({ trackId, path: t.path, code, message: e instanceof Error ? e.message : String(e) });
      }
      o.onProgress?.(++done, edits.length);
    }
    return report;
  }

  /** Restore the values a batch replaced, in every file not edited since (those are refused). */
  async undoTags(batch: string): Promise<TagWriteReport> {
    const entries = readJournal(this.paths.journalDir, batch);
    const edits: Array<{ trackId: number; changes: FacetChanges }> = [];
    const refused: TagWriteReport['refused'] = [];
    for (const e of entries) {
      const t = this.store.trackByPath(e.path);
      if (!t) {
        refused.push({ trackId: null, path: e.path, code: 'missing', message: `${e.path} is no longer in the library.` });
        continue;
      }
      const now = this.store.tagsOf(t.id);
      const untouched = Object.entries(e.after).every(([f, v]) => (now[f] ?? []).join('\u0000') === v.join('\u0000'));
      if (!untouched) {
        refused.push({ trackId: t.id, path: e.path, code: 'changed-since-scan', message: `${e.path} was edited after batch ${batch}; its tags are left as they are.` });
        continue;
      }
      edits.push({ trackId: t.id, changes: e.before });
    }
    const r = await this.writeTags(edits);
    return { ...r, refused: [...refused, ...r.refused], undoOf: batch };
  }

  /** TensorFlow.js, loaded once with the best backend there is (see `loadTf`). */
  tf(): Promise<TfRuntime> {
    return loadTf();
  }

  /**
   * Learn each field from the library's own tags and store predictions for every analysed track. A field with
   * too little to learn from is refused with its reason and the others go on; when every field is refused,
   * the first reason is thrown.
   */
  async predict(o: Omit<PredictOptions, 'field'> & { fields: string[] }): Promise<PredictReport> {
    const { tf } = await this.tf();
    const report: PredictReport = { fields: [], refused: [] };
    for (const field of o.fields) {
      try {
        report.fields.push(await predictField(this.store, tf, { ...o, field }));
      } catch (e) {
        if (!(e instanceof HeadDataError)) throw e;
        report.refused.push({ field, reason: e.message });
      }
    }
    if (report.fields.length === 0 && report.refused.length) throw new HeadDataError(report.refused.map((r) => r.reason).join(' '));
    return report;
  }

  /** Held-out evaluation of a head for one field (85/15, stratified or by artist). */
  async evaluateTags(o: Parameters<typeof evaluateTags>[2]): Promise<TagEvaluation> {
    const { tf } = await this.tf();
    return evaluateTags(this.store, tf, o);
  }

  predictions(trackId: number): PredictionRow[] {
    return trackPredictions(this.store, trackId);
  }

  review(action: 'accept' | 'reject' | 'reset', filter: ReviewFilter): number {
    return reviewPredictions(this.store, action, filter);
  }

  reviewSummary(): ReviewSummary[] {
    return reviewSummary(this.store);
  }

  /**
   * Write the accepted predictions into the files (one journaled batch, through `writeTags`); written values
   * become the files' own. `dryRun` shows the edits and writes nothing.
   */
  async writeAccepted(
    o: { fields?: string[]; minConfidence?: number; trackIds?: number[]; dryRun?: boolean; id3Version?: 3 | 4; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<TagWriteReport> {
    const edits = acceptedEdits(this.store, o);
    const report = await this.writeTags(
      edits.map(({ trackId, changes }) => ({ trackId, changes })),
      { dryRun: o.dryRun, id3Version: o.id3Version, onProgress: o.onProgress },
    );
    if (!o.dryRun) {
      const written = new Set(report.written.map((w) => w.trackId));
      // Values already in the file (nothing to write) count as written too.
      const refused = new Set(report.refused.map((r) => r.trackId));
      this.store.transaction(() => {
        for (const e of edits) if (written.has(e.trackId) || !refused.has(e.trackId)) markWritten(this.store, e.trackId, e.values);
      });
    }
    return report;
  }

  private encoderContext(): EncoderContext {
    const setting = Number(this.store.setting('cache.logmelBytes'));
    return {
      store: this.store,
      modelsDir: this.paths.modelsDir,
      cacheDir: join(this.paths.home, 'cache', 'logmel'),
      cacheBytes: Number.isFinite(setting) && setting > 0 ? setting : DEFAULT_LOGMEL_CACHE_BYTES,
      ffmpeg: () => this.ffmpeg(),
      tf: () => this.tf(),
    };
  }

  /** Train an encoder (multi-task or triplet) on the library; checkpointed in models/NAME, resumable. */
  trainEncoder(r: TrainRequest): Promise<TrainResult> {
    return trainEncoder(this.encoderContext(), r);
  }

  /**
   * The same, in a worker thread (what the app's service uses, so its own thread stays free for the API and
   * other jobs while a network trains); here when the worker script is not built.
   */
  trainEncoderInThread(r: TrainRequest): Promise<TrainResult> {
    const thread = this.encoderThread();
    return thread ? trainInThread(thread.script, thread.init, r) : this.trainEncoder(r);
  }

  /** The worker script and what it needs to open this library; null when the script is not built. */
  private encoderThread(): { script: string; init: TrainThreadInit } | null {
    let script: string;
    try {
      script = findTrainWorkerScript();
    } catch {
      return null;
    }
    const ctx = this.encoderContext();
    let ffmpeg: Ffmpeg | null = null;
    let ffmpegError: string | undefined;
    try {
      ffmpeg = ctx.ffmpeg();
    } catch (e) {
      ffmpegError = (e as Error).message;
    }
    return { script, init: { db: this.paths.db, modelsDir: ctx.modelsDir, cacheDir: ctx.cacheDir, cacheBytes: ctx.cacheBytes, ffmpeg, ffmpegError } };
  }

  /** A trained model's track vectors (or its untrained twin's, as `rand`) into the store, and its index. */
  async embed(model: string, o: { rand?: boolean; onProgress?: TrainRequest['onProgress']; signal?: AbortSignal; inThread?: boolean } = {}): Promise<EmbedResult & { index: 'built' | 'loaded' }> {
    const thread = o.inThread ? this.encoderThread() : null;
    const r = thread ? await embedInThread(thread.script, thread.init, model, o) : await embedWithModel(this.encoderContext(), model, o);
    const li = this.indexes.ensure(r.representation);
    return { ...r, index: li.origin };
  }

  /** The held-out query tracks: a model's (tracks it never trained on), or 15 % of the library drawn with the seed. */
  private heldOutQueries(o: { queriesFrom?: string; seed?: number }): number[] {
    if (o.queriesFrom) {
      checkModelName(o.queriesFrom);
      return readMeta(join(this.paths.modelsDir, o.queriesFrom)).heldOut;
    }
    const rng = new Random((o.seed ?? 1) + 7919);
    return this.store.allTracks().map((t) => t.id).filter(() => rng.next() < 0.15);
  }

  /** Precision@10 per facet of each representation, for held-out query tracks (a model's, or 15 % by seed). */
  evaluateRepresentations(reps: string[], o: { queriesFrom?: string; seed?: number } = {}): RetrievalScores[] {
    return evaluateRepresentations(this.store, (rep, v) => this.indexes.normalise(rep, v), reps, { queries: this.heldOutQueries(o) });
  }

  /**
   * Representations side by side (issue 5, point 7): precision@10 per facet for the held-out queries, and for
   * each head field a head trained on the other tracks and scored on the same held-out tracks (accuracy and
   * macro-F1; mAP for multi-label fields). A field too thin to learn gets its reason instead of numbers.
   */
  async compareRepresentations(
    reps: string[],
    o: {
      queriesFrom?: string;
      seed?: number;
      headFields?: string[];
      headKind?: 'mlp' | 'linear';
      minSupport?: number;
      signal?: AbortSignal;
      onProgress?: (p: { representation: string; field: string; done: number; total: number }) => void;
      /** Train the heads in a worker thread (see `foldRunnerFor`). */
      offThread?: boolean;
    } = {},
  ): Promise<RepresentationComparison> {
    const queries = this.heldOutQueries(o);
    const retrieval = evaluateRepresentations(this.store, (rep, v) => this.indexes.normalise(rep, v), reps, { queries });
    const fields = o.headFields ?? ['genre', 'mood', 'style'];
    const rows: RepresentationComparison['rows'] = [];
    let done = 0;
    for (const r of retrieval) {
      const heads: HeadScore[] = [];
      for (const field of fields) {
        if (o.signal?.aborted) throw new DOMException('Cancelled.', 'AbortError');
        o.onProgress?.({ representation: r.representation, field, done, total: retrieval.length * fields.length });
        try {
          const ev = await this.evaluateTags({ field, representation: r.representation, kind: o.headKind, minSupport: o.minSupport, testTracks: queries, seed: o.seed, signal: o.signal, offThread: o.offThread });
          heads.push({ field, multiLabel: ev.multiLabel, train: ev.train, test: ev.test, accuracy: ev.accuracy ?? null, macroF1: ev.macroF1 ?? null, meanAveragePrecision: ev.meanAveragePrecision ?? null, refused: null });
        } catch (e) {
          if (!(e instanceof HeadDataError)) throw e;
          heads.push({ field, multiLabel: null, train: 0, test: 0, accuracy: null, macroF1: null, meanAveragePrecision: null, refused: e.message });
        }
        done++;
      }
      rows.push({ ...r, heads });
    }
    return { queriesFrom: o.queriesFrom ?? null, queries: retrieval[0]?.queries ?? 0, headKind: o.headKind ?? 'mlp', at: Date.now(), rows };
  }

  models(): ModelMeta[] {
    return listModels(this.paths.modelsDir);
  }

  /** Delete a model: its folder, its vectors and index, and `rand` when that is this model's untrained twin. */
  deleteModel(name: string): { deleted: string; representations: string[] } {
    checkModelName(name);
    const dir = join(this.paths.modelsDir, name);
    readMeta(dir); // not-found when there is no such model
    const reps = [name];
    if (this.store.representation('rand')?.version.startsWith(`rand:${name}@`)) reps.push('rand');
    const dropped = reps.filter((r) => this.store.representation(r));
    for (const r of dropped) {
      this.store.deleteRepresentation(r);
      this.indexes.remove(r);
    }
    // The folder goes last, moved aside first so a crash never leaves half a model that looks whole.
    const gone = `${dir}.deleting`;
    rmSync(gone, { recursive: true, force: true });
    renameSync(dir, gone);
    rmSync(gone, { recursive: true, force: true });
    return { deleted: name, representations: dropped };
  }

  exportModel(name: string, out: string): void {
    exportModel(join(this.paths.modelsDir, name), out);
  }

  importModel(file: string, name?: string): ModelMeta {
    return importModel(file, this.paths.modelsDir, name);
  }

  logMelCache(): CacheInfo {
    const c = this.encoderContext();
    return new LogMelCache(c.cacheDir, c.cacheBytes).info();
  }

  tagBatches(): Array<{ batch: string; files: number; at: number }> {
    return listBatches(this.paths.journalDir);
  }

  /** A front-end matrix of any audio file, for comparison with other implementations (e.g. librosa). */
  async features(file: string, req: FeatureRequest): Promise<FeatureMatrix> {
    return computeFeatures(this.ffmpeg(), file, req);
  }

  demoLibrary(dir: string, o: DemoOptions = {}): Promise<DemoManifest> {
    return generateDemoLibrary(this.ffmpeg(), resolve(dir), o);
  }
}

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

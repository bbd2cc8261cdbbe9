import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveFfmpeg, type Ffmpeg } from './audio/decode.js';
import { BUILTIN_REPRESENTATIONS, DSP_REPRESENTATION, isBuiltin } from './audio/representations.js';
import type { LibraryInfo, PredictionRow, ProposalPage, ProposalQuery, RepresentationChoice, RepresentationComparison, RetrievalScores, ReviewSummary, Settings, SimilarResult, TagBatch, TagEvaluation, TrackSummary } from './contract.js';
import { defaultRepresentation } from './api/recommend.js';
import { generateDemoLibrary, type DemoManifest, type DemoOptions } from './demo/demo-library.js';
import { resolveHome, type HomePaths } from './home.js';
import { VectorIndexes } from './index/vector-index.js';
import type { AnalyzeOptions, AnalyzeReport } from './jobs/analyze.js';
import { FUSED_LEARNED_WEIGHT, type EmbedResult, type TrainRequest, type TrainResult } from './learn/encoder-jobs.js';
import type { ModelMeta } from './learn/model-store.js';
import type { CacheInfo } from './learn/patches.js';
import type { PredictOptions } from './learn/tag-predictions.js';
import { reviewPredictions, reviewSummary, trackPredictions, type ReviewFilter } from './learn/tag-review.js';
import { loadTf, type TfRuntime } from './learn/tf/backend.js';
import type { ScanOptions, ScanReport } from './library/scan.js';
import { listBatches, type FacetChanges } from './library/tag-writer.js';
import { LibraryStore, type ErrorRow } from './store/library-store.js';
import { trackSummary, type ApiContext } from './api/context.js';
import * as library from './api/library.js';
import * as encoders from './api/models.js';
import { proposalPage } from './learn/tag-review.js';
import type { PublishedMeta } from './learn/published/published-model.js';
import type { TagMapping } from './learn/published/mapping.js';
import type { InferResult } from './learn/published/published-jobs.js';
import * as search from './api/similar.js';
import * as tagging from './api/tagging.js';

export type { AnalyzeProgress, AnalyzeReport } from './jobs/analyze.js';
export type { ScanProgress, ScanReport } from './library/scan.js';
export type { DemoManifest, DemoOptions } from './demo/demo-library.js';
export type { ComputeInfo } from './learn/compute.js';
export type { EmbedResult, TrainRequest, TrainResult } from './learn/encoder-jobs.js';
export type { ModelMeta } from './learn/model-store.js';
export type { FieldPrediction } from './learn/tag-predictions.js';
export type { ReviewFilter } from './learn/tag-review.js';
export type {
  HeadScore,
  LibraryInfo,
  PredictionRow,
  RepresentationComparison,
  RepresentationInfo,
  RetrievalScores,
  ReviewSummary,
  SimilarResult,
  TagEvaluation,
  TrackSummary,
} from './contract.js';
export type { ApiContext } from './api/context.js';
export type { FeatureMatrix, FeatureRequest } from './api/library.js';
export type { CompareOptions, EmbedOptions, MappingChange } from './api/models.js';
export type { PublishedMeta } from './learn/published/published-model.js';
export type { TagMapping } from './learn/published/mapping.js';
export type { InferResult } from './learn/published/published-jobs.js';
export type { SimilarQuery } from './api/similar.js';
export type { PredictReport, TagWriteReport } from './api/tagging.js';
export { computeFeatures } from './api/library.js';
export { DEFAULT_LOGMEL_CACHE_BYTES } from './api/models.js';

export interface EarmarkOptions {
  home?: string | null;
  /** A user-chosen ffmpeg; otherwise the stored setting, the bundled binary, then PATH. */
  ffmpegPath?: string | null;
}

/**
 * The one facade the CLI, the Electron shell and the web server call. Plain Node: it never imports electron.
 * The work is done by the domain modules in `api/` (library, similar, tagging, models); each method here hands
 * them this open library (an `ApiContext`).
 */
export class Earmark implements ApiContext {
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
      // unit vectors already compared by cosine. Fused with dsp: the learned features are one more group beside
      // dsp's own, weighing FUSED_LEARNED_WEIGHT of theirs together, every dimension standardised.
      const kind = this.store.representation(rep)?.kind ?? '';
      if (kind.endsWith('+dsp')) {
        const learned = dim - DSP_REPRESENTATION.dim;
        const dspWeight = DSP_REPRESENTATION.groups.reduce((a, g) => a + (g.weight ?? 1), 0);
        return {
          groups: [
            { name: rep, start: 0, end: learned, weight: FUSED_LEARNED_WEIGHT * dspWeight },
            ...DSP_REPRESENTATION.groups.map((g) => ({ ...g, start: g.start + learned, end: g.end + learned })),
          ],
          standardise: true,
        };
      }
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

  /** TensorFlow.js, loaded once with the best backend there is (see `loadTf`). */
  tf(): Promise<TfRuntime> {
    return loadTf();
  }

  // The library (api/library.ts).

  scan(folders: string[], o?: ScanOptions): Promise<ScanReport> {
    return library.scan(this, folders, o);
  }

  removeFolder(folder: string): number {
    return this.store.removeRoot(resolve(folder));
  }

  /** Analyse what needs analysing, then bring the indexes of the analysed representations up to date. */
  analyze(o: AnalyzeOptions = {}): Promise<AnalyzeReport & { indexes: Record<string, 'built' | 'loaded'> }> {
    return library.analyze(this, o);
  }

  track(id: number): TrackSummary | undefined {
    const t = this.store.trackById(id);
    return t ? trackSummary(t, this.store.tagsOf(id)) : undefined;
  }

  errors(): ErrorRow[] {
    return this.store.errors();
  }

  scanProblems(): Array<{ path: string; code: string; message: string }> {
    return this.store.scanProblems();
  }

  info(): LibraryInfo {
    return library.info(this);
  }

  /**
   * Write a representation's vectors as `FILE.f32` (row-major float32, one row per track, as normalised for the
   * index unless `raw`) and `FILE.tsv` (row, track id, path, artist, album, title, genre) for other tools.
   */
  exportEmbeddings(rep: string, out: string, { raw = false } = {}): { rows: number; dim: number; f32: string; tsv: string } {
    return library.exportEmbeddings(this, rep, out, { raw });
  }

  /** A front-end matrix of any audio file, for comparison with other implementations (e.g. librosa). */
  async features(file: string, req: library.FeatureRequest): Promise<library.FeatureMatrix> {
    return library.computeFeatures(this.ffmpeg(), file, req);
  }

  demoLibrary(dir: string, o: DemoOptions = {}): Promise<DemoManifest> {
    return generateDemoLibrary(this.ffmpeg(), resolve(dir), o);
  }

  // Search by example (api/similar.ts).

  similar(q: search.SimilarQuery): Promise<SimilarResult> {
    return search.similar(this, q);
  }

  // Tags (api/tagging.ts).

  /**
   * Write facet tags into library files, safely (see `safeWriteTags`), as one journaled batch that `undoTags`
   * reverses. Each file is refused on its own (changed since the scan, read-only, unsupported…); the rest go on.
   */
  writeTags(
    edits: Array<{ trackId: number; changes: FacetChanges }>,
    o: { dryRun?: boolean; id3Version?: 3 | 4; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<tagging.TagWriteReport> {
    return tagging.writeTags(this, edits, o);
  }

  /** Restore the values a batch replaced, in every file not edited since (those are refused). */
  undoTags(batch: string): Promise<tagging.TagWriteReport> {
    return tagging.undoTags(this, batch);
  }

  tagBatches(): TagBatch[] {
    return listBatches(this.paths.journalDir);
  }

  /**
   * Learn each field from the library's own tags and store predictions for every analysed track. A field with
   * too little to learn from is refused with its reason and the others go on; when every field is refused,
   * the first reason is thrown.
   */
  predict(o: Omit<PredictOptions, 'field'> & { fields: string[] }): Promise<tagging.PredictReport> {
    return tagging.predict(this, o);
  }

  /** Held-out evaluation of a head for one field (85/15, stratified or by artist). */
  evaluateTags(o: Parameters<typeof tagging.evaluateTags>[1]): Promise<TagEvaluation> {
    return tagging.evaluateTags(this, o);
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
  writeAccepted(
    o: { fields?: string[]; minConfidence?: number; trackIds?: number[]; dryRun?: boolean; id3Version?: 3 | 4; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<tagging.TagWriteReport> {
    return tagging.writeAccepted(this, o);
  }

  /** A page of a field's proposals, most confident first, each with what proposed it. */
  proposals(q: ProposalQuery): ProposalPage {
    return proposalPage(this.store, q);
  }

  // Encoders and models (api/models.ts).

  /** Train an encoder (multi-task or triplet) on the library; checkpointed in models/NAME, resumable. */
  trainEncoder(r: TrainRequest): Promise<TrainResult> {
    return encoders.trainEncoder(this, r);
  }

  /**
   * The same, in a worker thread (what the app's service uses, so its own thread stays free for the API and
   * other jobs while a network trains); here when the worker script is not built.
   */
  trainEncoderInThread(r: TrainRequest): Promise<TrainResult> {
    return encoders.trainEncoderInThread(this, r);
  }

  /** A trained model's track vectors (or its untrained twin's, as `rand`) into the store, and its index. */
  embed(model: string, o: encoders.EmbedOptions = {}): Promise<EmbedResult & { index: 'built' | 'loaded' | 'none' }> {
    return encoders.embed(this, model, o);
  }

  /** Precision@10 per facet of each representation, for held-out query tracks (a model's, or 15 % by seed). */
  evaluateRepresentations(reps: string[], o: { queriesFrom?: string; seed?: number } = {}): RetrievalScores[] {
    return encoders.evaluateRepresentations(this, reps, o);
  }

  /**
   * Representations side by side (issue 5, point 7): precision@10 per facet for the held-out queries, and for
   * each head field a head trained on the other tracks and scored on the same held-out tracks (accuracy and
   * macro-F1; mAP for multi-label fields). A field too thin to learn gets its reason instead of numbers.
   */
  compareRepresentations(reps: string[], o: encoders.CompareOptions = {}): Promise<RepresentationComparison> {
    return encoders.compareRepresentations(this, reps, o);
  }

  /** What `eval` compares when nothing is named, and on which queries (see `api/models.ts`). */
  evaluationDefaults(): { representations: string[]; queriesFrom?: string } {
    return encoders.evaluationDefaults(this);
  }

  /** The representation similar, map and predict use when none is named, and why (see `api/recommend.ts`). */
  defaultRepresentation(): RepresentationChoice {
    return defaultRepresentation(this);
  }

  /** Choose the default representation yourself, or `null` to let evaluations choose it again. */
  setDefaultRepresentation(name: string | null): void {
    if (name !== null && this.store.vectorCount(name) === 0) throw new Error(`No "${name}" vectors: analyse or embed with it first.`);
    this.store.setSetting('representation.default', name);
  }

  settings(): Settings {
    return { ffmpegPath: this.store.setting('ffmpeg.path') ?? null, defaultRepresentation: this.store.setting('representation.default') ?? null };
  }

  models(): ModelMeta[] {
    return encoders.models(this);
  }

  /** Delete a model: its folder, its vectors and index, and `rand` when that is this model's untrained twin. */
  deleteModel(name: string): { deleted: string; representations: string[] } {
    return encoders.deleteModel(this, name);
  }

  exportModel(name: string, out: string): void {
    encoders.exportModel(this, name, out);
  }

  importModel(file: string, name?: string): ModelMeta {
    return encoders.importModel(this, file, name);
  }

  logMelCache(): CacheInfo {
    return encoders.logMelCache(this);
  }

  // Published models (api/models.ts, learn/published).

  /** Import a published graph model (folder, model.json, zip) or an Earmark model file, whichever `path` holds. */
  importAnyModel(path: string, name?: string): Promise<{ published: PublishedMeta } | { trained: ModelMeta }> {
    return encoders.importAnyModel(this, path, name);
  }

  /** Import a TensorFlow.js graph model (Essentia's MusiCNN family) from a folder or a zip. */
  importPublishedModel(from: string, name?: string): Promise<PublishedMeta> {
    return encoders.importPublishedModel(this, from, name);
  }

  publishedModels(): PublishedMeta[] {
    return encoders.publishedModels(this);
  }

  /** A published model's outputs for any audio file, averaged over its patches, by label. */
  infer(model: string, file: string, signal?: AbortSignal): Promise<InferResult> {
    return encoders.infer(this, model, file, signal);
  }

  /** Edit a published model's mapping of classes to tags; its proposals are made again from its kept outputs. */
  editModelMapping(model: string, changes: encoders.MappingChange[]): { mapping: TagMapping[]; proposals: Record<string, number> } {
    return encoders.editModelMapping(this, model, changes);
  }
}

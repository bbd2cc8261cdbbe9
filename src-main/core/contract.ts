/**
 * The one contract between the renderer and the backend: method names with their request and response types,
 * and the events the backend pushes. Main, preload and renderer import it as types only; the runtime checks of
 * every request live in `contract-schema.ts` and run in main (Electron) and in the web server.
 */
import type { Ffmpeg } from './audio/decode.js';
import type { IndexState } from './index/vector-index.js';
import type { ComputeInfo } from './learn/compute.js';
import type { CacheInfo } from './learn/patches.js';
import type { TagHeadKind, PredictionRow, ReviewSummary, TagEvaluation, Proposal, ProposalQuery, ProposalPage, ReviewRequest, TagBatch, UndoResult } from './contract-tags.js';

export * from './contract-tags.js';

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

/**
 * How `similar` ranks: `mp` (the default) by mutual proximity, which keeps "hub" tracks that are near everything
 * from crowding every list (Schnitzer et al. 2012; see `core/index/hubness.ts`); `none` by plain cosine.
 */
export type HubnessReduction = 'mp' | 'none';

export interface SimilarResult {
  query: { trackId: number | null; trackIds: number[]; path: string; inLibrary: boolean; artist: string | null; title: string | null };
  representation: string;
  hubness: HubnessReduction;
  /**
   * Best first. `score` is what they are ranked by, in [0, 1] for mutual proximity (the probability that each
   * track is nearer the other than a random track is) and [−1, 1] for cosine; `cosine` is always the cosine.
   */
  results: Array<TrackSummary & { score: number; cosine: number; rank: number }>;
}

export interface RepresentationInfo {
  name: string;
  kind: string;
  dim: number;
  version: string;
  vectors: number;
  index: { state: IndexState; reason: string; count: number | null; builtAt: number | null };
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
  /** The representation used when none is named, and why. */
  defaultRepresentation: RepresentationChoice;
}

export interface RetrievalScores {
  representation: string;
  queries: number;
  /** precision@10 of retrieving a track sharing the query's value, per facet. */
  precision: Record<'genre' | 'mood' | 'style' | 'artist' | 'album', number>;
  /** Queries carrying a value of each facet (a facet without any has precision 0 and means nothing). */
  labelled?: Record<'genre' | 'mood' | 'style' | 'artist' | 'album', number>;
}

/**
 * The representation `similar`, the map and `predict` use when none is named: the user's choice (setting
 * `representation.default`), else the one that retrieved best in this library's last evaluation (`earmark eval`,
 * the Models view's comparison) when it is a trained or imported one that beats `dsp`, else `dsp`.
 */
export interface RepresentationChoice {
  name: string;
  from: 'setting' | 'evaluation' | 'built-in';
  /** In words, for the user. */
  reason: string;
  /** Each compared representation's mean precision@10 over the facets the evaluation could measure. */
  scores: Array<{ representation: string; score: number }>;
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
  headKind: TagHeadKind;
  at: number;
  rows: Array<RetrievalScores & { heads: HeadScore[] }>;
}

export type AnalysisStatus = 'analyzed' | 'pending' | 'error';

/** A row of the library table. */
export interface TrackListRow extends TrackSummary {
  status: AnalysisStatus;
  /** Why analysis (or reading tags) failed, in words. */
  error: string | null;
  format: string | null;
  /** Values proposed by the tag heads, not rejected, most confident first per field. */
  proposals: Proposal[];
  /** Fields whose file value a head strongly disagrees with. */
  suspicious: string[];
}

/** Review filters of the library table, for one field. */
export const REVIEW_STATES = ['untagged', 'predicted', 'suspicious', 'accepted'] as const;
export type ReviewState = (typeof REVIEW_STATES)[number];

export const SORT_COLUMNS = ['title', 'artist', 'album', 'genre', 'mood', 'style', 'year', 'duration', 'status', 'added', 'path'] as const;
export type SortColumn = (typeof SORT_COLUMNS)[number];

export interface TrackQuery {
  offset: number;
  limit: number;
  /** Words that must all appear in title, artist, album, path or a tag value (case-insensitive). */
  search?: string;
  sort?: { column: SortColumn; direction: 'asc' | 'desc' };
  /** Keep tracks carrying one of the values in each field; fields combine with AND. */
  facets?: Record<string, string[]>;
  status?: AnalysisStatus | 'all';
  /** Tracks without a value in the field, with proposals, with a suspicious tag, or with accepted proposals. */
  review?: { field: string; state: ReviewState };
}

export interface TrackPage {
  total: number;
  offset: number;
  rows: TrackListRow[];
}

export interface FacetValue {
  value: string;
  count: number;
}
export interface FacetField {
  field: string;
  tracks: number;
  values: FacetValue[];
}

export interface TrackDetail {
  track: TrackListRow;
  tags: Record<string, string[]>;
  file: {
    path: string;
    size: number;
    modified: number;
    container: string | null;
    codec: string | null;
    bitrate: number | null;
    sampleRate: number | null;
    channels: number | null;
    lossless: boolean | null;
    duration: number | null;
    trackNo: number | null;
    albumArtist: string | null;
  };
  analysis: Array<{ representation: string; computedAt: number; excerpts: Array<{ offset: number; duration: number }> }>;
  errors: Array<{ stage: string; code: string; message: string }>;
  neighbours: SimilarResult | null;
  /** The tag heads' predictions for this track, per field, most confident first. */
  predictions: PredictionRow[];
}

export interface SimilarRequest {
  /** One or more library tracks ("more like these": the query is their mean direction). */
  trackIds?: number[];
  /** A file path (library or not; analysed on the fly when outside the library). */
  path?: string;
  /** An audio file sent by the page (web mode), as returned by `uploadAudio`. */
  uploadId?: string;
  k?: number;
  representation?: string;
  artist?: 'same' | 'different';
  excludeSameAlbum?: boolean;
  tags?: Record<string, string[]>;
  hubness?: HubnessReduction;
}

/** The encoder networks (issue 5): seed 001's base CNN, seed 000's DCNN, seed 004's DPNN. */
export const ENCODER_ARCHS = ['base-cnn', 'dcnn', 'dpnn'] as const;
/** Sharing strategies of multi-task networks (seed 001 §3.2). */
export const ENCODER_FUSIONS = ['SS-R', 'MSS-CR', 'MS-CR@2', 'MS-CR@4', 'MS-CR@6', 'MS-SR@FC'] as const;
/** Learning sources a multi-task encoder can learn from (see `core/learn/train/sources.ts`). */
export const LEARNING_SOURCES = ['tags', 'artist', 'artist-tags', 'agf-mfcc', 'agf-dmfcc', 'agf-subgenre', 'year', 'bpm', 'self'] as const;

export interface TrainJobRequest {
  name: string;
  kind?: 'multitask' | 'triplet';
  sources?: Array<(typeof LEARNING_SOURCES)[number]>;
  fields?: string[];
  arch?: (typeof ENCODER_ARCHS)[number];
  fusion?: (typeof ENCODER_FUSIONS)[number];
  iterations?: number;
  /** Instead of iterations: passes over the training tracks. */
  epochs?: number;
  batchSize?: number;
  selection?: 'batch-all' | 'batch-hard' | 'literal';
  holdOut?: number;
  /** Fuse the learned features with each track's dsp vector when embedding (default true). */
  withDsp?: boolean;
  seed?: number;
  /** Continue the unfinished model of this name. */
  resume?: boolean;
}

/** A trained (or training) encoder as the app lists it. */
export interface ModelSummary {
  name: string;
  kind: 'multitask' | 'triplet';
  arch: string;
  fusion: string;
  sources: Array<{ name: string; describe: string }>;
  fields: string[];
  iterations: number;
  done: number;
  /** Held-out tracks (evaluation queries). */
  heldOut: number;
  backend: string;
  createdAt: number;
  updatedAt: number;
  /** Tracks with this model's vectors in the store (0: not embedded yet). */
  embedded: number;
  /** `rand` holds this model's untrained twin's vectors. */
  randIsTwin: boolean;
  /** Tracks trained on, and tracks per iteration (null for models from before these were recorded). */
  trainTracks: number | null;
  batchSize: number | null;
  /** A training job for it is queued or running. */
  training: boolean;
  /** The last loss per task. */
  lastLoss: Record<string, number>;
}

/** A published model (an imported TensorFlow.js graph model) as the Models view shows it. */
export interface PublishedModelSummary {
  name: string;
  title: string;
  task: 'auto-tagging' | 'classifier';
  classes: string[];
  /** Its embedding's size when it is a representation (the auto-tagger's), else null. */
  embeddingDim: number | null;
  /** Tracks it has run on (outputs kept), and tracks with its vectors. */
  ran: number;
  embedded: number;
  /** Classes to tags: the field and value a class proposes at its threshold (calibrated on your tags, or yours). */
  mapping: Array<{ label: string; field: string | null; value: string; threshold: number; calibrated: { tracks: number; f1: number } | null; fixed: boolean }>;
  link: string | null;
  importedAt: number;
  /** An embed job runs it now. */
  running: boolean;
}

/** The TensorFlow.js runtime this backend trains and embeds with (loaded on first use). */
export interface ComputeRuntime {
  backend: 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
  device: string;
  gpu: boolean;
  /** Better backends passed over, and why (e.g. tfjs-node-gpu not installed, or CUDA not found). */
  skipped: Array<{ name: string; reason: string }>;
}

/** A model's loss per task over its iterations, averaged over buckets of iterations. */
export interface LossCurve {
  model: string;
  iterations: number;
  done: number;
  tasks: Array<{ task: string; points: Array<[number, number]> }>;
}

export type JobKind = 'scan' | 'analyze' | 'predict' | 'write-tags' | 'train' | 'embed' | 'compare';
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobInfo {
  id: string;
  kind: JobKind;
  state: JobState;
  title: string;
  /** What the job works on, when it is one thing (a model's name). */
  subject: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  phase: string | null;
  done: number;
  total: number;
  failed: number;
  etaMs: number | null;
  current: string | null;
  /** A sentence about the outcome (or the error). */
  message: string | null;
}

export interface MapPoint {
  id: number;
  x: number;
  y: number;
  title: string | null;
  artist: string | null;
  /** The first value of the colouring field. */
  value: string | null;
}

export interface MapData {
  representation: string;
  field: string;
  method: string;
  total: number;
  points: MapPoint[];
  /** Colouring values, most common first. */
  legend: FacetValue[];
}

export interface ErrorReport {
  tracks: Array<{ trackId: number; path: string; stage: string; code: string; message: string }>;
  scan: Array<{ path: string; code: string; message: string }>;
}

export interface Settings {
  ffmpegPath: string | null;
  /** The representation to use when none is named; null: chosen by the last evaluation (`RepresentationChoice`). */
  defaultRepresentation: string | null;
}

type Empty = Record<string, never>;

/** Every method the renderer may call: `{ req, res }`. */
export interface ApiContract {
  info: { req: Empty; res: LibraryInfo };
  addFolder: { req: { path: string }; res: { roots: string[]; job: JobInfo } };
  removeFolder: { req: { path: string }; res: { roots: string[]; removed: number } };
  queryTracks: { req: TrackQuery; res: TrackPage };
  facets: { req: { fields?: string[]; limit?: number }; res: FacetField[] };
  track: { req: { id: number; representation?: string; k?: number }; res: TrackDetail };
  similar: { req: SimilarRequest; res: SimilarResult };
  startScan: { req: Empty; res: JobInfo };
  startAnalyze: { req: { representations?: Array<'dsp' | 'mfcc'> }; res: JobInfo };
  cancelJob: { req: { id: string }; res: JobInfo };
  jobs: { req: Empty; res: JobInfo[] };
  map: { req: { representation?: string; field?: string }; res: MapData };
  errors: { req: Empty; res: ErrorReport };
  settings: { req: Empty; res: Settings };
  updateSettings: { req: Partial<Settings>; res: Settings };
  startPredict: { req: { fields: string[]; representation?: string; kind?: TagHeadKind; minSupport?: number }; res: JobInfo };
  reviewSummary: { req: Empty; res: ReviewSummary[] };
  proposals: { req: ProposalQuery; res: ProposalPage };
  review: { req: ReviewRequest; res: { changed: number; summary: ReviewSummary[] } };
  evalTags: { req: { field: string; representation?: string; kind?: TagHeadKind; split?: 'stratified' | 'artist'; minSupport?: number; multiLabel?: boolean }; res: TagEvaluation };
  startWriteTags: { req: { fields?: string[]; minConfidence?: number; trackIds?: number[] }; res: JobInfo };
  tagBatches: { req: Empty; res: TagBatch[] };
  undoTags: { req: { batch: string }; res: UndoResult };
  compute: { req: Empty; res: ComputeRuntime };
  models: { req: Empty; res: ModelSummary[] };
  lossCurve: { req: { model: string; points?: number }; res: LossCurve };
  startTrain: { req: TrainJobRequest; res: JobInfo };
  startEmbed: { req: { model: string; rand?: boolean }; res: JobInfo };
  deleteModel: { req: { model: string }; res: { deleted: string; representations: string[] } };
  /** Published models imported (Essentia's MusiCNN family), with their mapping to tags. */
  publishedModels: { req: Empty; res: PublishedModelSummary[] };
  /** Import a model from a path on the machine running Earmark: an Earmark model file, or a graph model's folder or .zip. */
  importModel: { req: { path: string; name?: string }; res: { name: string; published: boolean } };
  startCompare: { req: { representations: string[]; queriesFrom?: string; headFields?: string[]; headKind?: TagHeadKind; minSupport?: number }; res: JobInfo };
  /** The last comparison of representations (null before the first). */
  comparison: { req: Empty; res: RepresentationComparison | null };
}

export type ApiMethod = keyof ApiContract;
export type ApiRequest<M extends ApiMethod> = ApiContract[M]['req'];
export type ApiResponse<M extends ApiMethod> = ApiContract[M]['res'];

export type MenuAction = 'add-folder' | 'scan' | 'analyze' | 'navigate';

export type ApiEvent =
  | { type: 'job'; job: JobInfo }
  | { type: 'library-changed' }
  /** From the desktop app's native menu. */
  | { type: 'menu'; action: MenuAction; to?: string };

/** What a failed call carries across IPC or HTTP. */
export interface ApiErrorBody {
  error: { code: 'bad-request' | 'not-found' | 'failed' | 'unauthorized'; message: string };
}

/**
 * The bridge the preload script exposes as `window.earmark` (Electron). The renderer wraps it (or HTTP) in one
 * transport; nothing else in the renderer knows which one it has.
 */
export interface EarmarkBridge {
  call<M extends ApiMethod>(method: M, req: ApiRequest<M>): Promise<ApiResponse<M>>;
  onEvent(listener: (e: ApiEvent) => void): () => void;
  /** A URL the page's media element can play: served only for files inside the library roots. */
  mediaUrl(path: string): string;
  /** The file system path of a file dropped on the page (Electron only). */
  pathForFile(file: File): string;
  /** The native folder picker; null when cancelled. */
  pickFolder(): Promise<string | null>;
}

export const MEDIA_SCHEME = 'earmark-media';

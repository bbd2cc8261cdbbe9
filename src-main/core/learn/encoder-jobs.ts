import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Ffmpeg } from '../audio/decode.js';
import type { RetrievalScores } from '../contract.js';
import { precisionAtK } from '../eval/retrieval.js';
import { decodeForAnalysis } from '../jobs/analyze-file.js';
import { valueKey } from '../library/facets.js';
import type { LibraryStore } from '../store/library-store.js';
import { Random } from '../util/random.js';
import { checkModelName, loadModel, readMeta, restoreOptimizers, saveModel, type ModelMeta } from './model-store.js';
import { ARCH_INPUT, buildEncoder, disposeEncoder, type Arch, type Fusion } from './nets/encoders.js';
import { BandAccumulator, LogMelCache, PATCH_SPECS, type LogMel, type LogMelSource, type PatchSpec } from './patches.js';
import type { Optimizer } from '@tensorflow/tfjs';
import type { TfRuntime } from './tf/backend.js';
import { AUDIO_SOURCES, audioSourceTracks, buildAudioSource, buildSource, lsiVectors, SourceError, type Source, type SourceName } from './train/sources.js';
import { embedTrack, trainMultitask, trainTriplet } from './train/trainer.js';
import { embedWithPublished } from './published/published-jobs.js';
import { isPublished } from './published/published-model.js';

/**
 * The encoder workflows over a library: `train` (multi-task or triplet, checkpointed, resumable), `embed` (a
 * model's — or its untrained twin's, `rand` — vectors into the store as a representation), and `evaluate`
 * (precision@10 of retrieving the same genre, mood, style, artist and album for held-out query tracks, seed
 * 004 Table II).
 */
export interface EncoderContext {
  store: LibraryStore;
  modelsDir: string;
  cacheDir: string;
  cacheBytes: number;
  ffmpeg: () => Ffmpeg;
  tf: () => Promise<TfRuntime>;
}

export interface TrainRequest {
  name: string;
  kind: 'multitask' | 'triplet';
  /** Multi-task learning sources (default tags, artist). */
  sources?: SourceName[];
  /** Tag fields for the tags source and the triplet relatedness (default genre, mood, style). */
  fields?: string[];
  arch?: Arch;
  fusion?: Fusion;
  iterations?: number;
  /** Instead of iterations: passes over the training tracks (iterations = ⌈epochs × tracks ÷ batch size⌉). */
  epochs?: number;
  batchSize?: number;
  seed?: number;
  selection?: 'batch-all' | 'batch-hard' | 'literal';
  /** Share of tracks held out of training, as evaluation queries (default 0.15). */
  holdOut?: number;
  /** Fuse the learned features with the track's `dsp` vector when embedding (default true; see `embedWithModel`). */
  withDsp?: boolean;
  /** Continue an unfinished model of this name. */
  resume?: boolean;
  checkpointEvery?: number;
  onProgress?: (p: { phase: string; done: number; total: number; task?: string; loss?: number }) => void;
  signal?: AbortSignal;
}

export interface TrainResult {
  meta: ModelMeta;
  cancelled: boolean;
}

/** Decoded log-mels kept in memory for training, at most this many bytes (the rest is read from the disk cache). */
export const TRAINING_MEMORY_BYTES = 1024 * 2 ** 20;

/**
 * The training set's log-mels: every track is computed (or found) in the disk cache once up front, a bounded
 * part stays decoded in memory (least recently used out), and the rest is read back from the cache — or, if
 * the cache had to evict it, decoded again — when a batch needs it. Memory stays bounded on any library.
 */
export class TrainingLogMels implements LogMelSource {
  private readonly hashes = new Map<number, string>();
  private readonly memory = new Map<number, LogMel>();
  private bytes = 0;
  /** How many reads missed the disk cache and had to decode the audio again. */
  recomputed = 0;

  constructor(
    private readonly ctx: EncoderContext,
    readonly spec: PatchSpec,
    private readonly cache: LogMelCache,
    private readonly memoryBytes = TRAINING_MEMORY_BYTES,
  ) {}

  has(id: number): boolean {
    return this.hashes.has(id);
  }

  ids(): number[] {
    return [...this.hashes.keys()];
  }

  get size(): number {
    return this.hashes.size;
  }

  private remember(id: number, lm: LogMel): void {
    const size = lm.segments.reduce((n, seg) => n + seg.byteLength, 0);
    if (size > this.memoryBytes) return;
    this.memory.delete(id);
    this.memory.set(id, lm);
    this.bytes += size;
    for (const [old, v] of this.memory) {
      if (this.bytes <= this.memoryBytes) break;
      this.memory.delete(old);
      this.bytes -= v.segments.reduce((n, seg) => n + seg.byteLength, 0);
    }
  }

  private async compute(id: number, signal?: AbortSignal): Promise<LogMel> {
    const t = this.ctx.store.trackById(id);
    if (!t) throw new Error(`Track ${id} left the library.`);
    return this.cache.getOrCompute(this.spec, t.content_hash, async () => (await decodeForAnalysis(this.ctx.ffmpeg(), t.path, t.duration, signal)).audio);
  }

  /** Compute (or find) one track's log-mel and keep it; false when it cannot be decoded. */
  async add(id: number, signal?: AbortSignal): Promise<LogMel | null> {
    const t = this.ctx.store.trackById(id);
    if (!t) return null;
    try {
      const lm = await this.compute(id, signal);
      this.hashes.set(id, t.content_hash);
      this.remember(id, lm);
      return lm;
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      // Undecodable files are already reported by analysis; they simply take no part here.
      return null;
    }
  }

  async get(id: number): Promise<LogMel | undefined> {
    const hit = this.memory.get(id);
    if (hit) {
      this.memory.delete(id);
      this.memory.set(id, hit);
      return hit;
    }
    const hash = this.hashes.get(id);
    if (hash === undefined) return undefined;
    let lm = this.cache.get(this.spec, hash);
    if (!lm) {
      this.recomputed++;
      lm = await this.compute(id);
    }
    this.remember(id, lm);
    return lm;
  }
}

/**
 * The log-mels of `ids` (computed on a cache miss, two at a time), per-band statistics accumulated on the way;
 * tracks that cannot be decoded are left out.
 */
export async function prepareLogMels(
  ctx: EncoderContext,
  spec: PatchSpec,
  ids: readonly number[],
  o: Pick<TrainRequest, 'onProgress' | 'signal'> & { memoryBytes?: number } = {},
): Promise<{ logMels: TrainingLogMels; stats: BandAccumulator }> {
  const logMels = new TrainingLogMels(ctx, spec, new LogMelCache(ctx.cacheDir, ctx.cacheBytes), o.memoryBytes);
  const stats = new BandAccumulator(spec.nMels);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < ids.length) {
      if (o.signal?.aborted) throw new DOMException('Cancelled.', 'AbortError');
      const lm = await logMels.add(ids[next++], o.signal);
      if (lm) stats.add(lm);
      o.onProgress?.({ phase: 'preparing log-mel spectrograms', done: ++done, total: ids.length });
    }
  };
  await Promise.all([worker(), worker()]);
  return { logMels, stats };
}

function albumsOf(store: LibraryStore): Map<number, string> {
  const rows = store.db.prepare("SELECT id, coalesce(album_artist, artist, '') || char(31) || album AS k FROM tracks WHERE album IS NOT NULL").all() as Array<{ id: number; k: string }>;
  return new Map(rows.map((r) => [r.id, valueKey(r.k)]));
}

function heldOutTracks(ids: readonly number[], share: number, seed: number): number[] {
  const rng = new Random(seed + 7919);
  return ids.filter(() => rng.next() < share).sort((a, b) => a - b);
}

export async function trainEncoder(ctx: EncoderContext, r: TrainRequest): Promise<TrainResult> {
  checkModelName(r.name);
  if (r.iterations !== undefined && r.epochs !== undefined) throw new Error('Give iterations or epochs, not both.');
  const rt = await ctx.tf();
  const { tf } = rt;
  const dir = join(ctx.modelsDir, r.name);
  const previous = existsSync(join(dir, 'earmark.json')) ? readMeta(dir) : null;
  if (previous && !r.resume) throw new Error(`A model named "${r.name}" exists already: choose another name, or --resume an unfinished one.`);
  if (r.resume && !previous) throw new Error(`No model named "${r.name}" to resume.`);
  if (previous && previous.done >= previous.iterations) throw new Error(`"${r.name}" finished its ${previous.iterations} iterations already.`);
  const kind = previous?.kind ?? r.kind;
  const arch = previous?.arch ?? r.arch ?? 'dcnn';
  const fields = previous?.fields ?? r.fields ?? ['genre', 'mood', 'style'];
  const seed = previous?.seed ?? r.seed ?? 1;
  const patch = previous?.patch ?? PATCH_SPECS[ARCH_INPUT[arch].patch];

  // Targets first: a source too thin to learn from is refused before any audio is touched.
  // Sources built from audio (seed 000's AGFs) are built once the training tracks' log-mels are ready; here
  // only their tracks are known. The order of the requested sources is the order of the network's tasks.
  const names: SourceName[] = kind === 'multitask' ? (r.sources ?? (previous?.sources.map((s) => s.name as SourceName) ?? ['tags', 'artist'])) : [];
  if (new Set(names).size !== names.length) throw new SourceError(`A learning source is listed twice: ${names.join(', ')}.`);
  const built = new Map<SourceName, Source>();
  const audioTracks = new Map<SourceName, number[]>();
  for (const name of names) {
    if (AUDIO_SOURCES.has(name)) audioTracks.set(name, audioSourceTracks(ctx.store, name));
    else built.set(name, buildSource(ctx.store, name, { fields, seed }));
  }
  const relatedness = kind === 'triplet' ? lsiVectors(ctx.store, fields).vectors : null;
  const known = new Set<number>(
    kind === 'multitask' ? [...[...built.values()].flatMap((s) => [...s.targets.keys()]), ...[...audioTracks.values()].flat()] : [...(relatedness as Map<number, Float32Array>).keys()],
  );
  const all = ctx.store.allTracks().map((t) => t.id).filter((id) => known.has(id));
  const heldOut = previous?.heldOut ?? heldOutTracks(all, r.holdOut ?? 0.15, seed);
  const held = new Set(heldOut);
  const trainIds = all.filter((id) => !held.has(id));
  if (trainIds.length < 8) throw new Error(`Only ${trainIds.length} tracks to train on: tag more tracks or lower the held-out share.`);
  if (relatedness) for (const id of held) relatedness.delete(id);

  const prepared = await prepareLogMels(ctx, patch, trainIds, r);
  const logMels = prepared.logMels;
  for (const name of audioTracks.keys()) {
    r.onProgress?.({ phase: `building the ${name} targets`, done: 0, total: 1 });
    // Built from the training tracks' audio only: held-out tracks never shape a target.
    built.set(name, await buildAudioSource(ctx.store, name, logMels, { seed, onProgress: (phase) => r.onProgress?.({ phase, done: 0, total: 1 }) }));
  }
  const sources = names.map((n) => built.get(n) as Source);
  for (const s of sources) for (const id of held) s.targets.delete(id);
  const stats = previous ? { mean: Float32Array.from(previous.mean), std: Float32Array.from(previous.std) } : prepared.stats.result();
  const fusion: Fusion = previous?.fusion ?? r.fusion ?? (kind === 'triplet' || sources.length === 1 ? 'SS-R' : 'MS-SR@FC');
  const tasks = kind === 'multitask' ? sources.map((s) => ({ name: s.name, outputs: s.k, ...(s.pair ? { pair: true } : {}) })) : [];
  const loaded = previous ? await loadModel(tf, dir) : null;
  const enc = loaded?.enc ?? buildEncoder(tf, { arch, fusion, tasks, frames: patch.frames, nMels: patch.nMels, seed });
  const batch = previous?.batchSize ?? r.batchSize ?? (kind === 'triplet' ? 32 : 16);
  // Models saved before the selection was recorded trained batch-hard; a new one takes batch-all (see TripletSelection).
  const selection = previous ? (previous.selection ?? 'batch-hard') : (r.selection ?? 'batch-all');
  const iterations = previous?.iterations ?? r.iterations ?? (r.epochs !== undefined ? Math.ceil((r.epochs * logMels.size) / batch) : 500);
  const meta: ModelMeta = previous ?? {
    format: 1,
    name: r.name,
    kind,
    arch,
    fusion,
    tasks,
    seed,
    patch,
    mean: Array.from(stats.mean),
    std: Array.from(stats.std),
    sources: kind === 'multitask' ? sources.map((s) => ({ name: s.name, describe: s.describe })) : [{ name: 'lsi', describe: `LSI relatedness over ${fields.join(', ')} (${selection} selection)` }],
    fields,
    iterations,
    batchSize: batch,
    ...(kind === 'triplet' ? { selection } : {}),
    trainTracks: logMels.size,
    done: 0,
    history: [],
    heldOut,
    withDsp: r.withDsp ?? true,
    backend: `${rt.backend} (${rt.device})`,
    createdAt: Date.now(),
    updatedAt: Date.now(),
  };
  const input = { logMels, mean: stats.mean, std: stats.std, frames: patch.frames };
  // Adam per task (per the triplet loss), checkpointed with the weights so a resume continues its moments.
  const optimizers = new Map<string, Optimizer>((kind === 'multitask' ? sources.map((s) => s.name as string) : ['triplet']).map((n) => [n, tf.train.adam(1e-3)]));
  if (previous) await restoreOptimizers(tf, dir, optimizers);
  const save = async (done: number) => {
    meta.done = done;
    await saveModel(tf, dir, enc, meta, optimizers);
  };
  const common = {
    iterations,
    batchSize: batch,
    seed,
    startIteration: meta.done,
    checkpointEvery: r.checkpointEvery ?? 50,
    optimizers,
    onCheckpoint: save,
    signal: r.signal,
    onStep: (s: { iteration: number; iterations: number; task: string; loss: number }) => {
      meta.history.push({ iteration: s.iteration, task: s.task, loss: s.loss });
      r.onProgress?.({ phase: 'training', done: s.iteration, total: s.iterations, task: s.task, loss: s.loss });
    },
  };
  let cancelled = false;
  try {
    // A new model is on disk from its first step (iteration 0: its held-out tracks, statistics and initial
    // weights), so it can be listed, followed and resumed however early the run stops.
    if (!previous) await save(0);
    if (kind === 'multitask') await trainMultitask(tf, enc, sources, input, common);
    else await trainTriplet(tf, enc, input, { ...common, relatedness: relatedness as Map<number, Float32Array>, albums: albumsOf(ctx.store), selection });
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw e;
    cancelled = true;
    // Keep what was learned: the next --resume starts from the last finished iteration.
    const last = meta.history.at(-1)?.iteration ?? meta.done;
    await save(last);
  } finally {
    disposeEncoder(enc);
    for (const o of optimizers.values()) o.dispose();
  }
  return { meta: readMeta(dir), cancelled };
}

export interface EmbedResult {
  /** The representation stored ('' for a published classifier, whose outputs are proposals only). */
  representation: string;
  tracks: number;
  dim: number;
  skipped: number;
  /** A published model's: tracks whose audio could not be decoded, and the proposals made per field. */
  failures?: Array<{ path: string; message: string }>;
  proposals?: Record<string, number>;
}

/**
 * In a fused representation, the learned features' weight in the cosine against the `dsp` groups' total weight
 * (see `normalise.ts`): half of it. Measured on real recordings (a 70-track training set, held-out album
 * precision@10): a multi-task encoder alone 0.368, dsp alone 0.359, fused at half weight 0.403 (at equal
 * weight 0.397) — while the untrained twin fused the same way falls to 0.343, below dsp: what the fusion gains
 * is what the network learnt. Hand-crafted and learned features fused late is the usual way of the field's best
 * systems, and it keeps a model trained on a few dozen tracks from forgetting what dsp already knows.
 */
export const FUSED_LEARNED_WEIGHT = 0.5;

/** The representation kind of a model's vectors: `model:multitask`, or `model:multitask+dsp` when fused. */
export function modelKind(kind: 'multitask' | 'triplet', withDsp: boolean): string {
  return `model:${kind}${withDsp ? '+dsp' : ''}`;
}

/**
 * Store a model's track vectors as representation `name` (or, with `rand`, its untrained twin's as `rand`). A
 * model made with `withDsp` (the default) stores its learned features followed by the track's `dsp` vector
 * (`[learned ‖ dsp]`); tracks without a `dsp` vector yet are skipped (analyse them, then embed again).
 */
export async function embedWithModel(ctx: EncoderContext, name: string, o: { rand?: boolean; onProgress?: TrainRequest['onProgress']; signal?: AbortSignal } = {}): Promise<EmbedResult> {
  const dir = join(ctx.modelsDir, name);
  // A published model (imported graph model): its embedding, its outputs and its proposals.
  if (isPublished(dir)) {
    if (o.rand) throw new Error(`"${name}" is a published model: it has no untrained twin (rand comes from a model trained here).`);
    return embedWithPublished(ctx, name, o);
  }
  const { tf } = await ctx.tf();
  const { enc, meta } = await loadModel(tf, dir, { untrained: !!o.rand });
  const rep = o.rand ? 'rand' : name;
  const dsp = meta.withDsp ? ctx.store.representation('dsp') : null;
  if (meta.withDsp && (!dsp || ctx.store.vectorCount('dsp') === 0)) {
    disposeEncoder(enc);
    throw new Error(`"${name}" fuses its features with dsp, and no track has a dsp vector yet: run \`earmark analyze\` first.`);
  }
  try {
    const tracks = ctx.store.allTracks().filter((t) => !dsp || ctx.store.vector(t.id, 'dsp') !== undefined);
    const input = { mean: Float32Array.from(meta.mean), std: Float32Array.from(meta.std), frames: meta.patch.frames };
    let dim = 0;
    let n = 0;
    let done = 0;
    const kind = meta.kind === 'triplet' ? 'triplet' : 'multitask';
    // Track by track, the next log-mel prepared (decoded on a cache miss) while this one is embedded; nothing
    // but the current pair is held, whatever the size of the library.
    const source = new TrainingLogMels(ctx, meta.patch, new LogMelCache(ctx.cacheDir, ctx.cacheBytes), 0);
    let next = tracks.length ? source.add(tracks[0].id, o.signal) : null;
    for (let i = 0; i < tracks.length; i++) {
      const t = tracks[i];
      if (o.signal?.aborted) throw new DOMException('Cancelled.', 'AbortError');
      const lm = await next;
      next = i + 1 < tracks.length ? source.add(tracks[i + 1].id, o.signal) : null;
      o.onProgress?.({ phase: 'embedding', done: ++done, total: tracks.length });
      if (!lm) continue;
      const learned = embedTrack(tf, enc.featureModel, lm, input, kind);
      let v = learned;
      if (dsp) {
        const d = ctx.store.vector(t.id, 'dsp') as Float32Array;
        v = new Float32Array(learned.length + d.length);
        v.set(learned, 0);
        v.set(d, learned.length);
      }
      if (dim === 0) {
        dim = v.length;
        ctx.store.ensureRepresentation(rep, modelKind(kind, !!dsp), dim, `${o.rand ? 'rand:' : ''}${name}@${meta.updatedAt}${dsp ? `+${dsp.version}` : ''}`);
      }
      ctx.store.putVector(t.id, rep, t.content_hash, v, { model: name, patches: meta.patch.name });
      n++;
    }
    return { representation: rep, tracks: n, dim, skipped: ctx.store.allTracks().length - n };
  } finally {
    disposeEncoder(enc);
  }
}

/**
 * Precision@10 per facet for each representation, over the same held-out query tracks (those of `queriesFrom`'s
 * model, or 15 % of the tracks drawn with the seed), searching the whole library by cosine.
 */
export function evaluateRepresentations(
  store: LibraryStore,
  normalise: (rep: string, v: Float32Array) => Float32Array,
  reps: readonly string[],
  o: { queries: number[] },
): RetrievalScores[] {
  const labels = {
    genre: (id: number) => store.tagsOf(id).genre?.map(valueKey) ?? null,
    mood: (id: number) => store.tagsOf(id).mood?.map(valueKey) ?? null,
    style: (id: number) => store.tagsOf(id).style?.map(valueKey) ?? null,
    artist: (id: number) => {
      const t = store.trackById(id);
      const a = t?.album_artist ?? t?.artist;
      return a ? [valueKey(a)] : null;
    },
    album: (id: number) => {
      const t = store.trackById(id);
      return t?.album ? [valueKey(`${t.album_artist ?? t.artist ?? ''}\u0000${t.album}`)] : null;
    },
  };
  return reps.map((rep) => {
    const { ids, data } = store.vectors(rep);
    if (ids.length === 0) throw new Error(`No "${rep}" vectors: ${rep === 'rand' ? 'run `earmark embed --model NAME --rand`' : rep === 'dsp' || rep === 'mfcc' ? `run \`earmark analyze --representation ${rep}\`` : `run \`earmark embed --model ${rep}\``} first.`);
    const order = Array.from(ids);
    const at = new Map(order.map((id, i) => [id, i]));
    const vectors = data.map((v) => normalise(rep, v));
    const queries = o.queries.filter((id) => at.has(id)).map((id) => at.get(id) as number);
    const facets = Object.keys(labels) as Array<keyof typeof labels>;
    const byFacet = Object.fromEntries(facets.map((facet) => [facet, order.map(labels[facet])])) as Record<keyof typeof labels, Array<string[] | null>>;
    const precision = Object.fromEntries(facets.map((facet) => [facet, precisionAtK(vectors, byFacet[facet], 10, queries)])) as RetrievalScores['precision'];
    const labelled = Object.fromEntries(facets.map((facet) => [facet, queries.filter((q) => byFacet[facet][q]?.length).length])) as RetrievalScores['labelled'];
    return { representation: rep, queries: queries.length, precision, labelled };
  });
}

import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Ffmpeg } from '../audio/decode.js';
import { saveComparison } from './recommend.js';
import type { HeadScore, RepresentationComparison, RetrievalScores, TagHeadKind } from '../contract.js';
import {
  embedWithModel,
  evaluateRepresentations as retrievalScores,
  trainEncoder as runTraining,
  type EmbedResult,
  type EncoderContext,
  type TrainRequest,
  type TrainResult,
} from '../learn/encoder-jobs.js';
import { HeadDataError } from '../learn/heads/head.js';
import { checkModelName, exportModel as writeModelFile, importModel as readModelFile, listModels, readMeta, type ModelMeta } from '../learn/model-store.js';
import { LogMelCache, type CacheInfo } from '../learn/patches.js';
import { embedInThread, findTrainWorkerScript, trainInThread, type TrainThreadInit } from '../learn/train-thread.js';
import { Random } from '../util/random.js';
import { isFacetField } from '../library/read-tags.js';
import type { TagMapping } from '../learn/published/mapping.js';
import { inferFile, proposeFromModel, publishedDir, PUBLISHED_KIND, storedOutputs, type InferResult } from '../learn/published/published-jobs.js';
import { importPublished, isPublished, listPublished, looksLikeGraphModel, readPublishedMeta, writePublishedMeta, type PublishedMeta } from '../learn/published/published-model.js';
import type { ApiContext } from './context.js';
import { evaluateTags } from './tagging.js';

/** Encoders: training them (here or in a worker thread), their vectors, comparing representations, and the models on disk. */

/** Log-mel cache bound unless the `cache.logmelBytes` setting says otherwise: 4 GiB. */
export const DEFAULT_LOGMEL_CACHE_BYTES = 4 * 2 ** 30;

export interface EmbedOptions {
  rand?: boolean;
  onProgress?: TrainRequest['onProgress'];
  signal?: AbortSignal;
  inThread?: boolean;
}

export interface CompareOptions {
  queriesFrom?: string;
  seed?: number;
  headFields?: string[];
  headKind?: TagHeadKind;
  minSupport?: number;
  signal?: AbortSignal;
  onProgress?: (p: { representation: string; field: string; done: number; total: number }) => void;
  /** Train the heads in a worker thread (see `foldRunnerFor`). */
  offThread?: boolean;
}

export function encoderContext(ctx: ApiContext): EncoderContext {
  const setting = Number(ctx.store.setting('cache.logmelBytes'));
  return {
    store: ctx.store,
    modelsDir: ctx.paths.modelsDir,
    cacheDir: join(ctx.paths.home, 'cache', 'logmel'),
    cacheBytes: Number.isFinite(setting) && setting > 0 ? setting : DEFAULT_LOGMEL_CACHE_BYTES,
    ffmpeg: () => ctx.ffmpeg(),
    tf: () => ctx.tf(),
  };
}

/** Train an encoder (multi-task or triplet) on the library; checkpointed in models/NAME, resumable. */
export function trainEncoder(ctx: ApiContext, r: TrainRequest): Promise<TrainResult> {
  return runTraining(encoderContext(ctx), r);
}

/**
 * The same, in a worker thread (what the app's service uses, so its own thread stays free for the API and
 * other jobs while a network trains); here when the worker script is not built.
 */
export function trainEncoderInThread(ctx: ApiContext, r: TrainRequest): Promise<TrainResult> {
  const thread = encoderThread(ctx);
  return thread ? trainInThread(thread.script, thread.init, r) : trainEncoder(ctx, r);
}

/** The worker script and what it needs to open this library; null when the script is not built. */
function encoderThread(ctx: ApiContext): { script: string; init: TrainThreadInit } | null {
  let script: string;
  try {
    script = findTrainWorkerScript();
  } catch {
    return null;
  }
  const enc = encoderContext(ctx);
  let ffmpeg: Ffmpeg | null = null;
  let ffmpegError: string | undefined;
  try {
    ffmpeg = enc.ffmpeg();
  } catch (e) {
    ffmpegError = (e as Error).message;
  }
  return { script, init: { db: ctx.paths.db, modelsDir: enc.modelsDir, cacheDir: enc.cacheDir, cacheBytes: enc.cacheBytes, ffmpeg, ffmpegError } };
}

/** A trained model's track vectors (or its untrained twin's, as `rand`) into the store, and its index. */
export async function embed(ctx: ApiContext, model: string, o: EmbedOptions = {}): Promise<EmbedResult & { index: 'built' | 'loaded' | 'none' }> {
  const thread = o.inThread ? encoderThread(ctx) : null;
  const r = thread ? await embedInThread(thread.script, thread.init, model, o) : await embedWithModel(encoderContext(ctx), model, o);
  // A published classifier gives proposals only, no representation to index.
  if (!r.representation) return { ...r, index: 'none' };
  const li = ctx.indexes.ensure(r.representation);
  return { ...r, index: li.origin };
}

/** The held-out query tracks: a model's (tracks it never trained on), or 15 % of the library drawn with the seed. */
function heldOutQueries(ctx: ApiContext, o: { queriesFrom?: string; seed?: number }): number[] {
  if (o.queriesFrom) {
    checkModelName(o.queriesFrom);
    return readMeta(join(ctx.paths.modelsDir, o.queriesFrom)).heldOut;
  }
  const rng = new Random((o.seed ?? 1) + 7919);
  return ctx.store.allTracks().map((t) => t.id).filter(() => rng.next() < 0.15);
}

/**
 * What `eval` compares when nothing is named: dsp, mfcc and every trained or imported representation with vectors
 * (not rand, the untrained twins), and, when there is a model, the queries are the latest model's held-out tracks
 * so it is not scored on tracks it trained on (if they are this library's: an imported model's are another's).
 */
export function evaluationDefaults(ctx: ApiContext): { representations: string[]; queriesFrom?: string } {
  const models = ctx.store
    .representations()
    .filter((r) => r.vectors > 0 && !['dsp', 'mfcc', 'rand'].includes(r.name) && existsSync(join(ctx.paths.modelsDir, r.name, 'earmark.json')))
    .map((r) => ({ name: r.name, at: statSync(join(ctx.paths.modelsDir, r.name, 'earmark.json')).mtimeMs }))
    .sort((a, b) => b.at - a.at);
  // Published models' embeddings (musicnn) are compared too; they have no held-out tracks of this library.
  const published = ctx.store.representations().filter((r) => r.vectors > 0 && isPublished(join(ctx.paths.modelsDir, r.name))).map((r) => r.name);
  const builtins = ['dsp', 'mfcc'].filter((r) => ctx.store.vectorCount(r) > 0);
  const representations = [...builtins, ...[...models.map((m) => m.name), ...published].sort()];
  const latest = models[0]?.name;
  const heldOut = latest ? readMeta(join(ctx.paths.modelsDir, latest)).heldOut : [];
  const usable = heldOut.length >= 10 && heldOut.every((id) => ctx.store.trackById(id));
  return usable ? { representations, queriesFrom: latest } : { representations };
}

/** Precision@10 per facet of each representation, for held-out query tracks (a model's, or 15 % by seed). */
export function evaluateRepresentations(ctx: ApiContext, reps: string[], o: { queriesFrom?: string; seed?: number } = {}): RetrievalScores[] {
  return retrievalScores(ctx.store, (rep, v) => ctx.indexes.normalise(rep, v), reps, { queries: heldOutQueries(ctx, o) });
}

/**
 * Representations side by side (issue 5, point 7): precision@10 per facet for the held-out queries, and for
 * each head field a head trained on the other tracks and scored on the same held-out tracks (accuracy and
 * macro-F1; mAP for multi-label fields). A field too thin to learn gets its reason instead of numbers.
 */
export async function compareRepresentations(
  ctx: ApiContext,
  reps: string[],
  o: CompareOptions = {},
): Promise<RepresentationComparison> {
  const queries = heldOutQueries(ctx, o);
  const retrieval = retrievalScores(ctx.store, (rep, v) => ctx.indexes.normalise(rep, v), reps, { queries });
  const fields = o.headFields ?? ['genre', 'mood', 'style'];
  const rows: RepresentationComparison['rows'] = [];
  let done = 0;
  for (const r of retrieval) {
    const heads: HeadScore[] = [];
    for (const field of fields) {
      if (o.signal?.aborted) throw new DOMException('Cancelled.', 'AbortError');
      o.onProgress?.({ representation: r.representation, field, done, total: retrieval.length * fields.length });
      try {
        const ev = await evaluateTags(ctx, { field, representation: r.representation, kind: o.headKind, minSupport: o.minSupport, testTracks: queries, seed: o.seed, signal: o.signal, offThread: o.offThread });
        heads.push({ field, multiLabel: ev.multiLabel, train: ev.train, test: ev.test, accuracy: ev.accuracy ?? null, macroF1: ev.macroF1 ?? null, meanAveragePrecision: ev.meanAveragePrecision ?? null, refused: null });
      } catch (e) {
        if (!(e instanceof HeadDataError)) throw e;
        heads.push({ field, multiLabel: null, train: 0, test: 0, accuracy: null, macroF1: null, meanAveragePrecision: null, refused: e.message });
      }
      done++;
    }
    rows.push({ ...r, heads });
  }
  const comparison: RepresentationComparison = { queriesFrom: o.queriesFrom ?? null, queries: retrieval[0]?.queries ?? 0, headKind: o.headKind ?? 'auto', at: Date.now(), rows };
  // Saved: the last comparison decides the representation used when none is named (recommend.ts).
  saveComparison(ctx, comparison);
  return comparison;
}

export function models(ctx: ApiContext): ModelMeta[] {
  return listModels(ctx.paths.modelsDir);
}

/** Delete a model: its folder, its vectors and index, and `rand` when that is this model's untrained twin. */
export function deleteModel(ctx: ApiContext, name: string): { deleted: string; representations: string[] } {
  checkModelName(name);
  const dir = join(ctx.paths.modelsDir, name);
  const published = isPublished(dir);
  // A published model's leftovers whose folder is gone (deleted while it ran elsewhere): removed all the same.
  const orphan = !published && !existsSync(dir) && (ctx.store.representation(name)?.kind === PUBLISHED_KIND || ctx.store.modelOutputCount(name) > 0);
  if (published || orphan) {
    // Its outputs and its proposals go with it (predictions cascade from their heads); decided ones too.
    ctx.store.transaction(() => {
      ctx.store.deleteModelOutputs(name);
      ctx.store.db.prepare("DELETE FROM heads WHERE kind = 'model' AND representation = ?").run(name);
    });
  } else readMeta(dir); // not-found when there is no such model
  const reps = [name];
  if (ctx.store.representation('rand')?.version.startsWith(`rand:${name}@`)) reps.push('rand');
  const dropped = reps.filter((r) => ctx.store.representation(r));
  for (const r of dropped) {
    ctx.store.deleteRepresentation(r);
    ctx.indexes.remove(r);
  }
  if (orphan) return { deleted: name, representations: dropped };
  // The folder goes last, moved aside first so a crash never leaves half a model that looks whole.
  const gone = `${dir}.deleting`;
  rmSync(gone, { recursive: true, force: true });
  renameSync(dir, gone);
  rmSync(gone, { recursive: true, force: true });
  return { deleted: name, representations: dropped };
}

export function exportModel(ctx: ApiContext, name: string, out: string): void {
  writeModelFile(join(ctx.paths.modelsDir, name), out);
}

export function importModel(ctx: ApiContext, file: string, name?: string): ModelMeta {
  if (!existsSync(file)) throw new Error(`${file} does not exist.`);
  return readModelFile(file, ctx.paths.modelsDir, name);
}

export function logMelCache(ctx: ApiContext): CacheInfo {
  const c = encoderContext(ctx);
  return new LogMelCache(c.cacheDir, c.cacheBytes).info();
}

/**
 * Import a published TensorFlow.js graph model (Essentia's MusiCNN family) from a folder or a zip; it is loaded
 * and run once on the backend in use before it is kept (see `importPublished`).
 */
export async function importPublishedModel(ctx: ApiContext, from: string, name?: string): Promise<PublishedMeta> {
  const { tf } = await encoderContext(ctx).tf();
  return importPublished(tf, from, ctx.paths.modelsDir, name);
}

/**
 * Import whatever `path` holds: a published graph model (any folder, a `model.json`, a zip) or an Earmark model
 * file. What every shell calls; throws with the reason when it cannot be imported.
 */
export async function importAnyModel(ctx: ApiContext, path: string, name?: string): Promise<{ published: PublishedMeta } | { trained: ModelMeta }> {
  if (looksLikeGraphModel(path)) return { published: await importPublishedModel(ctx, path, name) };
  return { trained: importModel(ctx, path, name) };
}

export function publishedModels(ctx: ApiContext): PublishedMeta[] {
  return listPublished(ctx.paths.modelsDir);
}

/** A published model's outputs for any audio file, averaged over its patches (`earmark infer`). */
export function infer(ctx: ApiContext, model: string, file: string, signal?: AbortSignal): Promise<InferResult> {
  return inferFile(encoderContext(ctx), model, file, signal);
}

/** Facts of a file, not tags a model could propose. */
const FILE_FACTS = new Set(['path', 'file', 'filename', 'folder', 'directory', 'duration', 'length', 'size', 'codec', 'format', 'bitrate', 'samplerate', 'sample rate', 'channels', 'track', 'disc', 'picture', 'cover', 'hash', 'mtime', 'id']);

/** One change to a published model's mapping: a class to a field and value, to nothing, or a new threshold. */
export interface MappingChange {
  label: string;
  field?: string | null;
  value?: string;
  threshold?: number;
}

/**
 * Edit a published model's mapping of classes to tags, then make its proposals again from its kept outputs (no
 * audio is decoded, the model does not run): a class may go to another field or value, to none (null), or get
 * a threshold of the user's (which calibration on tags then leaves). Throws on an unknown class.
 */
export function editModelMapping(ctx: ApiContext, model: string, changes: readonly MappingChange[]): { mapping: TagMapping[]; proposals: Record<string, number> } {
  const dir = publishedDir(encoderContext(ctx), model);
  const meta = readPublishedMeta(dir);
  const seen = new Map<string, MappingChange>();
  for (const c of changes) {
    const m = meta.mapping.find((x) => x.label.toLowerCase() === c.label.toLowerCase());
    if (!m) throw new Error(`"${model}" has no class "${c.label}"; its classes are: ${meta.classes.join(', ')}.`);
    const before = seen.get(m.label);
    if (before && c.field !== undefined && before.field !== undefined && before.field !== c.field) {
      throw new Error(`"${m.label}" is given twice: ${before.field === null ? 'to nothing' : `to ${before.field}`} and ${c.field === null ? 'to nothing' : `to ${c.field}`}. Say it once.`);
    }
    seen.set(m.label, { ...before, ...c });
    if (c.field) {
      const f = c.field.trim().toLowerCase();
      if (!/^[\p{L}\p{N}_ .:-]{1,64}$/u.test(f) || !isFacetField(f) || FILE_FACTS.has(f)) {
        throw new Error(`"${c.field}" is not a tag field Earmark proposes into (genre, mood, style, era, voice, danceability or another facet; not title, artist, album, path and the like).`);
      }
    }
    if (c.value !== undefined && !c.value.trim()) throw new Error(`An empty value for "${m.label}": give one, or --ignore it.`);
    const moved = (c.field !== undefined && (c.field?.toLowerCase() ?? null) !== m.field) || (c.value !== undefined && c.value !== m.value);
    if (c.field !== undefined) m.field = c.field === null ? null : c.field.trim().toLowerCase();
    if (c.value !== undefined) m.value = c.value.trim();
    // A threshold calibrated for another field or value means nothing here: start again from 0.5 (unless yours).
    if (moved && !m.fixed) {
      m.threshold = 0.5;
      m.calibrated = null;
    }
    if (c.threshold !== undefined) {
      if (!(c.threshold >= 0 && c.threshold <= 1)) throw new Error(`A threshold is between 0 and 1: ${c.threshold} is not.`);
      m.threshold = c.threshold;
      m.calibrated = null;
      m.fixed = true;
    }
  }
  writePublishedMeta(dir, meta);
  const proposals = proposeFromModel(ctx.store, dir, storedOutputs(ctx.store, meta));
  return { mapping: readPublishedMeta(dir).mapping, proposals };
}

import type { GraphModel } from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { decodeExcerpt, decodeExcerpts } from '../../audio/decode.js';
import { MUSICNN_INPUT, musicnnMelBands, musicnnPatches } from '../../audio/musicnn-input.js';
import { planExcerpts } from '../../audio/representations.js';
import type { HeldOutMetrics } from '../../contract.js';
import { valueKey } from '../../library/facets.js';
import type { LibraryStore, TrackRow } from '../../store/library-store.js';
import type { EmbedResult, EncoderContext, TrainRequest } from '../encoder-jobs.js';
import { ModelNotFoundError } from '../model-store.js';
import type { Tf } from '../tf/backend.js';
import { settleSingleProposals } from '../tag-review.js';
import { startInferencePool } from './inference-pool.js';
import { calibrateMapping, isSingleValued, proposalsFor, type TagMapping } from './mapping.js';
import { isPublished, loadGraph, readPublishedMeta, runPublished, writePublishedMeta, type PublishedMeta, type PublishedOutputs } from './published-model.js';

/**
 * Running a published model over audio: one file (`infer`), or the library (`embedWithPublished`: its embedding
 * as a representation, its outputs kept per track, and tag proposals through its mapping).
 */

/** The representation kind of a published model's embedding. */
export const PUBLISHED_KIND = 'model:published';

/**
 * Run a model on excerpts of 16 kHz mono audio: each excerpt's frames and patches (`musicnn-input.ts`), all the
 * patches through the graph (`runPublished`), the outputs averaged over them. An excerpt shorter than one frame
 * gives no patch; throws when no excerpt gives one.
 */
export function runOnAudio(tf: Tf, model: GraphModel, meta: PublishedMeta, excerpts: readonly Float32Array[]): PublishedOutputs {
  const size = MUSICNN_INPUT.patchFrames * MUSICNN_INPUT.nMels;
  const cut = excerpts.map((y) => musicnnPatches(musicnnMelBands(y)));
  const n = cut.reduce((a, c) => a + c.nPatches, 0);
  if (n === 0) throw new Error('The audio is too short for the model (under 32 ms).');
  const all = new Float32Array(n * size);
  let at = 0;
  for (const c of cut) {
    all.set(c.data.subarray(0, c.nPatches * size), at * size);
    at += c.nPatches;
  }
  return runPublished(tf, model, meta, all, n);
}

/** Below this peak (−60 dBFS) audio is taken as silence: a model's outputs for it mean nothing. */
export const SILENT_PEAK = 1e-3;

function peakOf(audio: readonly Float32Array[]): number {
  let peak = 0;
  for (const y of audio) for (let i = 0; i < y.length; i++) peak = Math.max(peak, Math.abs(y[i]));
  return peak;
}

export function publishedDir(ctx: Pick<EncoderContext, 'modelsDir'>, name: string): string {
  const dir = join(ctx.modelsDir, name);
  if (!isPublished(dir)) throw new ModelNotFoundError(`No published model named "${name}" (see \`earmark models\`; import one with \`earmark import-model\`).`);
  return dir;
}

export interface InferResult {
  model: string;
  labels: string[];
  values: number[];
  patches: number;
  /** The embedding averaged over the patches, when the model has one. */
  embedding: number[] | null;
  /** Which tags the model's mapping proposes for the file (none for silence). */
  proposals: Array<{ field: string; value: string; confidence: number }>;
  /** The file is silent (peak below −60 dBFS): its outputs mean nothing. */
  silent: boolean;
}

/**
 * A model's outputs for any audio file, over all of it (decoded to 16 kHz mono by ffmpeg), averaged over its
 * patches: what `earmark infer` prints, to compare with another implementation.
 */
export async function inferFile(ctx: EncoderContext, name: string, file: string, signal?: AbortSignal): Promise<InferResult> {
  const dir = publishedDir(ctx, name);
  if (!existsSync(file)) throw new Error(`${file} does not exist.`);
  const meta = readPublishedMeta(dir);
  let y: Float32Array;
  try {
    y = await decodeExcerpt(ctx.ffmpeg(), file, { sr: MUSICNN_INPUT.sr, signal });
  } catch (e) {
    if (e instanceof Error && e.name !== 'AbortError') e.message = `${file}: ${e.message}`;
    throw e;
  }
  const silent = peakOf([y]) < SILENT_PEAK;
  const { tf } = await ctx.tf();
  const model = await loadGraph(tf, dir);
  try {
    const r = runOnAudio(tf, model, meta, [y]);
    return {
      model: name,
      labels: meta.classes,
      values: Array.from(r.values),
      patches: r.patches,
      embedding: r.embedding ? Array.from(r.embedding) : null,
      proposals: silent ? [] : proposalsFor(meta.mapping, meta.classes, r.values).map(({ field, value, confidence }) => ({ field, value, confidence })),
      silent,
    };
  } finally {
    model.dispose();
  }
}

function modelVersion(meta: PublishedMeta): string {
  return `${meta.name}@${meta.importedAt}`;
}

/** Every track's kept outputs of a model (those of its current version and content). */
export function storedOutputs(store: LibraryStore, meta: PublishedMeta): Map<number, Float32Array> {
  const rows = store.db
    .prepare('SELECT o.track_id, o.outputs FROM model_outputs o JOIN tracks t ON t.id = o.track_id AND t.content_hash = o.content_hash WHERE o.model = ? AND o.model_version = ?')
    .all(meta.name, modelVersion(meta)) as Array<{ track_id: number; outputs: Buffer }>;
  return new Map(rows.map((r) => [r.track_id, new Float32Array(r.outputs.buffer.slice(r.outputs.byteOffset, r.outputs.byteOffset + r.outputs.byteLength))]));
}

export interface PublishedEmbedResult extends EmbedResult {
  failures: Array<{ path: string; message: string }>;
  proposals: Record<string, number>;
}

/**
 * Run a published model over the library: for every track, the analysis excerpts (`planExcerpts`) decoded at
 * 16 kHz, their patches through the graph, outputs averaged. The embedding (auto-taggers) is stored as
 * representation `name`; the class activations are kept per track (`model_outputs`), so a track done survives a
 * crash or a cancel and is not run again. Then the mapping's thresholds are calibrated on the user's own tags
 * (`calibrateMapping`) and the proposals written (`proposeFromModel`). The next track decodes while this one
 * runs. Throws AbortError on cancel (what was done stays).
 */
export async function embedWithPublished(
  ctx: EncoderContext,
  name: string,
  o: { onProgress?: TrainRequest['onProgress']; signal?: AbortSignal } = {},
): Promise<PublishedEmbedResult> {
  const dir = publishedDir(ctx, name);
  const meta = readPublishedMeta(dir);
  const { tf } = await ctx.tf();
  const model = await loadGraph(tf, dir);
  const version = modelVersion(meta);
  const store = ctx.store;
  const failures: PublishedEmbedResult['failures'] = [];
  try {
    const done = storedOutputs(store, meta);
    const hasVector = (t: TrackRow) => !meta.representation || store.vector(t.id, name) !== undefined;
    const tracks = store.allTracks();
    const remaining = tracks.filter((t) => !(done.has(t.id) && hasVector(t)));
    const decode = (t: TrackRow) =>
      decodeExcerpts(ctx.ffmpeg(), t.path, planExcerpts(t.duration ?? 30), { sr: MUSICNN_INPUT.sr, signal: o.signal }).then(
        (audio) => ({ audio, error: null }),
        (e: unknown) => ({ audio: null, error: e }),
      );
    const put = store.db.prepare(
      `INSERT INTO model_outputs (track_id, model, content_hash, model_version, patches, outputs) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (track_id, model) DO UPDATE SET content_hash = excluded.content_hash, model_version = excluded.model_version, patches = excluded.patches, outputs = excluded.outputs`,
    );
    // Tracks decode ahead and run side by side on the inference threads (one per core, WebAssembly or JavaScript
    // backend), or here one after another; each is stored as soon as its outputs are in.
    const pool = await startInferencePool(tf, dir).catch(() => null);
    const inFlight = Math.max(1, pool?.size ?? 1) + 1;
    let started = 0;
    let finished = tracks.length - remaining.length;
    const runOne = async (t: TrackRow): Promise<void> => {
      const dec = await decode(t);
      if (o.signal?.aborted) throw new DOMException('Cancelled.', 'AbortError');
      if (!dec.audio) {
        const e = dec.error;
        if ((e as { name?: string } | null)?.name === 'AbortError' || (e as { code?: string } | null)?.code === 'ABORT_ERR') throw new DOMException('Cancelled.', 'AbortError');
        failures.push({ path: t.path, message: e instanceof Error ? e.message : String(e) });
        return;
      }
      if (peakOf(dec.audio) < SILENT_PEAK) {
        failures.push({ path: t.path, message: 'Silent (peak below −60 dBFS): nothing for the model to tag.' });
        return;
      }
      let r: PublishedOutputs;
      try {
        r = pool ? await pool.run(dec.audio) : runOnAudio(tf, model, meta, dec.audio);
      } catch (e) {
        if (o.signal?.aborted) throw new DOMException('Cancelled.', 'AbortError');
        failures.push({ path: t.path, message: e instanceof Error ? e.message : String(e) });
        return;
      }
      store.transaction(() => {
        const now = store.trackById(t.id);
        if (!now || now.content_hash !== t.content_hash) return;
        if (meta.representation && r.embedding) {
          store.ensureRepresentation(name, PUBLISHED_KIND, r.embedding.length, version);
          store.putVector(t.id, name, t.content_hash, r.embedding, { model: name, patches: r.patches });
        }
        put.run(t.id, name, t.content_hash, version, r.patches, Buffer.from(r.values.buffer, r.values.byteOffset, r.values.byteLength));
      });
    };
    try {
      await new Promise<void>((resolve, reject) => {
        let active = 0;
        let failed = false;
        const pump = () => {
          if (failed) return;
          if (o.signal?.aborted) {
            failed = true;
            reject(new DOMException('Cancelled.', 'AbortError'));
            return;
          }
          if (started >= remaining.length && active === 0) {
            resolve();
            return;
          }
          while (active < inFlight && started < remaining.length) {
            const t = remaining[started++];
            active++;
            runOne(t).then(
              () => {
                active--;
                o.onProgress?.({ phase: 'embedding', done: ++finished, total: tracks.length });
                pump();
              },
              (e: unknown) => {
                active--;
                failed = true;
                reject(e instanceof Error ? e : new Error(String(e)));
              },
            );
          }
        };
        pump();
      });
    } finally {
      await pool?.close();
    }
    if (!isPublished(dir)) {
      // Deleted while it ran (from another process): what this run stored goes too, so nothing is orphaned.
      store.transaction(() => {
        store.deleteModelOutputs(name);
        if (store.representation(name)?.kind === PUBLISHED_KIND) store.deleteRepresentation(name);
      });
      throw new ModelNotFoundError(`"${name}" was deleted while it ran; what it stored was removed too.`);
    }
    const outputs = storedOutputs(store, meta);
    const proposals = proposeFromModel(store, dir, outputs);
    return {
      representation: meta.representation ? name : '',
      tracks: outputs.size,
      dim: meta.representation ? (meta.embeddingDim ?? 0) : 0,
      skipped: tracks.length - outputs.size,
      failures,
      proposals,
    };
  } finally {
    model.dispose();
  }
}

/** The head id a published model's proposals for a field are stored under. */
export function modelHeadId(model: string, field: string): string {
  return `model:${model}:${field}`;
}

/**
 * How the model's proposals fare on the tracks the user has tagged in a field (the model never saw them): per
 * mapped value precision, recall and F1; for a single-valued field, accuracy against always answering the
 * commonest value.
 */
function modelMetrics(field: string, mapping: readonly TagMapping[], classes: readonly string[], outputs: ReadonlyMap<number, Float32Array>, tagsOf: (id: number) => Record<string, string[]>): HeldOutMetrics {
  const entries = mapping.filter((m) => m.field?.toLowerCase() === field);
  const values = [...new Map(entries.map((m) => [valueKey(m.value), m.value])).values()];
  const tagged: Array<{ own: Set<string>; got: Set<string> }> = [];
  for (const [id, v] of outputs) {
    const own = tagsOf(id)[field];
    if (!own?.length) continue;
    const got = new Set(proposalsFor(entries, classes, v).map((p) => valueKey(p.value)));
    tagged.push({ own: new Set(own.map(valueKey)), got });
  }
  const perValue = values.map((value) => {
    const k = valueKey(value);
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const r of tagged) {
      if (r.got.has(k) && r.own.has(k)) tp++;
      else if (r.got.has(k)) fp++;
      else if (r.own.has(k)) fn++;
    }
    const precision = tp + fp ? tp / (tp + fp) : 0;
    const recall = tp + fn ? tp / (tp + fn) : 0;
    return { value, precision, recall, f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0, support: tp + fn };
  });
  const present = perValue.filter((p) => p.support > 0);
  const m: HeldOutMetrics = { samples: tagged.length, values, perValue, meanF1: present.length ? present.reduce((a, p) => a + p.f1, 0) / present.length : undefined };
  if (isSingleValued(field) && tagged.length) {
    m.accuracy = tagged.filter((r) => [...r.got].some((g) => r.own.has(g))).length / tagged.length;
    const counts = new Map<string, number>();
    for (const r of tagged) for (const v of r.own) counts.set(v, (counts.get(v) ?? 0) + 1);
    m.majorityAccuracy = Math.max(0, ...counts.values()) / tagged.length;
  }
  return m;
}

/**
 * Turn a published model's kept outputs into proposals through its mapping, after calibrating the mapping's
 * thresholds on the user's own tags (saved back into the model's description). One head per mapped field
 * (`model:<name>:<field>`, kind "model"). A value the track already has in its file is marked as such, not
 * proposed; a single-valued field is proposed only for tracks without a value. The user's accept/reject
 * decisions stand across runs; where another head proposes the same value, the more confident one is kept.
 * Returns the proposals per field.
 */
export function proposeFromModel(store: LibraryStore, dir: string, outputs: ReadonlyMap<number, Float32Array>): Record<string, number> {
  const meta = readPublishedMeta(dir);
  // The user's own tags: values Earmark wrote from proposals (any model's or head's) are not evidence.
  const wrote = new Set(
    (store.db.prepare("SELECT track_id, field, value FROM predictions WHERE status = 'written'").all() as Array<{ track_id: number; field: string; value: string }>).map(
      (r) => `${r.track_id}\u0000${r.field}\u0000${valueKey(r.value)}`,
    ),
  );
  const tagsOf = (id: number) => {
    const own = store.tagsOf(id);
    return Object.fromEntries(Object.entries(own).map(([f, vs]) => [f, vs.filter((v) => !wrote.has(`${id}\u0000${f}\u0000${valueKey(v)}`))]));
  };
  meta.mapping = calibrateMapping(meta.mapping, meta.classes, outputs, tagsOf);
  writePublishedMeta(dir, meta);
  const fields = [...new Set(meta.mapping.flatMap((m) => (m.field ? [m.field.toLowerCase()] : [])))];
  const counts: Record<string, number> = Object.fromEntries(fields.map((f) => [f, 0]));
  const now = Date.now();
  store.transaction(() => {
    const kept = new Map<string, string>();
    for (const r of store.db
      .prepare("SELECT track_id, field, value, status FROM predictions WHERE status IN ('accepted', 'rejected')")
      .iterate() as IterableIterator<{ track_id: number; field: string; value: string; status: string }>) {
      kept.set(`${r.track_id}\u0000${r.field}\u0000${r.value}`, r.status);
    }
    // This model's earlier pending proposals go, in every field it proposed in (decided ones are re-made below
    // when still proposed, or kept as decided); a field the mapping no longer sends anything to loses its head
    // once nothing decided is left under it.
    const mine = (store.db.prepare("SELECT id, field FROM heads WHERE kind = 'model' AND representation = ?").all(meta.name) as Array<{ id: string; field: string }>);
    for (const h of mine) store.db.prepare("DELETE FROM predictions WHERE head_id = ? AND status = 'pending'").run(h.id);
    for (const h of mine.filter((x) => !fields.includes(x.field))) {
      const left = store.db.prepare('SELECT COUNT(*) AS n FROM predictions WHERE head_id = ?').get(h.id) as { n: number };
      if (left.n === 0) store.db.prepare('DELETE FROM heads WHERE id = ?').run(h.id);
    }
    const insHead = store.db.prepare(
      `INSERT INTO heads (id, field, representation, kind, multi_label, min_support, vocabulary, thresholds, metrics, trained_on, created_at)
       VALUES (?, ?, ?, 'model', ?, 0, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET vocabulary = excluded.vocabulary, thresholds = excluded.thresholds, metrics = excluded.metrics, trained_on = excluded.trained_on, created_at = excluded.created_at`,
    );
    for (const f of fields) {
      const entries = meta.mapping.filter((m) => m.field?.toLowerCase() === f);
      const metrics = modelMetrics(f, meta.mapping, meta.classes, outputs, tagsOf);
      insHead.run(modelHeadId(meta.name, f), f, meta.name, isSingleValued(f) ? 0 : 1, JSON.stringify(entries.map((e) => e.value)), JSON.stringify(entries.map((e) => e.threshold)), JSON.stringify(metrics), metrics.samples, now);
    }
    const ins = store.db.prepare(
      `INSERT INTO predictions (track_id, field, value, confidence, head_id, in_file, proposed, suspicious, status, decided_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)
       ON CONFLICT (track_id, field, value) DO UPDATE SET confidence = excluded.confidence, head_id = excluded.head_id, in_file = excluded.in_file, proposed = excluded.proposed
       WHERE excluded.confidence > predictions.confidence OR predictions.head_id = excluded.head_id`,
    );
    for (const [id, v] of outputs) {
      const own = store.tagsOf(id);
      for (const p of proposalsFor(meta.mapping, meta.classes, v)) {
        const mine = (own[p.field] ?? []).map(valueKey);
        const inFile = mine.includes(valueKey(p.value));
        const proposed = !inFile && (!isSingleValued(p.field) || mine.length === 0);
        const decision = kept.get(`${id}\u0000${p.field}\u0000${p.value}`);
        const status = decision ?? 'pending';
        ins.run(id, p.field, p.value, p.confidence, modelHeadId(meta.name, p.field), inFile ? 1 : 0, proposed ? 1 : 0, status, status === 'pending' ? null : now);
        if (proposed && status === 'pending') counts[p.field] = (counts[p.field] ?? 0) + 1;
      }
    }
    for (const f of fields) settleSingleProposals(store, f);
  });
  return counts;
}

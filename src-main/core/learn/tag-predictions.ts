import { accuracy, confusion, logLoss, macroF1, meanAveragePrecision, perClass, perValue } from '../eval/metrics.js';
import { facetVocabulary, type FacetVocabulary } from '../library/facets.js';
import type { HeadSelection, HeadUsed, HeldOutMetrics, TagHeadKind } from '../contract.js';
import type { LibraryStore } from '../store/library-store.js';
import { fitFieldHead } from './heads/fit-field.js';
import { foldRunnerFor } from './heads/head-pool.js';
import { HeadDataError, type HeadData } from './heads/head.js';
import { settleSingleProposals } from './tag-review.js';
import { unitRows } from './heads/knn.js';
import type { Tf } from './tf/backend.js';

/**
 * Auto-tagging over a library: heads learn a tag field from the tracks that carry it and predict it for
 * every analysed track; predictions are stored per track with the head that made them, a confidence per
 * value, and the review state the user gives them (accept / reject), which is what `tag --write` writes.
 */

/** Fields that hold one value per track unless the user says otherwise. */
const SINGLE_LABEL_FIELDS = new Set(['genre']);
export function isMultiLabelField(field: string): boolean {
  return !SINGLE_LABEL_FIELDS.has(field.toLowerCase());
}

export interface HeadOptions {
  field: string;
  representation?: string;
  /** `auto` (the default) picks the best of kNN, linear (and, with enough tagged tracks, the MLP) by cross-validation. */
  kind?: TagHeadKind;
  /**
   * A stored vector in the representation's index space (`VectorIndexes.normalise`), which the kNN head
   * compares; without it, vectors are z-scored over the library.
   */
  normalise?: (v: Float32Array) => Float32Array;
  /** The index space's feature groups (from the index's normaliser), for the kNN head's per-group vote. */
  groups?: ReadonlyArray<{ start: number; end: number; weight: number }>;
  /** Defaults to false for genre, true for every other field. */
  multiLabel?: boolean;
  minSupport?: number;
  seed?: number;
  epochs?: number;
}

export interface PredictOptions extends HeadOptions {
  /** Folds of the cross-fitting that gives every tagged track a held-out prediction (default 5). */
  folds?: number;
  /**
   * After each epoch of any fold: that fold's epoch, and `done` of `total` epochs over all folds of the field
   * (folds may train side by side, so `done` is the sum, not this fold's position).
   */
  onProgress?: (p: { field: string; head: HeadUsed; fold: number; folds: number; epoch: number; epochs: number; loss: number; done: number; total: number }) => void;
  signal?: AbortSignal;
  /**
   * Threads that train the folds side by side (default: one per core, up to the fold count, when TensorFlow.js
   * runs on WebAssembly or JavaScript and there are enough tagged tracks to pay for starting them; 1 = here).
   */
  workers?: number;
  /** Train in worker threads even when the data is small, so this thread stays free (see `foldRunnerFor`). */
  offThread?: boolean;
}

export interface FieldPrediction {
  field: string;
  headId: string;
  representation: string;
  /** The head that made the predictions (for `auto`, the one chosen). */
  kind: HeadUsed;
  /** What was asked for, what was used, and every candidate's cross-validated score. */
  selection: HeadSelection;
  multiLabel: boolean;
  /** Values learned, with their decision thresholds. */
  values: Array<{ value: string; tracks: number; threshold: number }>;
  /** Values below the minimum support: reported, not learned. */
  rare: Array<{ value: string; tracks: number }>;
  /** Tracks whose tags taught the head. */
  labelled: number;
  /** Tracks given predictions (every track with a vector of the representation). */
  predicted: number;
  /** Values proposed for tracks that lack them. */
  proposals: number;
  /** Tracks whose own tag the head strongly disagrees with. */
  suspicious: number;
  /** Held-out quality, from the cross-fitted predictions of the tagged tracks. */
  heldOut: HeldOutMetrics;
}

interface Labelled {
  vocab: FacetVocabulary;
  values: string[];
  index: Map<string, number>;
  /** Every track with a vector: id, vector, canonical own values (may be empty or rare only). */
  tracks: Array<{ id: number; x: Float32Array; own: string[] }>;
  /** Each track's vector in the index space, unit length (for the kNN head), in the order of `tracks`. */
  unit: Float32Array[];
  /** Indices into `tracks` of the tracks that teach the head, with their value indices. */
  teach: Array<{ at: number; y: number[] }>;
}

const MIN_TRACKS = 10;

/** The field's vocabulary, every analysed track with its values, and the tracks that teach the head. */
export function gather(store: LibraryStore, o: HeadOptions, multiLabel: boolean): Labelled {
  const rep = o.representation ?? 'dsp';
  const vocab = facetVocabulary(store, o.field, { minSupport: o.minSupport ?? 5 });
  const values = vocab.values.map((v) => v.value);
  const index = new Map(values.map((v, i) => [v, i]));
  const { ids, data } = store.vectors(rep);
  if (ids.length === 0) {
    throw new HeadDataError(`No track has a "${rep}" vector yet: run \`earmark analyze --representation ${rep}\` first.`);
  }
  const tracks = Array.from(ids, (id, i) => ({ id, x: data[i], own: vocab.byTrack.get(id) ?? [] }));
  const teach: Labelled['teach'] = [];
  tracks.forEach((t, at) => {
    const y = t.own.map((v) => index.get(v)).filter((v): v is number => v !== undefined);
    if (y.length === 0) return;
    teach.push({ at, y: multiLabel ? y : [y[0]] });
  });
  const needValues = multiLabel ? 1 : 2;
  if (values.length < needValues || teach.length < MIN_TRACKS) {
    throw new HeadDataError(
      `Too little to learn "${vocab.field}" from: ${teach.length} analysed track(s) carry one of its ${values.length} value(s) with at least ` +
        `${vocab.minSupport} tracks (needs ${MIN_TRACKS} tracks and ${needValues} value${needValues > 1 ? 's' : ''}). ` +
        (vocab.rare.length ? `${vocab.rare.length} rarer value(s) were left out; a lower --min-support takes them in. ` : '') +
        'Tag more tracks, or analyse the library first.',
    );
  }
  return { vocab, values, index, tracks, teach, unit: unitRows(data.map(o.normalise ?? zScorer(data))) };
}

/** z-scores over the given vectors (constant dimensions to 0): the kNN head's space when no index normaliser is given. */
function zScorer(data: readonly Float32Array[]): (v: Float32Array) => Float32Array {
  const dim = data[0]?.length ?? 0;
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (const v of data) for (let i = 0; i < dim; i++) mean[i] += v[i] / data.length;
  for (const v of data) for (let i = 0; i < dim; i++) sq[i] += (v[i] - mean[i]) ** 2 / data.length;
  const inv = Float64Array.from(sq, (s) => (s > 1e-18 ? 1 / Math.sqrt(s) : 0));
  return (v) => Float32Array.from(v, (a, i) => (a - mean[i]) * inv[i]);
}

export function argmax(p: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[b]) b = i;
  return b;
}

function heldOutMetrics(probs: Float32Array[], y: number[][], values: string[], multiLabel: boolean, thresholds: number[]): HeldOutMetrics {
  const nValues = values.length;
  if (!multiLabel) {
    const truth = y.map((v) => v[0]);
    const pred = probs.map(argmax);
    const counts = new Array<number>(nValues).fill(0);
    for (const t of truth) counts[t]++;
    return {
      samples: truth.length,
      values,
      confusion: confusion(truth, pred, nValues),
      perValue: perClass(truth, pred, nValues).map((p, v) => ({ value: values[v], ...p })),
      accuracy: accuracy(truth, pred),
      macroF1: macroF1(truth, pred, nValues),
      logLoss: logLoss(truth, probs),
      majorityAccuracy: Math.max(...counts) / Math.max(1, truth.length),
    };
  }
  const truth = y.map((vs) => Float32Array.from({ length: nValues }, (_, v) => (vs.includes(v) ? 1 : 0)));
  const decided = probs.map((p) => Float32Array.from(p, (q, v) => (q >= thresholds[v] ? 1 : 0)));
  const all = perValue(truth, decided, nValues);
  const prf = all.filter((p) => p.support > 0);
  return {
    samples: y.length,
    values,
    perValue: all.map((p, v) => ({ value: values[v], ...p })),
    meanAveragePrecision: meanAveragePrecision(truth, probs, nValues),
    meanF1: prf.reduce((a, p) => a + p.f1, 0) / Math.max(1, prf.length),
  };
}

/** Whether the head strongly disagrees with a value the file carries. */
function disagrees(p: ArrayLike<number>, own: number, multiLabel: boolean, threshold: number): boolean {
  if (multiLabel) return p[own] < Math.min(0.1, threshold / 3);
  const top = argmax(p);
  return top !== own && p[own] < 0.15 && p[top] >= 0.6;
}

/**
 * Learn `field` from the library's tagged tracks and store predictions for every analysed track. Tagged
 * tracks are predicted by cross-fitting (each by heads that never saw it), so a wrong tag in a file can be
 * caught; untagged ones by the mean of the fold heads. Accept/reject decisions on values that are proposed
 * again survive a re-run.
 */
export async function predictField(store: LibraryStore, tf: Tf, o: PredictOptions): Promise<FieldPrediction> {
  const field = o.field.toLowerCase();
  const multiLabel = o.multiLabel ?? isMultiLabelField(field);
  const requested = o.kind ?? 'auto';
  const rep = o.representation ?? 'dsp';
  const L = gather(store, { ...o, field }, multiLabel);
  const data: HeadData = { x: L.teach.map((t) => L.tracks[t.at].x), y: L.teach.map((t) => t.y), nValues: L.values.length };
  const taught = new Set(L.teach.map((t) => t.at));
  const rest = L.tracks.map((_, at) => at).filter((at) => !taught.has(at));
  const folds = o.folds ?? 5;
  const { fit: cf, selection } = await fitFieldHead(
    tf,
    { data, unit: L.teach.map((t) => L.unit[t.at]), extra: rest.map((at) => L.tracks[at].x), extraUnit: rest.map((at) => L.unit[at]), groups: o.groups, multiLabel },
    requested,
    {
      folds,
      seed: o.seed ?? 1,
      epochs: o.epochs,
      signal: o.signal,
      runner: () => foldRunnerFor(tf, { samples: data.x.length, folds, workers: o.workers, offThread: o.offThread }),
      onProgress: (p) => o.onProgress?.({ field, ...p }),
    },
  );
  const kind = selection.chosen;
  const probsByAt = new Map<number, Float32Array>();
  L.teach.forEach((t, i) => probsByAt.set(t.at, cf.oof[i]));
  rest.forEach((at, i) => probsByAt.set(at, cf.extra[i]));

  const heldOut = { ...heldOutMetrics(cf.oof, data.y, L.values, multiLabel, cf.thresholds), selection };
  const headId = `${field}:${kind}:${rep}:${Date.now().toString(36)}`;
  const now = Date.now();
  let proposals = 0;
  let suspicious = 0;
  store.transaction(() => {
    const kept = new Map<string, string>();
    for (const r of store.db
      .prepare("SELECT track_id, value, status FROM predictions WHERE field = ? AND status IN ('accepted', 'rejected')")
      .iterate(field) as IterableIterator<{ track_id: number; value: string; status: string }>) {
      kept.set(`${r.track_id}\u0000${r.value}`, r.status);
    }
    // The field's learned head is replaced; a published model's proposals in it stay (its own head, kind "model").
    store.db.prepare("DELETE FROM predictions WHERE field = ? AND head_id NOT IN (SELECT id FROM heads WHERE kind = 'model')").run(field);
    store.db.prepare("DELETE FROM heads WHERE field = ? AND kind != 'model'").run(field);
    store.db
      .prepare(
        `INSERT INTO heads (id, field, representation, kind, multi_label, min_support, vocabulary, thresholds, metrics, trained_on, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(headId, field, rep, kind, multiLabel ? 1 : 0, L.vocab.minSupport, JSON.stringify(L.values), JSON.stringify(cf.thresholds), JSON.stringify(heldOut), data.x.length, now);
    const ins = store.db.prepare(
      `INSERT INTO predictions (track_id, field, value, confidence, head_id, in_file, proposed, suspicious, status, decided_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (track_id, field, value) DO UPDATE SET confidence = excluded.confidence, head_id = excluded.head_id, in_file = excluded.in_file,
         proposed = excluded.proposed, suspicious = excluded.suspicious, status = excluded.status, decided_at = excluded.decided_at`,
    );
    // Where a published model proposed the same value, the head learned from this library's own tags takes it over.
    L.tracks.forEach((t, at) => {
      const p = probsByAt.get(at) as Float32Array;
      const own = new Set(t.own.map((v) => L.index.get(v)).filter((v): v is number => v !== undefined));
      const flagged = new Set([...own].filter((v) => taught.has(at) && disagrees(p, v, multiLabel, cf.thresholds[v])));
      if (flagged.size) suspicious++;
      const top = argmax(p);
      // Single-label: propose only for tracks without a value, or to replace one the head flags; the proposal is
      // the most probable value, with its calibrated confidence to sort and filter by (a track without a genre
      // gets its likeliest one, not none). Multi-label: every value at or above its threshold (best held-out F1).
      const mayPropose = multiLabel || t.own.length === 0 || flagged.size > 0;
      for (let v = 0; v < L.values.length; v++) {
        const inFile = own.has(v);
        const decided = multiLabel ? p[v] >= cf.thresholds[v] : top === v;
        const proposed = decided && !inFile && mayPropose;
        // A value the user accepted or rejected keeps its row (and decision) even when this head does not propose
        // it, so the decision stands when another head proposes it again.
        const decision = kept.get(`${t.id}\u0000${L.values[v]}`);
        if (!(p[v] >= 0.05 || inFile || proposed || decision)) continue;
        if (proposed) proposals++;
        const status = decision ?? 'pending';
        ins.run(t.id, field, L.values[v], p[v], headId, inFile ? 1 : 0, proposed ? 1 : 0, flagged.has(v) ? 1 : 0, status, status === 'pending' ? null : now);
      }
    });
    settleSingleProposals(store, field);
  });
  return {
    field,
    headId,
    representation: rep,
    kind,
    selection,
    multiLabel,
    values: L.values.map((value, i) => ({ value, tracks: L.vocab.values[i].count, threshold: cf.thresholds[i] })),
    rare: L.vocab.rare.map((v) => ({ value: v.value, tracks: v.count })),
    labelled: data.x.length,
    predicted: L.tracks.length,
    proposals,
    suspicious,
    heldOut,
  };
}

import { accuracy, confusion, logLoss, macroF1, meanAveragePrecision, perClass, perValue } from '../eval/metrics.js';
import { groupSplit, stratifiedSplit } from '../eval/splits.js';
import { facetVocabulary, splitJoined, valueKey, type FacetVocabulary } from '../library/facets.js';
import type { FacetChanges } from '../library/tag-writer.js';
import type { HeldOutMetrics, PredictionRow, ProposalPage, ProposalQuery, ReviewSummary, TagEvaluation } from '../contract.js';
import type { LibraryStore } from '../store/library-store.js';
import { foldRunnerFor } from './heads/head-pool.js';
import { calibrateThresholds, crossFit, fitFold, HeadDataError, type FoldTask, type HeadConfig, type HeadData, type HeadKind, type HeadProgress } from './heads/head.js';
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
  kind?: HeadKind;
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
  onProgress?: (p: { field: string; fold: number; folds: number; epoch: number; epochs: number; loss: number; done: number; total: number }) => void;
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
  kind: HeadKind;
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
  /** Indices into `tracks` of the tracks that teach the head, with their value indices. */
  teach: Array<{ at: number; y: number[] }>;
}

const MIN_TRACKS = 10;

function gather(store: LibraryStore, o: HeadOptions, multiLabel: boolean): Labelled {
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
  return { vocab, values, index, tracks, teach };
}

function argmax(p: ArrayLike<number>): number {
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
  const kind = o.kind ?? 'mlp';
  const rep = o.representation ?? 'dsp';
  const L = gather(store, { ...o, field }, multiLabel);
  const data: HeadData = { x: L.teach.map((t) => L.tracks[t.at].x), y: L.teach.map((t) => t.y), nValues: L.values.length };
  const taught = new Set(L.teach.map((t) => t.at));
  const rest = L.tracks.map((_, at) => at).filter((at) => !taught.has(at));
  const config: HeadConfig = { kind, multiLabel, seed: o.seed ?? 1, ...(o.epochs ? { epochs: o.epochs } : {}) };
  const epochsByFold = new Map<number, number>();
  const cf = await crossFit(
    tf,
    data,
    config,
    rest.map((at) => L.tracks[at].x),
    {
      folds: o.folds ?? 5,
      signal: o.signal,
      runner: foldRunnerFor(tf, { samples: data.x.length, folds: o.folds ?? 5, workers: o.workers, offThread: o.offThread }),
      onFold: (fold, folds, p) => {
        epochsByFold.set(fold, p.epoch);
        let done = 0;
        for (const e of epochsByFold.values()) done += e;
        o.onProgress?.({ field, fold, folds, epoch: p.epoch, epochs: p.epochs, loss: p.loss, done, total: folds * p.epochs });
      },
    },
  );
  const probsByAt = new Map<number, Float32Array>();
  L.teach.forEach((t, i) => probsByAt.set(t.at, cf.oof[i]));
  rest.forEach((at, i) => probsByAt.set(at, cf.extra[i]));

  const heldOut = heldOutMetrics(cf.oof, data.y, L.values, multiLabel, cf.thresholds);
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
    store.db.prepare('DELETE FROM predictions WHERE field = ?').run(field);
    store.db.prepare('DELETE FROM heads WHERE field = ?').run(field);
    store.db
      .prepare(
        `INSERT INTO heads (id, field, representation, kind, multi_label, min_support, vocabulary, thresholds, metrics, trained_on, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(headId, field, rep, kind, multiLabel ? 1 : 0, L.vocab.minSupport, JSON.stringify(L.values), JSON.stringify(cf.thresholds), JSON.stringify(heldOut), data.x.length, now);
    const ins = store.db.prepare(
      `INSERT INTO predictions (track_id, field, value, confidence, head_id, in_file, proposed, suspicious, status, decided_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    L.tracks.forEach((t, at) => {
      const p = probsByAt.get(at) as Float32Array;
      const own = new Set(t.own.map((v) => L.index.get(v)).filter((v): v is number => v !== undefined));
      const flagged = new Set([...own].filter((v) => taught.has(at) && disagrees(p, v, multiLabel, cf.thresholds[v])));
      if (flagged.size) suspicious++;
      const top = argmax(p);
      // Single-label: propose only for tracks without a value, or to replace one the head flags.
      const mayPropose = multiLabel || t.own.length === 0 || flagged.size > 0;
      for (let v = 0; v < L.values.length; v++) {
        const inFile = own.has(v);
        const decided = p[v] >= cf.thresholds[v] && (multiLabel || top === v);
        const proposed = decided && !inFile && mayPropose;
        if (!(p[v] >= 0.05 || inFile || proposed)) continue;
        if (proposed) proposals++;
        const status = proposed ? (kept.get(`${t.id}\u0000${L.values[v]}`) ?? 'pending') : 'pending';
        ins.run(t.id, field, L.values[v], p[v], headId, inFile ? 1 : 0, proposed ? 1 : 0, flagged.has(v) ? 1 : 0, status, status === 'pending' ? null : now);
      }
    });
  });
  return {
    field,
    headId,
    representation: rep,
    kind,
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

interface RawPrediction {
  track_id: number;
  field: string;
  value: string;
  confidence: number;
  head_id: string;
  in_file: number;
  proposed: number;
  suspicious: number;
  status: PredictionRow['status'];
}

function toRow(r: RawPrediction): PredictionRow {
  return {
    trackId: r.track_id,
    field: r.field,
    value: r.value,
    confidence: r.confidence,
    headId: r.head_id,
    inFile: !!r.in_file,
    proposed: !!r.proposed,
    suspicious: !!r.suspicious,
    status: r.status,
  };
}

/** A track's predictions, most confident first per field. */
export function trackPredictions(store: LibraryStore, trackId: number): PredictionRow[] {
  return (store.db.prepare('SELECT * FROM predictions WHERE track_id = ? ORDER BY field, confidence DESC').all(trackId) as RawPrediction[]).map(toRow);
}

export interface ReviewFilter {
  field?: string;
  trackIds?: number[];
  values?: string[];
  minConfidence?: number;
  /** Only rows still pending (the default for bulk decisions, so earlier single decisions stand). */
  pendingOnly?: boolean;
}

/** The SQL condition selecting proposed rows by `f`; `p` prefixes the column names (a table alias). */
function where(f: ReviewFilter, p = ''): { sql: string; args: unknown[] } {
  const parts = [`${p}proposed = 1`, `${p}status != 'written'`];
  const args: unknown[] = [];
  if (f.field) {
    parts.push(`${p}field = ?`);
    args.push(f.field.toLowerCase());
  }
  if (f.trackIds) {
    parts.push(`${p}track_id IN (SELECT value FROM json_each(?))`);
    args.push(JSON.stringify(f.trackIds));
  }
  if (f.values) {
    parts.push(`${p}value IN (SELECT value FROM json_each(?))`);
    args.push(JSON.stringify(f.values));
  }
  if (f.minConfidence !== undefined) {
    parts.push(`${p}confidence >= ?`);
    args.push(f.minConfidence);
  }
  if (f.pendingOnly) parts.push(`${p}status = 'pending'`);
  return { sql: parts.join(' AND '), args };
}

/** Accept, reject or reset (to pending) the proposed values the filter selects; returns how many changed. */
export function reviewPredictions(store: LibraryStore, action: 'accept' | 'reject' | 'reset', f: ReviewFilter): number {
  const status = action === 'accept' ? 'accepted' : action === 'reject' ? 'rejected' : 'pending';
  const w = where(f);
  return store.db
    .prepare(`UPDATE predictions SET status = ?, decided_at = ? WHERE ${w.sql} AND status != ?`)
    .run(status, status === 'pending' ? null : Date.now(), ...w.args, status).changes;
}

/** Per field: the head and how many proposals stand in each review state. */
export function reviewSummary(store: LibraryStore): ReviewSummary[] {
  const heads = store.db.prepare('SELECT * FROM heads ORDER BY field').all() as Array<{
    id: string;
    field: string;
    representation: string;
    kind: HeadKind;
    multi_label: number;
    min_support: number;
    metrics: string;
    created_at: number;
  }>;
  return heads.map((h) => {
    const c = store.db
      .prepare(
        `SELECT SUM(proposed = 1 AND status = 'pending') AS proposed, SUM(proposed = 1 AND status = 'accepted') AS accepted,
                SUM(proposed = 1 AND status = 'rejected') AS rejected, SUM(status = 'written') AS written,
                COUNT(DISTINCT CASE WHEN suspicious = 1 THEN track_id END) AS suspicious
         FROM predictions WHERE field = ?`,
      )
      .get(h.field) as Record<string, number | null>;
    return {
      field: h.field,
      headId: h.id,
      representation: h.representation,
      kind: h.kind,
      multiLabel: !!h.multi_label,
      minSupport: h.min_support,
      createdAt: h.created_at,
      heldOut: JSON.parse(h.metrics) as HeldOutMetrics,
      proposed: c.proposed ?? 0,
      accepted: c.accepted ?? 0,
      rejected: c.rejected ?? 0,
      written: c.written ?? 0,
      suspicious: c.suspicious ?? 0,
    };
  });
}

/**
 * The tag edits the accepted predictions make: for a single-label field the accepted value replaces the
 * file's; for a multi-label field accepted values are added to the file's own (as the file spells them).
 */
export function acceptedEdits(
  store: LibraryStore,
  o: { fields?: string[]; minConfidence?: number; trackIds?: number[] } = {},
): Array<{ trackId: number; changes: FacetChanges; values: Array<{ field: string; value: string }> }> {
  const w = where({ minConfidence: o.minConfidence, trackIds: o.trackIds }, 'p.');
  const rows = store.db
    .prepare(
      `SELECT p.track_id, p.field, p.value, h.multi_label FROM predictions p JOIN heads h ON h.id = p.head_id
       WHERE ${w.sql} AND p.status = 'accepted' ORDER BY p.track_id, p.field, p.confidence DESC`,
    )
    .all(...w.args) as Array<{ track_id: number; field: string; value: string; multi_label: number }>;
  const fields = o.fields?.map((f) => f.toLowerCase());
  const byTrack = new Map<number, { changes: FacetChanges; values: Array<{ field: string; value: string }> }>();
  for (const r of rows) {
    if (fields && !fields.includes(r.field)) continue;
    const entry = byTrack.get(r.track_id) ?? { changes: {}, values: [] };
    const own = store.tagsOf(r.track_id)[r.field] ?? [];
    if (!r.multi_label) {
      // One value: the most confident accepted one (rows come most confident first).
      if (entry.changes[r.field]) continue;
      entry.changes[r.field] = [r.value];
    } else {
      const current = entry.changes[r.field] ?? [...own];
      const keys = new Set(current.flatMap((v) => splitJoined(v).map(valueKey)));
      if (!keys.has(valueKey(r.value))) current.push(r.value);
      entry.changes[r.field] = current;
    }
    entry.values.push({ field: r.field, value: r.value });
    byTrack.set(r.track_id, entry);
  }
  return [...byTrack].map(([trackId, e]) => ({ trackId, ...e }));
}

/** After a successful write: the written values are now the file's own. */
export function markWritten(store: LibraryStore, trackId: number, values: Array<{ field: string; value: string }>): void {
  const up = store.db.prepare("UPDATE predictions SET status = 'written', in_file = 1, proposed = 0, decided_at = ? WHERE track_id = ? AND field = ? AND value = ?");
  for (const v of values) up.run(Date.now(), trackId, v.field, v.value);
}

/**
 * Held-out evaluation of a head for one field (seed 000's protocol): an 85/15 split, stratified by value or
 * by artist (one artist's tracks never on both sides); the head is trained on the 85 % (with early stopping
 * on a stratified slice of it) and scored on the 15 %.
 */
export async function evaluateTags(
  store: LibraryStore,
  tf: Tf,
  o: HeadOptions & {
    split?: 'stratified' | 'artist';
    /** Evaluate on exactly these tracks (those tagged in the field), training on the others: e.g. the tracks an encoder never saw. */
    testTracks?: readonly number[];
    signal?: AbortSignal;
    onProgress?: (epoch: number, epochs: number, loss: number) => void;
    /** Train the head in a worker thread, so this thread stays free (see `foldRunnerFor`). */
    offThread?: boolean;
  },
): Promise<TagEvaluation> {
  const field = o.field.toLowerCase();
  const multiLabel = o.multiLabel ?? isMultiLabelField(field);
  const kind = o.kind ?? 'mlp';
  const rep = o.representation ?? 'dsp';
  const seed = o.seed ?? 1;
  const L = gather(store, { ...o, field }, multiLabel);
  const x = L.teach.map((t) => L.tracks[t.at].x);
  const y = L.teach.map((t) => t.y);
  const splitKind: TagEvaluation['split'] = o.testTracks ? 'held-out' : (o.split ?? 'stratified');
  let split;
  if (o.testTracks) {
    const test = new Set(o.testTracks);
    const idx = L.teach.map((_, i) => i);
    split = { train: idx.filter((i) => !test.has(L.tracks[L.teach[i].at].id)), test: idx.filter((i) => test.has(L.tracks[L.teach[i].at].id)) };
    if (split.train.length < 2) throw new HeadDataError(`Only ${split.train.length} tagged tracks outside the held-out set to train a "${field}" head on.`);
  } else if (splitKind === 'artist') {
    const artists = L.teach.map((t) => {
      const row = store.trackById(L.tracks[t.at].id);
      return valueKey(row?.album_artist ?? row?.artist ?? `track ${L.tracks[t.at].id}`);
    });
    split = groupSplit(artists, { seed });
  } else {
    split = stratifiedSplit(y.map((v) => v[0]), { seed });
  }
  if (split.test.length === 0) throw new HeadDataError(`The held-out side of the ${splitKind} split is empty: too few tagged tracks to evaluate "${field}".`);
  const inner = stratifiedSplit(split.train.map((i) => y[i][0]), { seed: seed + 1 });
  const data: HeadData = { x, y, nValues: L.values.length };
  const fitIdx = inner.train.map((j) => split.train[j]);
  const valIdx = inner.test.map((j) => split.train[j]);
  const val = { x: valIdx.map((i) => x[i]), y: valIdx.map((i) => y[i]) };
  // One fold: trained on the fit slice with early stopping on the validation slice, scoring the held-out side
  // and (as its `extra` samples) the validation slice, whose probabilities calibrate multi-label thresholds.
  const task: FoldTask = { fold: 0, seed, fitIdx, valIdx, testIdx: split.test };
  const config: HeadConfig = { kind, multiLabel, seed, ...(o.epochs ? { epochs: o.epochs } : {}) };
  const onEpoch = (p: HeadProgress) => o.onProgress?.(p.epoch, p.epochs, p.loss);
  const runner = foldRunnerFor(tf, { samples: x.length, folds: 1, offThread: o.offThread });
  const [result] = runner
    ? await runner(data, config, val.x, [task], { signal: o.signal, onEpoch: (_t, p) => onEpoch(p) })
    : [await fitFold(tf, data, config, val.x, task, { signal: o.signal, onEpoch })];
  const testProbs = result.test;
  const testY = split.test.map((i) => y[i]);
  const n = L.values.length;
  const base: TagEvaluation = { field, representation: rep, kind, multiLabel, split: splitKind, values: L.values, train: split.train.length, test: split.test.length, perValue: [] };
  if (!multiLabel) {
    const truth = testY.map((v) => v[0]);
    const pred = testProbs.map(argmax);
    const counts = new Array<number>(n).fill(0);
    for (const i of split.train) counts[y[i][0]]++;
    const major = argmax(counts);
    const majorPred = truth.map(() => major);
    return {
      ...base,
      accuracy: accuracy(truth, pred),
      macroF1: macroF1(truth, pred, n),
      logLoss: logLoss(truth, testProbs),
      majority: { value: L.values[major], accuracy: accuracy(truth, majorPred), macroF1: macroF1(truth, majorPred, n) },
      confusion: confusion(truth, pred, n),
      perValue: perClass(truth, pred, n).map((p, v) => ({ value: L.values[v], ...p })),
    };
  }
  const thresholds = calibrateThresholds(result.extra, val.y, n, true);
  const truth = testY.map((vs) => Float32Array.from({ length: n }, (_, v) => (vs.includes(v) ? 1 : 0)));
  const decided = testProbs.map((p) => Float32Array.from(p, (q, v) => (q >= thresholds[v] ? 1 : 0)));
  const per = perValue(truth, decided, n);
  return {
    ...base,
    meanAveragePrecision: meanAveragePrecision(truth, testProbs, n),
    // Over the values present among the held-out tracks, as for single-label fields.
    macroF1: per.filter((p) => p.support > 0).reduce((a, p) => a + p.f1, 0) / Math.max(1, per.filter((p) => p.support > 0).length),
    thresholds,
    perValue: per.map((p, v) => ({ value: L.values[v], ...p })),
  };
}

/** One page of a field's proposals for review, most confident first. */
export function proposalPage(store: LibraryStore, q: ProposalQuery): ProposalPage {
  const field = q.field.toLowerCase();
  const parts = ['p.field = ?', 'p.proposed = 1'];
  const args: unknown[] = [field];
  const status = q.status ?? 'open';
  if (status === 'open') parts.push("p.status IN ('pending', 'accepted')");
  else {
    parts.push('p.status = ?');
    args.push(status);
  }
  if (q.minConfidence !== undefined) {
    parts.push('p.confidence >= ?');
    args.push(q.minConfidence);
  }
  if (q.suspiciousOnly) parts.push('EXISTS (SELECT 1 FROM predictions s WHERE s.track_id = p.track_id AND s.field = p.field AND s.suspicious = 1)');
  const where = parts.join(' AND ');
  const total = (store.db.prepare(`SELECT count(*) AS n FROM predictions p WHERE ${where}`).get(...args) as { n: number }).n;
  const rows = store.db
    .prepare(
      `SELECT p.track_id, p.value, p.confidence, p.status, t.title, t.artist, t.path,
              EXISTS (SELECT 1 FROM predictions s WHERE s.track_id = p.track_id AND s.field = p.field AND s.suspicious = 1) AS suspicious
       FROM predictions p JOIN tracks t ON t.id = p.track_id
       WHERE ${where} ORDER BY p.confidence DESC, p.track_id LIMIT ? OFFSET ?`,
    )
    .all(...args, q.limit, q.offset) as Array<{
    track_id: number;
    value: string;
    confidence: number;
    status: PredictionRow['status'];
    title: string | null;
    artist: string | null;
    path: string;
    suspicious: number;
  }>;
  return {
    total,
    offset: q.offset,
    rows: rows.map((r) => ({
      trackId: r.track_id,
      title: r.title,
      artist: r.artist,
      path: r.path,
      fileValues: store.tagsOf(r.track_id)[field] ?? [],
      value: r.value,
      confidence: r.confidence,
      status: r.status,
      suspicious: !!r.suspicious,
    })),
  };
}

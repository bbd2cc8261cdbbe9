import { accuracy, confusion, logLoss, macroF1, meanAveragePrecision, perClass, perValue } from '../eval/metrics.js';
import { groupSplit, stratifiedSplit } from '../eval/splits.js';
import { valueKey } from '../library/facets.js';
import type { TagEvaluation } from '../contract.js';
import type { LibraryStore } from '../store/library-store.js';
import { foldRunnerFor } from './heads/head-pool.js';
import { fitFieldHead } from './heads/fit-field.js';
import { HeadDataError, type HeadConfig, type HeadData, type HeadProgress } from './heads/head.js';
import { calibrateThresholds, fitFold, type FoldTask } from './heads/cross-fit.js';
import { argmax, gather, isMultiLabelField, type HeadOptions } from './tag-predictions.js';
import type { Tf } from './tf/backend.js';

/**
 * Held-out evaluation of a head for one field (seed 000's protocol): an 85/15 split, stratified by value or
 * by artist (one artist's tracks never on both sides); the head is trained on the 85 % (with early stopping
 * on a stratified slice of it) and scored on the 15 %. The kNN and `auto` heads are scored exactly as `predict`
 * would predict an untagged track: cross-fitted on the 85 % (for `auto`, the candidates compared there), the
 * held-out tracks voted or predicted by the fold heads, with calibrated probabilities.
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
  const requested = o.kind ?? 'auto';
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
  if (requested === 'knn' || requested === 'auto') return evaluateCrossFitted(tf, L, split, requested, { field, rep, multiLabel, splitKind, seed, o });
  const kind = requested;
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
  return scoreHeldOut(base, testProbs, testY, split.train.map((i) => y[i]), multiLabel, () => calibrateThresholds(result.extra, val.y, n, true));
}

/** `evaluateTags` for the kNN and `auto` heads: cross-fitted on the training side, the test side as its extra tracks. */
async function evaluateCrossFitted(
  tf: Tf,
  L: ReturnType<typeof gather>,
  split: { train: number[]; test: number[] },
  requested: 'knn' | 'auto',
  c: { field: string; rep: string; multiLabel: boolean; splitKind: TagEvaluation['split']; seed: number; o: Parameters<typeof evaluateTags>[2] },
): Promise<TagEvaluation> {
  const teachAt = (i: number) => L.teach[i].at;
  const trainY = split.train.map((i) => L.teach[i].y);
  const data: HeadData = { x: split.train.map((i) => L.tracks[teachAt(i)].x), y: trainY, nValues: L.values.length };
  const { fit, selection } = await fitFieldHead(
    tf,
    {
      data,
      unit: split.train.map((i) => L.unit[teachAt(i)]),
      extra: split.test.map((i) => L.tracks[teachAt(i)].x),
      extraUnit: split.test.map((i) => L.unit[teachAt(i)]),
      groups: c.o.groups,
      multiLabel: c.multiLabel,
    },
    requested,
    {
      seed: c.seed,
      epochs: c.o.epochs,
      signal: c.o.signal,
      runner: () => foldRunnerFor(tf, { samples: data.x.length, folds: 5, offThread: c.o.offThread }),
      onProgress: (p) => c.o.onProgress?.(p.done, p.total, p.loss),
    },
  );
  const base: TagEvaluation = {
    field: c.field,
    representation: c.rep,
    kind: selection.chosen,
    selection,
    multiLabel: c.multiLabel,
    split: c.splitKind,
    values: L.values,
    train: split.train.length,
    test: split.test.length,
    perValue: [],
  };
  return scoreHeldOut(base, fit.extra, split.test.map((i) => L.teach[i].y), trainY, c.multiLabel, () => fit.thresholds);
}

/** Scores of held-out probabilities: accuracy, F1, log-loss, the majority baseline (single-label) or mAP and F1 at the thresholds (multi-label). */
function scoreHeldOut(base: TagEvaluation, testProbs: Float32Array[], testY: number[][], trainY: number[][], multiLabel: boolean, thresholdsOf: () => number[]): TagEvaluation {
  const n = base.values.length;
  const L = { values: base.values };
  if (!multiLabel) {
    const truth = testY.map((v) => v[0]);
    const pred = testProbs.map(argmax);
    const counts = new Array<number>(n).fill(0);
    for (const t of trainY) counts[t[0]]++;
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
  const thresholds = thresholdsOf();
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

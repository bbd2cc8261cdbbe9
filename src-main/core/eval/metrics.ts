/**
 * Classification metrics of seed 000 (accuracy, macro-F1, log-loss) for single-label fields, and per-value
 * precision/recall/F1 and mean average precision for multi-label ones, with a confusion table.
 * Labels are class indices `0…nClasses−1`; probabilities are rows `[nSamples, nClasses]`.
 */

export function accuracy(truth: ArrayLike<number>, predicted: ArrayLike<number>): number {
  if (truth.length !== predicted.length) throw new Error('truth and predictions differ in length');
  if (truth.length === 0) return 0;
  let ok = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] === predicted[i]) ok++;
  return ok / truth.length;
}

/** `[truth][predicted]` counts. */
export function confusion(truth: ArrayLike<number>, predicted: ArrayLike<number>, nClasses: number): number[][] {
  const m = Array.from({ length: nClasses }, () => new Array<number>(nClasses).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]][predicted[i]]++;
  return m;
}

export interface Prf {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

function prf(tp: number, fp: number, fn: number): Prf {
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1, support: tp + fn };
}

/** Per-class precision/recall/F1 of a single-label prediction. */
export function perClass(truth: ArrayLike<number>, predicted: ArrayLike<number>, nClasses: number): Prf[] {
  const c = confusion(truth, predicted, nClasses);
  return c.map((row, k) => {
    const tp = row[k];
    let fp = 0;
    for (let t = 0; t < nClasses; t++) if (t !== k) fp += c[t][k];
    return prf(tp, fp, row.reduce((a, b) => a + b, 0) - tp);
  });
}

/** The unweighted mean of per-class F1 over the classes present in the truth (scikit-learn's `macro` on them). */
export function macroF1(truth: ArrayLike<number>, predicted: ArrayLike<number>, nClasses: number): number {
  const present = perClass(truth, predicted, nClasses).filter((p) => p.support > 0);
  return present.length ? present.reduce((a, p) => a + p.f1, 0) / present.length : 0;
}

/** Mean negative log-likelihood of the true class, probabilities clipped to [eps, 1 − eps]. */
export function logLoss(truth: ArrayLike<number>, probabilities: ArrayLike<number>[], eps = 1e-15): number {
  let s = 0;
  for (let i = 0; i < truth.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probabilities[i][truth[i]]));
    s -= Math.log(p);
  }
  return truth.length ? s / truth.length : 0;
}

/** Multi-label: per-value precision/recall/F1 from 0/1 truth and decisions, `[nSamples, nValues]`. */
export function perValue(truth: ArrayLike<number>[], decided: ArrayLike<number>[], nValues: number): Prf[] {
  return Array.from({ length: nValues }, (_, v) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let i = 0; i < truth.length; i++) {
      const t = truth[i][v] > 0;
      const d = decided[i][v] > 0;
      if (t && d) tp++;
      else if (d) fp++;
      else if (t) fn++;
    }
    return prf(tp, fp, fn);
  });
}

/** Average precision of one ranking: the mean of precision@rank over the ranks of the relevant items. */
export function averagePrecision(relevant: ArrayLike<number>, scores: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
  let hits = 0;
  let sum = 0;
  order.forEach((i, r) => {
    if (relevant[i] > 0) {
      hits++;
      sum += hits / (r + 1);
    }
  });
  return hits ? sum / hits : 0;
}

/** Mean over values (with at least one positive) of the average precision of ranking samples by score. */
export function meanAveragePrecision(truth: ArrayLike<number>[], scores: ArrayLike<number>[], nValues: number): number {
  const aps: number[] = [];
  for (let v = 0; v < nValues; v++) {
    const rel = truth.map((t) => t[v]);
    if (!rel.some((x) => x > 0)) continue;
    aps.push(averagePrecision(rel, scores.map((s) => s[v])));
  }
  return aps.length ? aps.reduce((a, b) => a + b, 0) / aps.length : 0;
}

import { meanAveragePrecision } from '../../eval/metrics.js';
import { applyCalibration, fitCalibration, singleLabelNll, type Calibration } from './calibration.js';
import { calibrateThresholds, type CrossFit } from './cross-fit.js';

/**
 * The `auto` head: every candidate head is cross-fitted on the field's tagged tracks (the same folds), and the one
 * whose held-out predictions score best is used — accuracy for a single-label field (ties to the lower log-loss),
 * mean average precision for a multi-label one. Candidates: `knn` (always; it needs no training), `linear`, the
 * mean of those two (`knn+linear`, an ensemble that is often better than either on small libraries), and `mlp`
 * when the field has enough tagged tracks for a 1,024-unit layer to learn from (`AUTO_MLP_MIN_TRACKS`).
 * Every candidate's probabilities are calibrated first (`calibration.ts`), so they are compared, averaged and
 * shown on one scale.
 */
export type HeadChoice = 'knn' | 'linear' | 'mlp' | 'knn+linear';

/** Below this many tagged tracks `auto` does not try the MLP: it has too little to learn from, and costs most. */
export const AUTO_MLP_MIN_TRACKS = 500;

export interface CandidateScore {
  kind: HeadChoice;
  /** Held-out accuracy (single-label) or mean average precision (multi-label). */
  score: number;
  /** Held-out negative log-likelihood (single-label). */
  logLoss: number | null;
}

export interface CalibratedFit extends CrossFit {
  calibration: Calibration;
}

/** A cross-fit with its probabilities calibrated on its own held-out predictions, and thresholds recomputed. */
export function calibrateCrossFit(cf: CrossFit, truth: number[][], nValues: number, multiLabel: boolean): CalibratedFit {
  const calibration = fitCalibration(cf.oof, truth, nValues, multiLabel);
  const oof = cf.oof.map((p) => applyCalibration(p, calibration));
  const extra = cf.extra.map((p) => applyCalibration(p, calibration));
  return { ...cf, oof, extra, thresholds: calibrateThresholds(oof, truth, nValues, multiLabel), calibration };
}

/** The mean of two calibrated cross-fits of the same samples (thresholds recomputed on the mean). */
export function averageFits(a: CalibratedFit, b: CalibratedFit, truth: number[][], nValues: number, multiLabel: boolean): CalibratedFit {
  const mean = (x: Float32Array[], y: Float32Array[]) => x.map((p, i) => Float32Array.from(p, (v, j) => (v + y[i][j]) / 2));
  const oof = mean(a.oof, b.oof);
  return { oof, extra: mean(a.extra, b.extra), thresholds: calibrateThresholds(oof, truth, nValues, multiLabel), epochs: a.epochs + b.epochs, calibration: { kind: 'none' } };
}

export function scoreFit(cf: CrossFit, truth: number[][], nValues: number, multiLabel: boolean): { score: number; logLoss: number | null } {
  if (multiLabel) {
    const t = truth.map((vs) => Float32Array.from({ length: nValues }, (_, v) => (vs.includes(v) ? 1 : 0)));
    return { score: meanAveragePrecision(t, cf.oof, nValues), logLoss: null };
  }
  let right = 0;
  cf.oof.forEach((p, i) => {
    let top = 0;
    for (let v = 1; v < nValues; v++) if (p[v] > p[top]) top = v;
    if (top === truth[i][0]) right++;
  });
  return { score: right / Math.max(1, cf.oof.length), logLoss: singleLabelNll(cf.oof, truth) };
}

/** The best candidate by held-out score (ties: lower log-loss, then the order given), and every score. */
export function pickHead(
  candidates: ReadonlyArray<{ kind: HeadChoice; fit: CalibratedFit }>,
  truth: number[][],
  nValues: number,
  multiLabel: boolean,
): { chosen: { kind: HeadChoice; fit: CalibratedFit }; scores: CandidateScore[] } {
  if (candidates.length === 0) throw new Error('pickHead: no candidates');
  const scores = candidates.map((c) => ({ kind: c.kind, ...scoreFit(c.fit, truth, nValues, multiLabel) }));
  let best = 0;
  for (let i = 1; i < scores.length; i++) {
    const a = scores[i];
    const b = scores[best];
    if (a.score > b.score + 1e-12 || (Math.abs(a.score - b.score) <= 1e-12 && (a.logLoss ?? 0) < (b.logLoss ?? 0) - 1e-12)) best = i;
  }
  return { chosen: candidates[best], scores };
}

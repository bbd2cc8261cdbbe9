import type { HeadSelection, HeadUsed, TagHeadKind } from '../../contract.js';
import type { Tf } from '../tf/backend.js';
import { AUTO_MLP_MIN_TRACKS, averageFits, calibrateCrossFit, pickHead, type CalibratedFit, type HeadChoice } from './auto.js';
import { HEAD_DEFAULTS, type HeadConfig, type HeadData, type HeadProgress } from './head.js';
import { crossFit, type FoldRunner } from './cross-fit.js';
import { KNN_DEFAULTS, knnCrossFit } from './knn.js';

/**
 * A field's head, cross-fitted on its tagged tracks: the kind asked for, or for `auto` the best of the candidates
 * (`auto.ts`), with calibrated probabilities for every tagged track (held out) and every other track.
 */
export interface FieldHeadInput {
  /** The tagged tracks' vectors as stored (the trained heads standardise them themselves) and their values. */
  data: HeadData;
  /** The same tracks in the representation's index space, unit length (what the kNN head compares). */
  unit: Float32Array[];
  /** The untagged tracks, both ways. */
  extra: Float32Array[];
  extraUnit: Float32Array[];
  /** The index space's feature groups, for the kNN head's per-group vote (see `KnnConfig.groups`). */
  groups?: ReadonlyArray<{ start: number; end: number; weight: number }>;
  multiLabel: boolean;
}

export interface FieldHeadOptions {
  folds?: number;
  seed?: number;
  epochs?: number;
  signal?: AbortSignal;
  /** Where trained heads' folds run (worker threads), per candidate kind. */
  runner?: (kind: 'mlp' | 'linear') => FoldRunner | undefined;
  /**
   * Progress over every candidate: `done` of `total` epochs summed over the trained candidates' folds (kNN
   * counts nothing; it trains nothing).
   */
  onProgress?: (p: { head: HeadUsed; fold: number; folds: number; epoch: number; epochs: number; loss: number; done: number; total: number }) => void;
}

/** The candidates a requested kind tries. */
export function candidateKinds(kind: TagHeadKind, tagged: number): Array<'knn' | 'linear' | 'mlp'> {
  if (kind !== 'auto') return [kind];
  return tagged >= AUTO_MLP_MIN_TRACKS ? ['knn', 'linear', 'mlp'] : ['knn', 'linear'];
}

export async function fitFieldHead(tf: Tf, input: FieldHeadInput, kind: TagHeadKind, o: FieldHeadOptions = {}): Promise<{ fit: CalibratedFit; selection: HeadSelection }> {
  const { data, multiLabel } = input;
  const folds = o.folds ?? 5;
  const seed = o.seed ?? 1;
  const kinds = candidateKinds(kind, data.x.length);
  const trained = kinds.filter((k): k is 'mlp' | 'linear' => k !== 'knn');
  // The most epochs a fold may run (early stopping ends most sooner): the same for both trained kinds.
  const epochs = o.epochs ?? HEAD_DEFAULTS.epochs;
  const total = trained.length * folds * epochs;
  let before = 0;
  const fits: Array<{ kind: HeadChoice; fit: CalibratedFit }> = [];
  for (const k of kinds) {
    if (o.signal?.aborted) throw new DOMException('Training was cancelled.', 'AbortError');
    if (k === 'knn') {
      const cf = knnCrossFit({ ...data, x: input.unit }, input.extraUnit, multiLabel, { folds, seed, tf, config: { ...KNN_DEFAULTS, groups: input.groups } });
      fits.push({ kind: 'knn', fit: calibrateCrossFit(cf, data.y, data.nValues, multiLabel) });
      continue;
    }
    const config: HeadConfig = { kind: k, multiLabel, seed, ...(o.epochs ? { epochs: o.epochs } : {}) };
    const epochsByFold = new Map<number, number>();
    const cf = await crossFit(tf, data, config, input.extra, {
      folds,
      signal: o.signal,
      runner: o.runner?.(k),
      onFold: (fold: number, nFolds: number, p: HeadProgress) => {
        epochsByFold.set(fold, p.epoch);
        let done = 0;
        for (const e of epochsByFold.values()) done += e;
        o.onProgress?.({ head: k, fold, folds: nFolds, epoch: p.epoch, epochs: p.epochs, loss: p.loss, done: before + done, total });
      },
    });
    before += folds * epochs;
    fits.push({ kind: k, fit: calibrateCrossFit(cf, data.y, data.nValues, multiLabel) });
  }
  const byKind = new Map(fits.map((f) => [f.kind, f.fit]));
  if (kind === 'auto' && byKind.has('knn') && byKind.has('linear')) {
    fits.push({ kind: 'knn+linear', fit: averageFits(byKind.get('knn') as CalibratedFit, byKind.get('linear') as CalibratedFit, data.y, data.nValues, multiLabel) });
  }
  const { chosen, scores } = pickHead(fits, data.y, data.nValues, multiLabel);
  const calibration =
    chosen.kind === 'knn+linear'
      ? 'the mean of the calibrated kNN and linear heads'
      : chosen.fit.calibration.kind === 'temperature'
        ? `temperature ${chosen.fit.calibration.temperature.toFixed(2)} on held-out predictions`
        : chosen.fit.calibration.kind === 'platt'
          ? `Platt scaling (a ${chosen.fit.calibration.a.toFixed(2)}, b ${chosen.fit.calibration.b.toFixed(2)}) on held-out predictions`
          : 'none';
  return {
    fit: chosen.fit,
    selection: { requested: kind, chosen: chosen.kind, candidates: scores.map((s) => ({ kind: s.kind, score: s.score, logLoss: s.logLoss })), calibration },
  };
}

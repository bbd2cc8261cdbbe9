import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../util/random.js';
import { loadTf, type Tf } from '../tf/backend.js';
import { averageFits, calibrateCrossFit, pickHead, scoreFit } from './auto.js';
import { applyTemperature, expectedCalibrationError, fitPlatt, fitTemperature, singleLabelNll } from './calibration.js';
import type { HeadData } from './head.js';
import { knnCrossFit, knnProbabilities, nearestTraining, unitRows } from './knn.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await loadTf()).tf;
});

/** `n` unit-ish samples around `k` centres in `dim` dimensions. */
function clusters(n: number, k: number, dim: number, seed: number, spread = 0.6): HeadData {
  const rng = new Random(seed);
  const centres = Array.from({ length: k }, () => Array.from({ length: dim }, () => rng.normal()));
  const x: Float32Array[] = [];
  const y: number[][] = [];
  for (let i = 0; i < n; i++) {
    x.push(Float32Array.from(centres[i % k], (m) => m + spread * rng.normal()));
    y.push([i % k]);
  }
  return { x: unitRows(x), y, nValues: k };
}

const argmax = (p: ArrayLike<number>) => Array.from(p).indexOf(Math.max(...Array.from(p)));

describe('kNN head', () => {
  it('votes by the nearest tracks, the nearest counting most', () => {
    const train: HeadData = { x: unitRows([Float32Array.of(1, 0), Float32Array.of(0.9, 0.1), Float32Array.of(0, 1)]), y: [[0], [0], [1]], nValues: 2 };
    const [near0, near1] = knnProbabilities(train, unitRows([Float32Array.of(1, 0.05), Float32Array.of(0.1, 1)]), false, { k: 3, beta: 10, smoothing: 0.1 });
    expect(argmax(near0)).toBe(0);
    expect(argmax(near1)).toBe(1);
    // Two votes for 0 against one for 1, but the 1 is much nearer: distance weighting wins.
    expect(near1[1]).toBeGreaterThan(0.9);
    [near0, near1].forEach((p) => expect(p[0] + p[1]).toBeCloseTo(1, 6));
  });

  it('finds the same neighbours with TensorFlow.js as with the plain loop, and leaks no tensors', () => {
    const d = clusters(120, 3, 16, 4);
    const queries = clusters(30, 3, 16, 5).x;
    const before = tf.memory().numTensors;
    const a = nearestTraining(d.x, queries, 7, { tf });
    const b = nearestTraining(d.x, queries, 7);
    expect(tf.memory().numTensors).toBe(before);
    a.forEach((list, q) => {
      expect(list.map((n) => n.j)).toEqual(b[q].map((n) => n.j));
      list.forEach((n, i) => expect(n.s).toBeCloseTo(b[q][i].s, 5));
    });
    // a query left out of its own vote
    const self = nearestTraining(d.x, d.x.slice(0, 3), 2, { exclude: (q, j) => q === j });
    self.forEach((list, q) => expect(list.map((n) => n.j)).not.toContain(q));
  });

  it('cross-fits: every tagged track is voted by tracks of other folds, well above chance on clusters', () => {
    const d = clusters(150, 3, 12, 7, 0.9);
    const cf = knnCrossFit(d, clusters(10, 3, 12, 7, 0.9).x, false, { folds: 5, tf });
    expect(cf.oof).toHaveLength(150);
    expect(cf.extra).toHaveLength(10);
    expect(scoreFit(cf, d.y, 3, false).score).toBeGreaterThan(0.8);
  });

  it('lets each feature group vote with its own neighbours, averaged by weight', () => {
    // Group A (dims 0–1) says value 0, group B (dims 2–3) says value 1 for the query.
    const train: HeadData = {
      x: [Float32Array.of(1, 0, 0, 1), Float32Array.of(0, 1, 1, 0)],
      y: [[0], [1]],
      nValues: 2,
    };
    const q = [Float32Array.of(0.9, 0.1, 0.6, 0.4)];
    const c = { k: 1, beta: 0, smoothing: 0 };
    const whole = knnProbabilities(train, q, false, c);
    const grouped = knnProbabilities(train, q, false, { ...c, groups: [{ start: 0, end: 2, weight: 3 }, { start: 2, end: 4, weight: 1 }] });
    expect(whole[0][0]).toBe(1);
    expect(grouped[0][0]).toBeCloseTo(0.75, 6);
    expect(grouped[0][1]).toBeCloseTo(0.25, 6);
  });

  it('gives multi-label shares per value', () => {
    const train: HeadData = { x: unitRows([Float32Array.of(1, 0), Float32Array.of(1, 0.1), Float32Array.of(0, 1)]), y: [[0, 1], [1], [2]], nValues: 3 };
    const [p] = knnProbabilities(train, unitRows([Float32Array.of(1, 0.05)]), true, { k: 2, beta: 0, smoothing: 0 });
    expect(p[1]).toBeCloseTo(1, 6);
    expect(p[0]).toBeCloseTo(0.5, 6);
    expect(p[2]).toBeCloseTo(0, 6);
  });
});

describe('calibration', () => {
  it('fits a temperature that brings over-confident probabilities back to their accuracy', () => {
    // 70 % right at a stated 99 %: over-confident.
    const rng = new Random(2);
    const probs: Float32Array[] = [];
    const truth: number[][] = [];
    for (let i = 0; i < 400; i++) {
      const right = rng.next() < 0.7;
      probs.push(Float32Array.of(0.99, 0.005, 0.005));
      truth.push([right ? 0 : 1 + (i % 2)]);
    }
    const t = fitTemperature(probs, truth);
    expect(t).toBeGreaterThan(1);
    const calibrated = probs.map((p) => applyTemperature(p, t));
    expect(singleLabelNll(calibrated, truth)).toBeLessThan(singleLabelNll(probs, truth));
    expect(expectedCalibrationError(calibrated, truth)).toBeLessThan(expectedCalibrationError(probs, truth));
    expect(calibrated[0][0]).toBeGreaterThan(0.6);
    expect(calibrated[0][0]).toBeLessThan(0.8);
  });

  it('leaves well-calibrated probabilities alone, and fits Platt scaling for multi-label values', () => {
    const probs = [Float32Array.of(0.5, 0.5), Float32Array.of(0.5, 0.5)];
    expect(fitTemperature(probs, [[0], [1]])).toBe(1);
    // Multi-label: probabilities 0.9 that are right half the time move towards 0.5.
    const p = Array.from({ length: 200 }, () => Float32Array.of(0.9));
    const truth = Array.from({ length: 200 }, (_, i) => (i % 2 ? [0] : []));
    const { a, b } = fitPlatt(p, truth, 1);
    const q = 1 / (1 + Math.exp(-(a * Math.log(0.9 / 0.1) + b)));
    expect(q).toBeCloseTo(0.5, 2);
  });
});

describe('auto head', () => {
  it('picks the candidate with the best held-out score and averages two calibrated fits', () => {
    const d = clusters(90, 3, 8, 11, 1.2);
    const knn = calibrateCrossFit(knnCrossFit(d, [], false, { folds: 5 }), d.y, 3, false);
    const bad = calibrateCrossFit({ oof: d.y.map(() => Float32Array.of(1 / 3, 1 / 3, 1 / 3)), extra: [], thresholds: [0.5, 0.5, 0.5], epochs: 1 }, d.y, 3, false);
    const { chosen, scores } = pickHead([{ kind: 'linear', fit: bad }, { kind: 'knn', fit: knn }], d.y, 3, false);
    expect(chosen.kind).toBe('knn');
    expect(scores.map((s) => s.kind)).toEqual(['linear', 'knn']);
    const mean = averageFits(knn, bad, d.y, 3, false);
    mean.oof.forEach((p, i) => expect(p[0]).toBeCloseTo((knn.oof[i][0] + 1 / 3) / 2, 5));
  });
});

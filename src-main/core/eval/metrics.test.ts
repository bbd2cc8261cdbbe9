import { describe, expect, it } from 'vitest';
import { accuracy, averagePrecision, confusion, logLoss, macroF1, meanAveragePrecision, perClass, perValue } from './metrics.js';
import { groupSplit, stratifiedSplit } from './splits.js';

describe('single-label metrics', () => {
  const truth = [0, 0, 0, 1, 1, 2];
  const pred = [0, 0, 1, 1, 2, 2];
  it('match hand-computed values', () => {
    expect(accuracy(truth, pred)).toBeCloseTo(4 / 6, 12);
    expect(confusion(truth, pred, 3)).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    const pc = perClass(truth, pred, 3);
    // class 0: P 2/2, R 2/3; class 1: P 1/2, R 1/2; class 2: P 1/2, R 1/1.
    expect(pc.map((p) => [p.precision, p.recall])).toEqual([
      [1, 2 / 3],
      [0.5, 0.5],
      [0.5, 1],
    ]);
    const f1 = [0.8, 0.5, 2 / 3];
    expect(macroF1(truth, pred, 3)).toBeCloseTo((f1[0] + f1[1] + f1[2]) / 3, 12);
    // Classes absent from the truth do not count.
    expect(macroF1([0, 0], [0, 0], 5)).toBe(1);
  });
  it('log-loss is the mean negative log-probability of the truth, clipped', () => {
    expect(logLoss([0, 1], [[0.5, 0.5], [0.25, 0.75]])).toBeCloseTo(-(Math.log(0.5) + Math.log(0.75)) / 2, 12);
    expect(logLoss([0], [[0, 1]])).toBeCloseTo(-Math.log(1e-15), 6);
  });
});

describe('multi-label metrics', () => {
  it('per-value precision/recall/F1 and mean average precision', () => {
    const truth = [
      [1, 0],
      [1, 1],
      [0, 1],
      [0, 0],
    ];
    const decided = [
      [1, 0],
      [0, 1],
      [1, 1],
      [0, 0],
    ];
    const pv = perValue(truth, decided, 2);
    expect(pv[0]).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(pv[1]).toEqual({ precision: 1, recall: 1, f1: 1, support: 2 });
    // AP of relevant items ranked 1st and 3rd: (1/1 + 2/3) / 2.
    expect(averagePrecision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])).toBeCloseTo((1 + 2 / 3) / 2, 12);
    const scores = [
      [0.9, 0.1],
      [0.7, 0.8],
      [0.8, 0.9],
      [0.1, 0.2],
    ];
    // value 0: ranking 0 (rel), 2, 1 (rel), 3 → (1 + 2/3)/2; value 1: ranking 2 (rel), 1 (rel) → 1.
    expect(meanAveragePrecision(truth, scores, 2)).toBeCloseTo(((1 + 2 / 3) / 2 + 1) / 2, 12);
  });
});

describe('splits', () => {
  it('stratified 85/15 keeps every class on both sides, and is deterministic', () => {
    const labels = [...Array(40).fill('rock'), ...Array(20).fill('jazz'), ...Array(2).fill('folk'), 'solo'];
    const s = stratifiedSplit(labels, { seed: 3 });
    expect(s.train.length + s.test.length).toBe(labels.length);
    expect(new Set([...s.train, ...s.test]).size).toBe(labels.length);
    const count = (idx: number[], l: string) => idx.filter((i) => labels[i] === l).length;
    expect(count(s.test, 'rock')).toBe(6);
    expect(count(s.test, 'jazz')).toBe(3);
    expect(count(s.test, 'folk')).toBe(1);
    expect(count(s.test, 'solo')).toBe(0);
    expect(stratifiedSplit(labels, { seed: 3 })).toEqual(s);
    expect(stratifiedSplit(labels, { seed: 4 }).test).not.toEqual(s.test);
  });
  it('group split never puts one artist on both sides', () => {
    const artists = Array.from({ length: 300 }, (_, i) => `artist ${i % 37}`);
    const s = groupSplit(artists, { seed: 2 });
    const trainArtists = new Set(s.train.map((i) => artists[i]));
    for (const i of s.test) expect(trainArtists.has(artists[i])).toBe(false);
    expect(s.test.length / artists.length).toBeGreaterThan(0.1);
    expect(s.test.length / artists.length).toBeLessThan(0.25);
  });
});

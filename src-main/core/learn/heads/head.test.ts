import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../util/random.js';
import { loadTf, type Tf } from '../tf/backend.js';
import { disposeHead, dropInPlace, headProbabilities, segmentAveragedProbabilities, trainHead, type HeadData } from './head.js';
import { calibrateThresholds, crossFit, stratifiedFolds } from './cross-fit.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await loadTf()).tf;
});

/** `n` samples around `k` well-separated centres in `dim` dimensions (plus an offset and scale to standardise). */
function clusters(n: number, k: number, dim: number, seed: number, spread = 0.6): HeadData & { centre: number[] } {
  const rng = new Random(seed);
  const centres = Array.from({ length: k }, () => Array.from({ length: dim }, () => rng.normal() * 2));
  const x: Float32Array[] = [];
  const y: number[][] = [];
  const centre: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % k;
    x.push(Float32Array.from(centres[c], (m) => 50 + 10 * (m + spread * rng.normal())));
    y.push([c]);
    centre.push(c);
  }
  return { x, y, nValues: k, centre };
}

function argmax(p: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[b]) b = i;
  return b;
}

describe('trainHead', () => {
  for (const kind of ['mlp', 'linear'] as const) {
    it(`learns separable classes (${kind}, single-label) and leaks no tensors`, async () => {
      const train = clusters(240, 4, 16, 1);
      const test = clusters(80, 4, 16, 1); // same centres (same seed), fresh noise below
      const rng = new Random(99);
      test.x = test.x.map((v) => v.map((a) => a + 3 * rng.normal()));
      const before = tf.memory().numTensors;
      const head = await trainHead(tf, train, { kind, multiLabel: false, epochs: 30, seed: 3 }, { validation: test });
      const probs = headProbabilities(tf, head, test.x);
      const acc = probs.filter((p, i) => argmax(p) === test.y[i][0]).length / probs.length;
      expect(acc).toBeGreaterThan(0.9);
      probs.forEach((p) => expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4));
      expect(head.history.length).toBeGreaterThan(0);
      disposeHead(head);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('learns several values per sample with sigmoid outputs (multi-label)', async () => {
    const base = clusters(300, 3, 12, 5);
    // Value 3 is carried by every sample of class 0 and 1; values are otherwise the class.
    const data: HeadData = { x: base.x, y: base.y.map(([c]) => (c < 2 ? [c, 3] : [c])), nValues: 4 };
    const head = await trainHead(tf, data, { kind: 'mlp', multiLabel: true, epochs: 25, seed: 2 });
    const probs = headProbabilities(tf, head, base.x.slice(0, 30));
    probs.forEach((p, i) => {
      const c = base.y[i][0];
      expect(p[c]).toBeGreaterThan(0.5);
      if (c < 2) expect(p[3]).toBeGreaterThan(0.5);
      else expect(p[3]).toBeLessThan(0.5);
    });
    disposeHead(head);
  });

  it('is reproducible: the same data, config and seed give the same probabilities', async () => {
    const d = clusters(60, 3, 8, 4);
    const a = await trainHead(tf, d, { kind: 'mlp', multiLabel: false, epochs: 5, seed: 7 });
    const b = await trainHead(tf, d, { kind: 'mlp', multiLabel: false, epochs: 5, seed: 7 });
    const pa = headProbabilities(tf, a, d.x.slice(0, 5));
    const pb = headProbabilities(tf, b, d.x.slice(0, 5));
    pa.forEach((p, i) => p.forEach((v, j) => expect(v).toBeCloseTo(pb[i][j], 6)));
    disposeHead(a);
    disposeHead(b);
  });

  it('averages segment probabilities per track for segment-level representations', async () => {
    const d = clusters(90, 3, 6, 8);
    const head = await trainHead(tf, d, { kind: 'linear', multiLabel: false, epochs: 20, seed: 1 });
    const segs = [d.x.slice(0, 3), d.x.slice(3, 4), [d.x[0], d.x[1]]];
    const perSegment = headProbabilities(tf, head, d.x.slice(0, 4));
    const tracks = segmentAveragedProbabilities(tf, head, segs);
    for (let v = 0; v < 3; v++) {
      expect(tracks[0][v]).toBeCloseTo((perSegment[0][v] + perSegment[1][v] + perSegment[2][v]) / 3, 6);
      expect(tracks[1][v]).toBeCloseTo(perSegment[3][v], 6);
      expect(tracks[2][v]).toBeCloseTo((perSegment[0][v] + perSegment[1][v]) / 2, 6);
    }
    expect(() => segmentAveragedProbabilities(tf, head, [[]])).toThrow(/no segments/);
    disposeHead(head);
  });

  it('refuses malformed data with a reason', async () => {
    await expect(trainHead(tf, { x: [], y: [], nValues: 2 }, { kind: 'linear', multiLabel: false })).rejects.toThrow(/No training samples/);
    await expect(trainHead(tf, { x: [new Float32Array(3)], y: [[0, 1]], nValues: 2 }, { kind: 'linear', multiLabel: false })).rejects.toThrow(/exactly one/);
    await expect(trainHead(tf, { x: [new Float32Array(3), new Float32Array(2)], y: [[0], [1]], nValues: 2 }, { kind: 'linear', multiLabel: false })).rejects.toThrow(
      /2 dimensions, expected 3/,
    );
    await expect(trainHead(tf, { x: [new Float32Array(3)], y: [[5]], nValues: 2 }, { kind: 'linear', multiLabel: false })).rejects.toThrow(/outside/);
  });

  it('stops when cancelled', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(trainHead(tf, clusters(20, 2, 4, 1), { kind: 'linear', multiLabel: false }, { signal: ac.signal })).rejects.toThrow(/cancelled/);
  });
});

describe('calibrateThresholds', () => {
  it('picks, per value, the threshold with the best F1 on held-out predictions', () => {
    // Value 0: positives score 0.9, 0.8, 0.42; negatives 0.4, 0.3 → a threshold in (0.40, 0.42] takes all three.
    const probs = [
      [0.9, 0.1],
      [0.8, 0.2],
      [0.42, 0.58],
      [0.4, 0.6],
      [0.3, 0.7],
    ];
    const truth = [[0], [0], [0], [1], [1]];
    const multi = calibrateThresholds(probs, truth, 2, true);
    expect(multi[0]).toBeCloseTo(0.4, 5); // 0.40 ≤ grid point < 0.42 keeps F1 at 6/7 with tie → higher
    // Single-label: a value must also be the most probable, so sample 3 (0.42 vs 0.58) cannot count for value 0.
    const single = calibrateThresholds(probs, truth, 2, false);
    expect(single[1]).toBeLessThanOrEqual(0.6);
  });
  it('leaves 0.5 for values absent from the held-out truth', () => {
    expect(calibrateThresholds([[0.2, 0.8]], [[1]], 2, true)[0]).toBe(0.5);
  });
});

describe('stratifiedFolds', () => {
  it('spreads every value evenly over the folds', () => {
    const y = Array.from({ length: 100 }, (_, i) => [i < 50 ? 0 : i < 80 ? 1 : 2]);
    const fold = stratifiedFolds(y, 5, 3);
    for (let f = 0; f < 5; f++) {
      const inFold = fold.map((g, i) => (g === f ? y[i][0] : -1)).filter((v) => v >= 0);
      expect(inFold.length).toBe(20);
      expect(inFold.filter((v) => v === 0).length).toBeGreaterThanOrEqual(9);
      expect(inFold.filter((v) => v === 2).length).toBe(4);
    }
  });
});

describe('crossFit', () => {
  it('gives held-out predictions that expose planted label noise, and averages the fold heads for the rest', async () => {
    const d = clusters(200, 4, 10, 11);
    const flipped = [3, 40, 77, 150, 191];
    for (const i of flipped) d.y[i] = [(d.centre[i] + 1) % 4];
    const extra = clusters(20, 4, 10, 11).x;
    const before = tf.memory().numTensors;
    const cf = await crossFit(tf, d, { kind: 'mlp', multiLabel: false, epochs: 25, seed: 1 }, extra, { folds: 5 });
    expect(tf.memory().numTensors).toBe(before);
    expect(cf.oof).toHaveLength(200);
    for (const i of flipped) {
      expect(cf.oof[i][d.y[i][0]], `sample ${i}'s wrong label`).toBeLessThan(0.2);
      expect(argmax(cf.oof[i])).toBe(d.centre[i]);
    }
    const clean = cf.oof.map((p, i) => ({ p, i })).filter(({ i }) => !flipped.includes(i));
    expect(clean.filter(({ p, i }) => argmax(p) === d.centre[i]).length / clean.length).toBeGreaterThan(0.95);
    cf.extra.forEach((p, i) => expect(argmax(p)).toBe(i % 4));
    expect(cf.thresholds).toHaveLength(4);
  });
});

describe('dropInPlace', () => {
  for (const rate of [0.5, 0.3]) {
    it(`drops about ${rate} of the entries and scales the rest by 1/(1 − rate)`, () => {
      const a = new Float32Array(64_000).fill(2);
      dropInPlace(a, rate, new Random(5));
      const kept = a.filter((v) => v !== 0);
      expect(Math.abs(kept.length / a.length - (1 - rate))).toBeLessThan(0.01);
      kept.forEach((v) => expect(v).toBeCloseTo(2 / (1 - rate), 5));
      // No runs: neighbouring entries are independent (a stuck bit would keep or drop long stretches).
      let same = 0;
      for (let i = 1; i < a.length; i++) if ((a[i] === 0) === (a[i - 1] === 0)) same++;
      expect(Math.abs(same / (a.length - 1) - (rate * rate + (1 - rate) * (1 - rate)))).toBeLessThan(0.01);
    });
  }
});

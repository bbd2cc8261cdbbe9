import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { gaussianEmbedding, MFCC_SPREAD } from './gaussian.js';
import { matrix, type Matrix } from './matrix.js';
import { Random } from '../util/random.js';
import { blockLevelFeatures, coarseBands, DELTA_PATTERN, fluctuationPattern, percentileInPlace, SPECTRAL_PATTERN, spectralPattern } from './patterns.js';

/** numpy's values for the same inputs (tests/fixtures/make-dsp-patterns.py). */
const ref = JSON.parse(readFileSync(new URL('../../../tests/fixtures/dsp-patterns-numpy.json', import.meta.url), 'utf8')) as Record<
  'spectralPattern' | 'deltaPattern' | 'fluctuation' | 'gaussian',
  number[]
>;

function logMel(T: number, phase: number): Matrix {
  const m = matrix(128, T);
  for (let b = 0; b < 128; b++) {
    for (let t = 0; t < T; t++) {
      m.data[b * T + t] = -40 + 20 * Math.sin(0.013 * b * t + b * 0.5 + phase) + 8 * Math.cos(0.21 * t * (1 + (b % 5)) + phase) + 0.05 * b;
    }
  }
  return m;
}

function mfccFrames(T: number): Matrix {
  const m = matrix(20, T);
  for (let c = 0; c < 20; c++) {
    for (let t = 0; t < T; t++) m.data[c * T + t] = (30 * Math.sin(0.05 * t * (c + 1) + c)) / (1 + 0.2 * c) + 5 * Math.cos(0.3 * t + 2 * c) + (c === 3 ? 0.01 * t : 0);
  }
  return m;
}

function expectClose(got: ArrayLike<number>, want: number[], tol: number) {
  expect(got.length).toBe(want.length);
  const scale = Math.max(1, ...want.map(Math.abs));
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]), `index ${i}: ${got[i]} vs ${want[i]}`).toBeLessThan(tol * scale);
}

describe('block-level patterns (Seyerlehner et al. 2010)', () => {
  const excerpts = [logMel(300, 0), logMel(200, 1)];
  it('spectral pattern equals numpy’s', () => expectClose(spectralPattern(excerpts, SPECTRAL_PATTERN), ref.spectralPattern, 1e-5));
  it('delta spectral pattern equals numpy’s', () => expectClose(spectralPattern(excerpts, DELTA_PATTERN), ref.deltaPattern, 1e-5));
  it('fluctuation pattern equals numpy’s', () => expectClose(fluctuationPattern(excerpts), ref.fluctuation, 1e-5));

  it('averages equal runs of mel bands and refuses a split that does not divide', () => {
    const m = matrix(4, 2, Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(Array.from(coarseBands(m, 2))).toEqual([2, 3, 6, 7]);
    expect(() => coarseBands(m, 3)).toThrow(/do not split/);
  });

  it('interpolates percentiles between ranks, as numpy does', () => {
    expect(percentileInPlace(Float64Array.from([4, 1, 3, 2]), 50)).toBe(2.5);
    expect(percentileInPlace(Float64Array.from([1, 2, 3, 4, 5]), 90)).toBeCloseTo(4.6, 12);
    expect(percentileInPlace(new Float64Array(0), 90)).toBe(0);
  });

  it('selects the same percentiles as a full sort, ties and all', () => {
    const rng = new Random(9);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + rng.int(0, 300);
      const x = Float64Array.from({ length: n }, () => (trial % 3 === 0 ? rng.int(0, 5) : rng.normal()));
      const sorted = Float64Array.from(x).sort();
      for (const p of [0, 10, 50, 90, 100]) {
        const pos = (p / 100) * (n - 1);
        const i = Math.floor(pos);
        const want = i + 1 < n ? sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]) : sorted[i];
        expect(percentileInPlace(Float64Array.from(x), p)).toBeCloseTo(want, 12);
      }
    }
  });

  it('computes all three from one band reduction, equal to each on its own', () => {
    const all = blockLevelFeatures(excerpts);
    expect(Array.from(all.spectral)).toEqual(Array.from(spectralPattern(excerpts, SPECTRAL_PATTERN)));
    expect(Array.from(all.delta)).toEqual(Array.from(spectralPattern(excerpts, DELTA_PATTERN)));
    const separate = fluctuationPattern(excerpts);
    all.fluctuation.forEach((v, i) => expect(v).toBeCloseTo(separate[i], 9));
  });

  it('gives zeros, not NaN, when every excerpt is shorter than a window', () => {
    const short = [logMel(40, 0)];
    expect([...fluctuationPattern(short)].every((v) => v === 0)).toBe(true);
    expect([...spectralPattern(short, SPECTRAL_PATTERN)].every(Number.isFinite)).toBe(true);
  });

  it('sees a tremolo at its rate in the fluctuation pattern', () => {
    const T = 600;
    const at = (hz: number) => {
      const m = matrix(128, T);
      for (let b = 0; b < 128; b++) for (let t = 0; t < T; t++) m.data[b * T + t] = -30 + 10 * Math.sin((2 * Math.PI * hz * t) / (22050 / 512));
      const fp = fluctuationPattern([m]);
      // band 0's 12 modulation bins: the strongest is where the tremolo is
      const bins = Array.from(fp.subarray(0, 12));
      return bins.indexOf(Math.max(...bins));
    };
    expect(at(6)).toBeGreaterThan(at(1.5));
  });
});

describe('single-Gaussian timbre embedding', () => {
  it('equals numpy’s log-Euclidean embedding (np.cov, np.linalg.eigh)', () => {
    expectClose(gaussianEmbedding(mfccFrames(400), 1, MFCC_SPREAD), ref.gaussian, 1e-7);
  });

  it('stays finite for a constant (silent) signal', () => {
    const flat = matrix(20, 50);
    expect([...gaussianEmbedding(flat, 1, MFCC_SPREAD)].every(Number.isFinite)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { withHub } from '../../../tests/helpers/hub.js';
import { cosineDistance, distanceStats, erfc, gaussianSurvival, kOccurrenceSkewness, mutualProximity, mutualProximityMatrix, rerankByMutualProximity } from './hubness.js';

function similarities(points: number[][]): Float64Array {
  const n = points.length;
  const S = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) S[i * n + j] = 1 - cosineDistance(points[i], points[j]);
  return S;
}

function neighbours(S: Float64Array, n: number, k: number): number[][] {
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => j)
      .filter((j) => j !== i)
      .sort((a, b) => S[i * n + b] - S[i * n + a])
      .slice(0, k),
  );
}

describe('mutual proximity (Schnitzer et al. 2012)', () => {
  it('computes erfc and the Gaussian survival function to 1e-7', () => {
    for (const [x, want] of [[0, 1], [0.5, 0.4795001221869535], [1, 0.15729920705028513], [-1, 1.8427007929497148], [3, 2.209049699858544e-5]]) {
      expect(Math.abs(erfc(x) - want)).toBeLessThan(1.2e-7);
    }
    expect(gaussianSurvival(0.3, { mean: 0.3, std: 0.1 })).toBeCloseTo(0.5, 7);
    expect(gaussianSurvival(0.2, { mean: 0.3, std: 0 })).toBe(1);
  });

  it('is the product of both objects’ survival at their distance', () => {
    const a = { mean: 0.5, std: 0.1 };
    const b = { mean: 0.8, std: 0.05 };
    expect(mutualProximity(0.6, a, b)).toBeCloseTo(gaussianSurvival(0.6, a) * gaussianSurvival(0.6, b), 12);
    // symmetric in its two objects
    expect(mutualProximity(0.6, a, b)).toBe(mutualProximity(0.6, b, a));
  });

  it('takes the hub out of the result lists and gives back each point’s own cluster', () => {
    const { points, cluster, hub } = withHub();
    const n = points.length;
    const S = similarities(points);
    const k = 5;
    const plain = neighbours(S, n, k);
    const mp = neighbours(mutualProximityMatrix(S, n), n, k);
    const hubIn = (lists: number[][]) => lists.filter((l, i) => i !== hub && l.includes(hub)).length;
    const precision = (lists: number[][]) => lists.reduce((a, l, i) => (i === hub ? a : a + l.filter((j) => cluster[j] === cluster[i]).length / k), 0) / (n - 1);
    // The hub is among almost everyone's nearest by cosine, and among almost no one's by mutual proximity.
    expect(hubIn(plain)).toBeGreaterThan(0.5 * (n - 1));
    expect(hubIn(mp)).toBeLessThan(hubIn(plain) / 3);
    expect(precision(mp)).toBeGreaterThan(precision(plain));
    expect(kOccurrenceSkewness(mp, n)).toBeLessThan(kOccurrenceSkewness(plain, n));
  });

  it('re-ranks candidates by MP, ties by distance', () => {
    const q = { mean: 0.5, std: 0.1 };
    const ranked = rerankByMutualProximity(q, [
      { id: 'hub', distance: 0.3, stats: { mean: 0.3, std: 0.05 } },
      { id: 'near', distance: 0.35, stats: { mean: 0.7, std: 0.1 } },
    ]);
    expect(ranked.map((r) => r.id)).toEqual(['near', 'hub']);
  });

  it('summarises distances by mean and population std', () => {
    expect(distanceStats([1, 3])).toEqual({ mean: 2, std: 1 });
    expect(distanceStats([])).toEqual({ mean: 1, std: 0 });
    expect(kOccurrenceSkewness([[1], [1], [1], [0]], 4)).toBeGreaterThan(0);
  });
});

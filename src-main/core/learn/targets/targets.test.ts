import { describe, expect, it } from 'vitest';
import { Random } from '../../util/random.js';
import { fitGmm1d, responsibilities } from './gmm.js';
import { dense, gram, symmetricEigen } from './linalg.js';
import { lsi, relatedness } from './lsi.js';
import { kmeans, nearest } from './kmeans.js';
import { digamma, lda } from './lda.js';
import { plsa } from './plsa.js';
import { normalQuantile, quantileNormal } from './quantile.js';

function matmul(a: { rows: number; cols: number; data: Float64Array }, b: { rows: number; cols: number; data: Float64Array }) {
  const out = dense(a.rows, b.cols);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < b.cols; j++) {
    let s = 0;
    for (let k = 0; k < a.cols; k++) s += a.data[i * a.cols + k] * b.data[k * b.cols + j];
    out.data[i * b.cols + j] = s;
  }
  return out;
}
function transpose(a: { rows: number; cols: number; data: Float64Array }) {
  const out = dense(a.cols, a.rows);
  for (let i = 0; i < a.rows; i++) for (let j = 0; j < a.cols; j++) out.data[j * a.rows + i] = a.data[i * a.cols + j];
  return out;
}

describe('symmetric eigen-decomposition', () => {
  it('solves a known case exactly', () => {
    // [[2,1],[1,2]] has eigenvalues 3 and 1 with eigenvectors (1,1)/√2 and (1,−1)/√2.
    const { values, vectors } = symmetricEigen(dense(2, 2, [2, 1, 1, 2]));
    expect(values[0]).toBeCloseTo(3, 12);
    expect(values[1]).toBeCloseTo(1, 12);
    expect(Math.abs(vectors.data[0])).toBeCloseTo(Math.SQRT1_2, 12);
  });
});

describe('LSI (truncated SVD)', () => {
  const rng = new Random(3);
  const m = dense(7, 30, Array.from({ length: 210 }, () => (rng.next() < 0.3 ? 1 : 0)));

  it('satisfies the SVD identities: orthonormal bases, M v = σ u, and exact reconstruction at full rank', () => {
    const l = lsi(m, 7);
    const utu = matmul(transpose(l.tagVectors), l.tagVectors);
    const vtv = matmul(transpose(l.trackBasis), l.trackBasis);
    const rank = l.singularValues.filter((s) => s > 1e-9).length;
    for (let i = 0; i < rank; i++) for (let j = 0; j < rank; j++) {
      expect(utu.data[i * 7 + j]).toBeCloseTo(i === j ? 1 : 0, 9);
      expect(vtv.data[i * 7 + j]).toBeCloseTo(i === j ? 1 : 0, 9);
    }
    for (let i = 1; i < 7; i++) expect(l.singularValues[i]).toBeLessThanOrEqual(l.singularValues[i - 1] + 1e-12);
    // U Σ Vᵀ = M.
    const rec = matmul(l.tagVectors, transpose(l.trackVectors));
    for (let i = 0; i < m.data.length; i++) expect(rec.data[i]).toBeCloseTo(m.data[i], 9);
    // σ² are the eigenvalues of M Mᵀ.
    const ev = symmetricEigen(gram(m, true)).values;
    for (let i = 0; i < 7; i++) expect(l.singularValues[i] ** 2).toBeCloseTo(Math.max(0, ev[i]), 8);
  });

  it('gives the best rank-k approximation (Eckart–Young: the error is the dropped singular values)', () => {
    const full = lsi(m, 7);
    const l = lsi(m, 3);
    const rec = matmul(l.tagVectors, transpose(l.trackVectors));
    let err = 0;
    for (let i = 0; i < m.data.length; i++) err += (rec.data[i] - m.data[i]) ** 2;
    let dropped = 0;
    for (let i = 3; i < 7; i++) dropped += full.singularValues[i] ** 2;
    expect(err).toBeCloseTo(dropped, 8);
  });

  it('works when tracks are fewer than tags too, and relates tracks by cosine', () => {
    const t = transpose(m);
    const a = lsi(t, 5);
    const b = lsi(m, 5);
    for (let i = 0; i < 5; i++) expect(a.singularValues[i]).toBeCloseTo(b.singularValues[i], 9);
    // Tags: rock, pop, jazz. Tracks 0 and 1 share tags, 2 has none in common, 3 is untagged.
    const tags = dense(3, 4, [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0]);
    const l = lsi(tags, 2);
    expect(relatedness(l, 0, 1)).toBeCloseTo(1, 9);
    expect(relatedness(l, 0, 2)).toBeCloseTo(0, 9);
    expect(relatedness(l, 0, 3)).toBe(0);
  });
});

describe('pLSA by EM', () => {
  it('never decreases the log-likelihood and recovers planted factors', () => {
    // Two planted factors over 8 words: docs 0–9 use words 0–3, docs 10–19 words 4–7.
    const rng = new Random(9);
    const counts = dense(20, 8);
    for (let d = 0; d < 20; d++) for (let i = 0; i < 60; i++) counts.data[d * 8 + (d < 10 ? 0 : 4) + Math.floor(rng.next() * 4)] += 1;
    const p = plsa(counts, 2, { seed: 4 });
    for (let i = 1; i < p.logLikelihood.length; i++) expect(p.logLikelihood[i]).toBeGreaterThanOrEqual(p.logLikelihood[i - 1] - 1e-9);
    const z0 = p.docTopics.data[0] > 0.5 ? 0 : 1;
    for (let d = 0; d < 20; d++) {
      const row = [p.docTopics.data[d * 2], p.docTopics.data[d * 2 + 1]];
      expect(row[0] + row[1]).toBeCloseTo(1, 12);
      expect(row[d < 10 ? z0 : 1 - z0]).toBeGreaterThan(0.99);
    }
  });
});

describe('GMM over scalars', () => {
  it('never decreases the log-likelihood and recovers planted components', () => {
    const rng = new Random(5);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    const bpm = [...Array.from({ length: 300 }, () => 90 + 4 * gauss()), ...Array.from({ length: 200 }, () => 128 + 3 * gauss()), ...Array.from({ length: 100 }, () => 174 + 5 * gauss())];
    const g = fitGmm1d(bpm, 3);
    for (let i = 1; i < g.logLikelihood.length; i++) expect(g.logLikelihood[i]).toBeGreaterThanOrEqual(g.logLikelihood[i - 1] - 1e-7);
    expect(Array.from(g.means).map((m) => Math.round(m))).toEqual([90, 128, 174]);
    expect(g.weights[0]).toBeCloseTo(0.5, 1);
    const r = responsibilities(g, 127);
    expect(r[1]).toBeGreaterThan(0.99);
    expect(r.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(() => fitGmm1d([1], 2)).toThrow(/at least 2/);
  });
});

describe('quantile normalisation', () => {
  it('maps any distribution to a normal one, keeping order and ties', () => {
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
    const rng = new Random(2);
    const skewed = Array.from({ length: 2000 }, () => Math.exp(3 * rng.next()) + 1950);
    const z = quantileNormal(skewed);
    const mean = z.reduce((a, b) => a + b, 0) / z.length;
    const sd = Math.sqrt(z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length);
    expect(Math.abs(mean)).toBeLessThan(1e-9);
    expect(sd).toBeGreaterThan(0.98);
    expect(sd).toBeLessThan(1.01);
    for (let i = 0; i < 200; i++) for (let j = 0; j < 200; j++) if (skewed[i] < skewed[j]) expect(z[i]).toBeLessThan(z[j]);
    const tied = quantileNormal([2000, 1990, 2000, 2010]);
    expect(tied[0]).toBe(tied[2]);
    expect(tied[1]).toBeLessThan(tied[0]);
    expect(tied[3]).toBeGreaterThan(tied[0]);
  });
});

describe('k-means', () => {
  it('finds well-separated clusters, never raises its inertia, and keeps every code in use', () => {
    const rng = new Random(11);
    const centres = [
      [0, 0],
      [10, 0],
      [0, 10],
    ];
    const x = new Float32Array(300 * 2);
    for (let i = 0; i < 300; i++) {
      const c = centres[i % 3];
      x[2 * i] = c[0] + (rng.next() - 0.5);
      x[2 * i + 1] = c[1] + (rng.next() - 0.5);
    }
    const cb = kmeans(x, 2, 3, { seed: 2 });
    const found = Array.from({ length: 3 }, (_, c) => [cb.centres[2 * c], cb.centres[2 * c + 1]].map(Math.round).join(',')).sort();
    expect(found).toEqual(['0,0', '0,10', '10,0']);
    for (let i = 1; i < cb.inertia.length; i++) expect(cb.inertia[i]).toBeLessThanOrEqual(cb.inertia[i - 1] + 1e-9);
    // Points of one cluster share a code; the three clusters get three codes.
    const codes = Array.from({ length: 300 }, (_, i) => nearest(cb, x, i).code);
    for (let i = 3; i < 300; i++) expect(codes[i]).toBe(codes[i % 3]);
    expect(new Set(codes).size).toBe(3);
    // More codes than distinct points: duplicates still get a centre each (re-seeded from the farthest point).
    const many = kmeans(Float32Array.from([0, 0, 1, 1, 0, 0, 1, 1, 5, 5]), 2, 4, { seed: 1 });
    expect(many.k).toBe(4);
    expect(() => kmeans(new Float32Array(4), 2, 3)).toThrow(/at least 3 points/);
  });
});

describe('LDA (variational Bayes)', () => {
  it('computes the digamma function', () => {
    expect(digamma(1)).toBeCloseTo(-0.5772156649015329, 10);
    expect(digamma(0.5)).toBeCloseTo(-1.9635100260214235, 10);
    expect(digamma(10)).toBeCloseTo(2.251752589066721, 10);
  });

  it('recovers planted topics: documents drawn from one topic each get that topic, and the bound rises', () => {
    // Two topics over 8 words: words 0–3 and words 4–7. Documents 0–9 use the first, 10–19 the second.
    const rng = new Random(5);
    const counts = dense(20, 8);
    for (let d = 0; d < 20; d++) for (let n = 0; n < 60; n++) counts.data[d * 8 + (d < 10 ? 0 : 4) + Math.floor(rng.next() * 4)] += 1;
    const l = lda(counts, 2, { seed: 3 });
    for (let d = 0; d < 20; d++) {
      let s = 0;
      for (let t = 0; t < 2; t++) s += l.docTopics.data[d * 2 + t];
      expect(s).toBeCloseTo(1, 10);
    }
    const topicOf = (d: number) => (l.docTopics.data[d * 2] > 0.5 ? 0 : 1);
    for (let d = 1; d < 10; d++) expect(topicOf(d)).toBe(topicOf(0));
    for (let d = 11; d < 20; d++) expect(topicOf(d)).toBe(topicOf(10));
    expect(topicOf(0)).not.toBe(topicOf(10));
    expect(Math.max(l.docTopics.data[0], l.docTopics.data[1])).toBeGreaterThan(0.9);
    // Each topic puts its mass on its own four words.
    const t0 = topicOf(0);
    let mass = 0;
    for (let w = 0; w < 4; w++) mass += l.topicWords.data[t0 * 8 + w];
    expect(mass).toBeGreaterThan(0.95);
    expect(l.bound.at(-1)).toBeGreaterThan(l.bound[0]);
  });
});

import { cosine } from '../index/normalise.js';
import { Random } from '../util/random.js';

/**
 * Retrieval precision as the seeds evaluate representations (seed 004 Table II): for each query, the share of its
 * k nearest neighbours (by cosine, the query itself excluded) that share a label with it. Exact search, so the
 * number measures the representation, not the index.
 */
export function precisionAtK(vectors: readonly Float32Array[], labels: ReadonlyArray<readonly string[] | null>, k: number, queries?: readonly number[]): number {
  const qs = queries ?? vectors.map((_, i) => i);
  let sum = 0;
  let n = 0;
  for (const q of qs) {
    const ql = labels[q];
    if (!ql || ql.length === 0) continue;
    const scored: Array<[number, number]> = [];
    for (let j = 0; j < vectors.length; j++) if (j !== q && labels[j]) scored.push([cosine(vectors[q], vectors[j]), j]);
    scored.sort((a, b) => b[0] - a[0]);
    const top = scored.slice(0, k);
    if (top.length === 0) continue;
    const hits = top.filter(([, j]) => (labels[j] as readonly string[]).some((l) => ql.includes(l))).length;
    sum += hits / top.length;
    n++;
  }
  return n ? sum / n : 0;
}

/** Random vectors of the same count: the chance level of precision@k for these labels. */
export function randomVectors(n: number, dim: number, seed = 7): Float32Array[] {
  const rng = new Random(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: dim }, () => rng.normal()));
}

/** The cosine similarity of every pair of vectors, `[n, n]` row-major (the diagonal is 1, or 0 for a zero vector). */
export function cosineMatrix(vectors: readonly Float32Array[]): Float64Array {
  const n = vectors.length;
  const unit = vectors.map((v) => {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * v[i];
    const f = s > 0 ? 1 / Math.sqrt(s) : 0;
    return Float64Array.from(v, (a) => a * f);
  });
  const S = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let d = 0;
      const a = unit[i];
      const b = unit[j];
      for (let k = 0; k < a.length; k++) d += a[k] * b[k];
      S[i * n + j] = d;
      S[j * n + i] = d;
    }
  }
  return S;
}

/**
 * `precisionAtK` from a precomputed similarity matrix `[n, n]` (cosine, or mutual proximity: any score where
 * higher is nearer): for each query, the share of its k most similar others (ties by index) sharing a label.
 * Unlabelled tracks are neither queries nor results.
 */
export function precisionAtKFromSimilarity(S: Float64Array, n: number, labels: ReadonlyArray<readonly string[] | null>, k: number, queries?: readonly number[]): number {
  const qs = queries ?? Array.from({ length: n }, (_, i) => i);
  let sum = 0;
  let count = 0;
  for (const q of qs) {
    const ql = labels[q];
    if (!ql || ql.length === 0) continue;
    const cands: number[] = [];
    for (let j = 0; j < n; j++) if (j !== q && labels[j]) cands.push(j);
    cands.sort((a, b) => S[q * n + b] - S[q * n + a] || a - b);
    const top = cands.slice(0, k);
    if (top.length === 0) continue;
    sum += top.filter((j) => (labels[j] as readonly string[]).some((l) => ql.includes(l))).length / top.length;
    count++;
  }
  return count ? sum / count : 0;
}

/** Each object's `k` nearest others by a similarity matrix `[n, n]`, for hubness measures. */
export function nearestFromSimilarity(S: Float64Array, n: number, k: number): number[][] {
  return Array.from({ length: n }, (_, q) =>
    Array.from({ length: n }, (_, j) => j)
      .filter((j) => j !== q)
      .sort((a, b) => S[q * n + b] - S[q * n + a] || a - b)
      .slice(0, k),
  );
}

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

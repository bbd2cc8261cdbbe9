/**
 * Hubness reduction by mutual proximity (Schnitzer, Flexer, Schedl & Widmer, "Local and global scaling reduce hubs
 * in space", JMLR 13, 2012, §3.2): in high-dimensional spaces a few objects ("hubs") are near almost everything and
 * crowd every result list, while others are never found. Mutual proximity turns a distance d(x, y) into the
 * probability that y is closer to x than a random object is to x *and* that x is closer to y than a random object
 * is to y, so a pair counts as near only when each is near from the other's point of view. With each object's
 * distances modelled as a Gaussian (μ_x, σ_x) — the "MP-Gaussi" variant of §3.2.2, independence assumed —
 *
 *     MP(x, y) = SF(d; μ_x, σ_x) · SF(d; μ_y, σ_y),      SF = the Gaussian survival function,
 *
 * where μ and σ are estimated from the distances to a random sample of the collection (§3.3, their "MP-S"
 * approximation, which keeps the cost linear).
 */

import { cosine } from './normalise.js';

export type HubnessMethod = 'mp' | 'none';

/** Per-object distance statistics: mean and standard deviation of its cosine distances to a sample. */
export interface DistanceStats {
  mean: number;
  std: number;
}

/** Complementary error function, |error| < 1.2e-7 everywhere (Numerical Recipes in C, 2nd ed., §6.2 `erfcc`). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(X > d) for X ~ N(mean, std²); a zero spread gives a step at the mean. */
export function gaussianSurvival(d: number, s: DistanceStats): number {
  if (!(s.std > 0)) return d < s.mean ? 1 : d > s.mean ? 0 : 0.5;
  return 0.5 * erfc((d - s.mean) / (s.std * Math.SQRT2));
}

/** Mutual proximity of two objects at distance `d` (a similarity in [0, 1]; 1 − MP is the distance). */
export function mutualProximity(d: number, a: DistanceStats, b: DistanceStats): number {
  return gaussianSurvival(d, a) * gaussianSurvival(d, b);
}

/** Mean and (population) standard deviation of distances. */
export function distanceStats(distances: ArrayLike<number>): DistanceStats {
  const n = distances.length;
  if (n === 0) return { mean: 1, std: 0 };
  let s = 0;
  for (let i = 0; i < n; i++) s += distances[i];
  const mean = s / n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (distances[i] - mean) ** 2;
  return { mean, std: Math.sqrt(v / n) };
}

/** Cosine distance 1 − cos(a, b); 1 when either is all zeros. */
export function cosineDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return 1 - cosine(a, b);
}

/**
 * Mutual proximity over a whole collection, for evaluation: `similarity` is `[n, n]` (cosine, row-major); each
 * object's statistics come from its distances to every other object (exact MP-Gaussi). Returns MP `[n, n]`
 * (the diagonal is 0).
 */
export function mutualProximityMatrix(similarity: Float64Array, n: number): Float64Array {
  const stats: DistanceStats[] = [];
  const row = new Float64Array(Math.max(0, n - 1));
  for (let i = 0; i < n; i++) {
    let k = 0;
    for (let j = 0; j < n; j++) if (j !== i) row[k++] = 1 - similarity[i * n + j];
    stats.push(distanceStats(row));
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const mp = mutualProximity(1 - similarity[i * n + j], stats[i], stats[j]);
      out[i * n + j] = mp;
      out[j * n + i] = mp;
    }
  }
  return out;
}

/**
 * Re-rank nearest-neighbour candidates by mutual proximity: `candidates` come with their cosine distance to the
 * query and their own statistics; the result is sorted by MP (highest first), ties by distance.
 */
export function rerankByMutualProximity<T extends { distance: number; stats: DistanceStats }>(query: DistanceStats, candidates: readonly T[]): Array<T & { mp: number }> {
  return candidates
    .map((c) => ({ ...c, mp: mutualProximity(c.distance, query, c.stats) }))
    .sort((a, b) => b.mp - a.mp || a.distance - b.distance);
}

/**
 * k-occurrence skewness (Radovanović et al. 2010), the usual measure of hubness: how many times each object
 * appears among the others' `k` nearest neighbours, and the skewness of those counts (0 for none; above 1, a
 * few hubs dominate). `neighbours[i]` lists object i's k nearest.
 */
export function kOccurrenceSkewness(neighbours: ReadonlyArray<readonly number[]>, n: number): number {
  const counts = new Float64Array(n);
  for (const list of neighbours) for (const j of list) counts[j]++;
  let mean = 0;
  for (const c of counts) mean += c / n;
  let m2 = 0;
  let m3 = 0;
  for (const c of counts) {
    m2 += (c - mean) ** 2 / n;
    m3 += (c - mean) ** 3 / n;
  }
  return m2 > 0 ? m3 / m2 ** 1.5 : 0;
}

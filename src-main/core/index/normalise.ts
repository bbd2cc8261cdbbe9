import type { FeatureGroup } from '../audio/representations.js';

/** Per-dimension statistics over a library, and the group layout that decides the weights. */
export interface Normaliser {
  mean: number[];
  std: number[];
  /** Multiplier per dimension after z-scoring: 1/√(group size), so each group counts equally. */
  weight: number[];
  /**
   * Groups scaled to unit length in every vector, then by √weight (absent in indexes of format 1, which used
   * `weight` alone). With them the cosine of two vectors is the weighted mean of their groups' cosines.
   */
  groups?: Array<{ start: number; end: number; scale: number }>;
}

/**
 * Fit a normaliser: z-score every dimension over the library; then, in every vector, each group is scaled to unit
 * length and by √(its weight), so that the cosine of two vectors is Σ w_g cos_g / Σ w_g over the groups — a group
 * counts by its weight whatever its number of dimensions, and for every track alike (the combination of distance
 * spaces of Pohle et al. and Seyerlehner et al., who normalise each feature's distances before summing them).
 * A representation with one group (a learned embedding) is z-scored only when `standardise` is set.
 */
export function fitNormaliser(vectors: readonly Float32Array[], dim: number, groups: readonly FeatureGroup[], standardise = true): Normaliser {
  const mean = new Array<number>(dim).fill(0);
  const std = new Array<number>(dim).fill(1);
  if (standardise && vectors.length > 1) {
    for (const v of vectors) for (let i = 0; i < dim; i++) mean[i] += v[i];
    for (let i = 0; i < dim; i++) mean[i] /= vectors.length;
    const varSum = new Array<number>(dim).fill(0);
    for (const v of vectors) for (let i = 0; i < dim; i++) varSum[i] += (v[i] - mean[i]) ** 2;
    for (let i = 0; i < dim; i++) {
      const s = Math.sqrt(varSum[i] / vectors.length);
      // A constant dimension carries no information: zero it rather than blow it up.
      std[i] = s > 1e-9 * Math.max(1, Math.abs(mean[i])) ? s : Infinity;
    }
  }
  const weight = new Array<number>(dim).fill(1);
  for (const g of groups) for (let i = g.start; i < g.end; i++) weight[i] = 1 / Math.sqrt(g.end - g.start);
  const unit = groups.map((g) => ({ start: g.start, end: g.end, scale: Math.sqrt(g.weight ?? 1) }));
  return { mean, std, weight, groups: unit };
}

/** A raw vector in the index's space: z-scored per dimension, then each group at unit length × √weight. `[dim]` */
export function applyNormaliser(n: Normaliser, v: Float32Array): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const z = (v[i] - n.mean[i]) / n.std[i];
    out[i] = Number.isFinite(z) ? z * n.weight[i] : 0;
  }
  if (n.groups) {
    for (const g of n.groups) {
      let sq = 0;
      for (let i = g.start; i < g.end; i++) sq += out[i] * out[i];
      // A group with no spread at all (every dimension constant over the library) stays zero.
      const f = sq > 0 ? g.scale / Math.sqrt(sq) : 0;
      for (let i = g.start; i < g.end; i++) out[i] *= f;
    }
  }
  return out;
}

/** Cosine similarity; 0 when either vector is all zeros. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

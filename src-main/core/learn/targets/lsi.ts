import { dense, gram, symmetricEigen, type Dense } from './linalg.js';

/**
 * Latent semantic indexing (seed 004 §III-B): a truncated SVD `M ≈ U_k Σ_k V_kᵀ` of the tag × track matrix
 * `M` (`[nTags, nTracks]`, e.g. 0/1 or tf-idf). Each track's LSI vector is its column of `Σ_k V_kᵀ`
 * (`trackVectors`, `[nTracks, k]`); two tracks are related by the cosine of their vectors (cos ≥ 0.8 positive,
 * < 0.2 negative for triplet selection).
 *
 * Computed exactly from the eigen-decomposition of the smaller Gram matrix (`M Mᵀ` when tags are fewer than
 * tracks, as in every tagged library), so it is deterministic and checkable against SVD identities.
 */
export interface Lsi {
  k: number;
  /** σ₁ ≥ σ₂ ≥ … ≥ σ_k. */
  singularValues: Float64Array;
  /** `U_k`: `[nTags, k]`, orthonormal columns. */
  tagVectors: Dense;
  /** `V_k`: `[nTracks, k]`, orthonormal columns. */
  trackBasis: Dense;
  /** `V_k Σ_k`: `[nTracks, k]`, the tracks' LSI vectors. */
  trackVectors: Dense;
}

export function lsi(m: Dense, k: number): Lsi {
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive whole number, got ${k}`);
  const kk = Math.min(k, m.rows, m.cols);
  const left = m.rows <= m.cols;
  const { values, vectors } = symmetricEigen(gram(m, left));
  const singularValues = Float64Array.from({ length: kk }, (_, i) => Math.sqrt(Math.max(0, values[i])));
  const small = vectors; // eigenvectors of the Gram matrix: U (left) or V (right)
  const otherRows = left ? m.cols : m.rows;
  const other = dense(otherRows, kk);
  // The other side: V = Mᵀ U Σ⁻¹ (or U = M V Σ⁻¹); zero for null singular values.
  for (let j = 0; j < kk; j++) {
    const s = singularValues[j];
    if (s <= 1e-12 * (singularValues[0] || 1)) continue;
    for (let r = 0; r < otherRows; r++) {
      let acc = 0;
      for (let i = 0; i < small.rows; i++) {
        const mij = left ? m.data[i * m.cols + r] : m.data[r * m.cols + i];
        if (mij !== 0) acc += mij * small.data[i * small.cols + j];
      }
      other.data[r * kk + j] = acc / s;
    }
  }
  const firstK = (d: Dense) => {
    const out = dense(d.rows, kk);
    for (let r = 0; r < d.rows; r++) for (let j = 0; j < kk; j++) out.data[r * kk + j] = d.data[r * d.cols + j];
    return out;
  };
  const tagVectors = left ? firstK(small) : other;
  const trackBasis = left ? other : firstK(small);
  const trackVectors = dense(trackBasis.rows, kk);
  for (let r = 0; r < trackBasis.rows; r++) for (let j = 0; j < kk; j++) trackVectors.data[r * kk + j] = trackBasis.data[r * kk + j] * singularValues[j];
  return { k: kk, singularValues, tagVectors, trackBasis, trackVectors };
}

/** Cosine of two tracks' LSI vectors (0 when either is all zero: an untagged track relates to nothing). */
export function relatedness(l: Lsi, a: number, b: number): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let j = 0; j < l.k; j++) {
    const x = l.trackVectors.data[a * l.k + j];
    const y = l.trackVectors.data[b * l.k + j];
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : 0;
}

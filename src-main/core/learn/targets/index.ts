/**
 * Label targets: what the heads and the encoders learn from a library's tags and scalars.
 *
 * - `lsi(M, k)` — truncated SVD of the tag × track matrix; `relatedness(l, a, b)` = cosine of LSI vectors
 *   (seed 004 §III-B: positives at cos ≥ 0.8, negatives below 0.2).
 * - `plsa(counts, k)` — pLSA by EM; soft targets `P(z|d)` per document (seed 001 §2.3, k = 50).
 * - `fitGmm1d(xs, k)` / `responsibilities(g, x)` — a GMM over a scalar (bpm, year) as a k-way soft category.
 * - `quantileNormal(xs)` — quantile normalisation to a standard normal target (seed 000 §3.1.3).
 * - `kmeans(x, dim, k)` — a dictionary of codes over frames (seed 000 §3.1: 2048 codes over MFCC / ΔMFCC).
 * - `lda(counts, k)` — latent Dirichlet allocation by variational Bayes: artist group factors (seed 000, 40 groups).
 *
 * Matrices are `Dense` (row-major Float64Array, `[rows, cols]`) from `linalg.ts`.
 */
export { dense, type Dense } from './linalg.js';
export { lsi, relatedness, type Lsi } from './lsi.js';
export { plsa, type Plsa } from './plsa.js';
export { fitGmm1d, responsibilities, type Gmm } from './gmm.js';
export { normalQuantile, quantileNormal } from './quantile.js';
export { kmeans, nearest, type Codebook } from './kmeans.js';
export { digamma, lda, type Lda } from './lda.js';

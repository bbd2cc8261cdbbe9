import { Random } from '../../util/random.js';
import { dense, type Dense } from './linalg.js';

/**
 * Latent Dirichlet allocation (Blei, Ng & Jordan 2003) by batch variational Bayes, for the artist group factors
 * of seed 000 §3.1: a document × word count matrix (artists × dictionary codes, or artists × sub-genre tags)
 * is explained by `k` topics; each document's topic proportions `E[θ_d] = γ_d / Σ γ_d` are its soft target.
 * Priors: α = 1/k on proportions, η = 1/k on topics (scikit-learn's defaults).
 */
export interface Lda {
  k: number;
  /** `E[θ_d]`: `[nDocs, k]`, rows summing to 1. */
  docTopics: Dense;
  /** `E[β_k]`: `[k, nWords]`, rows summing to 1. */
  topicWords: Dense;
  /** The variational bound per word after each iteration (rises to convergence). */
  bound: number[];
}

/** ψ(x), the digamma function (asymptotic series after shifting x above 6). */
export function digamma(x: number): number {
  let r = 0;
  while (x < 6) {
    r -= 1 / x;
    x += 1;
  }
  const f = 1 / (x * x);
  return r + Math.log(x) - 0.5 / x - f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f / 132))));
}

function lgamma(x: number): number {
  // Lanczos (g = 7, n = 9).
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lgamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** `exp(E[log θ_t])` for a document's Dirichlet parameters `γ` into `out`; returns `Σ γ`. */
function expectedTheta(g: Float64Array, out: Float64Array): number {
  let gs = 0;
  for (let t = 0; t < g.length; t++) gs += g[t];
  const dgs = digamma(gs);
  for (let t = 0; t < g.length; t++) out[t] = Math.exp(digamma(g[t]) - dgs);
  return gs;
}

export function lda(counts: Dense, k: number, { iterations = 100, innerIterations = 50, tol = 1e-5, seed = 1 } = {}): Lda {
  const D = counts.rows;
  const W = counts.cols;
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive whole number, got ${k}`);
  const alpha = 1 / k;
  const eta = 1 / k;
  const rng = new Random(seed);
  // λ: topic-word variational parameters [k, W], started from Gamma(100, 1/100)-like noise around 1.
  const lambda = new Float64Array(k * W);
  for (let i = 0; i < lambda.length; i++) lambda[i] = 0.5 + rng.next();
  const gamma = new Float64Array(D * k).fill(1);
  const elogBeta = new Float64Array(k * W);
  const expElogBeta = new Float64Array(k * W);
  const expElogTheta = new Float64Array(k);
  const phiNorm = new Float64Array(W);
  const stats = new Float64Array(k * W);
  // The non-zero words of each document.
  const words: Int32Array[] = [];
  const nums: Float64Array[] = [];
  let totalWords = 0;
  for (let d = 0; d < D; d++) {
    const ws: number[] = [];
    const ns: number[] = [];
    for (let w = 0; w < W; w++) {
      const c = counts.data[d * W + w];
      if (c > 0) {
        ws.push(w);
        ns.push(c);
        totalWords += c;
      }
    }
    words.push(Int32Array.from(ws));
    nums.push(Float64Array.from(ns));
  }
  const bound: number[] = [];
  const gammaOld = new Float64Array(k);
  for (let it = 0; it < iterations; it++) {
    for (let t = 0; t < k; t++) {
      let s = 0;
      for (let w = 0; w < W; w++) s += lambda[t * W + w];
      const ds = digamma(s);
      for (let w = 0; w < W; w++) {
        elogBeta[t * W + w] = digamma(lambda[t * W + w]) - ds;
        expElogBeta[t * W + w] = Math.exp(elogBeta[t * W + w]);
      }
    }
    stats.fill(0);
    let likelihood = 0;
    // E-step: each document's γ by fixed-point iteration; φ is kept implicit (φ_dwk ∝ exp(E log θ_dk + E log β_kw)).
    for (let d = 0; d < D; d++) {
      const ws = words[d];
      const ns = nums[d];
      const g = gamma.subarray(d * k, (d + 1) * k);
      g.fill(1);
      for (let inner = 0; inner < innerIterations; inner++) {
        gammaOld.set(g);
        expectedTheta(g, expElogTheta);
        for (let i = 0; i < ws.length; i++) {
          let s = 1e-100;
          for (let t = 0; t < k; t++) s += expElogTheta[t] * expElogBeta[t * W + ws[i]];
          phiNorm[i] = s;
        }
        let change = 0;
        for (let t = 0; t < k; t++) {
          let acc = 0;
          for (let i = 0; i < ws.length; i++) acc += (ns[i] / phiNorm[i]) * expElogBeta[t * W + ws[i]];
          g[t] = alpha + expElogTheta[t] * acc;
          change += Math.abs(g[t] - gammaOld[t]);
        }
        if (change / k < 1e-3) break;
      }
      // Sufficient statistics for λ with the final γ.
      const gs = expectedTheta(g, expElogTheta);
      for (let i = 0; i < ws.length; i++) {
        let s = 1e-100;
        for (let t = 0; t < k; t++) s += expElogTheta[t] * expElogBeta[t * W + ws[i]];
        likelihood += ns[i] * Math.log(s);
        for (let t = 0; t < k; t++) stats[t * W + ws[i]] += (ns[i] * expElogTheta[t] * expElogBeta[t * W + ws[i]]) / s;
      }
      // The θ part of the bound: E[log p(θ|α)] − E[log q(θ|γ)].
      let part = lgamma(k * alpha) - lgamma(gs);
      for (let t = 0; t < k; t++) part += lgamma(g[t]) - lgamma(alpha);
      likelihood += part;
    }
    // M-step.
    for (let i = 0; i < lambda.length; i++) lambda[i] = eta + stats[i];
    // The β part of the bound.
    for (let t = 0; t < k; t++) {
      let s = 0;
      let part = 0;
      for (let w = 0; w < W; w++) {
        const l = lambda[t * W + w];
        s += l;
        part += (eta - l) * elogBeta[t * W + w] + lgamma(l) - lgamma(eta);
      }
      likelihood += part + lgamma(W * eta) - lgamma(s);
    }
    bound.push(likelihood / Math.max(1, totalWords));
    const m = bound.length;
    if (m > 1 && Math.abs(bound[m - 1] - bound[m - 2]) < tol * Math.abs(bound[m - 2])) break;
  }
  const docTopics = dense(D, k);
  for (let d = 0; d < D; d++) {
    let s = 0;
    for (let t = 0; t < k; t++) s += gamma[d * k + t];
    for (let t = 0; t < k; t++) docTopics.data[d * k + t] = gamma[d * k + t] / s;
  }
  const topicWords = dense(k, W);
  for (let t = 0; t < k; t++) {
    let s = 0;
    for (let w = 0; w < W; w++) s += lambda[t * W + w];
    for (let w = 0; w < W; w++) topicWords.data[t * W + w] = lambda[t * W + w] / s;
  }
  return { k, docTopics, topicWords, bound };
}

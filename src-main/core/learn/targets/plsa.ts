import { Random } from '../../util/random.js';
import { dense, type Dense } from './linalg.js';

/**
 * Probabilistic latent semantic analysis by EM (seed 001 §2.3): a document × word count matrix `n(d, w)`
 * (`[nDocs, nWords]`: e.g. artists × tags, or tracks × tags) is explained by `k` factors,
 * `P(d, w) = Σ_z P(z) P(d|z) P(w|z)`, fitted by tempered-free EM. The soft targets are `P(z|d)` per document
 * (`docTopics`, `[nDocs, k]`, rows summing to 1). The log-likelihood never decreases from one iteration to the
 * next (`logLikelihood` records every iteration).
 */
export interface Plsa {
  k: number;
  /** `P(z|d)`: `[nDocs, k]`. */
  docTopics: Dense;
  /** `P(w|z)`: `[k, nWords]`. */
  topicWords: Dense;
  logLikelihood: number[];
  iterations: number;
}

export function plsa(counts: Dense, k: number, { iterations = 200, tol = 1e-7, seed = 1 } = {}): Plsa {
  const D = counts.rows;
  const W = counts.cols;
  if (k < 1 || !Number.isInteger(k)) throw new Error(`k must be a positive whole number, got ${k}`);
  const rng = new Random(seed);
  // Parameters: P(z|d) [D,k] and P(w|z) [k,W] (the asymmetric parameterisation; P(d) is fixed by the data).
  const pzd = dense(D, k);
  const pwz = dense(k, W);
  for (let d = 0; d < D; d++) {
    let s = 0;
    for (let z = 0; z < k; z++) s += pzd.data[d * k + z] = 0.5 + rng.next();
    for (let z = 0; z < k; z++) pzd.data[d * k + z] /= s;
  }
  for (let z = 0; z < k; z++) {
    let s = 0;
    for (let w = 0; w < W; w++) s += pwz.data[z * W + w] = 0.5 + rng.next();
    for (let w = 0; w < W; w++) pwz.data[z * W + w] /= s;
  }
  const nonzero: Array<[number, number, number]> = [];
  for (let d = 0; d < D; d++) for (let w = 0; w < W; w++) if (counts.data[d * W + w] > 0) nonzero.push([d, w, counts.data[d * W + w]]);
  const loglik = () => {
    let ll = 0;
    for (const [d, w, n] of nonzero) {
      let p = 0;
      for (let z = 0; z < k; z++) p += pzd.data[d * k + z] * pwz.data[z * W + w];
      ll += n * Math.log(Math.max(p, 1e-300));
    }
    return ll;
  };
  const history = [loglik()];
  const post = new Float64Array(k);
  let it = 0;
  for (; it < iterations; it++) {
    const nzd = new Float64Array(D * k);
    const nwz = new Float64Array(k * W);
    // E-step and accumulation: P(z|d,w) ∝ P(z|d) P(w|z), weighted by n(d,w).
    for (const [d, w, n] of nonzero) {
      let s = 0;
      for (let z = 0; z < k; z++) s += post[z] = pzd.data[d * k + z] * pwz.data[z * W + w];
      if (s <= 0) continue;
      for (let z = 0; z < k; z++) {
        const r = (n * post[z]) / s;
        nzd[d * k + z] += r;
        nwz[z * W + w] += r;
      }
    }
    // M-step.
    for (let d = 0; d < D; d++) {
      let s = 0;
      for (let z = 0; z < k; z++) s += nzd[d * k + z];
      if (s > 0) for (let z = 0; z < k; z++) pzd.data[d * k + z] = nzd[d * k + z] / s;
    }
    for (let z = 0; z < k; z++) {
      let s = 0;
      for (let w = 0; w < W; w++) s += nwz[z * W + w];
      if (s > 0) for (let w = 0; w < W; w++) pwz.data[z * W + w] = nwz[z * W + w] / s;
    }
    history.push(loglik());
    const a = history[history.length - 2];
    const b = history[history.length - 1];
    if (Math.abs(b - a) <= tol * Math.abs(a)) {
      it++;
      break;
    }
  }
  return { k, docTopics: pzd, topicWords: pwz, logLikelihood: history, iterations: it };
}

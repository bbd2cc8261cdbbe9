import { Random } from '../../util/random.js';

/**
 * A one-dimensional Gaussian mixture fitted by EM (seed 001: bpm and year as k-component categorical targets).
 * `responsibilities(x)` gives the soft target of a value; `logLikelihood` never decreases across iterations.
 */
export interface Gmm {
  k: number;
  weights: Float64Array;
  means: Float64Array;
  variances: Float64Array;
  logLikelihood: number[];
}

const LOG_2PI = Math.log(2 * Math.PI);

function logNormal(x: number, mean: number, variance: number): number {
  return -0.5 * (LOG_2PI + Math.log(variance) + ((x - mean) * (x - mean)) / variance);
}

export function fitGmm1d(xs: ArrayLike<number>, k: number, { iterations = 300, tol = 1e-9, seed = 1, minVariance = 1e-6 } = {}): Gmm {
  const n = xs.length;
  if (n < k) throw new Error(`A ${k}-component mixture needs at least ${k} values, got ${n}.`);
  const x = Float64Array.from(xs);
  const sorted = Float64Array.from(x).sort();
  const rng = new Random(seed);
  // Start from spread quantiles (deterministic, well separated), a little jittered by the seed.
  const means = Float64Array.from({ length: k }, (_, j) => sorted[Math.min(n - 1, Math.floor(((j + 0.5) / k) * n))] + 1e-9 * rng.next());
  let mu = 0;
  for (const v of x) mu += v / n;
  let varAll = 0;
  for (const v of x) varAll += ((v - mu) * (v - mu)) / n;
  const floor = Math.max(minVariance, varAll * 1e-6);
  const variances = new Float64Array(k).fill(Math.max(varAll / (k * k), floor));
  const weights = new Float64Array(k).fill(1 / k);
  const resp = new Float64Array(n * k);
  const history: number[] = [];
  const logp = new Float64Array(k);
  for (let it = 0; it < iterations; it++) {
    // E-step (log-sum-exp), and the log-likelihood of the current parameters.
    let ll = 0;
    for (let i = 0; i < n; i++) {
      let m = -Infinity;
      for (let j = 0; j < k; j++) {
        logp[j] = Math.log(weights[j]) + logNormal(x[i], means[j], variances[j]);
        if (logp[j] > m) m = logp[j];
      }
      let s = 0;
      for (let j = 0; j < k; j++) s += Math.exp(logp[j] - m);
      const lse = m + Math.log(s);
      ll += lse;
      for (let j = 0; j < k; j++) resp[i * k + j] = Math.exp(logp[j] - lse);
    }
    history.push(ll);
    if (history.length > 1 && Math.abs(ll - history[history.length - 2]) <= tol * Math.abs(ll)) break;
    // M-step.
    for (let j = 0; j < k; j++) {
      let nk = 0;
      let sx = 0;
      for (let i = 0; i < n; i++) {
        nk += resp[i * k + j];
        sx += resp[i * k + j] * x[i];
      }
      if (nk < 1e-12) continue;
      const m = sx / nk;
      let sv = 0;
      for (let i = 0; i < n; i++) sv += resp[i * k + j] * (x[i] - m) * (x[i] - m);
      weights[j] = nk / n;
      means[j] = m;
      variances[j] = Math.max(sv / nk, floor);
    }
  }
  // Components in ascending order of their means (stable category ids).
  const order = Array.from({ length: k }, (_, j) => j).sort((a, b) => means[a] - means[b]);
  return {
    k,
    weights: Float64Array.from(order, (j) => weights[j]),
    means: Float64Array.from(order, (j) => means[j]),
    variances: Float64Array.from(order, (j) => variances[j]),
    logLikelihood: history,
  };
}

/** `P(component | x)`: the soft categorical target of one value. */
export function responsibilities(g: Gmm, x: number): Float64Array {
  const lp = Float64Array.from({ length: g.k }, (_, j) => Math.log(g.weights[j]) + logNormal(x, g.means[j], g.variances[j]));
  const m = Math.max(...lp);
  let s = 0;
  for (let j = 0; j < g.k; j++) s += lp[j] = Math.exp(lp[j] - m);
  for (let j = 0; j < g.k; j++) lp[j] /= s;
  return lp;
}

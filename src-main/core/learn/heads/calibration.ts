/**
 * Calibration of a head's probabilities on its own out-of-fold predictions, so a confidence of 0.8 means right
 * about 8 times in 10 whatever the head: temperature scaling for single-label heads (Guo et al., "On calibration
 * of modern neural networks", ICML 2017, §4.2 — one parameter, the argmax unchanged) and Platt scaling for the
 * per-value probabilities of multi-label heads (Platt 1999: a sigmoid of the log-odds, two parameters shared by
 * every value). Both are fitted by minimising the negative log-likelihood of the held-out truth.
 */
export type Calibration = { kind: 'temperature'; temperature: number } | { kind: 'platt'; a: number; b: number } | { kind: 'none' };

const EPS = 1e-6;

/** Softmax of log(p) / T: p^(1/T) renormalised. `[nValues]` */
export function applyTemperature(p: ArrayLike<number>, temperature: number): Float32Array {
  const out = new Float32Array(p.length);
  let max = -Infinity;
  const logs = Array.from(p, (v) => Math.log(Math.max(EPS, v)) / temperature);
  for (const l of logs) max = Math.max(max, l);
  let s = 0;
  logs.forEach((l, i) => {
    out[i] = Math.exp(l - max);
    s += out[i];
  });
  for (let i = 0; i < out.length; i++) out[i] /= s;
  return out;
}

function logit(p: number): number {
  const q = Math.min(1 - EPS, Math.max(EPS, p));
  return Math.log(q / (1 - q));
}

export function applyPlatt(p: ArrayLike<number>, a: number, b: number): Float32Array {
  return Float32Array.from(p, (v) => 1 / (1 + Math.exp(-(a * logit(v) + b))));
}

export function applyCalibration(p: Float32Array, c: Calibration): Float32Array {
  if (c.kind === 'temperature') return applyTemperature(p, c.temperature);
  if (c.kind === 'platt') return applyPlatt(p, c.a, c.b);
  return p;
}

/** Mean negative log-likelihood of the truth under single-label probabilities. */
export function singleLabelNll(probs: ArrayLike<number>[], truth: number[][]): number {
  let s = 0;
  probs.forEach((p, i) => (s -= Math.log(Math.max(EPS, p[truth[i][0]]))));
  return s / Math.max(1, probs.length);
}

/**
 * The temperature in [1/8, 8] that minimises the held-out NLL (a golden-section search on log T, the NLL being
 * unimodal in it); 1 when there is nothing to fit.
 */
export function fitTemperature(probs: ArrayLike<number>[], truth: number[][]): number {
  if (probs.length < 2) return 1;
  const nll = (logT: number) => singleLabelNll(probs.map((p) => applyTemperature(p, Math.exp(logT))), truth);
  let lo = Math.log(1 / 8);
  let hi = Math.log(8);
  const g = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - g * (hi - lo);
  let x2 = lo + g * (hi - lo);
  let f1 = nll(x1);
  let f2 = nll(x2);
  for (let it = 0; it < 40; it++) {
    if (f1 <= f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - g * (hi - lo);
      f1 = nll(x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + g * (hi - lo);
      f2 = nll(x2);
    }
  }
  const t = Math.exp((lo + hi) / 2);
  // Keep T = 1 unless fitting really helps: a flat NLL is no reason to move.
  return nll(Math.log(t)) < nll(0) - 1e-9 ? t : 1;
}

/**
 * Platt scaling of per-value probabilities: a and b of σ(a · logit(p) + b) minimising the binary NLL over every
 * (sample, value) pair, by Newton's method with a small ridge towards the identity (a = 1, b = 0).
 */
export function fitPlatt(probs: ArrayLike<number>[], truth: number[][], nValues: number): { a: number; b: number } {
  const xs: number[] = [];
  const ys: number[] = [];
  probs.forEach((p, i) => {
    for (let v = 0; v < nValues; v++) {
      xs.push(logit(p[v]));
      ys.push(truth[i].includes(v) ? 1 : 0);
    }
  });
  if (xs.length < 2 || ys.every((y) => y === ys[0])) return { a: 1, b: 0 };
  let a = 1;
  let b = 0;
  const ridge = 1e-3 * xs.length;
  const objective = (a0: number, b0: number) => {
    let f = 0.5 * ridge * ((a0 - 1) ** 2 + b0 * b0);
    for (let i = 0; i < xs.length; i++) {
      const z = a0 * xs[i] + b0;
      // log(1 + e^z) − y z, computed stably
      f += (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) - ys[i] * z;
    }
    return f;
  };
  let f = objective(a, b);
  for (let it = 0; it < 100; it++) {
    let ga = ridge * (a - 1);
    let gb = ridge * b;
    let haa = ridge;
    let hab = 0;
    let hbb = ridge;
    for (let i = 0; i < xs.length; i++) {
      const q = 1 / (1 + Math.exp(-(a * xs[i] + b)));
      const r = q - ys[i];
      const w = q * (1 - q);
      ga += r * xs[i];
      gb += r;
      haa += w * xs[i] * xs[i];
      hab += w * xs[i];
      hbb += w;
    }
    const det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    // Backtracking: a Newton step on a nearly flat direction can overshoot.
    let step = 1;
    let next = objective(a - da, b - db);
    while (next > f && step > 1e-6) {
      step /= 2;
      next = objective(a - step * da, b - step * db);
    }
    if (next > f) break;
    a -= step * da;
    b -= step * db;
    const done = f - next < 1e-12 * Math.max(1, Math.abs(f));
    f = next;
    if (done) break;
  }
  return Number.isFinite(a) && Number.isFinite(b) && a > 0 ? { a, b } : { a: 1, b: 0 };
}

/** Fit the calibration of a head's held-out probabilities. */
export function fitCalibration(probs: ArrayLike<number>[], truth: number[][], nValues: number, multiLabel: boolean): Calibration {
  if (multiLabel) return { kind: 'platt', ...fitPlatt(probs, truth, nValues) };
  return { kind: 'temperature', temperature: fitTemperature(probs, truth) };
}

/**
 * Expected calibration error (Naeini et al. 2015): the top-value confidence of each sample in `bins` equal bins,
 * and the weighted mean gap between each bin's mean confidence and its accuracy. Single-label.
 */
export function expectedCalibrationError(probs: ArrayLike<number>[], truth: number[][], bins = 10): number {
  const conf = new Float64Array(bins);
  const acc = new Float64Array(bins);
  const count = new Float64Array(bins);
  probs.forEach((p, i) => {
    let top = 0;
    for (let v = 1; v < p.length; v++) if (p[v] > p[top]) top = v;
    const b = Math.min(bins - 1, Math.floor(p[top] * bins));
    conf[b] += p[top];
    acc[b] += top === truth[i][0] ? 1 : 0;
    count[b]++;
  });
  let e = 0;
  for (let b = 0; b < bins; b++) if (count[b]) e += (count[b] / probs.length) * Math.abs(conf[b] / count[b] - acc[b] / count[b]);
  return e;
}

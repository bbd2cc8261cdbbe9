import { Random } from '../../util/random.js';

/**
 * k-means for the artist-group dictionaries of seed 000 §3.1 (2048 codes over MFCC or ΔMFCC frames):
 * k-means++ seeding, then Lloyd iterations, on row-major `Float32Array` points `[n, dim]`. Hand-written rather
 * than taken from a package because the general-purpose ones hold points as arrays of arrays, which at
 * hundreds of thousands of frames × 2048 codes is an order of magnitude slower than flat typed arrays.
 * An empty cluster is re-seeded with the point farthest from its centre, so every code stays in use.
 */
export interface Codebook {
  k: number;
  dim: number;
  /** `[k, dim]`. */
  centres: Float32Array;
  /** Mean squared distance of the points to their centre after each iteration (never increases). */
  inertia: number[];
}

function dist2(a: Float32Array, ai: number, b: Float32Array, bi: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) {
    const d = a[ai + j] - b[bi + j];
    s += d * d;
  }
  return s;
}

/** The index of the nearest centre to point `i` of `x`, and its squared distance. */
export function nearest(cb: Codebook, x: Float32Array, i: number): { code: number; d2: number } {
  let best = 0;
  let bestD = Infinity;
  const off = i * cb.dim;
  for (let c = 0; c < cb.k; c++) {
    const d = dist2(x, off, cb.centres, c * cb.dim, cb.dim);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return { code: best, d2: bestD };
}

export function kmeans(x: Float32Array, dim: number, k: number, { iterations = 25, seed = 1, tol = 1e-6 } = {}): Codebook {
  const n = Math.floor(x.length / dim);
  if (!Number.isInteger(k) || k < 1) throw new Error(`k must be a positive whole number, got ${k}`);
  if (n < k) throw new Error(`k-means with ${k} codes needs at least ${k} points; got ${n}.`);
  const rng = new Random(seed);
  const centres = new Float32Array(k * dim);
  // k-means++: each next centre drawn with probability ∝ squared distance to the nearest chosen one.
  const d2 = new Float64Array(n).fill(Infinity);
  let pick = Math.floor(rng.next() * n);
  for (let c = 0; c < k; c++) {
    centres.set(x.subarray(pick * dim, (pick + 1) * dim), c * dim);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = dist2(x, i * dim, centres, c * dim, dim);
      if (d < d2[i]) d2[i] = d;
      total += d2[i];
    }
    if (c === k - 1) break;
    let r = rng.next() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= d2[i];
      if (r <= 0) {
        pick = i;
        break;
      }
    }
  }
  const cb: Codebook = { k, dim, centres, inertia: [] };
  const assign = new Int32Array(n);
  const sums = new Float64Array(k * dim);
  const counts = new Int32Array(k);
  for (let it = 0; it < iterations; it++) {
    sums.fill(0);
    counts.fill(0);
    let inertia = 0;
    let far = 0;
    let farD = -1;
    for (let i = 0; i < n; i++) {
      const { code, d2: d } = nearest(cb, x, i);
      assign[i] = code;
      inertia += d;
      if (d > farD) {
        farD = d;
        far = i;
      }
      counts[code]++;
      for (let j = 0; j < dim; j++) sums[code * dim + j] += x[i * dim + j];
    }
    cb.inertia.push(inertia / n);
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) {
        centres.set(x.subarray(far * dim, (far + 1) * dim), c * dim);
        continue;
      }
      for (let j = 0; j < dim; j++) centres[c * dim + j] = sums[c * dim + j] / counts[c];
    }
    const m = cb.inertia.length;
    if (m > 1 && cb.inertia[m - 2] - cb.inertia[m - 1] <= tol * Math.max(1e-12, cb.inertia[m - 2])) break;
  }
  return cb;
}

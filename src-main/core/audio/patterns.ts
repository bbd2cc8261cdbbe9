import { powerFft } from './fft.js';
import type { Matrix } from './matrix.js';

/**
 * Block-level features of a log-mel spectrogram, after Seyerlehner, Widmer & Pohle, "Fusing block-level features
 * for music similarity estimation" (DAFx 2010) — the features of the best-rated systems in MIREX's audio music
 * similarity task 2010–2011 — and Pampalk's fluctuation patterns (Pampalk, Rauber & Merkl 2002) on a logarithmic
 * modulation-frequency axis, as in Pohle et al.'s onset patterns (ISMIR 2009):
 * - `spectralPattern`: how each band's level is distributed within short blocks (a timbre "texture" that keeps
 *   some time structure), summarised over the track by a high percentile;
 * - the same on the band-wise absolute level changes (`delta: true`): how busy each band is;
 * - `fluctuationPattern`: the modulation spectrum of each band's level over 3 s windows (rhythm and tremolo per
 *   register), median over windows.
 * Every function takes the excerpts' log-mel power in dB `[nMels, nFrames]` (the `dsp` front end: hop 512 at
 * 22 050 Hz, ≈ 43 frames/s) and treats each excerpt on its own, so nothing straddles a join.
 */

/** Mean of `nBands` equal runs of consecutive mel bands `[nBands, nFrames]` (`nMels` must be a multiple). */
export function coarseBands(logMel: Matrix, nBands: number): Float64Array {
  const per = logMel.rows / nBands;
  if (!Number.isInteger(per)) throw new Error(`coarseBands: ${logMel.rows} mel bands do not split into ${nBands}`);
  const T = logMel.cols;
  const out = new Float64Array(nBands * T);
  for (let b = 0; b < nBands; b++) {
    for (let r = b * per; r < (b + 1) * per; r++) {
      const base = r * T;
      for (let t = 0; t < T; t++) out[b * T + t] += logMel.data[base + t];
    }
    for (let t = 0; t < T; t++) out[b * T + t] /= per;
  }
  return out;
}

/** The `k`-th smallest of `x[0 … n)` (0-based), by Hoare's selection (quickselect); reorders `x`. */
function select(x: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    // median of three as the pivot
    const mid = (lo + hi) >>> 1;
    const a = x[lo];
    const b = x[mid];
    const c = x[hi];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (x[i] < pivot) i++;
      while (x[j] > pivot) j--;
      if (i <= j) {
        const t = x[i];
        x[i] = x[j];
        x[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return x[k];
  }
  return x[k];
}

/**
 * The `p`-th percentile (0–100) of `x` with linear interpolation between closest ranks (numpy's default
 * `np.percentile(x, p)`), by selection rather than a full sort. Reorders `x`.
 */
export function percentileInPlace(x: Float64Array, p: number): number {
  const n = x.length;
  if (n === 0) return 0;
  const pos = (p / 100) * (n - 1);
  const i = Math.floor(pos);
  const f = pos - i;
  const lo = select(x, n, i);
  if (f === 0 || i + 1 >= n) return lo;
  // after selecting the i-th, everything above index i is ≥ it: the (i+1)-th is their minimum
  let hi = Infinity;
  for (let j = i + 1; j < n; j++) if (x[j] < hi) hi = x[j];
  return lo + f * (hi - lo);
}

export interface SpectralPatternOptions {
  /** Coarse bands (equal runs of mel bands). */
  nBands: number;
  /** Frames per block, and the hop between blocks. */
  blockSize: number;
  blockHop: number;
  /** The percentile over blocks that summarises each (band, rank). */
  percentile: number;
  /** Sorted ranks kept of each block's `blockSize` values (0 = the block's lowest). */
  ranks: readonly number[];
  /** Take the pattern of `|Δ level|` between consecutive frames instead of the level. */
  delta: boolean;
}

export const SPECTRAL_PATTERN: SpectralPatternOptions = { nBands: 16, blockSize: 10, blockHop: 5, percentile: 90, ranks: [0, 3, 6, 9], delta: false };
export const DELTA_PATTERN: SpectralPatternOptions = { ...SPECTRAL_PATTERN, delta: true };

export function spectralPatternDim(o: SpectralPatternOptions): number {
  return o.nBands * o.ranks.length;
}

/** Sort `a[from, from + n)` in place (insertion sort: for the 10 values of a block, far cheaper than `Array#sort`). */
function sortShort(a: Float64Array, n: number, from = 0): void {
  for (let i = from + 1; i < from + n; i++) {
    const v = a[i];
    let j = i - 1;
    while (j >= from && a[j] > v) {
      a[j + 1] = a[j];
      j--;
    }
    a[j + 1] = v;
  }
}

/**
 * Spectral pattern (Seyerlehner et al. 2010 §2.1, on coarse mel bands): every block of `blockSize` frames is cut
 * from each excerpt (hop `blockHop`); within a block each band's values are sorted; over all blocks of all
 * excerpts, the `percentile`-th of each (band, rank) is kept for the `ranks` asked. `[nBands × ranks.length]`,
 * band-major. With `delta`, the same on `|x[t] − x[t−1]|` per band. Excerpts shorter than a block add nothing;
 * with no block at all, zeros.
 */
export function spectralPattern(excerpts: readonly Matrix[], o: SpectralPatternOptions): Float64Array {
  return spectralPatternOfBands(
    excerpts.map((m) => ({ bands: coarseBands(m, o.nBands), frames: m.cols })),
    o,
  );
}

/** `spectralPattern` of excerpts already reduced to `o.nBands` coarse bands `[nBands, frames]`. */
export function spectralPatternOfBands(excerpts: ReadonlyArray<{ bands: Float64Array; frames: number }>, o: SpectralPatternOptions): Float64Array {
  const { nBands, blockSize: W, blockHop, ranks } = o;
  const nR = ranks.length;
  let nBlocks = 0;
  for (const e of excerpts) {
    const T = o.delta ? e.frames - 1 : e.frames;
    if (T >= W) nBlocks += Math.floor((T - W) / blockHop) + 1;
  }
  // [nBands × nR, nBlocks]: the kept ranks of every block
  const kept = new Float64Array(nBands * nR * nBlocks);
  const block = new Float64Array(W);
  // When blocks are two hops long (the default), each hop-long chunk is sorted once and a block's ranks come from
  // merging its two sorted halves: the same values, for about a third of the comparisons.
  const halves = W === 2 * blockHop && ranks.every((r, i) => i === 0 || r > ranks[i - 1]);
  const maxRank = Math.max(...ranks);
  let j0 = 0;
  for (const e of excerpts) {
    const { bands, frames } = e;
    const T = o.delta ? frames - 1 : frames;
    const nHere = T >= W ? Math.floor((T - W) / blockHop) + 1 : 0;
    const series = new Float64Array(T);
    const chunks = halves ? new Float64Array((nHere + 1) * blockHop) : null;
    for (let b = 0; b < nBands; b++) {
      const base = b * frames;
      if (o.delta) for (let i = 0; i < T; i++) series[i] = Math.abs(bands[base + i + 1] - bands[base + i]);
      else for (let i = 0; i < T; i++) series[i] = bands[base + i];
      if (chunks) {
        for (let c = 0; c <= nHere; c++) {
          const at = c * blockHop;
          for (let i = 0; i < blockHop; i++) chunks[at + i] = series[at + i];
          sortShort(chunks, blockHop, at);
        }
        for (let k = 0; k < nHere; k++) {
          // Merge chunk k and chunk k + 1 up to the highest rank asked for.
          let x = k * blockHop;
          let y = x + blockHop;
          const xEnd = y;
          const yEnd = y + blockHop;
          for (let r = 0, n = 0; n <= maxRank; n++) {
            const v = y >= yEnd || (x < xEnd && chunks[x] <= chunks[y]) ? chunks[x++] : chunks[y++];
            if (n === ranks[r]) kept[(b * nR + r++) * nBlocks + j0 + k] = v;
          }
        }
      } else {
        for (let k = 0; k < nHere; k++) {
          const s0 = k * blockHop;
          for (let i = 0; i < W; i++) block[i] = series[s0 + i];
          sortShort(block, W);
          for (let r = 0; r < nR; r++) kept[(b * nR + r) * nBlocks + j0 + k] = block[ranks[r]];
        }
      }
    }
    j0 += nHere;
  }
  const out = new Float64Array(spectralPatternDim(o));
  for (let i = 0; i < out.length; i++) out[i] = percentileInPlace(kept.subarray(i * nBlocks, (i + 1) * nBlocks), o.percentile);
  return out;
}

export interface FluctuationOptions {
  nBands: number;
  /** Window length and hop in frames (128 frames ≈ 3 s at hop 512). */
  window: number;
  hop: number;
  /** Modulation-frequency bins, log-spaced between `fmin` and `fmax` Hz. */
  nBins: number;
  fmin: number;
  fmax: number;
  /** Frames per second of the log-mel. */
  frameRate: number;
}

export const FLUCTUATION: FluctuationOptions = { nBands: 8, window: 128, hop: 64, nBins: 12, fmin: 0.4, fmax: 12, frameRate: 22050 / 512 };

export function fluctuationDim(o: FluctuationOptions): number {
  return o.nBands * o.nBins;
}

interface FluctuationPlan {
  /** Symmetric Hann window (`np.hanning`). */
  hann: Float64Array;
  /** Per output bin: the DFT bins averaged, or an interpolation between two of them. */
  take: Array<{ kind: 'mean'; k: number[] } | { kind: 'interp'; k0: number; k1: number; frac: number }>;
}

const plans = new Map<string, FluctuationPlan>();
function fluctuationPlan(o: FluctuationOptions): FluctuationPlan {
  const key = JSON.stringify(o);
  const hit = plans.get(key);
  if (hit) return hit;
  const N = o.window;
  const hann = Float64Array.from({ length: N }, (_, n) => 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / (N - 1)));
  const df = o.frameRate / N;
  const nFreq = Math.floor(N / 2) + 1;
  const edges = Array.from({ length: o.nBins + 1 }, (_, i) => o.fmin * (o.fmax / o.fmin) ** (i / o.nBins));
  const take: FluctuationPlan['take'] = [];
  for (let i = 0; i < o.nBins; i++) {
    const ks: number[] = [];
    for (let k = 0; k < nFreq; k++) if (k * df >= edges[i] && k * df < edges[i + 1]) ks.push(k);
    if (ks.length) take.push({ kind: 'mean', k: ks });
    else {
      // No DFT bin falls in this (narrow, low) band: interpolate the spectrum at its geometric centre.
      const f = Math.sqrt(edges[i] * edges[i + 1]);
      const k0 = Math.min(nFreq - 2, Math.floor(f / df));
      take.push({ kind: 'interp', k0, k1: k0 + 1, frac: f / df - k0 });
    }
  }
  const plan = { hann, take };
  plans.set(key, plan);
  return plan;
}

/**
 * Fluctuation pattern on a log modulation-frequency axis: for each window of `window` frames (hop `hop`) of each
 * excerpt and each coarse band, the band's level minus its mean over the window, times a Hann window, then the
 * DFT magnitude, averaged within `nBins` log-spaced modulation bands from `fmin` to `fmax` Hz (interpolated where
 * a band holds no DFT bin); the median over all windows, then log(1 + x). `[nBands × nBins]`, band-major. With
 * no window at all (every excerpt under 3 s), zeros. The DFT is `powerFft`'s (PFFFT, float32).
 */
export function fluctuationPattern(excerpts: readonly Matrix[], o: FluctuationOptions = FLUCTUATION): Float64Array {
  return fluctuationPatternOfBands(
    excerpts.map((m) => ({ bands: coarseBands(m, o.nBands), frames: m.cols })),
    o,
  );
}

/** `fluctuationPattern` of excerpts already reduced to `o.nBands` coarse bands `[nBands, frames]`. */
export function fluctuationPatternOfBands(excerpts: ReadonlyArray<{ bands: Float64Array; frames: number }>, o: FluctuationOptions = FLUCTUATION): Float64Array {
  const plan = fluctuationPlan(o);
  const N = o.window;
  let nWin = 0;
  for (const e of excerpts) if (e.frames >= N) nWin += Math.floor((e.frames - N) / o.hop) + 1;
  const perWindow = new Float64Array(o.nBands * o.nBins * nWin); // [nBands × nBins, nWin]
  const fft = powerFft(N);
  const p = new Float32Array(N / 2 + 1);
  const mag = new Float64Array(N / 2 + 1);
  let w = 0;
  for (const { bands, frames: T } of excerpts) {
    for (let s = 0; s + N <= T; s += o.hop, w++) {
      for (let b = 0; b < o.nBands; b++) {
        const base = b * T + s;
        let mean = 0;
        for (let n = 0; n < N; n++) mean += bands[base + n];
        mean /= N;
        const input = fft.input;
        for (let n = 0; n < N; n++) input[n] = (bands[base + n] - mean) * plan.hann[n];
        fft.power(p);
        for (let k = 0; k < mag.length; k++) mag[k] = Math.sqrt(p[k]);
        for (let j = 0; j < plan.take.length; j++) {
          const t = plan.take[j];
          let v: number;
          if (t.kind === 'mean') {
            v = 0;
            for (const k of t.k) v += mag[k];
            v /= t.k.length;
          } else v = mag[t.k0] + t.frac * (mag[t.k1] - mag[t.k0]);
          perWindow[(b * o.nBins + j) * nWin + w] = v;
        }
      }
    }
  }
  const out = new Float64Array(fluctuationDim(o));
  for (let i = 0; i < out.length; i++) out[i] = Math.log1p(percentileInPlace(perWindow.subarray(i * nWin, (i + 1) * nWin), 50));
  return out;
}

/**
 * Halve the band count of coarse bands `[2 nBands, frames]` by averaging neighbours: the same as `coarseBands` at
 * half the bands, from the finer result (a mean of equal-sized means).
 */
export function pairBands(bands: Float64Array, frames: number): Float64Array {
  const n = bands.length / frames / 2;
  const out = new Float64Array(n * frames);
  for (let b = 0; b < n; b++) for (let t = 0; t < frames; t++) out[b * frames + t] = 0.5 * (bands[2 * b * frames + t] + bands[(2 * b + 1) * frames + t]);
  return out;
}

/**
 * The three block-level features of `dsp` from one reduction of each excerpt to 16 coarse bands (8 for the
 * fluctuation pattern, by pairing): spectral pattern, delta spectral pattern, fluctuation pattern.
 */
export function blockLevelFeatures(excerpts: readonly Matrix[]): { spectral: Float64Array; delta: Float64Array; fluctuation: Float64Array } {
  if (SPECTRAL_PATTERN.nBands !== 2 * FLUCTUATION.nBands || DELTA_PATTERN.nBands !== SPECTRAL_PATTERN.nBands) throw new Error('block-level band counts must pair');
  const fine = excerpts.map((m) => ({ bands: coarseBands(m, SPECTRAL_PATTERN.nBands), frames: m.cols }));
  const coarse = fine.map((e) => ({ bands: pairBands(e.bands, e.frames), frames: e.frames }));
  return {
    spectral: spectralPatternOfBands(fine, SPECTRAL_PATTERN),
    delta: spectralPatternOfBands(fine, DELTA_PATTERN),
    fluctuation: fluctuationPatternOfBands(coarse, FLUCTUATION),
  };
}

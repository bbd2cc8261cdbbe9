import { dct2 } from './fft.js';
import { matrix, type Matrix } from './matrix.js';
import { melFilterbank } from './mel.js';
import { spectrogram } from './stft.js';

export interface MelSpectrogramOptions {
  sr: number;
  nFft: number;
  hopLength: number;
  nMels: number;
  fmin?: number;
  fmax?: number;
  power?: number;
}

/** Each row's non-zero span `[k0[r], k1[r])` (empty when the row is all zeros). */
export function nonZeroSpans(fb: Matrix): { k0: Int32Array; k1: Int32Array } {
  const k0 = new Int32Array(fb.rows);
  const k1 = new Int32Array(fb.rows);
  for (let m = 0; m < fb.rows; m++) {
    let a = 0;
    while (a < fb.cols && fb.data[m * fb.cols + a] === 0) a++;
    let b = fb.cols;
    while (b > a && fb.data[m * fb.cols + b - 1] === 0) b--;
    k0[m] = a;
    k1[m] = b;
  }
  return { k0, k1 };
}

/** Apply a `[nMels, nBins]` filterbank to a `[nBins, nFrames]` spectrogram, skipping the zero weights. */
export function applyFilterbank(fb: Matrix, S: Matrix): Matrix {
  if (fb.cols !== S.rows) throw new Error(`filterbank has ${fb.cols} bins, spectrogram ${S.rows}`);
  const nFrames = S.cols;
  const out = matrix(fb.rows, nFrames);
  const { k0, k1 } = nonZeroSpans(fb);
  // Over blocks of frames, so the block of S stays in cache while every filter reads it; each output is the
  // same float64 sum in the same order (bins ascending) as without blocking.
  const acc = new Float64Array(FRAME_BLOCK);
  for (let t0 = 0; t0 < nFrames; t0 += FRAME_BLOCK) {
    const n = Math.min(FRAME_BLOCK, nFrames - t0);
    for (let m = 0; m < fb.rows; m++) {
      acc.fill(0, 0, n);
      const base = m * fb.cols;
      for (let k = k0[m]; k < k1[m]; k++) {
        const w = fb.data[base + k];
        if (w === 0) continue;
        const srow = k * nFrames + t0;
        for (let t = 0; t < n; t++) acc[t] += w * S.data[srow + t];
      }
      const orow = m * nFrames + t0;
      for (let t = 0; t < n; t++) out.data[orow + t] = acc[t];
    }
  }
  return out;
}

/** Frames per block in the matrix loops: a block of a 513-bin spectrogram (≈ 260 KB) stays in L2. */
const FRAME_BLOCK = 128;

/**
 * Mel spectrogram as `librosa.feature.melspectrogram(y=y, sr=sr, n_fft=nFft, hop_length=hopLength, n_mels=nMels,
 * fmin=fmin, fmax=fmax, power=power)` (centred frames, constant padding, periodic Hann). `[nMels, nFrames]`.
 */
export function melspectrogram(y: Float32Array, o: MelSpectrogramOptions): Matrix {
  const S = spectrogram(y, { nFft: o.nFft, hopLength: o.hopLength, power: o.power ?? 2 });
  return melspectrogramFromSpectrogram(S, o);
}

/** The same from a precomputed `[1 + nFft/2, nFrames]` power spectrogram. */
export function melspectrogramFromSpectrogram(S: Matrix, o: Omit<MelSpectrogramOptions, 'hopLength'>): Matrix {
  const fb = melFilterbank({ sr: o.sr, nFft: o.nFft, nMels: o.nMels, fmin: o.fmin, fmax: o.fmax });
  return applyFilterbank(fb, S);
}

const DB_PER_NEPER = 10 / Math.LN10;

export interface PowerToDbOptions {
  ref?: number;
  amin?: number;
  /** `null` disables clipping; librosa's default is 80. */
  topDb?: number | null;
}

/** `librosa.power_to_db`: 10·log10(max(S, amin)) − 10·log10(max(ref, amin)), floored at max − topDb. */
export function powerToDb(S: Matrix, { ref = 1, amin = 1e-10, topDb = 80 }: PowerToDbOptions = {}): Matrix {
  if (amin <= 0) throw new Error('powerToDb: amin must be positive');
  if (topDb !== null && topDb < 0) throw new Error('powerToDb: topDb must be non-negative');
  const out = matrix(S.rows, S.cols);
  const offset = 10 * Math.log10(Math.max(amin, ref));
  let max = -Infinity;
  const d = S.data;
  const o = out.data;
  for (let i = 0; i < d.length; i++) {
    // Through the natural log: twice as fast as Math.log10, the same value to float64 rounding.
    const v = DB_PER_NEPER * Math.log(Math.max(amin, d[i])) - offset;
    o[i] = v;
    max = v > max ? v : max;
  }
  if (topDb !== null) {
    const floor = max - topDb;
    for (let i = 0; i < o.length; i++) o[i] = o[i] < floor ? floor : o[i];
  }
  return out;
}

/**
 * DCT-II (ortho) along the rows of `[nBands, nFrames]`, keeping the first `nOut` coefficients: `[nOut, nFrames]`.
 * Each frame's coefficients come from `dct2`: one float32 real FFT of the column where PFFFT is loaded (as
 * librosa's own float32 DCT; within 1e-6 of the column's magnitude of the float64 sums), the sums otherwise.
 */
export function dctRows(S: Matrix, nOut: number): Matrix {
  if (nOut > S.rows) throw new Error(`cannot keep ${nOut} DCT coefficients of ${S.rows} bands`);
  const dct = dct2(S.rows, nOut);
  const out = matrix(nOut, S.cols);
  const { rows, cols, data } = S;
  const column = new Float64Array(rows);
  for (let t = 0; t < cols; t++) {
    for (let i = 0; i < rows; i++) column[i] = data[i * cols + t];
    dct.run(column, out.data, t, cols);
  }
  return out;
}

export interface MfccOptions extends MelSpectrogramOptions {
  nMfcc?: number;
}

/**
 * `librosa.feature.mfcc(y=y, sr=sr, n_mfcc=nMfcc, ...)`: DCT-II (ortho) of `power_to_db(mel, top_db=80)`.
 * `[nMfcc, nFrames]`.
 */
export function mfcc(y: Float32Array, o: MfccOptions): Matrix {
  return mfccFromMel(melspectrogram(y, o), o.nMfcc ?? 20);
}

/** MFCC from a precomputed `[nMels, nFrames]` mel power spectrogram. */
export function mfccFromMel(mel: Matrix, nMfcc = 20): Matrix {
  return dctRows(powerToDb(mel), nMfcc);
}

/**
 * Least-squares weights that give the `order`-th derivative of a degree-`order` polynomial fitted to `width`
 * equally spaced samples (Savitzky–Golay with `deriv = polyorder = order`). That derivative is constant over
 * the window, which is what makes scipy's `mode='interp'` edges equal to the first and last full windows.
 */
function savgolWeights(width: number, order: number): Float64Array {
  const half = (width - 1) / 2;
  const p = order + 1;
  // Normal equations A^T A c = A^T x with A[i][j] = (i - half)^j; we need row `order` of (A^T A)^-1 A^T.
  const ata: number[][] = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  for (let i = 0; i < width; i++) {
    const x = i - half;
    for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) ata[a][b] += Math.pow(x, a + b);
  }
  const inv = invert(ata);
  const w = new Float64Array(width);
  let factorial = 1;
  for (let j = 2; j <= order; j++) factorial *= j;
  for (let i = 0; i < width; i++) {
    const x = i - half;
    let s = 0;
    for (let b = 0; b < p; b++) s += inv[order][b] * Math.pow(x, b);
    w[i] = s * factorial;
  }
  return w;
}

function invert(m: number[][]): number[][] {
  const n = m.length;
  const a = m.map((r, i) => [...r, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r][c]) > Math.abs(a[piv][c])) piv = r;
    [a[c], a[piv]] = [a[piv], a[c]];
    const d = a[c][c];
    for (let j = 0; j < 2 * n; j++) a[c][j] /= d;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r][c];
      for (let j = 0; j < 2 * n; j++) a[r][j] -= f * a[c][j];
    }
  }
  return a.map((r) => r.slice(n));
}

export interface DeltaOptions {
  /** Odd window length ≥ 3; librosa's default is 9. */
  width?: number;
  /** 1 for Δ, 2 for ΔΔ. */
  order?: number;
}

/**
 * `librosa.feature.delta(data, width=width, order=order, axis=-1, mode='interp')` along the frames of
 * `[nFeatures, nFrames]`.
 */
export function delta(data: Matrix, { width = 9, order = 1 }: DeltaOptions = {}): Matrix {
  if (width < 3 || width % 2 !== 1) throw new Error(`delta: width must be an odd integer ≥ 3, got ${width}`);
  if (order < 1 || !Number.isInteger(order)) throw new Error(`delta: order must be a positive integer, got ${order}`);
  if (data.cols < width) {
    throw new Error(`delta: need at least width=${width} frames, got ${data.cols} (use a shorter width or a longer excerpt)`);
  }
  const w = savgolWeights(width, order);
  const half = (width - 1) / 2;
  const n = data.cols;
  const out = matrix(data.rows, n);
  for (let r = 0; r < data.rows; r++) {
    const base = r * n;
    const interior = new Float64Array(n);
    for (let t = half; t < n - half; t++) {
      let s = 0;
      for (let i = 0; i < width; i++) s += w[i] * data.data[base + t - half + i];
      interior[t] = s;
    }
    for (let t = 0; t < n; t++) {
      const src = t < half ? half : t >= n - half ? n - half - 1 : t;
      out.data[base + t] = interior[src];
    }
  }
  return out;
}

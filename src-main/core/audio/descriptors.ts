import { fftFrequencies } from './stft.js';
import { matrix, type Matrix } from './matrix.js';

/**
 * Frame-level descriptors in the manner of `librosa.feature` / `librosa.onset`. Each spectral descriptor exists
 * twice over one implementation: per frame, on one power spectrum `p` `[1 + nFft/2]` (what the fused `dsp`
 * front end calls while it walks the STFT), and per matrix, on a power spectrogram `S` `[1 + nFft/2, nFrames]`.
 */

/** Tables the spectral descriptors of one `(sr, nFft)` need, built once. */
export interface SpectrumTables {
  sr: number;
  nFft: number;
  nBins: number;
  /** Bin centre frequencies, Hz. `[nBins]` */
  freqs: Float64Array;
  /** Spectral-contrast bands as bin ranges `[k0, k1)`. */
  contrastBands: Array<[number, number]>;
  /** Chroma filterbank rows as their non-zero bins and weights (float32, as the matrix holds them). */
  chroma: Array<{ bins: Int32Array; weights: Float32Array }>;
}

const CONTRAST_FMIN = 200;
const CONTRAST_BANDS = 6;
const CONTRAST_QUANTILE = 0.02;
/** Rows spectral contrast yields: one per octave band plus the band below `fmin`. */
export const N_CONTRAST = CONTRAST_BANDS + 1;

function contrastBands(freqs: Float64Array, fmin: number, nBands: number): Array<[number, number]> {
  const edges = [0, ...Array.from({ length: nBands + 1 }, (_, i) => fmin * 2 ** i)];
  const bands: Array<[number, number]> = [];
  for (let b = 0; b <= nBands; b++) {
    const lo = edges[b];
    const hi = b === nBands ? Infinity : edges[b + 1];
    let k0 = freqs.findIndex((f) => f >= lo);
    let k1 = freqs.findIndex((f) => f > hi);
    if (k1 < 0) k1 = freqs.length;
    if (k0 < 0) k0 = freqs.length - 1;
    if (b > 0) k0 = Math.max(0, k0 - 1);
    bands.push([k0, Math.max(k0 + 1, k1)]);
  }
  return bands;
}

const tablesCache = new Map<string, SpectrumTables>();
export function spectrumTables(sr: number, nFft: number): SpectrumTables {
  const key = `${sr}/${nFft}`;
  const hit = tablesCache.get(key);
  if (hit) return hit;
  const freqs = fftFrequencies(sr, nFft);
  const fb = chromaFilterbank(sr, nFft);
  const chroma = Array.from({ length: 12 }, (_, c) => {
    const bins: number[] = [];
    for (let k = 0; k < fb.cols; k++) if (fb.data[c * fb.cols + k] !== 0) bins.push(k);
    return { bins: Int32Array.from(bins), weights: Float32Array.from(bins, (k) => fb.data[c * fb.cols + k]) };
  });
  const t: SpectrumTables = { sr, nFft, nBins: freqs.length, freqs, contrastBands: contrastBands(freqs, CONTRAST_FMIN, CONTRAST_BANDS), chroma };
  tablesCache.set(key, t);
  return t;
}

/** Spectral centroid of one frame from its magnitudes `mag = sqrt(p)`, Hz (`librosa.feature.spectral_centroid`). */
export function frameCentroid(mag: ArrayLike<number>, freqs: Float64Array): number {
  let num = 0;
  let den = 0;
  for (let k = 0; k < mag.length; k++) {
    num += freqs[k] * mag[k];
    den += mag[k];
  }
  return den > 1e-12 ? num / den : 0;
}

/** Spectral bandwidth (p=2) of one frame's magnitudes about its centroid, Hz. */
export function frameBandwidth(mag: ArrayLike<number>, freqs: Float64Array, centroid: number): number {
  let num = 0;
  let den = 0;
  for (let k = 0; k < mag.length; k++) {
    const d = freqs[k] - centroid;
    num += mag[k] * d * d;
    den += mag[k];
  }
  return den > 1e-12 ? Math.sqrt(num / den) : 0;
}

/** Frequency below which `rollPercent` of one frame's magnitude lies. */
export function frameRolloff(mag: ArrayLike<number>, freqs: Float64Array, rollPercent = 0.85): number {
  let total = 0;
  for (let k = 0; k < mag.length; k++) total += mag[k];
  let acc = 0;
  for (let k = 0; k < mag.length; k++) {
    acc += mag[k];
    if (acc >= rollPercent * total) return freqs[k];
  }
  return 0;
}

/**
 * Spectral flatness of one frame: geometric / arithmetic mean of power, floored at `amin`. The log of the
 * geometric mean is summed over products of 16 bins (each in [amin, ~1e9], so a product stays far inside
 * float64's range): one logarithm per 16 bins instead of one per bin.
 */
export function frameFlatness(p: ArrayLike<number>, amin = 1e-10): number {
  let logSum = 0;
  let sum = 0;
  let prod = 1;
  let inProd = 0;
  for (let k = 0; k < p.length; k++) {
    const v = p[k] > amin ? p[k] : amin;
    sum += v;
    prod *= v;
    if (++inProd === 16) {
      logSum += Math.log(prod);
      prod = 1;
      inProd = 0;
    }
  }
  logSum += Math.log(prod);
  return Math.exp(logSum / p.length) / (sum / p.length);
}

const contrastScratch = { small: new Float32Array(64), large: new Float32Array(64) };

/**
 * Spectral contrast of one frame (`librosa.feature.spectral_contrast`, fmin 200, 6 octave bands, quantile 0.02):
 * dB difference between the mean magnitude of the top and of the bottom quantile of each band, written to
 * `out[at + b * stride]` for `b` in `[0, N_CONTRAST)`.
 */
export function frameContrast(p: ArrayLike<number>, bands: ReadonlyArray<[number, number]>, out: Float32Array, at: number, stride: number): void {
  for (let b = 0; b < bands.length; b++) {
    const [k0, k1] = bands[b];
    const q = Math.max(1, Math.round(CONTRAST_QUANTILE * (k1 - k0)));
    let lo = 0;
    let hi = 0;
    if (q === 1) {
      // The common case (bands under 75 bins): the quantile means are the minimum and the maximum.
      let mn = Infinity;
      let mx = -Infinity;
      for (let k = k0; k < k1; k++) {
        const a = p[k];
        mn = a < mn ? a : mn;
        mx = a > mx ? a : mx;
      }
      lo = Math.sqrt(mn);
      hi = Math.sqrt(mx);
    } else {
      // The q smallest and q largest values by insertion into two small sorted buffers (q ≪ n), not a sort.
      if (contrastScratch.small.length < q) {
        contrastScratch.small = new Float32Array(q);
        contrastScratch.large = new Float32Array(q);
      }
      // The scratch buffers themselves, not views of them: a view per band and frame is an allocation each.
      const { small, large } = contrastScratch;
      for (let i = 0; i < q; i++) {
        small[i] = Infinity;
        large[i] = -Infinity;
      }
      for (let k = k0; k < k1; k++) {
        const a = p[k];
        if (a < small[q - 1]) {
          let i = q - 1;
          while (i > 0 && small[i - 1] > a) {
            small[i] = small[i - 1];
            i--;
          }
          small[i] = a;
        }
        if (a > large[q - 1]) {
          let i = q - 1;
          while (i > 0 && large[i - 1] < a) {
            large[i] = large[i - 1];
            i--;
          }
          large[i] = a;
        }
      }
      for (let i = 0; i < q; i++) {
        lo += Math.sqrt(small[i]);
        hi += Math.sqrt(large[i]);
      }
    }
    out[at + b * stride] = 10 * Math.log10(Math.max(1e-10, hi / q)) - 10 * Math.log10(Math.max(1e-10, lo / q));
  }
}

/** Chroma energy of one frame (the chroma filterbank applied to power), written to `out[at + c * stride]`. */
export function frameChroma(p: ArrayLike<number>, chroma: SpectrumTables['chroma'], out: Float32Array, at: number, stride: number): void {
  for (let c = 0; c < 12; c++) {
    const { bins, weights } = chroma[c];
    let acc = 0;
    for (let i = 0; i < bins.length; i++) acc += weights[i] * p[bins[i]];
    out[at + c * stride] = acc;
  }
}

/**
 * Call `fn(p, t)` for each frame of `S` `[nBins, nFrames]` with the frame's values in a reused buffer; with
 * `magnitude`, `p` holds their square roots.
 */
function eachFrame(S: Matrix, fn: (p: Float64Array, t: number) => void, magnitude = false): void {
  const col = new Float64Array(S.rows);
  for (let t = 0; t < S.cols; t++) {
    for (let k = 0; k < S.rows; k++) col[k] = magnitude ? Math.sqrt(S.data[k * S.cols + t]) : S.data[k * S.cols + t];
    fn(col, t);
  }
}

/** Spectral centroid per frame, Hz. `[nFrames]` */
export function spectralCentroid(S: Matrix, sr: number, nFft: number): Float32Array {
  const { freqs } = spectrumTables(sr, nFft);
  const out = new Float32Array(S.cols);
  eachFrame(S, (mag, t) => (out[t] = frameCentroid(mag, freqs)), true);
  return out;
}

/** Spectral bandwidth (p=2) about the centroid, Hz. `[nFrames]` */
export function spectralBandwidth(S: Matrix, sr: number, nFft: number, centroid: Float32Array): Float32Array {
  const { freqs } = spectrumTables(sr, nFft);
  const out = new Float32Array(S.cols);
  eachFrame(S, (mag, t) => (out[t] = frameBandwidth(mag, freqs, centroid[t])), true);
  return out;
}

/** Frequency below which `rollPercent` of the magnitude lies. `[nFrames]` */
export function spectralRolloff(S: Matrix, sr: number, nFft: number, rollPercent = 0.85): Float32Array {
  const { freqs } = spectrumTables(sr, nFft);
  const out = new Float32Array(S.cols);
  eachFrame(S, (mag, t) => (out[t] = frameRolloff(mag, freqs, rollPercent)), true);
  return out;
}

/** Spectral flatness (geometric / arithmetic mean of power, amin 1e-10). `[nFrames]` */
export function spectralFlatness(S: Matrix, amin = 1e-10): Float32Array {
  const out = new Float32Array(S.cols);
  eachFrame(S, (p, t) => (out[t] = frameFlatness(p, amin)));
  return out;
}

/** Spectral contrast per frame. `[N_CONTRAST, nFrames]` */
export function spectralContrast(S: Matrix, sr: number, nFft: number): Matrix {
  const { contrastBands: bands } = spectrumTables(sr, nFft);
  const out = matrix(bands.length, S.cols);
  eachFrame(S, (p, t) => frameContrast(p, bands, out.data, t, S.cols));
  return out;
}

/**
 * Onset strength envelope (`librosa.onset.onset_strength`, lag 1): mean over bands `[b0, b1)` of the positive
 * first difference of a log-power (dB) spectrogram `[nBands, nFrames]`. `[nFrames]`
 */
export function onsetStrength(logS: Matrix, b0 = 0, b1 = logS.rows): Float32Array {
  const out = new Float32Array(logS.cols);
  for (let r = b0; r < b1; r++) {
    const base = r * logS.cols;
    for (let t = 1; t < logS.cols; t++) {
      const d = logS.data[base + t] - logS.data[base + t - 1];
      if (d > 0) out[t] += d;
    }
  }
  const n = b1 - b0;
  for (let t = 0; t < out.length; t++) out[t] /= n;
  return out;
}

/**
 * `onsetStrength` over all bands and over each of the contiguous bands `[edges[i], edges[i+1])` (covering
 * every row), in one pass over the spectrogram: the all-band envelope is the band sums' total over all rows.
 * The sums are float64, so the envelopes equal `onsetStrength`'s (float32 sums) to float32 rounding.
 */
export function bandOnsets(logS: Matrix, edges: readonly number[]): { all: Float32Array; bands: Float32Array[] } {
  if (edges[0] !== 0 || edges[edges.length - 1] !== logS.rows) throw new Error(`band edges must run from 0 to ${logS.rows}`);
  const n = logS.cols;
  const d = logS.data;
  const sums = edges.slice(1).map(() => new Float64Array(n));
  for (let b = 0; b < sums.length; b++) {
    const acc = sums[b];
    for (let r = edges[b]; r < edges[b + 1]; r++) {
      const base = r * n;
      let prev = d[base];
      for (let t = 1; t < n; t++) {
        const v = d[base + t];
        const x = v - prev;
        // A conditional expression, not a branch: whether a band rises is a coin toss for the branch predictor.
        acc[t] += x > 0 ? x : 0;
        prev = v;
      }
    }
  }
  const all = new Float32Array(n);
  const bands = sums.map((acc, b) => {
    const out = new Float32Array(n);
    const rows = edges[b + 1] - edges[b];
    for (let t = 0; t < n; t++) out[t] = acc[t] / rows;
    return out;
  });
  for (let t = 0; t < n; t++) {
    let total = 0;
    for (const acc of sums) total += acc[t];
    all[t] = total / logS.rows;
  }
  return { all, bands };
}

/**
 * An onset envelope smoothed by a small Gaussian (σ in frames), so that a beat period falling between two
 * frame lags still gives one clear autocorrelation peak instead of two half-height ones.
 */
export function smoothEnvelope(x: Float32Array, sigma = 1): Float32Array {
  const half = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * half + 1 }, (_, i) => Math.exp(-0.5 * ((i - half) / sigma) ** 2));
  const norm = kernel.reduce((a, b) => a + b, 0);
  const out = new Float32Array(x.length);
  for (let t = 0; t < x.length; t++) {
    let s = 0;
    for (let i = -half; i <= half; i++) {
      const j = t + i;
      if (j >= 0 && j < x.length) s += kernel[i + half] * x[j];
    }
    out[t] = s / norm;
  }
  return out;
}

/** Normalised autocorrelation of a mean-removed envelope for lags 0…maxLag. */
export function autocorrelation(x: Float32Array, maxLag: number): Float64Array {
  const n = x.length;
  let mean = 0;
  for (const v of x) mean += v;
  mean /= Math.max(1, n);
  const r = new Float64Array(maxLag + 1);
  for (let l = 0; l <= maxLag && l < n; l++) {
    let s = 0;
    for (let t = 0; t + l < n; t++) s += (x[t] - mean) * (x[t + l] - mean);
    r[l] = s;
  }
  const r0 = r[0] > 1e-12 ? r[0] : 1;
  for (let l = 0; l <= maxLag; l++) r[l] /= r0;
  return r;
}

/** Tempo (BPM) from an onset envelope's autocorrelation, weighted by librosa's log-normal prior around 120 BPM. */
export function tempoFromAcf(acf: Float64Array, framesPerSecond: number, { startBpm = 120, stdBpm = 1, minBpm = 30, maxBpm = 300 } = {}): {
  bpm: number;
  strength: number;
} {
  let best = 0;
  let bestLag = 0;
  for (let l = 1; l < acf.length; l++) {
    const bpm = (60 * framesPerSecond) / l;
    if (bpm < minBpm || bpm > maxBpm) continue;
    const prior = Math.exp(-0.5 * (Math.log2(bpm / startBpm) / stdBpm) ** 2);
    const score = acf[l] * prior;
    if (score > best) {
      best = score;
      bestLag = l;
    }
  }
  if (bestLag === 0) return { bpm: startBpm, strength: 0 };
  // Parabolic interpolation around the peak for a sub-frame lag.
  let lag = bestLag;
  if (bestLag > 1 && bestLag < acf.length - 1) {
    const a = acf[bestLag - 1];
    const b = acf[bestLag];
    const c = acf[bestLag + 1];
    const den = a - 2 * b + c;
    if (den < 0) lag = bestLag + (0.5 * (a - c)) / den;
  }
  return { bpm: (60 * framesPerSecond) / lag, strength: acf[bestLag] };
}

/**
 * Summarise an autocorrelation (a tempogram averaged over time) as its maximum in `nBins` log-spaced tempo bins
 * between `minBpm` and `maxBpm`. `[nBins]`
 */
export function tempogramSummary(acf: Float64Array, framesPerSecond: number, nBins: number, minBpm = 40, maxBpm = 320): Float32Array {
  const out = new Float32Array(nBins).fill(-1);
  const lo = Math.log2(minBpm);
  const hi = Math.log2(maxBpm);
  for (let l = 1; l < acf.length; l++) {
    const bpm = (60 * framesPerSecond) / l;
    const pos = (Math.log2(bpm) - lo) / (hi - lo);
    if (pos < 0 || pos >= 1) continue;
    const b = Math.floor(pos * nBins);
    if (acf[l] > out[b]) out[b] = acf[l];
  }
  // Bins no integer lag falls into (fast tempi): interpolate the ACF at the bin centre.
  for (let b = 0; b < nBins; b++) {
    if (out[b] > -1) continue;
    const bpm = 2 ** (lo + ((b + 0.5) / nBins) * (hi - lo));
    const lag = (60 * framesPerSecond) / bpm;
    const i = Math.floor(lag);
    const frac = lag - i;
    out[b] = i + 1 < acf.length ? (1 - frac) * acf[i] + frac * acf[i + 1] : 0;
  }
  return out;
}

const chromaCache = new Map<string, Matrix>();
/**
 * A chroma filterbank `[12, 1 + nFft/2]`: each bin's energy goes to its pitch class with a Gaussian of
 * 1 semitone width (cut at ±2.5 semitones), weighted towards the middle octaves (as `librosa.filters.chroma` does with its octave
 * Gaussian centred on C5 = 5 octaves above C0, width 2 octaves). Chroma index 0 is C.
 */
export function chromaFilterbank(sr: number, nFft: number): Matrix {
  const key = `${sr}/${nFft}`;
  const hit = chromaCache.get(key);
  if (hit) return hit;
  const freqs = fftFrequencies(sr, nFft);
  const fb = matrix(12, freqs.length);
  for (let k = 1; k < freqs.length; k++) {
    const f = freqs[k];
    if (f < 40 || f > 5000) continue;
    const midi = 69 + 12 * Math.log2(f / 440);
    const octave = midi / 12 - 1; // C0 = MIDI 12
    const octaveWeight = Math.exp(-0.5 * ((octave - 5) / 2) ** 2);
    for (let c = 0; c < 12; c++) {
      let d = Math.abs(((midi - c) % 12 + 12) % 12);
      if (d > 6) d = 12 - d;
      // Cut at 2.5 semitones, where the Gaussian is below 4e-6 of its peak: 5 of 12 classes per bin.
      if (d <= 2.5) fb.data[c * freqs.length + k] = octaveWeight * Math.exp(-0.5 * (d / 0.5) ** 2);
    }
  }
  chromaCache.set(key, fb);
  return fb;
}

// Krumhansl–Kessler key profiles.
const MAJOR = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88];
const MINOR = [6.33, 2.68, 3.52, 5.38, 2.6, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17];

function pearson(a: ArrayLike<number>, b: ArrayLike<number>, shift: number): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < 12; i++) {
    ma += a[(i + shift) % 12];
    mb += b[i];
  }
  ma /= 12;
  mb /= 12;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < 12; i++) {
    const x = a[(i + shift) % 12] - ma;
    const y = b[i] - mb;
    num += x * y;
    da += x * x;
    db += y * y;
  }
  return da > 0 && db > 0 ? num / Math.sqrt(da * db) : 0;
}

/** Best key by profile correlation: tonic pitch class, mode, and both modes' best correlations. */
export function estimateKey(chromaMean: ArrayLike<number>): { tonic: number; major: boolean; majorStrength: number; minorStrength: number } {
  let bestMaj = -2;
  let bestMin = -2;
  let tMaj = 0;
  let tMin = 0;
  for (let s = 0; s < 12; s++) {
    const a = pearson(chromaMean, MAJOR, s);
    const b = pearson(chromaMean, MINOR, s);
    if (a > bestMaj) [bestMaj, tMaj] = [a, s];
    if (b > bestMin) [bestMin, tMin] = [b, s];
  }
  const major = bestMaj >= bestMin;
  return { tonic: major ? tMaj : tMin, major, majorStrength: bestMaj, minorStrength: bestMin };
}

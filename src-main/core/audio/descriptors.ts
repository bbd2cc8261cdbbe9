import { fftFrequencies } from './stft.js';
import { matrix, type Matrix } from './matrix.js';

/**
 * Frame-level descriptors in the manner of `librosa.feature` / `librosa.onset`, computed from a precomputed
 * power spectrogram `S` `[1 + nFft/2, nFrames]` so one STFT serves every descriptor.
 */

/** Spectral centroid per frame, Hz (`librosa.feature.spectral_centroid` on magnitudes). `[nFrames]` */
export function spectralCentroid(S: Matrix, sr: number, nFft: number): Float32Array {
  const f = fftFrequencies(sr, nFft);
  const out = new Float32Array(S.cols);
  const num = new Float64Array(S.cols);
  const den = new Float64Array(S.cols);
  for (let k = 0; k < S.rows; k++) {
    const base = k * S.cols;
    for (let t = 0; t < S.cols; t++) {
      const m = Math.sqrt(S.data[base + t]);
      num[t] += f[k] * m;
      den[t] += m;
    }
  }
  for (let t = 0; t < S.cols; t++) out[t] = den[t] > 1e-12 ? num[t] / den[t] : 0;
  return out;
}

/** Spectral bandwidth (p=2) about the centroid, Hz. `[nFrames]` */
export function spectralBandwidth(S: Matrix, sr: number, nFft: number, centroid: Float32Array): Float32Array {
  const f = fftFrequencies(sr, nFft);
  const num = new Float64Array(S.cols);
  const den = new Float64Array(S.cols);
  for (let k = 0; k < S.rows; k++) {
    const base = k * S.cols;
    for (let t = 0; t < S.cols; t++) {
      const m = Math.sqrt(S.data[base + t]);
      const d = f[k] - centroid[t];
      num[t] += m * d * d;
      den[t] += m;
    }
  }
  const out = new Float32Array(S.cols);
  for (let t = 0; t < S.cols; t++) out[t] = den[t] > 1e-12 ? Math.sqrt(num[t] / den[t]) : 0;
  return out;
}

/** Frequency below which `rollPercent` of the magnitude lies. `[nFrames]` */
export function spectralRolloff(S: Matrix, sr: number, nFft: number, rollPercent = 0.85): Float32Array {
  const f = fftFrequencies(sr, nFft);
  const total = new Float64Array(S.cols);
  for (let k = 0; k < S.rows; k++) for (let t = 0; t < S.cols; t++) total[t] += Math.sqrt(S.data[k * S.cols + t]);
  const out = new Float32Array(S.cols);
  const acc = new Float64Array(S.cols);
  const done = new Uint8Array(S.cols);
  for (let k = 0; k < S.rows; k++) {
    for (let t = 0; t < S.cols; t++) {
      if (done[t]) continue;
      acc[t] += Math.sqrt(S.data[k * S.cols + t]);
      if (acc[t] >= rollPercent * total[t]) {
        out[t] = f[k];
        done[t] = 1;
      }
    }
  }
  return out;
}

/** Spectral flatness (geometric / arithmetic mean of power, amin 1e-10). `[nFrames]` */
export function spectralFlatness(S: Matrix, amin = 1e-10): Float32Array {
  const logSum = new Float64Array(S.cols);
  const sum = new Float64Array(S.cols);
  for (let k = 0; k < S.rows; k++) {
    const base = k * S.cols;
    for (let t = 0; t < S.cols; t++) {
      const p = Math.max(amin, S.data[base + t]);
      logSum[t] += Math.log(p);
      sum[t] += p;
    }
  }
  const out = new Float32Array(S.cols);
  for (let t = 0; t < S.cols; t++) out[t] = Math.exp(logSum[t] / S.rows) / (sum[t] / S.rows);
  return out;
}

/**
 * Spectral contrast in octave bands above `fmin` (`librosa.feature.spectral_contrast`, nBands=6, quantile 0.02):
 * dB difference between the mean of the top and bottom quantile of each band. `[nBands + 1, nFrames]`
 */
export function spectralContrast(S: Matrix, sr: number, nFft: number, { fmin = 200, nBands = 6, quantile = 0.02 } = {}): Matrix {
  const freqs = fftFrequencies(sr, nFft);
  const edges = [0, ...Array.from({ length: nBands + 1 }, (_, i) => fmin * 2 ** i)];
  const out = matrix(nBands + 1, S.cols);
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
  const scratch = new Float32Array(S.rows);
  const scratchHi = new Float32Array(S.rows);
  for (let t = 0; t < S.cols; t++) {
    for (let b = 0; b < bands.length; b++) {
      const [k0, k1] = bands[b];
      const n = k1 - k0;
      const v = scratch.subarray(0, n);
      const q = Math.max(1, Math.round(quantile * n));
      let lo = 0;
      let hi = 0;
      if (q === 1) {
        // The common case (bands under 75 bins): the quantile means are the minimum and the maximum.
        let mn = Infinity;
        let mx = -Infinity;
        for (let k = k0; k < k1; k++) {
          const a = S.data[k * S.cols + t];
          if (a < mn) mn = a;
          if (a > mx) mx = a;
        }
        lo = Math.sqrt(mn);
        hi = Math.sqrt(mx);
      } else {
        // The q smallest and q largest values by insertion into two small sorted buffers (q ≪ n), not a sort.
        const small = v.subarray(0, q).fill(Infinity);
        const large = scratchHi.subarray(0, q).fill(-Infinity);
        for (let k = k0; k < k1; k++) {
          const a = S.data[k * S.cols + t];
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
      out.data[b * S.cols + t] = 10 * Math.log10(Math.max(1e-10, hi / q)) - 10 * Math.log10(Math.max(1e-10, lo / q));
    }
  }
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
 * 1 semitone width, weighted towards the middle octaves (as `librosa.filters.chroma` does with its octave
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
      fb.data[c * freqs.length + k] = octaveWeight * Math.exp(-0.5 * (d / 0.5) ** 2);
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

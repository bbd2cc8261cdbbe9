import { fftFrequencies } from './stft.js';
import { matrix, type Matrix } from './matrix.js';

// Slaney's auditory-toolbox mel scale (librosa `htk=False`): linear below 1 kHz, logarithmic above.
const F_SP = 200 / 3;
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP;
const LOGSTEP = Math.log(6.4) / 27;

export function hzToMel(hz: number): number {
  return hz >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(hz / MIN_LOG_HZ) / LOGSTEP : hz / F_SP;
}

export function melToHz(mel: number): number {
  return mel >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp(LOGSTEP * (mel - MIN_LOG_MEL)) : F_SP * mel;
}

/** `n` frequencies evenly spaced on the mel scale between `fmin` and `fmax` (librosa `mel_frequencies`). */
export function melFrequencies(n: number, fmin: number, fmax: number): Float64Array {
  const lo = hzToMel(fmin);
  const hi = hzToMel(fmax);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = melToHz(lo + ((hi - lo) * i) / (n - 1));
  return out;
}

export interface MelOptions {
  sr: number;
  nFft: number;
  nMels: number;
  fmin?: number;
  /** Defaults to `sr / 2`. */
  fmax?: number;
}

const cache = new Map<string, Matrix>();

/**
 * The mel filterbank of librosa 0.10 (`librosa.filters.mel`, Slaney scale, Slaney area norm), float32.
 * Shape `[nMels, 1 + nFft/2]`.
 */
export function melFilterbank({ sr, nFft, nMels, fmin = 0, fmax }: MelOptions): Matrix {
  const top = fmax ?? sr / 2;
  const key = `${sr}/${nFft}/${nMels}/${fmin}/${top}`;
  const hit = cache.get(key);
  if (hit) return hit;
  if (!(fmin >= 0 && top > fmin && top <= sr / 2 + 1e-9)) {
    throw new Error(`mel filterbank: need 0 ≤ fmin < fmax ≤ sr/2, got fmin=${fmin}, fmax=${top}, sr=${sr}`);
  }
  const nBins = 1 + nFft / 2;
  const fftFreqs = fftFrequencies(sr, nFft);
  const melF = melFrequencies(nMels + 2, fmin, top);
  const weights = matrix(nMels, nBins);
  for (let i = 0; i < nMels; i++) {
    const fdiffLo = melF[i + 1] - melF[i];
    const fdiffHi = melF[i + 2] - melF[i + 1];
    const enorm = 2 / (melF[i + 2] - melF[i]);
    for (let k = 0; k < nBins; k++) {
      const lower = -(melF[i] - fftFreqs[k]) / fdiffLo;
      const upper = (melF[i + 2] - fftFreqs[k]) / fdiffHi;
      const w = Math.max(0, Math.min(lower, upper));
      // librosa builds the float32 weights first and then scales them in float32.
      weights.data[i * nBins + k] = Math.fround(Math.fround(w) * Math.fround(enorm));
    }
  }
  cache.set(key, weights);
  return weights;
}

import { powerFft } from './fft.js';
import { hzToMel, melToHz } from './mel.js';

/**
 * The input of Essentia's MusiCNN models (Pons & Serra 2019, "musicnn: pre-trained convolutional neural networks
 * for music audio tagging"), exactly as Essentia computes it: `TensorflowInputMusiCNN` on each frame, the frames
 * cut as Essentia's `TensorflowPredictMusiCNN` cuts them, and its patches.
 *
 * Per frame (`TensorflowInputMusiCNN::configure`): a Hann window, not normalised (Essentia's `Windowing`,
 * symmetric: 0.5 − 0.5·cos(2πi/(N−1))); the magnitude spectrum of 512 points (257 bins); `MelBands` with 96
 * bands on the Slaney mel scale from 0 to 8000 Hz, triangles linear in Hz ("linear" weighting), each scaled to
 * unit area (`unit_tri`: 2 / (f[i+2] − f[i])), over the power spectrum (MelBands' default `type`, "power",
 * squares the magnitudes); then log10(1 + 10000·x).
 *
 * Frames: 512 samples at 16 kHz with a hop of 256, from the first sample, whole frames only (`FrameCutter` with
 * `startFromZero` true and `validFrameThresholdRatio` 1, as `TensorflowPredictMusiCNN` configures it).
 * Patches: 187 frames with a hop of 93 (its `patchHopSize`), the last incomplete patch discarded
 * (`lastPatchMode` "discard"); audio shorter than one patch (3 s) is zero-padded to one.
 *
 * Tested against essentia.js (`EssentiaTFInputExtractor(EssentiaWASM, 'musicnn')`) to 1e-4.
 */
export const MUSICNN_INPUT = {
  sr: 16000,
  frameSize: 512,
  hopLength: 256,
  nMels: 96,
  fmax: 8000,
  patchFrames: 187,
  patchHop: 93,
} as const;

let filters: { start: Int32Array; weights: Float32Array[] } | null = null;

/**
 * The 96 mel filters over the 257 bins of a 512-point spectrum at 16 kHz (Essentia `TriangularBands` as
 * `MelBands` configures it): filter i has its edges at mel-equally-spaced frequencies f[i], f[i+1], f[i+2]
 * between 0 and 8000 Hz (Slaney scale), weight (f − f[i]) / (f[i+1] − f[i]) rising and (f[i+2] − f) /
 * (f[i+2] − f[i+1]) falling at each bin's frequency f = k·16000/512, times 2 / (f[i+2] − f[i]).
 * Returns, per filter, its first bin and its weights from there ([nMels] of [width]).
 */
export function musicnnFilterbank(): { start: Int32Array; weights: Float32Array[] } {
  if (filters) return filters;
  const { sr, frameSize, nMels, fmax } = MUSICNN_INPUT;
  const nBins = frameSize / 2 + 1;
  const lo = hzToMel(0);
  const hi = hzToMel(fmax);
  const edges = new Float64Array(nMels + 2);
  for (let i = 0; i < nMels + 2; i++) edges[i] = melToHz(lo + ((hi - lo) * i) / (nMels + 1));
  const start = new Int32Array(nMels);
  const weights: Float32Array[] = [];
  for (let i = 0; i < nMels; i++) {
    const [a, b, c] = [edges[i], edges[i + 1], edges[i + 2]];
    const w = new Float64Array(nBins);
    let first = -1;
    let last = -1;
    for (let k = 0; k < nBins; k++) {
      const f = (k * sr) / frameSize;
      let v = 0;
      if (f >= a && f < b) v = (f - a) / (b - a);
      else if (f >= b && f <= c) v = (c - f) / (c - b);
      if (v > 0) {
        if (first < 0) first = k;
        last = k;
      }
      w[k] = (v * 2) / (c - a);
    }
    if (first < 0) {
      first = 0;
      last = -1;
    }
    start[i] = first;
    weights.push(Float32Array.from(w.subarray(first, last + 1)));
  }
  filters = { start, weights };
  return filters;
}

let window: Float32Array | null = null;
function hannSymmetric(): Float32Array {
  if (window) return window;
  const n = MUSICNN_INPUT.frameSize;
  window = new Float32Array(n);
  for (let i = 0; i < n; i++) window[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
  return window;
}

/** Frames a signal of `nSamples` gives: whole 512-sample frames every 256 samples from the first (0 if shorter). */
export function musicnnFrameCount(nSamples: number): number {
  const { frameSize, hopLength } = MUSICNN_INPUT;
  return nSamples < frameSize ? 0 : Math.floor((nSamples - frameSize) / hopLength) + 1;
}

/**
 * The log-compressed mel bands of every frame of `y` (mono, 16 kHz, float samples in [−1, 1]).
 * Returns `[nFrames, 96]` row-major (frame by frame, as the model reads them).
 */
export function musicnnMelBands(y: Float32Array): { data: Float32Array; nFrames: number } {
  const { frameSize, hopLength, nMels } = MUSICNN_INPUT;
  const nFrames = musicnnFrameCount(y.length);
  const data = new Float32Array(nFrames * nMels);
  const fft = powerFft(frameSize);
  const win = hannSymmetric();
  const { start, weights } = musicnnFilterbank();
  const power = new Float32Array(frameSize / 2 + 1);
  for (let t = 0; t < nFrames; t++) {
    const input = fft.input;
    const off = t * hopLength;
    for (let i = 0; i < frameSize; i++) input[i] = y[off + i] * win[i];
    fft.power(power);
    const row = t * nMels;
    for (let m = 0; m < nMels; m++) {
      const w = weights[m];
      const s = start[m];
      let acc = 0;
      for (let j = 0; j < w.length; j++) acc += w[j] * power[s + j];
      data[row + m] = Math.log10(1 + 10000 * acc);
    }
  }
  return { data, nFrames };
}

/**
 * Cut `[nFrames, 96]` mel bands into the model's patches: 187 frames every 93, the last incomplete one dropped;
 * fewer than 187 frames are zero-padded to one patch. Returns `[nPatches, 187, 96]` row-major.
 */
export function musicnnPatches(bands: { data: Float32Array; nFrames: number }): { data: Float32Array; nPatches: number } {
  const { patchFrames, patchHop, nMels } = MUSICNN_INPUT;
  const size = patchFrames * nMels;
  if (bands.nFrames < patchFrames) {
    const data = new Float32Array(size);
    data.set(bands.data.subarray(0, Math.min(bands.data.length, size)));
    return { data, nPatches: bands.nFrames > 0 ? 1 : 0 };
  }
  const nPatches = Math.floor((bands.nFrames - patchFrames) / patchHop) + 1;
  const data = new Float32Array(nPatches * size);
  for (let p = 0; p < nPatches; p++) data.set(bands.data.subarray(p * patchHop * nMels, p * patchHop * nMels + size), p * size);
  return { data, nPatches };
}

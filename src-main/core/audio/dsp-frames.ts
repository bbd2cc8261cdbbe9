import { frameBandwidth, frameCentroid, frameChroma, frameContrast, frameFlatness, frameRolloff, N_CONTRAST, spectrumTables } from './descriptors.js';
import { dct2 } from './fft.js';
import { nonZeroSpans } from './features.js';
import { matrix, type Matrix } from './matrix.js';
import { melFilterbank } from './mel.js';
import { forEachPowerFrame } from './stft.js';

/** Rows of `DspFrames.shape`, in order. */
export const SHAPE_ROW = {
  centroid: 0,
  bandwidth: 1,
  rolloff: 2,
  flatness: 3,
  /** `N_CONTRAST` rows of spectral contrast from here. */
  contrast: 4,
  /** 12 rows of chroma energy (C first) from here. */
  chroma: 4 + N_CONTRAST,
} as const;
export const N_SHAPE = SHAPE_ROW.chroma + 12;

export interface DspFrameOptions {
  sr: number;
  nFft: number;
  hopLength: number;
  nMels: number;
  nMfcc: number;
  /** Spectral shape is taken on every `decimate`-th frame. */
  decimate: number;
  /** dB floor of the log-mel power (absolute, so each frame depends on itself alone). */
  amin: number;
}

/** Everything the `dsp` representation reads from one excerpt's STFT. */
export interface DspFrames {
  hopLength: number;
  /** Log-mel power in dB, `10·log10(max(amin, mel))` `[nMels, nFrames]`. */
  logMel: Matrix;
  /** DCT-II (ortho) of `logMel` `[nMfcc, nFrames]`. */
  mfcc: Matrix;
  /** Spectral shape of frames 0, d, 2d, … (see `SHAPE_ROW`) `[N_SHAPE, ceil(nFrames / decimate)]`. */
  shape: Matrix;
}

const DB_PER_NEPER = 10 / Math.LN10;

interface SparseRows {
  k0: Int32Array;
  k1: Int32Array;
  weights: Float32Array;
  nBins: number;
}

const sparseCache = new Map<Matrix, SparseRows>();
/** Each filterbank row's non-zero span `[k0, k1)`, for sums that skip the zeros of a triangular filter. */
function sparseRows(fb: Matrix): SparseRows {
  const hit = sparseCache.get(fb);
  if (hit) return hit;
  const s = { ...nonZeroSpans(fb), weights: fb.data, nBins: fb.cols };
  sparseCache.set(fb, s);
  return s;
}

/** One frame's filterbank sums, `out[m] = Σ_k fb[m, k] · p[k]` over each row's span, in float64, bins ascending. */
function filterbankSums(fb: SparseRows, p: Float32Array, out: Float64Array): void {
  const { k0, k1, weights, nBins } = fb;
  for (let m = 0; m < out.length; m++) {
    let acc = 0;
    const base = m * nBins;
    const end = k1[m];
    for (let k = k0[m]; k < end; k++) acc += weights[base + k] * p[k];
    out[m] = acc;
  }
}

/** A frame's power spectrum, and optionally its mel sums (float64, librosa's filterbank) already taken. */
type FrameVisitor = (p: Float32Array, t: number, melSums?: Float64Array) => void;

/**
 * What `dspFrames` does with each STFT frame, as a visitor for frames 0 … nFrames-1 in order, filling the
 * result's matrices: the mel power (librosa's filterbank), its dB and MFCC, and on every `decimate`-th frame the
 * spectral shape (centroid, bandwidth, rolloff, flatness, contrast, chroma).
 */
function dspVisitor(nFrames: number, o: DspFrameOptions): { visit: FrameVisitor; frames: DspFrames } {
  const mel = sparseRows(melFilterbank({ sr: o.sr, nFft: o.nFft, nMels: o.nMels }));
  const dct = dct2(o.nMels, o.nMfcc);
  const tables = spectrumTables(o.sr, o.nFft);
  const nShape = Math.ceil(nFrames / o.decimate);
  const logMel = matrix(o.nMels, nFrames);
  const mfcc = matrix(o.nMfcc, nFrames);
  const shape = matrix(N_SHAPE, nShape);
  const column = new Float64Array(o.nMels);
  const mag = new Float64Array(tables.nBins);
  const L = logMel.data;
  const C = mfcc.data;
  const X = shape.data;
  // Hoisted into locals: the per-frame loops below are the hottest code of an analysis.
  const { nMels, decimate, amin } = o;
  const own = new Float64Array(nMels);
  const visit: FrameVisitor = (p, t, melSums) => {
    let sums = melSums;
    if (!sums) {
      filterbankSums(mel, p, own);
      sums = own;
    }
    for (let m = 0; m < nMels; m++) {
      const acc = sums[m];
      // float32 mel power, then its dB as powerToDb computes it (ref 1: an offset of 0), through the natural
      // log, which is twice as fast as Math.log10 here and rounds to the same float32.
      const db = Math.fround(DB_PER_NEPER * Math.log(Math.max(amin, Math.fround(acc))));
      column[m] = db;
      L[m * nFrames + t] = db;
    }
    dct.run(column, C, t, nFrames);
    if (t % decimate !== 0) return;
    const j = t / decimate;
    for (let k = 0; k < mag.length; k++) mag[k] = Math.sqrt(p[k]);
    const centroid = Math.fround(frameCentroid(mag, tables.freqs));
    X[SHAPE_ROW.centroid * nShape + j] = centroid;
    X[SHAPE_ROW.bandwidth * nShape + j] = frameBandwidth(mag, tables.freqs, centroid);
    X[SHAPE_ROW.rolloff * nShape + j] = frameRolloff(mag, tables.freqs);
    X[SHAPE_ROW.flatness * nShape + j] = frameFlatness(p);
    frameContrast(p, tables.contrastBands, X, SHAPE_ROW.contrast * nShape + j, nShape);
    frameChroma(p, tables.chroma, X, SHAPE_ROW.chroma * nShape + j, nShape);
  };
  return { visit, frames: { hopLength: o.hopLength, logMel, mfcc, shape } };
}

/**
 * The `dsp` front end of one excerpt in a single pass over its STFT frames, never holding the spectrogram (see
 * `dspVisitor`). Each value equals what the matrix functions (`spectrogram` → `melspectrogramFromSpectrogram`
 * → `powerToDb` → `dctRows`, and the descriptors on the decimated spectrogram) give, to float32 rounding: the
 * same float32 spectrum and mel power, the same sums; the MFCC through `dct2`, a float32 FFT like librosa's own
 * DCT (to 1e-6 of the log-mel's magnitude). `null` when the excerpt has fewer than `minFrames` frames.
 */
export function dspFrames(y: Float32Array, o: DspFrameOptions, minFrames = 16): DspFrames | null {
  const nFrames = 1 + Math.floor(y.length / o.hopLength);
  if (nFrames < minFrames) return null;
  const { visit, frames } = dspVisitor(nFrames, o);
  forEachPowerFrame(y, { nFft: o.nFft, hopLength: o.hopLength }, visit);
  return frames;
}

/**
 * The mel power of a finer STFT of the same excerpt (same `nFft`, hop `o.hopLength / step`), such as the `mfcc`
 * front end's, together with the `dsp` frames, from one STFT: every `step`-th fine frame is exactly the frame
 * `dspFrames` takes (same centre, window and float32 |X|²), so `dsp` gets the same values bit for bit, and the
 * fine mel power is `melspectrogram`'s (the same sums in the same order) without the spectrogram ever being
 * held. `dsp` is `null` when the excerpt has fewer than `minFrames` dsp frames.
 */
export function dspFramesWithFineMel(
  y: Float32Array,
  o: DspFrameOptions,
  fine: { step: number; nMels: number },
  minFrames = 16,
): { dsp: DspFrames | null; melPower: Matrix } {
  const { step } = fine;
  if (!Number.isInteger(step) || step < 1 || o.hopLength % step !== 0) throw new Error(`The fine hop must divide ${o.hopLength} (step ${step}).`);
  const fineHop = o.hopLength / step;
  const nFine = 1 + Math.floor(y.length / fineHop);
  const nFrames = 1 + Math.floor(y.length / o.hopLength);
  const dsp = nFrames >= minFrames ? dspVisitor(nFrames, o) : null;
  const fb = sparseRows(melFilterbank({ sr: o.sr, nFft: o.nFft, nMels: fine.nMels }));
  const melPower = matrix(fine.nMels, nFine);
  const M = melPower.data;
  const nMels = fine.nMels;
  // The same filterbank as the dsp pass's (same sr, nFft and band count): its sums are handed over, not redone.
  const sums = new Float64Array(nMels);
  const share = nMels === o.nMels;
  forEachPowerFrame(y, { nFft: o.nFft, hopLength: fineHop }, (p, t) => {
    filterbankSums(fb, p, sums);
    for (let m = 0; m < nMels; m++) M[m * nFine + t] = sums[m];
    if (dsp && t % step === 0) dsp.visit(p, t / step, share ? sums : undefined);
  });
  return { dsp: dsp?.frames ?? null, melPower };
}

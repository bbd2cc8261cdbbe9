import { describe, expect, it } from 'vitest';
import { Random } from '../util/random.js';
import { chromaFilterbank, frameFlatness, N_CONTRAST, spectralBandwidth, spectralCentroid, spectralContrast, spectralFlatness, spectralRolloff } from './descriptors.js';
import { dspFrames, dspFramesWithFineMel, N_SHAPE, SHAPE_ROW } from './dsp-frames.js';
import { applyFilterbank, dctRows, melspectrogram, melspectrogramFromSpectrogram, powerToDb } from './features.js';
import { row, type Matrix } from './matrix.js';
import { spectrogram } from './stft.js';

const SR = 22050;
const O = { sr: SR, nFft: 1024, hopLength: 512, nMels: 128, nMfcc: 20, decimate: 2, amin: 1e-8 };

/** A chord with vibrato, a few noise bursts and a silent stretch: every bin and band sees some variety. */
function signal(seconds: number, seed = 7): Float32Array {
  const rng = new Random(seed);
  const y = new Float32Array(Math.round(seconds * SR));
  for (let i = 0; i < y.length; i++) {
    const t = i / SR;
    const vib = 1 + 0.01 * Math.sin(2 * Math.PI * 5 * t);
    let v = 0.3 * Math.sin(2 * Math.PI * 220 * vib * t) + 0.2 * Math.sin(2 * Math.PI * 277.2 * t) + 0.15 * Math.sin(2 * Math.PI * 329.6 * t);
    if (i % 11025 < 800) v += rng.uniform(-0.6, 0.6);
    y[i] = t > 1.5 && t < 1.8 ? 0 : v;
  }
  return y;
}

function decimate(S: Matrix, step: number): Matrix {
  const cols = Math.ceil(S.cols / step);
  const data = new Float32Array(S.rows * cols);
  for (let r = 0; r < S.rows; r++) for (let j = 0; j < cols; j++) data[r * cols + j] = S.data[r * S.cols + j * step];
  return { rows: S.rows, cols, data };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, abs: number, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) - rel * Math.abs(expected[i]);
    if (err > worst) {
      worst = err;
      at = i;
    }
  }
  expect(worst, `${what}: worst at ${at} (${actual[at]} vs ${expected[at]})`).toBeLessThanOrEqual(abs);
}

describe('dspFrames (the fused dsp front end)', () => {
  const y = signal(4);
  const fused = dspFrames(y, O)!;
  const S = spectrogram(y, { nFft: O.nFft, hopLength: O.hopLength });
  const logMel = powerToDb(melspectrogramFromSpectrogram(S, O), { amin: O.amin, topDb: null });
  const Sd = decimate(S, O.decimate);

  it('has the shapes it documents', () => {
    expect([fused.logMel.rows, fused.logMel.cols]).toEqual([128, S.cols]);
    expect([fused.mfcc.rows, fused.mfcc.cols]).toEqual([20, S.cols]);
    expect([fused.shape.rows, fused.shape.cols]).toEqual([N_SHAPE, Math.ceil(S.cols / 2)]);
  });

  it('gives the log-mel and MFCC of the matrix functions (spectrogram → mel → dB → DCT)', () => {
    expectClose(fused.logMel.data, logMel.data, 0, 1e-4, 'logMel');
    expectClose(fused.mfcc.data, dctRows(logMel, 20).data, 1e-6, 1e-4, 'mfcc');
  });

  it('gives the spectral shape of the descriptors on the decimated spectrogram', () => {
    const centroid = spectralCentroid(Sd, SR, O.nFft);
    expectClose(row(fused.shape, SHAPE_ROW.centroid), centroid, 1e-6, 1e-3, 'centroid');
    expectClose(row(fused.shape, SHAPE_ROW.bandwidth), spectralBandwidth(Sd, SR, O.nFft, centroid), 1e-6, 1e-3, 'bandwidth');
    expectClose(row(fused.shape, SHAPE_ROW.rolloff), spectralRolloff(Sd, SR, O.nFft), 0, 0, 'rolloff');
    expectClose(row(fused.shape, SHAPE_ROW.flatness), spectralFlatness(Sd), 1e-6, 1e-9, 'flatness');
    const contrast = spectralContrast(Sd, SR, O.nFft);
    const at = SHAPE_ROW.contrast * fused.shape.cols;
    expectClose(fused.shape.data.subarray(at, at + N_CONTRAST * fused.shape.cols), contrast.data, 1e-6, 1e-4, 'contrast');
    const chroma = applyFilterbank(chromaFilterbank(SR, O.nFft), Sd);
    const c0 = SHAPE_ROW.chroma * fused.shape.cols;
    expectClose(fused.shape.data.subarray(c0, c0 + 12 * fused.shape.cols), chroma.data, 1e-6, 1e-9, 'chroma');
  });

  it('puts a tone’s chroma energy on its pitch class', () => {
    const a440 = Float32Array.from({ length: SR }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / SR));
    const f = dspFrames(a440, O)!;
    const mid = Math.floor(f.shape.cols / 2);
    const energy = Array.from({ length: 12 }, (_, c) => f.shape.data[(SHAPE_ROW.chroma + c) * f.shape.cols + mid]);
    expect(energy.indexOf(Math.max(...energy))).toBe(9); // A
  });

  it('gives the same frames bit for bit from one STFT at half the hop, with that STFT\'s mel power (what the mfcc front end needs)', () => {
    for (const n of [y.length, y.length - 300, 16 * 512 + 1, 15 * 512]) {
      const z = y.subarray(0, n);
      const own = dspFrames(z, O);
      const both = dspFramesWithFineMel(z, O, { step: 2, nMels: 96 });
      expect(both.melPower.data).toEqual(melspectrogram(z, { sr: SR, nFft: O.nFft, hopLength: O.hopLength / 2, nMels: 96 }).data);
      if (!own) {
        expect(both.dsp).toBeNull();
        continue;
      }
      expect(both.dsp!.logMel.data).toEqual(own.logMel.data);
      expect(both.dsp!.mfcc.data).toEqual(own.mfcc.data);
      expect(both.dsp!.shape.data).toEqual(own.shape.data);
    }
    expect(() => dspFramesWithFineMel(y, O, { step: 3, nMels: 128 })).toThrow(/must divide/);
  });

  it('refuses excerpts with fewer frames than asked', () => {
    expect(dspFrames(new Float32Array(14 * 512), O)).toBeNull();
    expect(dspFrames(new Float32Array(15 * 512), O)).not.toBeNull();
  });
});

describe('frameFlatness', () => {
  const naive = (p: ArrayLike<number>, amin = 1e-10) => {
    let logSum = 0;
    let sum = 0;
    for (let k = 0; k < p.length; k++) {
      const v = Math.max(amin, p[k]);
      logSum += Math.log(v);
      sum += v;
    }
    return Math.exp(logSum / p.length) / (sum / p.length);
  };
  it('equals the per-bin logarithm sum, from silence to full-scale power, without under- or overflow', () => {
    const rng = new Random(3);
    for (const scale of [0, 1e-12, 1e-3, 1, 1e4, 1e6]) {
      const p = Float32Array.from({ length: 513 }, () => scale * rng.uniform(0, 1) ** 4);
      const got = frameFlatness(p);
      expect(Number.isFinite(got)).toBe(true);
      expect(Math.abs(got - naive(p)) / naive(p)).toBeLessThan(1e-12);
    }
  });
  it('is 1 for a flat spectrum and near 0 for a single peak', () => {
    expect(frameFlatness(new Float32Array(513).fill(2))).toBeCloseTo(1, 12);
    const peak = new Float32Array(513);
    peak[40] = 1;
    expect(frameFlatness(peak)).toBeLessThan(1e-6);
  });
});

import { autocorrelation, bandOnsets, estimateKey, N_CONTRAST, smoothEnvelope, tempoFromAcf, tempogramSummary } from './descriptors.js';
import { dspFrames, dspFramesWithFineMel, SHAPE_ROW, type DspFrames } from './dsp-frames.js';
import { delta, dctRows, powerToDb } from './features.js';
import { gaussianEmbedding, gaussianEmbeddingDim, MFCC_SPREAD } from './gaussian.js';
import { hstack, row, type Matrix } from './matrix.js';
import { blockLevelFeatures, DELTA_PATTERN, FLUCTUATION, fluctuationDim, SPECTRAL_PATTERN, spectralPatternDim } from './patterns.js';

export interface Excerpt {
  offset: number;
  duration: number;
}

/**
 * Where to listen in a track: the whole of a short track, otherwise `count` excerpts of `seconds` spread over
 * it (centred at 20 %, 50 % and 80 % for three), so an intro or a fade does not speak for the whole track.
 */
export function planExcerpts(duration: number | null, { seconds = 10, count = 3, wholeBelow = 40 } = {}): Excerpt[] {
  if (duration === null || !Number.isFinite(duration) || duration <= 0) return [{ offset: 0, duration: wholeBelow }];
  if (duration <= wholeBelow) return [{ offset: 0, duration }];
  const out: Excerpt[] = [];
  for (let i = 0; i < count; i++) {
    const centre = duration * (count === 3 ? [0.2, 0.5, 0.8][i] : (i + 1) / (count + 1));
    const offset = Math.max(0, Math.min(duration - seconds, centre - seconds / 2));
    out.push({ offset: Math.round(offset * 1000) / 1000, duration: seconds });
  }
  return out;
}

/** A run of dimensions `[start, end)` that the index normalises as one (see `normalise.ts`). */
export interface FeatureGroup {
  name: string;
  start: number;
  end: number;
  /** How much the group counts in the cosine, relative to the others (default 1). */
  weight?: number;
}

/** The MTDTL front end of the `mfcc` baseline (seed 001): 1024/256, 128 mel. */
export const FRONT_END = { nFft: 1024, hopLength: 256, nMels: 128, nMfcc: 20 } as const;
/** The `dsp` front end: the same window at twice the hop (≈ 23 ms), which is all its statistics need. */
export const DSP_FRONT_END = { nFft: 1024, hopLength: 512, nMels: 128, nMfcc: 20 } as const;

export interface Frames {
  hopLength: number;
  /** Log-mel power in dB `[nMels, nFrames]`. */
  logMel: Matrix;
  /** `[nMfcc, nFrames]`. */
  mfcc: Matrix;
}

/** Spectral-shape descriptors are taken on every 2nd dsp frame (hop 1024 samples, ≈ 46 ms). */
const DECIMATE = 2;

/**
 * The analysis front end of one excerpt. `fine` (hop 256, `power_to_db` with librosa's top_db = 80, exactly
 * librosa's MFCC) feeds `mfcc`; `coarse` (hop 512, dB floored at an absolute −80 dB so each frame depends on
 * itself alone, computed in one fused pass over the STFT) feeds `dsp`. When both are wanted, one STFT at the
 * fine hop serves both: the dsp pass takes its every other frame, the same frames bit for bit, so `dsp` vectors
 * are the same whether or not `mfcc` was computed alongside (tested).
 */
export interface FrontEnd {
  y: Float32Array;
  sr: number;
  fine: Frames | null;
  coarse: DspFrames;
}

/** Compute the front end of one excerpt (`null` when it is too short to analyse). */
export function frontEnd(y: Float32Array, sr: number, { fine = true }: { fine?: boolean } = {}): FrontEnd | null {
  const dspOptions = { sr, ...DSP_FRONT_END, decimate: DECIMATE, amin: 1e-8 };
  if (!fine) {
    const coarse = dspFrames(y, dspOptions, 16);
    return coarse ? { y, sr, fine: null, coarse } : null;
  }
  if (FRONT_END.nFft !== DSP_FRONT_END.nFft || DSP_FRONT_END.hopLength % FRONT_END.hopLength !== 0) throw new Error('the fine front end must share the dsp STFT');
  const { dsp, melPower } = dspFramesWithFineMel(y, dspOptions, { step: DSP_FRONT_END.hopLength / FRONT_END.hopLength, nMels: FRONT_END.nMels }, 16);
  if (melPower.cols < 32 || !dsp) return null;
  const logMel = powerToDb(melPower);
  return { y, sr, fine: { hopLength: FRONT_END.hopLength, logMel, mfcc: dctRows(logMel, FRONT_END.nMfcc) }, coarse: dsp };
}

/**
 * Frame RMS in dB over centred `nFft` windows (`librosa.feature.rms`, zero padded) at every `decimate`-th
 * frame, summing each window directly, with the signal's peak and total energy. When hop × decimate = nFft, as
 * here, the windows tile the signal and one pass over it gives all three (the total as the windows' sums plus
 * the tail after the last window).
 */
export function frameRmsDb(y: Float32Array, hopLength: number, nFft: number, decimate: number): { db: Float32Array; peak: number; sumSq: number } {
  const nFrames = 1 + Math.floor(y.length / hopLength);
  const db = new Float32Array(Math.ceil(nFrames / decimate));
  const tiled = hopLength * decimate === nFft;
  let peak = 0;
  let sumSq = 0;
  let covered = 0;
  for (let t = 0, j = 0; t < nFrames; t += decimate, j++) {
    const c = t * hopLength;
    const lo = Math.max(0, c - nFft / 2);
    const hi = Math.min(y.length, c + nFft / 2);
    let s = 0;
    if (tiled) {
      // Math.abs and a conditional expression, not branches: a signal's sign is a coin toss for the branch
      // predictor, and this loop runs five times as fast without them.
      for (let i = lo; i < hi; i++) {
        const v = y[i];
        s += v * v;
        const a = Math.abs(v);
        peak = a > peak ? a : peak;
      }
      sumSq += s;
      covered = hi;
    } else for (let i = lo; i < hi; i++) s += y[i] * y[i];
    db[j] = 10 * Math.log10(Math.max(1e-10, s / nFft));
  }
  for (let i = tiled ? covered : 0; i < y.length; i++) {
    const v = y[i];
    sumSq += v * v;
    const a = Math.abs(v);
    peak = a > peak ? a : peak;
  }
  return { db, peak, sumSq };
}

export interface BuiltinRepresentation {
  name: 'dsp' | 'mfcc';
  /** Bumped whenever the computation changes: stored vectors of another version are recomputed. */
  version: string;
  dim: number;
  /** Feature groups, each standardised and weighted so that no group dominates the distance. */
  groups: FeatureGroup[];
  describe: string;
  /** One vector from the front ends of a track's excerpts. */
  compute(excerpts: readonly FrontEnd[]): Float32Array;
}

/** Mean and population standard deviation of each row of `[nFeatures, nFrames]`. */
export function rowMeanStd(m: Matrix): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(m.rows);
  const std = new Float64Array(m.rows);
  for (let r = 0; r < m.rows; r++) {
    let s = 0;
    const base = r * m.cols;
    for (let t = 0; t < m.cols; t++) s += m.data[base + t];
    const mu = s / m.cols;
    let v = 0;
    for (let t = 0; t < m.cols; t++) v += (m.data[base + t] - mu) ** 2;
    mean[r] = mu;
    std[r] = Math.sqrt(v / m.cols);
  }
  return { mean, std };
}

function stats(x: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  const mean = s / Math.max(1, x.length);
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i] - mean) ** 2;
  return { mean, std: Math.sqrt(v / Math.max(1, x.length)) };
}

function percentile(x: Float32Array, p: number): number {
  const sorted = Float32Array.from(x).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))];
}

/**
 * The 120-d MFCC baseline of the MTDTL paper (seed 001 §4.3): 20 MFCC (librosa's mfcc on the MTDTL front end,
 * 1024/256, 128 mel) with Δ and ΔΔ (width 9), mean ‖ population std over all frames of all excerpts.
 */
export const MFCC_REPRESENTATION: BuiltinRepresentation = {
  name: 'mfcc',
  version: 'mfcc/1',
  dim: 120,
  groups: [{ name: 'mfcc', start: 0, end: 120 }],
  describe: '20 MFCC + Δ + ΔΔ, mean ‖ std (MTDTL baseline)',
  compute(excerpts) {
    const parts = excerpts.map((e) => {
      if (!e.fine) throw new Error('the mfcc representation needs the fine (hop 256) front end');
      return e.fine.mfcc;
    }).filter((m) => m.cols >= 9);
    if (parts.length === 0) throw new Error('The audio is too short to analyse (under 0.1 s).');
    // Deltas per excerpt (they must not straddle the joins), statistics over all frames.
    const m = hstack(parts);
    const d1 = hstack(parts.map((p) => delta(p, { width: 9, order: 1 })));
    const d2 = hstack(parts.map((p) => delta(p, { width: 9, order: 2 })));
    const out = new Float32Array(120);
    [m, d1, d2].forEach((x, i) => {
      const { mean, std } = rowMeanStd(x);
      out.set(mean, i * 40);
      out.set(std, i * 40 + 20);
    });
    return out;
  },
};

/** Edges of the mel bands of the three onset envelopes: lows (kick, bass), mids (snare, chords), highs (hats, cymbals). */
const BAND_EDGES = [0, 20, 72, FRONT_END.nMels];

const N_MFCC = DSP_FRONT_END.nMfcc;
const TEMPO_BINS = 24;
const BAND_BINS = 12;

/**
 * The `dsp` layout: named groups of dimensions with their weights. The index standardises every dimension over
 * the library, scales each group of each vector to unit length and then by √weight, so that the cosine of two
 * vectors is the weighted mean of their groups' cosines (see `normalise.ts`): a group counts by its weight, not
 * by its number of dimensions. The weights were chosen on real recordings (two corpora of game soundtracks, 334
 * tracks, 19 albums) by album and artist precision@10, with the demo library as a check (README, "Quality").
 */
const DSP_LAYOUT = (() => {
  const groups: FeatureGroup[] = [];
  let at = 0;
  const add = (name: string, n: number, weight: number) => {
    groups.push({ name, start: at, end: at + n, weight });
    at += n;
  };
  // the single-Gaussian timbre model of MFCC 1…19: scaled mean, log-Euclidean covariance (gaussian.ts)
  add('gaussian', gaussianEmbeddingDim(MFCC_SPREAD.length), 1);
  // MFCC 1…19 mean and std, ΔMFCC 1…12 std
  add('mfcc', 19 + 19 + 12, 1);
  // spectral centroid, bandwidth, rolloff, flatness (mean, std); RMS dB mean/std/p10/p90/range, crest,
  // low-energy ratio, MFCC0 mean/std
  add('shape', 8 + 9, 2);
  // spectral contrast: 7 octave bands, mean and std
  add('contrast', 2 * N_CONTRAST, 1);
  // key-relative chroma mean, chroma std, major/minor strength, chroma entropy, tonal change; absolute chroma mean, std
  add('harmony', 12 + 1 + 2 + 1 + 1 + 24, 1);
  // onset mean/std/rate, tempo (log2 bpm/120) and its strength, tempogram, 3 band tempograms
  add('rhythm', 5 + TEMPO_BINS + 3 * BAND_BINS, 2);
  // block-level spectral pattern and delta spectral pattern (patterns.ts)
  add('spectral-pattern', spectralPatternDim(SPECTRAL_PATTERN), 2);
  add('delta-pattern', spectralPatternDim(DELTA_PATTERN), 1);
  // fluctuation pattern: modulation spectra of 8 bands, 0.4–12 Hz (patterns.ts)
  add('fluctuation', fluctuationDim(FLUCTUATION), 1);
  return { groups, dim: at };
})();

/**
 * Earmark's built-in default for similarity, designed on real recordings: a single-Gaussian timbre model (as in
 * Mandel & Ellis 2005 and Musly, log-Euclidean so an index can serve it), MFCC statistics, spectral shape,
 * contrast and dynamics, harmony (key-relative and absolute chroma, mode strength), rhythm (onset strength,
 * tempo, tempogram summaries overall and in three bands), and the block-level spectral and delta patterns and
 * fluctuation pattern of Seyerlehner et al. (2010), from several excerpts spread over the track.
 */
export const DSP_REPRESENTATION: BuiltinRepresentation = {
  name: 'dsp',
  version: 'dsp/4',
  dim: DSP_LAYOUT.dim,
  groups: DSP_LAYOUT.groups,
  describe: 'timbre Gaussian + MFCC + spectral shape + contrast + harmony + rhythm + block patterns + fluctuation, each group unit-weighted',
  compute(excerpts) {
    const usable = excerpts.filter((e) => e.coarse.logMel.cols >= 16).map((e) => ({ y: e.y, sr: e.sr, ...e.coarse }));
    if (usable.length === 0) throw new Error('The audio is too short to analyse (under 0.4 s).');
    const sr = usable[0].sr;
    const { nFft, hopLength } = DSP_FRONT_END;
    const fps = sr / hopLength;
    const maxLag = Math.round(fps * 2); // 2 s: down to 30 BPM
    const mfccs = usable.map((e) => e.mfcc);
    const acfs: Float64Array[] = [];
    const bandAcfs: Float64Array[][] = [[], [], []];
    const rmsDb: number[] = [];
    let peak = 0;
    let sumSq = 0;
    let nSamples = 0;
    const onsets: Float32Array[] = [];
    for (const e of usable) {
      const lag = Math.min(maxLag, e.logMel.cols - 2);
      const { all: onsetEnv, bands } = bandOnsets(e.logMel, BAND_EDGES);
      onsets.push(onsetEnv);
      acfs.push(autocorrelation(smoothEnvelope(onsetEnv), lag));
      bands.forEach((band, i) => bandAcfs[i].push(autocorrelation(smoothEnvelope(band), lag)));
      const r = frameRmsDb(e.y, hopLength, nFft, DECIMATE);
      for (const v of r.db) rmsDb.push(v);
      if (r.peak > peak) peak = r.peak;
      sumSq += r.sumSq;
      nSamples += e.y.length;
    }
    const out = new Float32Array(DSP_LAYOUT.dim);
    let at = 0;
    const push = (v: number) => {
      out[at++] = Number.isFinite(v) ? v : 0;
    };
    const pushAll = (vs: ArrayLike<number>) => {
      for (let i = 0; i < vs.length; i++) push(vs[i]);
    };

    // ── gaussian ──
    const M = hstack(mfccs);
    pushAll(gaussianEmbedding(M, 1, MFCC_SPREAD));

    // ── mfcc ──
    const { mean: mMean, std: mStd } = rowMeanStd(M);
    for (let i = 1; i < N_MFCC; i++) push(mMean[i]);
    for (let i = 1; i < N_MFCC; i++) push(mStd[i]);
    const D = hstack(mfccs.map((m) => delta(m, { width: 9 })));
    const { std: dStd } = rowMeanStd(D);
    for (let i = 1; i <= 12; i++) push(dStd[i]);

    // ── shape ── (spectral shape needs no fine time resolution: it was taken on every DECIMATE-th frame)
    const shape = hstack(usable.map((e) => e.shape));
    const logStats = (x: Float32Array, f: (v: number) => number) => {
      const s = stats(x.map(f));
      push(s.mean);
      push(s.std);
    };
    logStats(row(shape, SHAPE_ROW.centroid), (c) => Math.log2(Math.max(20, c)));
    logStats(row(shape, SHAPE_ROW.bandwidth), (b) => Math.log2(Math.max(20, b)));
    logStats(row(shape, SHAPE_ROW.rolloff), (r) => Math.log2(Math.max(20, r)));
    logStats(row(shape, SHAPE_ROW.flatness), (f) => Math.log10(Math.max(1e-10, f)));
    const rms = Float32Array.from(rmsDb);
    const r = stats(rms);
    push(r.mean);
    push(r.std);
    const p10 = percentile(rms, 0.1);
    const p90 = percentile(rms, 0.9);
    push(p10);
    push(p90);
    push(p90 - p10);
    push(20 * Math.log10(Math.max(1e-6, peak) / Math.max(1e-6, Math.sqrt(sumSq / Math.max(1, nSamples)))));
    let low = 0;
    for (const v of rms) if (v < r.mean) low++;
    push(low / rms.length);
    push(mMean[0]);
    push(mStd[0]);

    // ── contrast ──
    const contrast = { rows: N_CONTRAST, cols: shape.cols, data: shape.data.subarray(SHAPE_ROW.contrast * shape.cols, (SHAPE_ROW.contrast + N_CONTRAST) * shape.cols) };
    const { mean: cMean, std: cStd } = rowMeanStd(contrast);
    pushAll(cMean);
    pushAll(cStd);

    // ── harmony ──
    const chroma = { rows: 12, cols: shape.cols, data: shape.data.subarray(SHAPE_ROW.chroma * shape.cols, (SHAPE_ROW.chroma + 12) * shape.cols) };
    for (let t = 0; t < chroma.cols; t++) {
      let mx = 0;
      for (let c = 0; c < 12; c++) mx = Math.max(mx, chroma.data[c * chroma.cols + t]);
      if (mx > 0) for (let c = 0; c < 12; c++) chroma.data[c * chroma.cols + t] /= mx;
    }
    const { mean: chMean, std: chStd } = rowMeanStd(chroma);
    const key = estimateKey(chMean);
    for (let c = 0; c < 12; c++) push(chMean[(key.tonic + c) % 12]);
    push(chStd.reduce((a, b) => a + b, 0) / 12);
    push(key.majorStrength);
    push(key.minorStrength);
    const total = chMean.reduce((a, b) => a + b, 0) || 1;
    push(-chMean.reduce((a, b) => (b > 0 ? a + (b / total) * Math.log2(b / total) : a), 0));
    let change = 0;
    for (let t = 1; t < chroma.cols; t++) {
      let d = 0;
      for (let c = 0; c < 12; c++) d += (chroma.data[c * chroma.cols + t] - chroma.data[c * chroma.cols + t - 1]) ** 2;
      change += Math.sqrt(d);
    }
    push(change / Math.max(1, chroma.cols - 1));
    pushAll(chMean);
    pushAll(chStd);

    // ── rhythm ──
    const meanAcf = (list: Float64Array[]) => {
      const n = Math.min(...list.map((a) => a.length));
      const out2 = new Float64Array(n);
      for (const a of list) for (let l = 0; l < n; l++) out2[l] += a[l] / list.length;
      return out2;
    };
    const acf = meanAcf(acfs);
    const onset = stats(hstack(onsets.map((o) => ({ rows: 1, cols: o.length, data: o }))).data);
    push(onset.mean);
    push(onset.std);
    let peaks = 0;
    let frames = 0;
    for (const o of onsets) {
      const os = stats(o);
      const thr = os.mean + os.std;
      for (let t = 1; t < o.length - 1; t++) if (o[t] > thr && o[t] >= o[t - 1] && o[t] > o[t + 1]) peaks++;
      frames += o.length;
    }
    push((peaks / Math.max(1, frames)) * fps);
    const tempo = tempoFromAcf(acf, fps);
    push(Math.log2(tempo.bpm / 120));
    push(tempo.strength);
    pushAll(tempogramSummary(acf, fps, TEMPO_BINS));
    for (const list of bandAcfs) pushAll(tempogramSummary(meanAcf(list), fps, BAND_BINS));

    // ── block-level patterns ──
    const block = blockLevelFeatures(usable.map((e) => e.logMel));
    pushAll(block.spectral);
    pushAll(block.delta);
    pushAll(block.fluctuation);

    if (at !== DSP_LAYOUT.dim) throw new Error(`dsp layout mismatch: wrote ${at} of ${DSP_LAYOUT.dim}`);
    return out;
  },
};

export const BUILTIN_REPRESENTATIONS: Record<'dsp' | 'mfcc', BuiltinRepresentation> = {
  dsp: DSP_REPRESENTATION,
  mfcc: MFCC_REPRESENTATION,
};

export function isBuiltin(name: string): name is 'dsp' | 'mfcc' {
  return name === 'dsp' || name === 'mfcc';
}

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Random } from '../util/random.js';
import { autocorrelation, bandOnsets, estimateKey, onsetStrength, smoothEnvelope, spectralCentroid, spectralFlatness, tempoFromAcf } from './descriptors.js';
import { powerToDb } from './features.js';
import { melspectrogram } from './features.js';
import { DSP_REPRESENTATION, FRONT_END, frameRmsDb, frontEnd, MFCC_REPRESENTATION, planExcerpts } from './representations.js';
import { spectrogram } from './stft.js';

const SR = 22050;
const golden = JSON.parse(readFileSync(new URL('../../../tests/fixtures/librosa-frontend.json', import.meta.url), 'utf8')) as {
  configs: { mtdtl: { mfcc120_mean_std: { values: number[] } } };
};

function goldenSignal(): Float32Array {
  const y = new Float32Array(66150);
  let state = 12345n;
  for (let n = 0; n < y.length; n++) {
    state = (1103515245n * state + 12345n) % 2147483648n;
    const t = n / SR;
    y[n] = 0.5 * Math.sin(2 * Math.PI * 440 * t) + 0.3 * Math.sin(2 * Math.PI * (200 + (1800 * t) / 6) * t) + 0.1 * (Number(state) / 2 ** 30 - 1);
  }
  return y;
}

function tone(hz: number, seconds: number, amp = 0.5): Float32Array {
  return Float32Array.from({ length: Math.round(seconds * SR) }, (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / SR));
}

/** Clicks (short noise bursts) at `bpm`. */
function clicks(bpm: number, seconds: number, seed = 1): Float32Array {
  const y = new Float32Array(Math.round(seconds * SR));
  const rng = new Random(seed);
  const period = (60 / bpm) * SR;
  for (let b = 0; b * period < y.length; b++) {
    const at = Math.round(b * period);
    for (let i = 0; i < 400 && at + i < y.length; i++) y[at + i] += rng.uniform(-1, 1) * Math.exp(-i / 80);
  }
  return y;
}

describe('mfcc representation (MTDTL baseline)', () => {
  it('matches librosa: 20 MFCC + Δ + ΔΔ, mean ‖ std, within 1e-3 of the largest magnitude', () => {
    const v = MFCC_REPRESENTATION.compute([frontEnd(goldenSignal(), SR)!]);
    const expected = golden.configs.mtdtl.mfcc120_mean_std.values;
    expect(v.length).toBe(120);
    const scale = Math.max(...expected.map(Math.abs));
    expected.forEach((e, i) => expect(Math.abs(v[i] - e), `dim ${i}`).toBeLessThan(1e-3 * scale));
  });
  it('uses the MTDTL front end', () => {
    expect(FRONT_END).toMatchObject({ nFft: 1024, hopLength: 256, nMels: 128 });
  });
});

describe('dsp representation', () => {
  it('has a fixed layout of named groups covering every dimension', () => {
    const names = DSP_REPRESENTATION.groups.map((g) => g.name);
    expect(names).toEqual(['gaussian', 'mfcc', 'shape', 'contrast', 'harmony', 'rhythm', 'spectral-pattern', 'delta-pattern', 'fluctuation']);
    expect(DSP_REPRESENTATION.groups.every((g) => (g.weight ?? 1) > 0)).toBe(true);
    expect(DSP_REPRESENTATION.groups.at(-1)!.end).toBe(DSP_REPRESENTATION.dim);
    DSP_REPRESENTATION.groups.slice(1).forEach((g, i) => expect(g.start).toBe(DSP_REPRESENTATION.groups[i].end));
  });
  it('gives finite vectors, even for silence', () => {
    const v = DSP_REPRESENTATION.compute([frontEnd(new Float32Array(3 * SR), SR)!]);
    expect(v.length).toBe(DSP_REPRESENTATION.dim);
    expect([...v].every(Number.isFinite)).toBe(true);
  });
  it('tells a fast beat from a slow one in the rhythm group, and a bright sound from a dark one in spectral shape', () => {
    const group = (name: string) => DSP_REPRESENTATION.groups.find((g) => g.name === name)!;
    const rhythm = group('rhythm');
    const fast = DSP_REPRESENTATION.compute([frontEnd(clicks(150, 8), SR)!]);
    const slow = DSP_REPRESENTATION.compute([frontEnd(clicks(80, 8), SR)!]);
    // Index rhythm.start + 3 holds log2(tempo / 120).
    expect(fast[rhythm.start + 3]).toBeGreaterThan(slow[rhythm.start + 3]);
    const centroidAt = group('shape').start; // log2 of the mean spectral centroid comes first
    const bright = DSP_REPRESENTATION.compute([frontEnd(tone(3000, 3), SR)!]);
    const dark = DSP_REPRESENTATION.compute([frontEnd(tone(200, 3), SR)!]);
    expect(bright[centroidAt]).toBeGreaterThan(dark[centroidAt] + 3); // log2 Hz: more than 3 octaves apart
  });
  it('gives the same dsp vector whether or not the mfcc front end was computed alongside', () => {
    const y = clicks(120, 6);
    const both = DSP_REPRESENTATION.compute([frontEnd(y, SR, { fine: true })!]);
    const alone = DSP_REPRESENTATION.compute([frontEnd(y, SR, { fine: false })!]);
    // The same frames bit for bit (the dsp pass reads the fine spectrogram's every other frame), so the same vector.
    expect(Array.from(both)).toEqual(Array.from(alone));
  });
  it('rejects audio too short to analyse', () => {
    expect(frontEnd(new Float32Array(1000), SR)).toBeNull();
  });
});

describe('descriptors', () => {
  it('finds the centroid of a pure tone at its frequency', () => {
    const S = spectrogram(tone(1000, 1), { nFft: 2048, hopLength: 512 });
    const c = spectralCentroid(S, SR, 2048);
    expect(c[10]).toBeGreaterThan(950);
    expect(c[10]).toBeLessThan(1050);
  });
  it('rates noise flatter than a tone', () => {
    const rng = new Random(3);
    const noise = Float32Array.from({ length: SR }, () => rng.uniform(-0.5, 0.5));
    const fNoise = spectralFlatness(spectrogram(noise, { nFft: 1024, hopLength: 512 }));
    const fTone = spectralFlatness(spectrogram(tone(440, 1), { nFft: 1024, hopLength: 512 }));
    expect(fNoise[10]).toBeGreaterThan(100 * fTone[10]);
  });
  for (const bpm of [80, 90, 120, 150]) {
    it(`estimates the tempo of a ${bpm} BPM click track within 4 %`, () => {
      const logMel = powerToDb(melspectrogram(clicks(bpm, 12), { sr: SR, nFft: 1024, hopLength: 256, nMels: 128 }));
      const fps = SR / 256;
      const t = tempoFromAcf(autocorrelation(smoothEnvelope(onsetStrength(logMel)), Math.round(2 * fps)), fps);
      expect(Math.abs(t.bpm - bpm) / bpm).toBeLessThan(0.04);
    });
  }
  it('recognises C major and A minor from their scale-degree weights', () => {
    const cMajor = [1, 0.1, 0.5, 0.1, 0.7, 0.6, 0.1, 0.9, 0.1, 0.5, 0.1, 0.3];
    expect(estimateKey(cMajor)).toMatchObject({ tonic: 0, major: true });
    const aMinor = Array.from({ length: 12 }, (_, i) => [1, 0.15, 0.55, 0.85, 0.15, 0.55, 0.15, 0.75, 0.6, 0.15, 0.5, 0.45][(i - 9 + 12) % 12]);
    expect(estimateKey(aMinor)).toMatchObject({ tonic: 9, major: false });
  });
});

describe('planExcerpts', () => {
  it('takes the whole of a short track', () => {
    expect(planExcerpts(30)).toEqual([{ offset: 0, duration: 30 }]);
  });
  it('spreads three excerpts over a long track, not only its start', () => {
    const ex = planExcerpts(300);
    expect(ex).toHaveLength(3);
    expect(ex.map((e) => e.offset + e.duration / 2)).toEqual([60, 150, 240]);
    for (const e of ex) expect(e.offset + e.duration).toBeLessThanOrEqual(300);
  });
  it('copes with an unknown duration', () => {
    expect(planExcerpts(null)).toHaveLength(1);
  });
});

describe('one-pass envelopes', () => {
  const y = goldenSignal();

  it('frameRmsDb gives librosa-style windowed RMS, the peak and the total energy, tiled or not', () => {
    const naive = (hop: number, nFft: number, decimate: number) => {
      const nFrames = 1 + Math.floor(y.length / hop);
      const db: number[] = [];
      for (let t = 0; t < nFrames; t += decimate) {
        let s = 0;
        for (let i = t * hop - nFft / 2; i < t * hop + nFft / 2; i++) if (i >= 0 && i < y.length) s += y[i] * y[i];
        db.push(10 * Math.log10(Math.max(1e-10, s / nFft)));
      }
      let peak = 0;
      let sumSq = 0;
      for (const v of y) {
        peak = Math.max(peak, Math.abs(v));
        sumSq += v * v;
      }
      return { db, peak, sumSq };
    };
    for (const [hop, nFft, decimate] of [[512, 1024, 2], [512, 2048, 2], [256, 1024, 3]]) {
      const got = frameRmsDb(y, hop, nFft, decimate);
      const want = naive(hop, nFft, decimate);
      expect(got.db.length).toBe(want.db.length);
      got.db.forEach((v, i) => expect(v).toBeCloseTo(want.db[i], 4));
      expect(got.peak).toBe(want.peak);
      expect(got.sumSq / want.sumSq).toBeCloseTo(1, 12);
    }
  });

  it('bandOnsets equals onsetStrength over all bands and over each band', () => {
    const logMel = powerToDb(melspectrogram(y, { sr: SR, nFft: 1024, hopLength: 512, nMels: 128 }));
    const edges = [0, 20, 72, 128];
    const { all, bands } = bandOnsets(logMel, edges);
    const close = (a: Float32Array, b: Float32Array) => {
      expect(a.length).toBe(b.length);
      for (let t = 0; t < a.length; t++) expect(Math.abs(a[t] - b[t])).toBeLessThan(1e-4 * Math.max(1, Math.abs(b[t])));
    };
    close(all, onsetStrength(logMel));
    bands.forEach((b, i) => close(b, onsetStrength(logMel, edges[i], edges[i + 1])));
    expect(Math.max(...all)).toBeGreaterThan(0);
    expect(() => bandOnsets(logMel, [0, 64])).toThrow(/band edges/);
  });
});

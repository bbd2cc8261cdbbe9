import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { delta, melspectrogram, mfcc, powerToDb } from './features.js';
import { row, type Matrix } from './matrix.js';
import { melFilterbank } from './mel.js';

// librosa 0.10.2's own outputs for a signal defined by a formula (copied from shared/golden).
interface GoldenConfig {
  params: { n_fft: number; hop_length: number; n_mels: number; fmin: number; fmax: number | null; sr: number };
  mel_shape: [number, number];
  mel_filterbank_rows_sum: number[];
  mel_filterbank_row_argmax: number[];
  mel_power: number[][] | Record<string, number[]>;
  log_mel_db_no_clip: Record<string, number[]>;
  mfcc20_librosa_default?: { values: number[][] };
  mfcc_delta_width9?: number[][];
  mfcc_delta2_width9?: number[][];
  mfcc120_mean_std?: { values: number[] };
}
const golden = JSON.parse(readFileSync(new URL('../../../tests/fixtures/librosa-frontend.json', import.meta.url), 'utf8')) as {
  signal: { sr: number; samples: number; first8: number[]; sum: number };
  configs: Record<'mtdtl' | 'agf' | 'dpnn', GoldenConfig>;
};

/** The golden signal: two sines and LCG noise, evaluated in double and rounded to float32. */
function goldenSignal(): Float32Array {
  const { sr, samples } = golden.signal;
  const T = 3.0;
  const y = new Float32Array(samples);
  let state = 12345n;
  for (let n = 0; n < samples; n++) {
    state = (1103515245n * state + 12345n) % 2147483648n;
    const u = Number(state) / 2 ** 30 - 1;
    const t = n / sr;
    y[n] = 0.5 * Math.sin(2 * Math.PI * 440 * t) + 0.3 * Math.sin(2 * Math.PI * (200 + (1800 * t) / (2 * T)) * t) + 0.1 * u;
  }
  return y;
}

function column(m: Matrix, t: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < m.rows; r++) out.push(m.data[r * m.cols + t]);
  return out;
}

const y = goldenSignal();

describe('golden signal', () => {
  it('matches the file’s first samples and sum', () => {
    golden.signal.first8.forEach((v, i) => expect(y[i]).toBeCloseTo(v, 7));
    let sum = 0;
    for (const v of y) sum += v;
    expect(sum).toBeCloseTo(golden.signal.sum, 4);
  });
});

describe.each(['mtdtl', 'agf', 'dpnn'] as const)('librosa front end, %s configuration', (name) => {
  const g = golden.configs[name];
  const p = g.params;
  const opts = { sr: p.sr, nFft: p.n_fft, hopLength: p.hop_length, nMels: p.n_mels, fmin: p.fmin, fmax: p.fmax ?? undefined };
  const mel = melspectrogram(y, opts);
  const logMel = powerToDb(mel, { topDb: null });

  it('has librosa’s shape [nMels, nFrames]', () => {
    expect([mel.rows, mel.cols]).toEqual(g.mel_shape);
  });

  it('builds the same Slaney mel filterbank', () => {
    const fb = melFilterbank(opts);
    for (let m = 0; m < fb.rows; m++) {
      const r = row(fb, m);
      const sum = r.reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - g.mel_filterbank_rows_sum[m])).toBeLessThan(1e-5 * Math.max(1, Math.abs(g.mel_filterbank_rows_sum[m])));
      let argmax = 0;
      for (let k = 1; k < r.length; k++) if (r[k] > r[argmax]) argmax = k;
      expect(argmax).toBe(g.mel_filterbank_row_argmax[m]);
    }
  });

  it('matches mel power and log-mel within 0.01 dB wherever librosa is above −80 dB', () => {
    const frames: Array<[number, number[]]> = Array.isArray(g.mel_power)
      ? Array.from({ length: g.mel_shape[1] }, (_, t) => [t, (g.mel_power as number[][]).map((r) => r[t])])
      : Object.entries(g.mel_power).map(([t, col]) => [Number(t), col]);
    let checked = 0;
    for (const [t, expected] of frames) {
      const got = column(mel, t);
      expected.forEach((e, m) => {
        const eDb = 10 * Math.log10(Math.max(e, 1e-10));
        if (eDb > -80) {
          expect(Math.abs(10 * Math.log10(Math.max(got[m], 1e-10)) - eDb)).toBeLessThan(0.01);
          checked++;
        }
      });
    }
    for (const [t, expected] of Object.entries(g.log_mel_db_no_clip)) {
      const got = column(logMel, Number(t));
      expected.forEach((e, m) => {
        if (e > -80) {
          expect(Math.abs(got[m] - e), `frame ${t} band ${m}`).toBeLessThan(0.01);
          checked++;
        }
      });
    }
    expect(checked).toBeGreaterThan(g.mel_shape[0]);
  });

  if (g.mfcc20_librosa_default) {
    const expectClose = (got: Matrix, expected: number[][]) => {
      const scale = Math.max(...expected.flat().map(Math.abs));
      expect([got.rows, got.cols]).toEqual([expected.length, expected[0].length]);
      let worst = 0;
      expected.forEach((r, i) => r.forEach((e, t) => (worst = Math.max(worst, Math.abs(got.data[i * got.cols + t] - e)))));
      expect(worst).toBeLessThan(1e-3 * scale);
    };
    const m = mfcc(y, { ...opts, nMfcc: 20 });
    it('matches MFCC (DCT-II ortho of power_to_db with top_db=80)', () => expectClose(m, g.mfcc20_librosa_default!.values));
    it('matches delta and delta-delta (width 9, interp edges)', () => {
      expectClose(delta(m, { width: 9, order: 1 }), g.mfcc_delta_width9!);
      expectClose(delta(m, { width: 9, order: 2 }), g.mfcc_delta2_width9!);
    });
  }
});

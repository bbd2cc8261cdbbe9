import { describe, expect, it } from 'vitest';
import { dct2, fftEngine, powerFft } from './fft.js';
import { dctRows } from './features.js';
import { spectrogram } from './stft.js';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

describe('power-spectrum FFT', () => {
  it('loads PFFFT (WebAssembly SIMD) in this thread unless fft.js is asked for', () => {
    const e = fftEngine();
    if (process.env.EARMARK_FFT === 'fft.js') expect(e).toEqual({ engine: 'fft.js', fallbackReason: 'EARMARK_FFT=fft.js' });
    else expect(e).toEqual({ engine: 'pffft-wasm-simd', fallbackReason: null });
  });

  for (const n of [32, 64, 256, 1024, 2048, 4096]) {
    it(`gives fft.js's |X|² to float32 precision at n = ${n}`, () => {
      const rnd = lcg(n);
      const a = powerFft(n, fftEngine().engine);
      const b = powerFft(n, 'fft.js');
      const pa = new Float32Array(n / 2 + 1);
      const pb = new Float32Array(n / 2 + 1);
      for (let trial = 0; trial < 5; trial++) {
        const frame = Float32Array.from({ length: n }, (_, i) => Math.fround(0.5 * Math.sin((2 * Math.PI * (3 + trial) * i) / n) + 0.1 * rnd()));
        a.input.set(frame);
        b.input.set(frame);
        a.power(pa);
        b.power(pb);
        const peak = Math.max(...pb);
        for (let k = 0; k <= n / 2; k++) expect(Math.abs(pa[k] - pb[k])).toBeLessThan(1e-6 * peak);
        // The tone is where it was put, with the energy Parseval's theorem asks for.
        expect(pa.indexOf(Math.max(...pa))).toBe(3 + trial);
        let energy = 0;
        for (let k = 0; k <= n / 2; k++) energy += (k === 0 || k === n / 2 ? 1 : 2) * pa[k];
        let direct = 0;
        for (const v of frame) direct += v * v;
        expect(energy / n).toBeCloseTo(direct, 3);
      }
    });
  }

  it('falls back to fft.js below the 32 points PFFFT needs, and keeps one transform per size', () => {
    expect(powerFft(16).engine).toBe('fft.js');
    expect(powerFft(1024)).toBe(powerFft(1024));
    expect(powerFft(1024, 'fft.js').engine).toBe('fft.js');
  });

  it('a spectrogram differs between the engines only by float rounding', () => {
    const rnd = lcg(7);
    const y = Float32Array.from({ length: 22050 }, (_, i) => Math.fround(0.3 * Math.sin(i * 0.05) + 0.05 * rnd()));
    const a = spectrogram(y, { nFft: 1024, hopLength: 256 });
    const b = spectrogram(y, { nFft: 1024, hopLength: 256, fft: 'fft.js' });
    let peak = 0;
    for (const v of b.data) peak = Math.max(peak, v);
    let worst = 0;
    for (let i = 0; i < a.data.length; i++) worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]));
    expect(worst).toBeLessThan(1e-6 * peak);
  });
});

describe('DCT-II through the FFT', () => {
  for (const [n, nOut] of [[128, 20], [64, 13], [256, 40]]) {
    it(`keeps the first ${nOut} ortho DCT-II coefficients of ${n} values, as dctRows computes them`, () => {
      const rnd = lcg(n + nOut);
      const d = dct2(n, nOut);
      expect(d.engine).toBe(fftEngine().engine === 'pffft-wasm-simd' ? 'pffft-wasm-simd' : 'sums');
      for (let trial = 0; trial < 5; trial++) {
        // log-mel-like columns: tens of dB, a slope and noise
        const x = Float64Array.from({ length: n }, (_, i) => -20 - (40 * i) / n + 10 * rnd() + 30 * Math.cos(i / 5 + trial));
        const want = dctRows({ rows: n, cols: 1, data: Float32Array.from(x) }, nOut).data;
        const out = new Float32Array(3 * nOut);
        d.run(x, out, 1, 3);
        const scale = Math.max(...x.map(Math.abs));
        for (let k = 0; k < nOut; k++) {
          expect(Math.abs(out[1 + 3 * k] - want[k])).toBeLessThan(2e-6 * scale);
          expect(out[3 * k]).toBe(0);
        }
      }
    });
  }

  it('sums directly where the FFT cannot serve, and refuses impossible shapes', () => {
    expect(dct2(40, 13).engine).toBe('sums');
    expect(dct2(128, 100).engine).toBe('sums');
    expect(dct2(128, 20, 'fft.js').engine).toBe('sums');
    const x = Float64Array.from({ length: 40 }, (_, i) => Math.sin(i));
    const out = new Float64Array(13);
    dct2(40, 13).run(x, out, 0, 1);
    const want = dctRows({ rows: 40, cols: 1, data: Float32Array.from(x) }, 13).data;
    for (let k = 0; k < 13; k++) expect(out[k]).toBeCloseTo(want[k], 6);
    expect(() => dct2(16, 20)).toThrow(/cannot keep 20/);
  });
});

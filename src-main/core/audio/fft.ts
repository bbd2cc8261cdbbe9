import createPffft, { type PffftModule } from '@echogarden/pffft-wasm/simd';
import FFT from 'fft.js';

/**
 * The power spectrum of one real frame, `|X[k]|²` for k = 0 … n/2, as the STFT needs it: write the windowed
 * frame into `input` (n values), call `power(p)`. Either engine gives the spectrum to float32 precision (the
 * differences are float rounding, about 1e-7 of a frame's peak).
 */
export interface PowerFft {
  readonly n: number;
  readonly engine: FftEngine;
  /** The frame to transform (a view that stays valid until another size is first asked for). */
  readonly input: Float32Array | Float64Array;
  power(p: Float32Array): void;
}

export type FftEngine = 'pffft-wasm-simd' | 'fft.js';

const PFFFT_REAL = 0;
const PFFFT_FORWARD = 0;

/**
 * PFFFT (Julien Pommier's SIMD FFT, compiled to WebAssembly with 128-bit SIMD), about twice as fast as fft.js
 * on a 1024-point real frame here. Loaded once per thread when this module is first imported; if it cannot be
 * (no WebAssembly SIMD), or `EARMARK_FFT=fft.js` asks for it, fft.js (float64, plain JavaScript) takes over.
 */
async function loadPffft(): Promise<{ module: PffftModule | null; error: string | null }> {
  if (process.env.EARMARK_FFT === 'fft.js') return { module: null, error: 'EARMARK_FFT=fft.js' };
  try {
    return { module: await createPffft(), error: null };
  } catch (e) {
    return { module: null, error: e instanceof Error ? e.message : String(e) };
  }
}

const loaded = await loadPffft();

/** Which FFT this thread uses, and why not PFFFT when it does not. */
export function fftEngine(): { engine: FftEngine; fallbackReason: string | null } {
  return loaded.module ? { engine: 'pffft-wasm-simd', fallbackReason: null } : { engine: 'fft.js', fallbackReason: loaded.error };
}

/** A PFFFT real transform of `n` points with its input, output and work buffers in the module's memory. */
interface PffftPlan {
  setup: number;
  inPtr: number;
  outPtr: number;
  workPtr: number;
}

function pffftPlan(m: PffftModule, n: number): PffftPlan {
  const setup = m._pffft_new_setup(n, PFFFT_REAL);
  if (!setup) throw new Error(`PFFFT cannot transform ${n} points`);
  return { setup, inPtr: m._pffft_aligned_malloc(4 * n), outPtr: m._pffft_aligned_malloc(4 * n), workPtr: m._pffft_aligned_malloc(4 * n) };
}

class PffftPower implements PowerFft {
  readonly engine = 'pffft-wasm-simd' as const;
  private readonly setup: number;
  private readonly inPtr: number;
  private readonly outPtr: number;
  private readonly workPtr: number;
  private heap: Float32Array;
  private inView: Float32Array;

  constructor(
    private readonly m: PffftModule,
    readonly n: number,
  ) {
    ({ setup: this.setup, inPtr: this.inPtr, outPtr: this.outPtr, workPtr: this.workPtr } = pffftPlan(m, n));
    this.heap = m.HEAPF32;
    this.inView = this.heap.subarray(this.inPtr >> 2, (this.inPtr >> 2) + n);
  }

  get input(): Float32Array {
    // A view on the module's memory: remade if the memory grew (which detaches the old buffer).
    if (this.heap !== this.m.HEAPF32) {
      this.heap = this.m.HEAPF32;
      this.inView = this.heap.subarray(this.inPtr >> 2, (this.inPtr >> 2) + this.n);
    }
    return this.inView;
  }

  power(p: Float32Array): void {
    this.m._pffft_transform_ordered(this.setup, this.inPtr, this.outPtr, this.workPtr, PFFFT_FORWARD);
    const h = this.m.HEAPF32;
    const o = this.outPtr >> 2;
    const half = this.n / 2;
    // The ordered real layout: X[0] and X[n/2] (both real) first, then re, im of X[1] … X[n/2 - 1].
    p[0] = h[o] * h[o];
    p[half] = h[o + 1] * h[o + 1];
    // half is a multiple of 16 here (n ≥ 32): bins 1 … half-1 in pairs, the last one alone.
    let k = 1;
    for (; k + 1 < half; k += 2) {
      const i = o + 2 * k;
      const r0 = h[i];
      const i0 = h[i + 1];
      const r1 = h[i + 2];
      const i1 = h[i + 3];
      p[k] = r0 * r0 + i0 * i0;
      p[k + 1] = r1 * r1 + i1 * i1;
    }
    for (; k < half; k++) p[k] = h[o + 2 * k] * h[o + 2 * k] + h[o + 2 * k + 1] * h[o + 2 * k + 1];
  }
}

class FftJsPower implements PowerFft {
  readonly engine = 'fft.js' as const;
  readonly input: Float64Array;
  private readonly fft: FFT;
  private readonly spectrum: Float64Array;

  constructor(readonly n: number) {
    this.fft = new FFT(n);
    this.input = new Float64Array(n);
    this.spectrum = new Float64Array(2 * n);
  }

  power(p: Float32Array): void {
    // fft.js only indexes its arguments; its types say number[], typed arrays are what keep it monomorphic.
    this.fft.realTransform(this.spectrum as unknown as number[], this.input);
    const s = this.spectrum;
    for (let k = 0; k <= this.n / 2; k++) p[k] = s[2 * k] * s[2 * k] + s[2 * k + 1] * s[2 * k + 1];
  }
}

const cache = new Map<string, PowerFft>();

/** The power-spectrum FFT of `n` points (a power of two ≥ 32 for PFFFT), one per size and engine per thread. */
export function powerFft(n: number, engine: FftEngine = fftEngine().engine): PowerFft {
  const key = `${engine}/${n}`;
  let f = cache.get(key);
  if (!f) {
    if (engine === 'pffft-wasm-simd') {
      if (!loaded.module) throw new Error(`PFFFT is not available here (${loaded.error ?? 'not loaded'})`);
      f = n >= 32 ? new PffftPower(loaded.module, n) : new FftJsPower(n);
    } else f = new FftJsPower(n);
    cache.set(key, f);
  }
  return f;
}

/**
 * The first `nOut` coefficients of the orthonormal DCT-II of `n` values (scipy `dct(x, type=2, norm='ortho')`,
 * as librosa's MFCC takes it), through one real FFT of `n` points (Makhoul's reordering: even-indexed values
 * ascending, odd-indexed descending; `X[k] = Re(e^{-iπk/2n} V[k])`) instead of `nOut × n` products. In float32
 * like librosa's own (within 1e-6 of the values' magnitude of the float64 sums); by the sums themselves where
 * PFFFT is not loaded or `n` is not a multiple of 32.
 */
export interface Dct2 {
  readonly n: number;
  readonly nOut: number;
  readonly engine: 'pffft-wasm-simd' | 'sums';
  /** `out[k * stride + at] = X[k]` for k < nOut. */
  run(x: ArrayLike<number>, out: Float32Array | Float64Array, at: number, stride: number): void;
}

function orthoScale(k: number, n: number): number {
  return k === 0 ? Math.sqrt(1 / n) : Math.sqrt(2 / n);
}

class PffftDct2 implements Dct2 {
  readonly engine = 'pffft-wasm-simd' as const;
  private readonly setup: number;
  private readonly inPtr: number;
  private readonly outPtr: number;
  private readonly workPtr: number;
  /** e^{-iπk/2n} times the ortho scale, for k < nOut. */
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;

  constructor(
    private readonly m: PffftModule,
    readonly n: number,
    readonly nOut: number,
  ) {
    ({ setup: this.setup, inPtr: this.inPtr, outPtr: this.outPtr, workPtr: this.workPtr } = pffftPlan(m, n));
    this.cos = new Float64Array(nOut);
    this.sin = new Float64Array(nOut);
    for (let k = 0; k < nOut; k++) {
      this.cos[k] = orthoScale(k, n) * Math.cos((Math.PI * k) / (2 * n));
      this.sin[k] = orthoScale(k, n) * Math.sin((Math.PI * k) / (2 * n));
    }
  }

  run(x: ArrayLike<number>, out: Float32Array | Float64Array, at: number, stride: number): void {
    const h = this.m.HEAPF32;
    const v = this.inPtr >> 2;
    const n = this.n;
    const half = n / 2;
    for (let i = 0; i < half; i++) {
      h[v + i] = x[2 * i];
      h[v + n - 1 - i] = x[2 * i + 1];
    }
    this.m._pffft_transform_ordered(this.setup, this.inPtr, this.outPtr, this.workPtr, PFFFT_FORWARD);
    const o = this.outPtr >> 2;
    // V[0] is real (out[0]); V[k] = out[2k] + i·out[2k+1] for 0 < k < n/2.
    out[at] = this.cos[0] * h[o];
    for (let k = 1; k < this.nOut; k++) out[at + k * stride] = this.cos[k] * h[o + 2 * k] + this.sin[k] * h[o + 2 * k + 1];
  }
}

class SumDct2 implements Dct2 {
  readonly engine = 'sums' as const;
  private readonly basis: Float64Array;

  constructor(
    readonly n: number,
    readonly nOut: number,
  ) {
    this.basis = new Float64Array(nOut * n);
    for (let k = 0; k < nOut; k++) for (let i = 0; i < n; i++) this.basis[k * n + i] = orthoScale(k, n) * Math.cos((Math.PI * k * (2 * i + 1)) / (2 * n));
  }

  run(x: ArrayLike<number>, out: Float32Array | Float64Array, at: number, stride: number): void {
    const { n, basis } = this;
    for (let k = 0; k < this.nOut; k++) {
      let acc = 0;
      for (let i = 0; i < n; i++) acc += basis[k * n + i] * x[i];
      out[at + k * stride] = acc;
    }
  }
}

const dctCache = new Map<string, Dct2>();

/** The DCT-II of `n` values keeping `nOut` (≤ n/2 through the FFT), one per shape and engine per thread. */
export function dct2(n: number, nOut: number, engine: FftEngine = fftEngine().engine): Dct2 {
  if (!Number.isInteger(n) || !Number.isInteger(nOut) || nOut < 1 || nOut > n) throw new Error(`cannot keep ${nOut} DCT coefficients of ${n} values`);
  const key = `${engine}/${n}/${nOut}`;
  let d = dctCache.get(key);
  if (!d) {
    const viaFft = engine === 'pffft-wasm-simd' && loaded.module && n % 32 === 0 && nOut < n / 2;
    d = viaFft ? new PffftDct2(loaded.module as PffftModule, n, nOut) : new SumDct2(n, nOut);
    dctCache.set(key, d);
  }
  return d;
}

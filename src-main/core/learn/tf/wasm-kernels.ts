import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { Tf } from './backend.js';

/**
 * Kernels Earmark adds to, or wraps in, the WebAssembly backend so that training there is fast and complete.
 *
 * `BatchMatMul`: the wasm kernel is fast only without transposes (XNNPACK); with `transposeA` it falls back to
 * a loop ~25× slower, with `transposeB` ~10× slower — and every dense layer's gradient asks for one of them
 * (dW = xᵀ·dy, dx = dy·Wᵀ). The wrapper transposes the operand explicitly with the backend's own `Transpose`
 * (cheap: it moves memory once) and calls the fast path. Values are the same products, summed in the same
 * order per output element by XNNPACK either way.
 *
 * Convolutions with a numeric `pad` are rewritten to the same padding given explicitly (see below).
 *
 * `Conv2DBackpropFilter` (missing from the wasm backend, so no CNN could train there): the filter gradient is
 * itself a convolution, composed from the backend's own forward `Conv2D`, `Transpose` and `Slice` (DESIGN.md,
 * Compute). With x `[N, H, W, Cin]` and dy `[N, Ho, Wo, Cout]`,
 *   dW[i, j, ci, co] = Σ_n Σ_p,q x[n, p·sh + i − padTop, q·sw + j − padLeft, ci] · dy[n, p, q, co],
 * which is conv2d(xᵀ `[Cin, H, W, N]`, dyᵀ `[Ho, Wo, N, Cout]`) with dilation = the forward stride, stride 1 and
 * the forward padding on top/left; its output `[Cin, kh, kw, Cout]` transposed is dW `[kh, kw, Cin, Cout]`.
 * (tfjs computes conv2d gradients only for dilation 1, so the forward dilation is always 1 here.)
 */

interface BackendLike {
  disposeData(dataId: object): void;
  makeOutput?(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap?(t: TensorInfo): Float32Array;
}

type KernelArgs = { inputs: Record<string, TensorInfo>; backend: BackendLike; attrs?: NamedAttrMap };

const wrapped = new WeakSet<object>();

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

/** Register Earmark's wasm kernels (once per tfjs instance; later calls do nothing). */
export function registerWasmKernels(tf: Tf): void {
  registerFastBatchMatMul(tf);
  // Before the padding wrappers: this one composes the forward Conv2D, which they then wrap.
  replaceConv2DBackpropInput(tf);
  for (const name of ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D']) explicitNumericPadding(tf, name);
  registerConv2DBackpropFilter(tf);
  fastTile(tf);
}

/**
 * The wasm convolution kernels mishandle a numeric `pad` (tfjs 4.22: the output shape is computed with the
 * height's stride and filter size for both dimensions, the kernel computes the true width and writes out of
 * bounds, corrupting the module's memory); the same padding given explicitly works. Rewrite it so when the
 * two agree on the output shape (equal strides and filter sizes in both dimensions), and refuse otherwise
 * rather than corrupt memory.
 */
function explicitNumericPadding(tf: Tf, kernelName: string): void {
  const original = tf.getKernel(kernelName, 'wasm') as KernelConfig | undefined;
  if (!original || wrapped.has(original.kernelFunc)) return;
  const run = original.kernelFunc as (a: KernelArgs) => TensorInfo;
  const kernelFunc = (args: KernelArgs): TensorInfo => {
    const attrs = (args.attrs ?? {}) as { pad?: unknown; strides?: number | number[] };
    const pad = attrs.pad;
    if (typeof pad !== 'number') return run(args);
    const filter = args.inputs.filter ?? args.inputs.dy;
    const [sh, sw] = typeof attrs.strides === 'number' ? [attrs.strides, attrs.strides] : (attrs.strides ?? [1, 1]);
    if (sh !== sw || (filter && filter.shape[0] !== filter.shape[1])) {
      throw new Error(`${kernelName} on wasm: a numeric pad needs equal strides and a square filter (tfjs sizes the output from the height alone); give the padding explicitly.`);
    }
    const explicit = [
      [0, 0],
      [pad, pad],
      [pad, pad],
      [0, 0],
    ];
    return run({ ...args, attrs: { ...args.attrs, pad: explicit } as unknown as NamedAttrMap });
  };
  wrapped.add(kernelFunc);
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as KernelFunc });
}

function registerFastBatchMatMul(tf: Tf): void {
  const original = tf.getKernel('BatchMatMul', 'wasm') as KernelConfig | undefined;
  const transpose = tf.getKernel('Transpose', 'wasm') as KernelConfig | undefined;
  if (!original || !transpose || wrapped.has(original.kernelFunc)) return;
  const run = original.kernelFunc as (a: KernelArgs) => TensorInfo;
  const runTranspose = transpose.kernelFunc as (a: KernelArgs) => TensorInfo;
  const kernelFunc = (args: KernelArgs): TensorInfo => {
    const { a, b } = args.inputs;
    const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
    if (!attrs.transposeA && !attrs.transposeB) return run(args);
    const temps: TensorInfo[] = [];
    const flip = (x: TensorInfo): TensorInfo => {
      const t = runTranspose({ inputs: { x }, backend: args.backend, attrs: { perm: swapLastTwo(x.shape.length) } });
      temps.push(t);
      return t;
    };
    try {
      return run({
        inputs: { a: attrs.transposeA ? flip(a) : a, b: attrs.transposeB ? flip(b) : b },
        backend: args.backend,
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      for (const t of temps) args.backend.disposeData(t.dataId);
    }
  };
  wrapped.add(kernelFunc);
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as KernelFunc });
}

/** Attributes of a stride-1 channels-last Conv2D with explicit padding. */
function stride1Conv(dilations: [number, number], top: number, bottom: number, left: number, right: number): NamedAttrMap {
  const pad = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  return { strides: [1, 1], dilations, pad, dataFormat: 'NHWC' } as unknown as NamedAttrMap;
}

interface ConvBackpropFilterAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** Register `Conv2DBackpropFilter` on wasm (when it is missing). */
export function registerConv2DBackpropFilter(tf: Tf): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  const conv = tf.getKernel('Conv2D', 'wasm') as KernelConfig | undefined;
  const transpose = tf.getKernel('Transpose', 'wasm') as KernelConfig | undefined;
  const slice = tf.getKernel('Slice', 'wasm') as KernelConfig | undefined;
  if (!conv || !transpose || !slice) return;
  const runConv = conv.kernelFunc as (a: KernelArgs) => TensorInfo;
  const runTranspose = transpose.kernelFunc as (a: KernelArgs) => TensorInfo;
  const runSlice = slice.kernelFunc as (a: KernelArgs) => TensorInfo;
  const kernelFunc = (args: KernelArgs): TensorInfo => {
    const { x, dy } = args.inputs;
    const a = args.attrs as unknown as ConvBackpropFilterAttrs;
    if (a.dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm: only channels-last (NHWC) data is supported.');
    const [kh, kw, cin, cout] = a.filterShape;
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode);
    const [n, h, w] = x.shape;
    const [, ho, wo] = dy.shape;
    const { top, left } = info.padInfo;
    // Padding after the input so that the output is exactly kh × kw; negative means the forward pass never
    // reached the last rows/columns: crop them instead.
    let bottom = kh - 1 - h - top + (ho - 1) * info.strideHeight + 1;
    let right = kw - 1 - w - left + (wo - 1) * info.strideWidth + 1;
    const temps: TensorInfo[] = [];
    const keep = (t: TensorInfo) => (temps.push(t), t);
    try {
      let xt = keep(runTranspose({ inputs: { x }, backend: args.backend, attrs: { perm: [3, 1, 2, 0] } })); // [Cin, H, W, N]
      if (bottom < 0 || right < 0) {
        xt = keep(runSlice({ inputs: { x: xt }, backend: args.backend, attrs: { begin: [0, 0, 0, 0], size: [cin, h + Math.min(0, bottom), w + Math.min(0, right), n] } }));
        bottom = Math.max(0, bottom);
        right = Math.max(0, right);
      }
      const dyt = keep(runTranspose({ inputs: { x: dy }, backend: args.backend, attrs: { perm: [1, 2, 0, 3] } })); // [Ho, Wo, N, Cout]
      const out = keep(
        runConv({
          inputs: { x: xt, filter: dyt },
          backend: args.backend,
          attrs: stride1Conv([info.strideHeight, info.strideWidth], top, bottom, left, right),
        }),
      ); // [Cin, kh, kw, Cout]
      if (out.shape[1] !== kh || out.shape[2] !== kw || out.shape[3] !== cout) {
        throw new Error(`Conv2DBackpropFilter on wasm: got [${out.shape}] for a ${kh}×${kw}×${cin}×${cout} filter`);
      }
      const dw = runTranspose({ inputs: { x: out }, backend: args.backend, attrs: { perm: [1, 2, 0, 3] } });
      return dw;
    } finally {
      for (const t of temps) args.backend.disposeData(t.dataId);
    }
  };
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc });
}

/**
 * `Conv2DBackpropInput` on wasm is a plain loop (~20× slower than the forward convolution on the same sizes);
 * every CNN layer but the first needs it for training. It is a forward convolution too: the input gradient is
 * dy dilated by the stride (zeros between its rows and columns), padded by kernel − 1 − the forward padding,
 * convolved at stride 1 with the kernel rotated by 180° and its channels swapped. Composed from the backend's
 * own `Reshape`, `PadV2`, `Slice`, `Reverse`, `Transpose` and `Conv2D`.
 */
export function replaceConv2DBackpropInput(tf: Tf): void {
  const original = tf.getKernel('Conv2DBackpropInput', 'wasm') as KernelConfig | undefined;
  const k = (name: string) => tf.getKernel(name, 'wasm')?.kernelFunc as ((a: KernelArgs) => TensorInfo) | undefined;
  const [conv, reshape, pad, slice, reverse, transpose] = ['Conv2D', 'Reshape', 'PadV2', 'Slice', 'Reverse', 'Transpose'].map(k);
  if (!original || wrapped.has(original.kernelFunc) || !conv || !reshape || !pad || !slice || !reverse || !transpose) return;
  const runOriginal = original.kernelFunc as (a: KernelArgs) => TensorInfo;
  const kernelFunc = (args: KernelArgs): TensorInfo => {
    const { dy, filter } = args.inputs;
    const a = args.attrs as unknown as ConvBackpropFilterAttrs & { inputShape: [number, number, number, number] };
    if (a.dataFormat === 'NCHW') return runOriginal(args);
    const [kh, kw] = filter.shape;
    const info = tf.backend_util.computeConv2DInfo(a.inputShape, filter.shape as [number, number, number, number], a.strides, 1, a.pad, a.dimRoundingMode);
    const [n, ho, wo, cout] = dy.shape;
    const [, h, w] = a.inputShape;
    const sh = info.strideHeight;
    const sw = info.strideWidth;
    const temps: TensorInfo[] = [];
    const keep = (t: TensorInfo) => (temps.push(t), t);
    const b = args.backend;
    try {
      // dy dilated by the stride: [N, (Ho−1)·sh + 1, (Wo−1)·sw + 1, Cout].
      let d = dy;
      const hd = (ho - 1) * sh + 1;
      const wd = (wo - 1) * sw + 1;
      if (sh > 1 || sw > 1) {
        const r = keep(reshape({ inputs: { x: dy }, backend: b, attrs: { shape: [n, ho, 1, wo, 1, cout] } }));
        const p = keep(
          pad({
            inputs: { x: r },
            backend: b,
            attrs: {
              paddings: [
                [0, 0],
                [0, 0],
                [0, sh - 1],
                [0, 0],
                [0, sw - 1],
                [0, 0],
              ],
              constantValue: 0,
            } as unknown as NamedAttrMap,
          }),
        );
        const f = keep(reshape({ inputs: { x: p }, backend: b, attrs: { shape: [n, ho * sh, wo * sw, cout] } }));
        d = keep(slice({ inputs: { x: f }, backend: b, attrs: { begin: [0, 0, 0, 0], size: [n, hd, wd, cout] } }));
      }
      const top = kh - 1 - info.padInfo.top;
      const left = kw - 1 - info.padInfo.left;
      let bottom = h - hd - top + kh - 1;
      let right = w - wd - left + kw - 1;
      if (top < 0 || left < 0) return runOriginal(args);
      if (bottom < 0 || right < 0) {
        d = keep(slice({ inputs: { x: d }, backend: b, attrs: { begin: [0, 0, 0, 0], size: [n, hd + Math.min(0, bottom), wd + Math.min(0, right), cout] } }));
        bottom = Math.max(0, bottom);
        right = Math.max(0, right);
      }
      // The kernel rotated by 180° with in and out channels swapped: [kh, kw, Cout, Cin].
      const rot = keep(reverse({ inputs: { x: filter }, backend: b, attrs: { dims: [0, 1] } }));
      const wt = keep(transpose({ inputs: { x: rot }, backend: b, attrs: { perm: [0, 1, 3, 2] } }));
      return conv({
        inputs: { x: d, filter: wt },
        backend: b,
        attrs: stride1Conv([1, 1], top, bottom, left, right),
      });
    } finally {
      for (const t of temps) b.disposeData(t.dataId);
    }
  };
  wrapped.add(kernelFunc);
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as KernelFunc });
}

/** Tile `src` (shape `shape`) by `reps` into `out`: each dimension's block written once, then doubled in place. */
export function tileInto(src: Float32Array, shape: readonly number[], reps: readonly number[], out: Float32Array): void {
  const n = shape.length;
  const innerSrc = new Array<number>(n).fill(1);
  const innerDst = new Array<number>(n).fill(1);
  for (let d = n - 2; d >= 0; d--) {
    innerSrc[d] = innerSrc[d + 1] * shape[d + 1];
    innerDst[d] = innerDst[d + 1] * shape[d + 1] * reps[d + 1];
  }
  const rec = (d: number, srcOff: number, dstOff: number): void => {
    if (d === n - 1) out.set(src.subarray(srcOff, srcOff + shape[d]), dstOff);
    else for (let i = 0; i < shape[d]; i++) rec(d + 1, srcOff + i * innerSrc[d], dstOff + i * innerDst[d]);
    const block = shape[d] * innerDst[d];
    const total = block * reps[d];
    for (let filled = block; filled < total; ) {
      const c = Math.min(filled, total - filled);
      out.copyWithin(dstOff + filled, dstOff, dstOff + c);
      filled += c;
    }
  };
  if (n === 0) out.set(src);
  else rec(0, 0, 0);
}

/**
 * `Tile` on wasm computes every output element's source index (slow for the big broadcasts a batch-norm
 * gradient makes); float32 tiles are done here with block copies on the module's heap instead.
 */
function fastTile(tf: Tf): void {
  const original = tf.getKernel('Tile', 'wasm') as KernelConfig | undefined;
  if (!original || wrapped.has(original.kernelFunc)) return;
  const run = original.kernelFunc as (a: KernelArgs) => TensorInfo;
  const kernelFunc = (args: KernelArgs): TensorInfo => {
    const x = args.inputs.x;
    const reps = (args.attrs as { reps: number[] }).reps;
    const b = args.backend;
    if (x.dtype !== 'float32' || !b.makeOutput || !b.typedArrayFromHeap || x.shape.length === 0) return run(args);
    const out = b.makeOutput(
      x.shape.map((s, i) => s * reps[i]),
      'float32',
    );
    // Views after the allocation: growing the heap detaches older ones.
    tileInto(b.typedArrayFromHeap(x), x.shape, reps, b.typedArrayFromHeap(out));
    return out;
  };
  wrapped.add(kernelFunc);
  tf.unregisterKernel('Tile', 'wasm');
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as KernelFunc });
}

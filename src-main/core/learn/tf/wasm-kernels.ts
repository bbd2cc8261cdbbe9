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
  for (const name of ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'DepthwiseConv2dNative', 'FusedDepthwiseConv2D']) explicitNumericPadding(tf, name);
  registerConv2DBackpropFilter(tf);
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
          attrs: {
            strides: [1, 1],
            dilations: [info.strideHeight, info.strideWidth],
            pad: [
              [0, 0],
              [top, bottom],
              [left, right],
              [0, 0],
            ],
            dataFormat: 'NHWC',
          } as unknown as NamedAttrMap,
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

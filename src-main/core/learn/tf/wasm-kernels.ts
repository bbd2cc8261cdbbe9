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

import { beforeAll, describe, expect, it } from 'vitest';
import { loadTf, type Tf } from './backend.js';

let tf: Tf;
beforeAll(async () => {
  const rt = await loadTf();
  expect(rt.backend).toBe('wasm');
  tf = rt.tf;
});

/** Values and gradients of sum(matMul(a, b) ⊙ r) on the current backend. */
function run(a: number[], aShape: number[], b: number[], bShape: number[], r: number[], tA: boolean, tB: boolean) {
  return tf.tidy(() => {
    const A = tf.tensor(a, aShape);
    const B = tf.tensor(b, bShape);
    const y = tf.matMul(A as never, B as never, tA, tB);
    const R = tf.tensor(r, y.shape);
    const f = (x: typeof A, w: typeof B) => tf.sum(tf.mul(tf.matMul(x as never, w as never, tA, tB), R));
    const [da, db] = tf.grads(f as never)([A, B]);
    return { y: Array.from(y.dataSync()), da: Array.from(da.dataSync()), db: Array.from(db.dataSync()) };
  });
}

function rand(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff - 0.5;
  });
}

describe('BatchMatMul on wasm (transposes made explicit)', () => {
  const cases: Array<{ batch: number[]; m: number; k: number; n: number }> = [
    { batch: [], m: 7, k: 13, n: 5 },
    { batch: [], m: 64, k: 208, n: 33 },
    { batch: [3], m: 4, k: 9, n: 6 },
    { batch: [2], m: 1, k: 17, n: 1 },
  ];
  for (const c of cases) {
    for (const [tA, tB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`gives the cpu backend's values and gradients: batch [${c.batch}] ${c.m}×${c.k}·${c.k}×${c.n}, transposeA ${tA}, transposeB ${tB}`, async () => {
        const aShape = [...c.batch, ...(tA ? [c.k, c.m] : [c.m, c.k])];
        const bShape = [...c.batch, ...(tB ? [c.n, c.k] : [c.k, c.n])];
        const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
        const a = rand(size(aShape), 1);
        const b = rand(size(bShape), 2);
        const r = rand(size([...c.batch, c.m, c.n]), 3);
        const before = tf.memory().numTensors;
        const wasm = run(a, aShape, b, bShape, r, tA, tB);
        expect(tf.memory().numTensors).toBe(before);
        await tf.setBackend('cpu');
        const cpu = run(a, aShape, b, bShape, r, tA, tB);
        await tf.setBackend('wasm');
        for (const key of ['y', 'da', 'db'] as const) {
          const worst = Math.max(...wasm[key].map((v, i) => Math.abs(v - cpu[key][i])));
          expect(worst, key).toBeLessThan(1e-4);
        }
      });
    }
  }

  it('leaves no intermediate tensors behind on the backend', () => {
    const before = tf.memory();
    tf.tidy(() => tf.matMul(tf.ones([8, 3]), tf.ones([8, 5]), true, false).dataSync());
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
  });
});

describe('Conv2DBackpropFilter on wasm (composed from Conv2D, Transpose and Slice)', () => {
  type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
  const cases: Array<{ x: [number, number, number, number]; k: [number, number]; cout: number; strides: [number, number]; pad: Pad }> = [
    { x: [2, 8, 8, 3], k: [3, 3], cout: 4, strides: [1, 1], pad: 'same' },
    { x: [2, 8, 8, 3], k: [3, 3], cout: 4, strides: [1, 1], pad: 'valid' },
    { x: [3, 9, 7, 2], k: [3, 2], cout: 5, strides: [2, 2], pad: 'same' },
    { x: [3, 9, 7, 2], k: [3, 2], cout: 5, strides: [2, 2], pad: 'valid' }, // the last row/column never reached: cropped
    { x: [1, 10, 12, 1], k: [4, 4], cout: 2, strides: [2, 3], pad: 'same' },
    { x: [2, 7, 6, 4], k: [1, 1], cout: 3, strides: [1, 2], pad: 'valid' },
    { x: [2, 11, 6, 2], k: [3, 3], cout: 2, strides: [2, 2], pad: 1 },
    {
      x: [2, 11, 5, 2],
      k: [3, 2],
      cout: 2,
      strides: [2, 1],
      pad: [
        [0, 0],
        [1, 2],
        [0, 1],
        [0, 0],
      ],
    },
    { x: [4, 16, 16, 1], k: [5, 5], cout: 8, strides: [1, 1], pad: 'same' },
  ];
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  for (const c of cases) {
    it(`gives the cpu backend's filter and input gradients: x [${c.x}], ${c.k[0]}×${c.k[1]}×${c.cout}, strides [${c.strides}], pad ${JSON.stringify(c.pad)}`, async () => {
      const fShape = [c.k[0], c.k[1], c.x[3], c.cout];
      const xs = rand(size(c.x), 11);
      const ws = rand(size(fShape), 12);
      const grads = () =>
        tf.tidy(() => {
          const x = tf.tensor4d(xs, c.x);
          const w = tf.tensor4d(ws, fShape as [number, number, number, number]);
          const y = tf.conv2d(x, w, c.strides, c.pad as 'same');
          const r = tf.tensor(rand(size(y.shape), 13), y.shape);
          const [dx, dw] = tf.grads((a, b) => tf.sum(tf.mul(tf.conv2d(a as never, b as never, c.strides, c.pad as 'same'), r)))([x, w]);
          return { y: Array.from(y.dataSync()), dx: Array.from(dx.dataSync()), dw: Array.from(dw.dataSync()) };
        });
      const before = tf.memory();
      const wasm = grads();
      expect(tf.memory().numTensors).toBe(before.numTensors);
      expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers);
      await tf.setBackend('cpu');
      const cpu = grads();
      await tf.setBackend('wasm');
      for (const key of ['y', 'dx', 'dw'] as const) {
        const worst = Math.max(...wasm[key].map((v, i) => Math.abs(v - cpu[key][i])));
        expect(worst, key).toBeLessThan(1e-4);
      }
    });
  }

  it('refuses a numeric pad with unequal strides instead of corrupting memory', () => {
    const x = tf.ones([1, 8, 8, 1]) as import('@tensorflow/tfjs').Tensor4D;
    const w = tf.ones([3, 3, 1, 1]) as import('@tensorflow/tfjs').Tensor4D;
    expect(() => tf.conv2d(x, w, [2, 1], 1)).toThrow(/numeric pad needs equal strides/);
    // …and the module still works afterwards.
    const y = tf.conv2d(x, w, 1, 'valid');
    expect(y.shape).toEqual([1, 6, 6, 1]);
    expect(Array.from(y.dataSync()).every((v) => v === 9)).toBe(true);
    tf.dispose([x, w, y]);
  });

  it('matches the cpu backend for dilated forward convolutions too', async () => {
    const xs = rand(2 * 12 * 12 * 2, 21);
    const ws = rand(3 * 3 * 2 * 3, 22);
    const run = () => tf.tidy(() => Array.from(tf.conv2d(tf.tensor4d(xs, [2, 12, 12, 2]), tf.tensor4d(ws, [3, 3, 2, 3]), 1, 'same', 'NHWC', [2, 2]).dataSync()));
    const wasm = run();
    await tf.setBackend('cpu');
    const cpu = run();
    await tf.setBackend('wasm');
    expect(Math.max(...wasm.map((v, i) => Math.abs(v - cpu[i])))).toBeLessThan(1e-4);
  });
});

describe('Tile on wasm (block copies)', () => {
  const cases: Array<{ shape: number[]; reps: number[] }> = [
    { shape: [1, 1, 1, 5], reps: [3, 4, 2, 1] },
    { shape: [2, 3], reps: [2, 3] },
    { shape: [4], reps: [5] },
    { shape: [2, 1, 3], reps: [1, 4, 2] },
    { shape: [3, 2, 2, 1], reps: [1, 1, 1, 7] },
  ];
  for (const c of cases) {
    it(`gives the cpu backend's tile of [${c.shape}] by [${c.reps}]`, async () => {
      const values = rand(c.shape.reduce((a, b) => a * b, 1), 31);
      const run = () => tf.tidy(() => Array.from(tf.tile(tf.tensor(values, c.shape), c.reps).dataSync()));
      const wasm = run();
      await tf.setBackend('cpu');
      const cpu = run();
      await tf.setBackend('wasm');
      expect(wasm).toEqual(cpu);
    });
  }

  it('gives the cpu backend’s batch-norm gradients (which tile)', async () => {
    const xs = rand(2 * 6 * 5 * 3, 41);
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(xs, [2, 6, 5, 3]);
        const m = tf.moments(x, [0, 1, 2]);
        const g = tf.grad((v) => tf.sum(tf.mul(tf.batchNorm(v as never, m.mean, m.variance, tf.tensor1d([0.1, 0.2, 0.3]), tf.tensor1d([1, 2, 3]), 1e-3), tf.tensor4d(rand(180, 42), [2, 6, 5, 3]))))(x);
        return Array.from(g.dataSync());
      });
    const wasm = run();
    await tf.setBackend('cpu');
    const cpu = run();
    await tf.setBackend('wasm');
    expect(Math.max(...wasm.map((v, i) => Math.abs(v - cpu[i])))).toBeLessThan(1e-4);
  });
});

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

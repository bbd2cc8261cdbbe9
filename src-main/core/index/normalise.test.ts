import { describe, expect, it } from 'vitest';
import { Random } from '../util/random.js';
import { applyNormaliser, cosine, fitNormaliser } from './normalise.js';

describe('normaliser', () => {
  const rng = new Random(5);
  const groups = [
    { name: 'a', start: 0, end: 3, weight: 1 },
    { name: 'b', start: 3, end: 10, weight: 3 },
  ];
  const vectors = Array.from({ length: 40 }, () => Float32Array.from({ length: 10 }, (_, i) => rng.normal() * (i + 1) + i));
  const n = fitNormaliser(vectors, 10, groups);

  it('makes the cosine the weighted mean of the groups’ cosines, whatever their sizes', () => {
    const [x, y] = [applyNormaliser(n, vectors[0]), applyNormaliser(n, vectors[1])];
    const part = (v: Float32Array, g: { start: number; end: number }) => v.subarray(g.start, g.end);
    const want = (1 * cosine(part(x, groups[0]), part(y, groups[0])) + 3 * cosine(part(x, groups[1]), part(y, groups[1]))) / 4;
    expect(cosine(x, y)).toBeCloseTo(want, 6);
  });

  it('puts every group of every vector at length √weight', () => {
    const x = applyNormaliser(n, vectors[7]);
    const len = (a: number, b: number) => Math.hypot(...x.subarray(a, b));
    expect(len(0, 3)).toBeCloseTo(1, 5);
    expect(len(3, 10)).toBeCloseTo(Math.sqrt(3), 5);
  });

  it('leaves a group with no spread at zero instead of dividing by zero', () => {
    const constant = vectors.map((v) => Float32Array.from(v, (x, i) => (i < 3 ? 1 : x)));
    const c = fitNormaliser(constant, 10, groups);
    const x = applyNormaliser(c, constant[0]);
    expect([...x.subarray(0, 3)]).toEqual([0, 0, 0]);
    expect([...x].every(Number.isFinite)).toBe(true);
  });
});

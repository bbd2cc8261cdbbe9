import { UMAP } from 'umap-js';
import { Random } from '../util/random.js';

export interface Projection {
  ids: number[];
  /** `[nPoints, 2]`, scaled into [0, 1] on both axes. */
  xy: Array<[number, number]>;
  method: string;
}

/** At most this many points are laid out (a deterministic sample beyond it): UMAP in plain JS on 2 cores. */
export const MAX_MAP_POINTS = 5000;

/**
 * A 2-D UMAP layout of vectors (already in their index space: standardised and weighted; compared by cosine).
 * Deterministic for a given input. Yields to the event loop between epochs.
 */
export async function projectUmap(
  ids: readonly number[],
  vectors: readonly Float32Array[],
  o: { seed?: number; maxPoints?: number; signal?: AbortSignal } = {},
): Promise<Projection> {
  const rng = new Random(o.seed ?? 42);
  let order = ids.map((_, i) => i);
  const max = o.maxPoints ?? MAX_MAP_POINTS;
  if (order.length > max) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    order = order.slice(0, max).sort((a, b) => a - b);
  }
  const n = order.length;
  if (n === 0) return { ids: [], xy: [], method: 'umap' };
  // Unit length, so Euclidean neighbours are cosine neighbours.
  const data = order.map((i) => {
    const v = vectors[i];
    let s = 0;
    for (const x of v) s += x * x;
    const k = 1 / (Math.sqrt(s) || 1);
    return Array.from(v, (x) => x * k);
  });
  let xy: number[][];
  if (n < 4) {
    xy = data.map((_, i) => [Math.cos((2 * Math.PI * i) / n), Math.sin((2 * Math.PI * i) / n)]);
  } else {
    const umap = new UMAP({ nComponents: 2, nNeighbors: Math.max(2, Math.min(15, n - 1)), minDist: 0.1, random: () => rng.next() });
    xy = await umap.fitAsync(data, () => !o.signal?.aborted);
  }
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [x, y] of xy) {
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  const sx = x1 - x0 || 1;
  const sy = y1 - y0 || 1;
  return { ids: order.map((i) => ids[i]), xy: xy.map(([x, y]) => [(x - x0) / sx, (y - y0) / sy]), method: n < 4 ? 'circle' : 'umap' };
}

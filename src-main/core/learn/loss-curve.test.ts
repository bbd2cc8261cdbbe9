import { describe, expect, it } from 'vitest';
import { lastLoss, lossCurve } from './loss-curve.js';

describe('lossCurve', () => {
  it('averages each task over buckets of iterations, at most `points` per task, and keeps tasks apart', () => {
    const history = Array.from({ length: 100 }, (_, i) => ({ iteration: i + 1, task: i % 2 ? 'artist' : 'tags', loss: i + 1 }));
    const c = lossCurve(history, 100, 10);
    expect(c.map((t) => t.task)).toEqual(['artist', 'tags']);
    for (const t of c) expect(t.points).toHaveLength(10);
    // Iterations 1..10: tags saw 1, 3, 5, 7, 9 (mean 5, last 9); artist 2..10 (mean 6, last 10).
    expect(c[1].points[0]).toEqual([9, 5]);
    expect(c[0].points[0]).toEqual([10, 6]);
    expect(c[0].points.at(-1)).toEqual([100, 96]);
  });

  it('passes short histories through, skips non-finite losses, and reports the last loss per task', () => {
    const h = [
      { iteration: 1, task: 'triplet', loss: 0.5 },
      { iteration: 2, task: 'triplet', loss: Number.NaN },
      { iteration: 3, task: 'triplet', loss: 0.25 },
    ];
    expect(lossCurve(h, 1000, 200)).toEqual([{ task: 'triplet', points: [[3, 0.375]] }]);
    expect(lossCurve(h, 3, 200)).toEqual([{ task: 'triplet', points: [[1, 0.5], [3, 0.25]] }]);
    expect(lastLoss(h)).toEqual({ triplet: 0.25 });
    expect(lossCurve([], 10)).toEqual([]);
  });
});

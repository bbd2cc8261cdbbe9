import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../util/random.js';
import { loadTf, type Tf } from '../tf/backend.js';
import { HeadDataError, type HeadData } from './head.js';
import { crossFit } from './cross-fit.js';
import { foldRunnerFor, headPool, findHeadWorkerScript, POOL_MIN_SAMPLES } from './head-pool.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await loadTf()).tf;
});

function clusters(n: number, k: number, dim: number, seed: number): HeadData {
  const rng = new Random(seed);
  const centres = Array.from({ length: k }, () => Array.from({ length: dim }, () => rng.normal() * 2));
  const x: Float32Array[] = [];
  const y: number[][] = [];
  for (let i = 0; i < n; i++) {
    x.push(Float32Array.from(centres[i % k], (m) => m + 0.8 * rng.normal()));
    y.push([i % k]);
  }
  return { x, y, nValues: k };
}

const backend = () => tf.getBackend() as 'wasm' | 'cpu';

describe('head pool', () => {
  it('trains the folds in worker threads with the same result as one after another here', async () => {
    const d = clusters(160, 3, 8, 4);
    const extra = clusters(12, 3, 8, 5).x;
    const config = { kind: 'mlp' as const, multiLabel: false, epochs: 6, seed: 2 };
    const here = await crossFit(tf, d, config, extra, { folds: 4 });
    const seen: number[] = [];
    const pooled = await crossFit(tf, d, config, extra, {
      folds: 4,
      runner: headPool({ workers: 2, backend: backend(), script: findHeadWorkerScript() }),
      onFold: (fold) => seen.push(fold),
    });
    expect(new Set(seen)).toEqual(new Set([0, 1, 2, 3]));
    expect(pooled.oof).toHaveLength(160);
    pooled.oof.forEach((p, i) => p.forEach((v, j) => expect(v).toBeCloseTo(here.oof[i][j], 5)));
    pooled.extra.forEach((p, i) => p.forEach((v, j) => expect(v).toBeCloseTo(here.extra[i][j], 5)));
    expect(pooled.thresholds).toEqual(here.thresholds);
    expect(pooled.epochs).toBeCloseTo(here.epochs, 10);
  });

  it('passes a worker’s data error on as the same error, and stops every worker', async () => {
    const d = clusters(40, 2, 4, 1);
    d.y[7] = [5]; // outside 0…1
    const run = crossFit(tf, d, { kind: 'linear', multiLabel: false, epochs: 2 }, [], {
      folds: 2,
      runner: headPool({ workers: 2, backend: backend(), script: findHeadWorkerScript() }),
    });
    await expect(run).rejects.toBeInstanceOf(HeadDataError);
    await expect(run).rejects.toThrow(/value index 5/);
  });

  it('stops on cancellation', async () => {
    const d = clusters(400, 3, 16, 2);
    const ac = new AbortController();
    const run = crossFit(tf, d, { kind: 'mlp', multiLabel: false, epochs: 200, patience: 200 }, [], {
      folds: 3,
      signal: ac.signal,
      runner: headPool({ workers: 2, backend: backend(), script: findHeadWorkerScript() }),
      onFold: (_f, _k, p) => {
        if (p.epoch === 2) ac.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('is used only where it pays: single-threaded backends, enough samples, more than one worker', () => {
    expect(foldRunnerFor(tf, { samples: 100, folds: 5 })).toBeUndefined();
    expect(foldRunnerFor(tf, { samples: POOL_MIN_SAMPLES * 4, folds: 5, workers: 1 })).toBeUndefined();
    expect(foldRunnerFor(tf, { samples: 100, folds: 5, workers: 2 })).toBeTypeOf('function');
    // A caller whose thread must stay free gets a worker whatever the size.
    expect(foldRunnerFor(tf, { samples: 100, folds: 1, offThread: true })).toBeTypeOf('function');
    expect(foldRunnerFor(tf, { samples: 100, folds: 5, workers: 1, offThread: true })).toBeTypeOf('function');
  });
});

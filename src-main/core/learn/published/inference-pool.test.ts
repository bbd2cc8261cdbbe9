import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../tests/helpers/fixtures.js';
import { writeTinyMusicnn } from '../../../../tests/helpers/tiny-musicnn.js';
import { loadTf, type Tf } from '../tf/backend.js';
import { startInferencePool } from './inference-pool.js';
import { runOnAudio } from './published-jobs.js';
import { importPublished, loadGraph, readPublishedMeta } from './published-model.js';

const t = tempDir();
afterAll(t.cleanup);
let tf: Tf;
let dir: string;
beforeAll(async () => {
  tf = (await loadTf()).tf;
  const tiny = writeTinyMusicnn(join(t.dir, 'msd-musicnn-1'), { metadata: true });
  await importPublished(tf, tiny.dir, join(t.dir, 'models'));
  dir = join(t.dir, 'models', 'musicnn');
});

function audio(seconds: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: seconds * 16000 }, (_, i) => {
    s = (s * 16807) % 2147483647;
    return 0.3 * Math.sin((2 * Math.PI * (200 + seed * 50) * i) / 16000) + 0.1 * (s / 2147483647 - 0.5);
  });
}

describe('inference threads for published models', () => {
  it('give each track the outputs this thread gives, several at once', async () => {
    const pool = await startInferencePool(tf, dir, { workers: 2 });
    expect(pool?.size).toBe(2);
    const tracks = [1, 2, 3, 4].map((k) => [audio(6, k), audio(4, k + 10)]);
    const got = await Promise.all(tracks.map((a) => pool!.run(a)));
    await pool!.close();
    const model = await loadGraph(tf, dir);
    const meta = readPublishedMeta(dir);
    tracks.forEach((a, i) => {
      const here = runOnAudio(tf, model, meta, a);
      expect(got[i].patches).toBe(here.patches);
      got[i].values.forEach((v, k) => expect(Math.abs(v - here.values[k])).toBeLessThan(1e-5));
      got[i].embedding!.forEach((v, k) => expect(Math.abs(v - here.embedding![k])).toBeLessThan(1e-4));
    });
    model.dispose();
    await expect(pool!.run(tracks[0])).rejects.toThrow(/closed/);
  });

  it('is not used with one thread, and a thread that cannot load the model says why', async () => {
    expect(await startInferencePool(tf, dir, { workers: 1 })).toBeNull();
    await expect(startInferencePool(tf, join(t.dir, 'nowhere'), { workers: 2 })).rejects.toThrow();
  });
});

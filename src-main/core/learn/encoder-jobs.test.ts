import { rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ffmpeg, lavfi, tempDir } from '../../../tests/helpers/fixtures.js';
import { LibraryStore } from '../store/library-store.js';
import { prepareLogMels, TrainingLogMels, type EncoderContext } from './encoder-jobs.js';
import { bandStatistics, LogMelCache, PATCH_SPECS } from './patches.js';
import { loadTf } from './tf/backend.js';

const t = tempDir('earmark-logmels-');
afterAll(() => t.cleanup());

/** Four real 3-second files (sines of different pitch), and a store that knows them. */
function setup(): { ctx: EncoderContext; ids: number[] } {
  const store = new LibraryStore(join(t.dir, `lib-${Math.random().toString(36).slice(2)}.db`));
  const root = store.addRoot(t.dir);
  const ids = [220, 330, 440, 550].map((f) => {
    const path = join(t.dir, `sine-${f}.wav`);
    lavfi(path, `sine=f=${f}:d=3`);
    return store.insertTrack(path, root, { size: 1, mtimeMs: 1, hash: `sine${f}` }, {
      container: 'WAVE', codec: 'PCM', duration: 3, sampleRate: 44100, channels: 1, bitrate: null, lossless: true,
      artist: 'A', albumArtist: null, album: 'B', title: `${f}`, trackNo: null, year: null, facets: {},
    });
  });
  const ctx: EncoderContext = { store, modelsDir: join(t.dir, 'models'), cacheDir: join(t.dir, 'cache'), cacheBytes: 2 ** 30, ffmpeg, tf: () => loadTf() };
  return { ctx, ids };
}

describe('the training set of log-mels', () => {
  it('keeps a bounded part in memory, reads the rest back from the disk cache, and decodes again what the cache lost', async () => {
    const { ctx, ids } = setup();
    const spec = PATCH_SPECS.agf;
    // Room in memory for about one track (a 3 s log-mel is ~130 frames × 128 bands × 4 bytes ≈ 66 KB).
    const { logMels, stats } = await prepareLogMels(ctx, spec, [...ids, 9999], { memoryBytes: 80_000 });
    expect(logMels.size).toBe(4); // the unknown id is left out
    expect(logMels.has(9999)).toBe(false);
    // The statistics gathered on the way equal those of all four tracks at once.
    const all = await Promise.all(ids.map((id) => logMels.get(id)));
    const whole = bandStatistics(all.map((x) => x!), spec.nMels);
    const acc = stats.result();
    for (let b = 0; b < spec.nMels; b += 17) {
      expect(acc.mean[b]).toBeCloseTo(whole.mean[b], 2); // the tracks read back from disk are 16-bit
      expect(acc.std[b]).toBeCloseTo(whole.std[b], 2);
    }
    // Read back from disk: the same values (to the cache's 16-bit precision).
    const again = await logMels.get(ids[0]);
    expect(again?.segments[0].length).toBe(all[0]?.segments[0].length);
    expect(logMels.recomputed).toBe(0);
    // The disk cache loses everything: the next reads decode the audio again, and still give the same values.
    for (const f of readdirSync(join(t.dir, 'cache'))) rmSync(join(t.dir, 'cache', f));
    const fresh = new TrainingLogMels(ctx, spec, new LogMelCache(ctx.cacheDir, ctx.cacheBytes), 0);
    for (const id of ids) await fresh.add(id);
    for (const f of readdirSync(join(t.dir, 'cache'))) rmSync(join(t.dir, 'cache', f));
    const redone = await fresh.get(ids[1]);
    expect(fresh.recomputed).toBe(1);
    const before = all[1]!.segments[0];
    for (let i = 0; i < before.length; i += 101) expect(redone!.segments[0][i]).toBeCloseTo(before[i], 1);
    ctx.store.close();
  }, 120_000);
});

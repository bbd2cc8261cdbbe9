import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../tests/helpers/fixtures.js';
import { Random } from '../util/random.js';
import { bandStatistics, cropAt, frameCount, LogMelCache, logMelOf, PATCH_SPECS, randomCrop, slices, standardise, type LogMel } from './patches.js';

const t = tempDir('earmark-patches-');
afterAll(() => t.cleanup());
const SR = 22050;
const tone = (hz: number, seconds: number) => Float32Array.from({ length: Math.round(seconds * SR) }, (_, i) => 0.5 * Math.sin((2 * Math.PI * hz * i) / SR));

describe('patch specs', () => {
  it('cut the input shapes the papers name', () => {
    const y = tone(440, 6.05);
    // 2.5 s at hop 256 ≈ 216 frames; 1 s at hop 512 ≈ 43; 6 s at hop 1024 ≈ 130 (80 mel).
    expect(Math.round((2.5 * SR) / PATCH_SPECS.mtdtl.hopLength)).toBe(PATCH_SPECS.mtdtl.frames - 1);
    expect(Math.round((1 * SR) / PATCH_SPECS.agf.hopLength)).toBe(PATCH_SPECS.agf.frames);
    expect(Math.round((6 * SR) / PATCH_SPECS.dpnn.hopLength)).toBe(PATCH_SPECS.dpnn.frames - 1);
    const lm = logMelOf([y], PATCH_SPECS.dpnn);
    expect(lm.nMels).toBe(80);
    expect(frameCount(lm)).toBe(1 + Math.floor(y.length / 1024));
  });
  it('puts a tone in the mel band of its frequency, time-major', () => {
    const lm = logMelOf([tone(1000, 1)], PATCH_SPECS.mtdtl);
    const frame = lm.segments[0].subarray(10 * 128, 11 * 128);
    const top = frame.indexOf(Math.max(...frame));
    expect(top).toBeGreaterThan(30); // 1 kHz sits near mel band 40 of 128 (Slaney, 0–11 kHz)
    expect(top).toBeLessThan(50);
  });
});

describe('crops', () => {
  const lm: LogMel = { nMels: 2, segments: [Float32Array.from({ length: 20 }, (_, i) => i), Float32Array.from({ length: 6 }, (_, i) => 100 + i)] };
  it('never straddle two excerpts, and tile an excerpt shorter than the patch', () => {
    const rng = new Random(1);
    for (let i = 0; i < 200; i++) {
      const c = randomCrop(lm, 4, rng);
      const inFirst = c.every((v) => v < 100);
      const inSecond = c.every((v) => v >= 100);
      expect(inFirst || inSecond).toBe(true);
    }
    expect(Array.from(cropAt(lm, 1, 0, 4))).toEqual([100, 101, 102, 103, 104, 105, 100, 101]);
  });
  it('slice a track into consecutive patches for embedding', () => {
    const s = slices(lm, 4);
    expect(s).toHaveLength(3); // 10 frames → 2 patches of 4; 3 frames → 1 tiled patch
    expect(Array.from(s[1])).toEqual([8, 9, 10, 11, 12, 13, 14, 15]);
  });
  it('standardise each band with training statistics', () => {
    const { mean, std } = bandStatistics([lm], 2);
    const all = standardise(Float32Array.from([...lm.segments[0], ...lm.segments[1]]), mean, std);
    for (const b of [0, 1]) {
      const vals = Array.from(all).filter((_, i) => i % 2 === b);
      const m = vals.reduce((a, v) => a + v, 0) / vals.length;
      const v = vals.reduce((a, x) => a + (x - m) ** 2, 0) / vals.length;
      expect(m).toBeCloseTo(0, 5);
      expect(v).toBeCloseTo(1, 4);
    }
  });
});

describe('LogMelCache', () => {
  it('reads back what it stored to 0.005 dB, survives a restart, and ignores damaged files', async () => {
    const dir = join(t.dir, 'c1');
    const cache = new LogMelCache(dir, 10 * 2 ** 20);
    let loads = 0;
    const load = async () => {
      loads++;
      return [tone(300, 1.2), tone(600, 0.7)];
    };
    const a = await cache.getOrCompute(PATCH_SPECS.mtdtl, 'abc123', load);
    const again = new LogMelCache(dir, 10 * 2 ** 20);
    const b = await again.getOrCompute(PATCH_SPECS.mtdtl, 'abc123', load);
    expect(loads).toBe(1);
    expect(b.segments.map((s) => s.length)).toEqual(a.segments.map((s) => s.length));
    a.segments.forEach((s, i) => s.forEach((v, j) => expect(Math.abs(v - b.segments[i][j])).toBeLessThanOrEqual(0.005 + 1e-6)));
    expect(again.info().files).toBe(1);
    writeFileSync(join(dir, readdirSync(dir)[0]), 'garbage');
    const third = new LogMelCache(dir, 10 * 2 ** 20);
    await third.getOrCompute(PATCH_SPECS.mtdtl, 'abc123', load);
    expect(loads).toBe(2);
  });

  it('stays within its size bound, evicting the least recently used', async () => {
    const dir = join(t.dir, 'c2');
    const one = logMelOf([tone(440, 1)], PATCH_SPECS.agf);
    const size = 2 * one.segments[0].length + 200;
    const cache = new LogMelCache(dir, Math.floor(2.5 * size));
    cache.put(PATCH_SPECS.agf, 'h1', one);
    await new Promise((r) => setTimeout(r, 5));
    cache.put(PATCH_SPECS.agf, 'h2', one);
    await new Promise((r) => setTimeout(r, 5));
    expect(cache.get(PATCH_SPECS.agf, 'h1')).not.toBeNull(); // h1 is now the most recently used
    await new Promise((r) => setTimeout(r, 5));
    cache.put(PATCH_SPECS.agf, 'h3', one);
    expect(cache.info().bytes).toBeLessThanOrEqual(cache.info().maxBytes);
    expect(cache.get(PATCH_SPECS.agf, 'h2')).toBeNull();
    expect(cache.get(PATCH_SPECS.agf, 'h1')).not.toBeNull();
    expect(cache.get(PATCH_SPECS.agf, 'h3')).not.toBeNull();
  });

  it('refuses content hashes that could name another file', () => {
    const cache = new LogMelCache(join(t.dir, 'c3'), 1e6);
    expect(() => cache.get(PATCH_SPECS.agf, '../x')).toThrow(/bad content hash/);
  });
});

import { parseFile } from 'music-metadata';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lavfi, tempDir } from '../../../tests/helpers/fixtures.js';
import { readTrackFacts } from './read-tags.js';
import { writeTags } from './tag-fields.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

const TAGS = {
  artist: 'Zoë Ólafsdóttir & 東京',
  album: 'Bloom Sessions',
  title: 'Pulse of Glow',
  trackNumber: 7,
  year: 1999,
  facets: { genre: ['Jazz', 'Bebop'], mood: ['Calm', 'Dark', 'Melancholic'], style: ['Cool Jazz'], theme: ['Night'] },
};

const cases: Array<{ ext: string; id3?: 3 | 4 }> = [
  { ext: 'mp3', id3: 4 },
  { ext: 'mp3', id3: 3 },
  { ext: 'flac' },
  { ext: 'ogg' },
  { ext: 'opus' },
  { ext: 'm4a' },
  { ext: 'wav', id3: 4 },
];

describe('tag round trip with Picard conventions', () => {
  for (const c of cases) {
    it(`${c.ext}${c.id3 ? ` (ID3v2.${c.id3})` : ''}: multi-valued facets and unicode come back exactly`, async () => {
      const f = join(dir, `t-${c.ext}-${c.id3 ?? 0}.${c.ext}`);
      lavfi(f, 'sine=f=440:d=1');
      writeTags(f, TAGS, { id3Version: c.id3 });
      const facts = await readTrackFacts(f);
      expect(facts.artist).toBe(TAGS.artist);
      expect(facts.album).toBe(TAGS.album);
      expect(facts.title).toBe(TAGS.title);
      expect(facts.trackNo).toBe(7);
      expect(facts.year).toBe(1999);
      expect(facts.facets.genre).toEqual(['Jazz', 'Bebop']);
      expect(facts.facets.mood).toEqual(['Calm', 'Dark', 'Melancholic']);
      expect(facts.facets.style).toEqual(['Cool Jazz']);
      expect(facts.facets.theme).toEqual(['Night']);
      expect(facts.duration).toBeGreaterThan(0.9);
    });
  }

  it('puts mood in TMOO for ID3v2.4 and in TXXX:MOOD for ID3v2.3', async () => {
    const v4 = join(dir, 'v4.mp3');
    const v3 = join(dir, 'v3.mp3');
    for (const [f, v] of [[v4, 4], [v3, 3]] as const) {
      lavfi(f, 'sine=f=440:d=1');
      writeTags(f, TAGS, { id3Version: v });
    }
    const ids = async (f: string) => Object.values((await parseFile(f)).native).flat().map((t) => t.id);
    expect(await ids(v4)).toContain('TMOO');
    expect(await ids(v4)).not.toContain('TXXX:MOOD');
    expect(await ids(v3)).toContain('TXXX:MOOD');
    expect(await ids(v3)).not.toContain('TMOO');
  });

  it('uses MP4 freeform atoms for mood and style, ©gen for genre', async () => {
    const f = join(dir, 'atoms.m4a');
    lavfi(f, 'sine=f=440:d=1');
    writeTags(f, TAGS);
    const ids = Object.values((await parseFile(f)).native).flat().map((t) => t.id);
    expect(ids).toEqual(expect.arrayContaining(['©gen', '----:com.apple.iTunes:MOOD', '----:com.apple.iTunes:STYLE']));
  });

  it('reads a file without tags as empty facets', async () => {
    const f = join(dir, 'bare.flac');
    lavfi(f, 'sine=f=440:d=1');
    const facts = await readTrackFacts(f);
    expect(facts.artist).toBeNull();
    expect(facts.facets).toEqual({});
  });

  it('throws for a file it cannot parse', async () => {
    const f = join(dir, 'junk.flac');
    (await import('node:fs')).writeFileSync(f, 'not flac at all');
    await expect(readTrackFacts(f)).rejects.toThrow();
  });
});

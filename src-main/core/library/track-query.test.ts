import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../tests/helpers/fixtures.js';
import { LibraryStore } from '../store/library-store.js';
import type { TrackFacts } from './read-tags.js';
import { facetCounts, fold, listRow, queryTracks } from './track-query.js';

const t = tempDir();
afterAll(() => t.cleanup());

function facts(over: Partial<TrackFacts>): TrackFacts {
  return {
    container: 'FLAC',
    codec: 'FLAC',
    duration: 200,
    sampleRate: 44100,
    channels: 2,
    bitrate: 900_000,
    lossless: true,
    artist: null,
    albumArtist: null,
    album: null,
    title: null,
    trackNo: null,
    year: null,
    facets: {},
    ...over,
  };
}

describe('library table queries', () => {
  const store = new LibraryStore(join(t.dir, 'library.db'));
  const root = store.addRoot('/music');
  const N = 1234;
  store.transaction(() => {
    for (let i = 0; i < N; i++) {
      store.insertTrack(`/music/${i}.flac`, root, { size: 1, mtimeMs: 1, hash: `h${i}` }, facts({
        title: `Song ${String(i).padStart(4, '0')}`,
        artist: i % 10 === 0 ? 'Björk Guðmundsdóttir' : `Artist ${i % 37}`,
        year: 1960 + (i % 60),
        facets: { genre: [i % 2 ? 'Rock' : 'Jazz'], mood: i % 3 ? ['Calm'] : ['Calm', 'Dark'] },
      }));
    }
  });

  it('folds case and accents for search', () => {
    expect(fold('Björk GUÐMUNDSDÓTTIR Café')).toBe('bjork guðmundsdottir cafe');
    const r = queryTracks(store.db, { offset: 0, limit: 500, search: 'bjork' });
    expect(r.total).toBe(Math.ceil(N / 10));
    expect(queryTracks(store.db, { offset: 0, limit: 5, search: 'BJÖRK dóttir' }).total).toBe(r.total);
    // Tag values and paths are searched too; LIKE wildcards are literal.
    expect(queryTracks(store.db, { offset: 0, limit: 5, search: 'dark' }).total).toBe(Math.ceil(N / 3));
    expect(queryTracks(store.db, { offset: 0, limit: 5, search: '/music/12.flac' }).total).toBe(1);
    expect(queryTracks(store.db, { offset: 0, limit: 5, search: '_' }).total).toBe(0);
  });

  it('pages through every row exactly once, in order, deep pages included', () => {
    const seen: string[] = [];
    for (let off = 0; off < N; off += 100) {
      const p = queryTracks(store.db, { offset: off, limit: 100, sort: { column: 'title', direction: 'desc' } });
      expect(p.total).toBe(N);
      seen.push(...p.rows.map((r) => r.title as string));
    }
    expect(seen).toHaveLength(N);
    expect(new Set(seen).size).toBe(N);
    expect(seen).toEqual([...seen].sort().reverse());
  });

  it('sees changes at once, even with a cached ordering', () => {
    const deep = () => queryTracks(store.db, { offset: 1200, limit: 100, sort: { column: 'year', direction: 'asc' } });
    expect(deep().rows).toHaveLength(34);
    const id = store.insertTrack('/music/new.flac', root, { size: 1, mtimeMs: 1, hash: 'new' }, facts({ title: 'Newest', year: 2099, facets: { genre: ['Jazz'] } }));
    const after = deep();
    expect(after.total).toBe(N + 1);
    expect(after.rows.at(-1)?.title).toBe('Newest');
    store.deleteTrack(id);
    expect(deep().total).toBe(N);
  });

  it('combines facets (OR within a field, AND across fields) with search and status', () => {
    expect(queryTracks(store.db, { offset: 0, limit: 1, facets: { genre: ['rock', 'JAZZ'] } }).total).toBe(N);
    const darkRock = queryTracks(store.db, { offset: 0, limit: 2000, facets: { genre: ['Rock'], mood: ['Dark'] } });
    expect(darkRock.rows.every((r) => r.genre[0] === 'Rock' && r.mood.includes('Dark'))).toBe(true);
    expect(darkRock.total).toBe(Array.from({ length: N }, (_, i) => i).filter((i) => i % 2 === 1 && i % 3 === 0).length);
    expect(queryTracks(store.db, { offset: 0, limit: 1, status: 'pending' }).total).toBe(N);
    expect(queryTracks(store.db, { offset: 0, limit: 1, status: 'analyzed' }).total).toBe(0);
    expect(listRow(store.db, 1)?.format).toBe('FLAC · FLAC');
    const f = facetCounts(store.db);
    expect(f.map((x) => x.field)).toEqual(['genre', 'mood']);
    expect(f[1].values).toEqual([
      { value: 'Calm', count: N },
      { value: 'Dark', count: Math.ceil(N / 3) },
    ]);
  });
});

import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../tests/helpers/fixtures.js';
import { LibraryStore } from '../store/library-store.js';
import { facetVocabulary, listAliases, removeAlias, setAlias, splitJoined, valueKey } from './facets.js';

const t = tempDir();
afterAll(() => t.cleanup());

describe('facet values', () => {
  it('splits values taggers joined', () => {
    expect(splitJoined('Rock; Pop')).toEqual(['Rock', 'Pop']);
    expect(splitJoined('Rock/Pop')).toEqual(['Rock', 'Pop']);
    expect(splitJoined('Rock\\Pop')).toEqual(['Rock', 'Pop']);
    expect(splitJoined(`Rock${String.fromCharCode(0)}Pop`)).toEqual(['Rock', 'Pop']);
    expect(splitJoined('  Drum   &  Bass ;; ')).toEqual(['Drum & Bass']);
    expect(splitJoined('')).toEqual([]);
  });

  it('treats spellings of one value as one', () => {
    expect(valueKey('Hip Hop')).toBe(valueKey('hip-hop'));
    expect(valueKey('HipHop')).toBe(valueKey('Hip-Hop'));
    expect(valueKey('Drum & Bass')).toBe(valueKey('drum and bass'));
    expect(valueKey('Drum&Bass')).toBe(valueKey('Drum and Bass'));
    expect(valueKey('Électro')).toBe(valueKey('electro'));
    expect(valueKey('Rock')).not.toBe(valueKey('Pop'));
  });

  it('builds a vocabulary: the common spelling, aliases, and rare values reported apart', () => {
    const store = new LibraryStore(join(t.dir, 'library.db'));
    const root = store.addRoot('/m');
    const genres = [
      ...Array(6).fill('Hip-Hop'),
      'hip hop',
      'HipHop; Jazz',
      ...Array(5).fill('Jazz'),
      'Rock/Pop',
      'Rock',
      'Electronica',
      'Electronic',
      'Electronic',
    ];
    store.transaction(() =>
      genres.forEach((g, i) =>
        store.insertTrack(`/m/${i}.flac`, root, { size: 1, mtimeMs: 1, hash: `h${i}` }, {
          container: null, codec: null, duration: null, sampleRate: null, channels: null, bitrate: null, lossless: null,
          artist: null, albumArtist: null, album: null, title: null, trackNo: null, year: null, facets: { genre: [g] },
        }),
      ),
    );
    const v = facetVocabulary(store, 'genre', { minSupport: 5 });
    expect(v.tracks).toBe(genres.length);
    expect(v.values.map((x) => [x.value, x.count])).toEqual([
      ['Hip-Hop', 8],
      ['Jazz', 6],
    ]);
    expect(v.values[0].spellings).toEqual(['Hip-Hop', 'hip hop', 'HipHop']);
    expect(v.rare.map((x) => [x.value, x.count])).toEqual([
      ['Electronic', 2],
      ['Rock', 2],
      ['Electronica', 1],
      ['Pop', 1],
    ]);
    expect(v.byTrack.get(8)).toEqual(['Hip-Hop', 'Jazz']);
    // The user's alias table: "Electronica" is "Electronic", spelled as the user says.
    setAlias(store, 'genre', 'electronica', 'Electronic');
    setAlias(store, 'GENRE', 'Pop', 'Rock');
    expect(listAliases(store, 'genre').map((a) => a.alias)).toEqual(['Pop', 'electronica']);
    const v2 = facetVocabulary(store, 'genre', { minSupport: 3 });
    expect(v2.values.map((x) => [x.value, x.count])).toEqual([
      ['Hip-Hop', 8],
      ['Jazz', 6],
      ['Electronic', 3],
    ]);
    expect(v2.rare.map((x) => [x.value, x.count])).toEqual([['Rock', 2]]);
    expect(removeAlias(store, 'genre', 'ELECTRONICA')).toBe(true);
    expect(removeAlias(store, 'genre', 'nothing')).toBe(false);
    expect(() => setAlias(store, 'genre', '???', 'X')).toThrow(/no letters/);
    store.close();
  });
});

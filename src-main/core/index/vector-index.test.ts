import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../tests/helpers/fixtures.js';
import { schemaVersion } from '../store/db.js';
import { MIGRATIONS } from '../store/migrations.js';
import { LibraryStore } from '../store/library-store.js';
import { Random } from '../util/random.js';
import { cosine, fitNormaliser, applyNormaliser } from './normalise.js';
import { withHub } from '../../../tests/helpers/hub.js';
import { VectorIndexes } from './vector-index.js';

let t: ReturnType<typeof tempDir>;
let store: LibraryStore;
const DIM = 8;
const groups = (_rep: string, dim: number) => ({ groups: [{ name: 'a', start: 0, end: 2 }, { name: 'b', start: 2, end: dim }], standardise: true });

function fill(n: number, seed = 1): number[] {
  const rng = new Random(seed);
  store.ensureRepresentation('dsp', 'builtin', DIM, 'v1');
  const ids: number[] = [];
  store.transaction(() => {
    for (let i = 0; i < n; i++) {
      const id = store.insertTrack(`/music/${seed}-${i}.mp3`, null, { size: 1, mtimeMs: 1, hash: `h${seed}-${i}` }, null);
      store.putVector(id, 'dsp', `h${seed}-${i}`, Float32Array.from({ length: DIM }, () => rng.normal() * (i % 2 ? 3 : 1)), []);
      ids.push(id);
    }
  });
  return ids;
}

beforeEach(() => {
  t = tempDir();
  store = new LibraryStore(join(t.dir, 'library.db'));
});
afterEach(() => {
  store.close();
  t.cleanup();
});

describe('store', () => {
  it('migrates to the latest schema in WAL mode', () => {
    expect(schemaVersion(store.db)).toBe(MIGRATIONS.length);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
  });
  it('refuses a database from a newer Earmark', () => {
    store.db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    store.close();
    expect(() => new LibraryStore(join(t.dir, 'library.db'))).toThrow(/newer than this Earmark/);
    store = new LibraryStore(join(t.dir, 'other.db'));
  });
  it('moves a representation’s generation on with every vector change, and cascades deletes', () => {
    const ids = fill(3);
    const g0 = store.representation('dsp')!.generation;
    store.putVector(ids[0], 'dsp', 'h', new Float32Array(DIM), []);
    const g1 = store.representation('dsp')!.generation;
    expect(g1).toBeGreaterThan(g0);
    store.deleteTrack(ids[1]);
    expect(store.representation('dsp')!.generation).toBeGreaterThan(g1);
    expect(store.vectorCount('dsp')).toBe(2);
  });
  it('stores vectors as exact float32 blobs', () => {
    const [id] = fill(1);
    const v = Float32Array.of(1.5, -2.25, 3e-8, 0, 1e30, -0, 7, 8);
    store.putVector(id, 'dsp', 'h', v, []);
    expect(store.vector(id, 'dsp')).toEqual(v);
  });
  it('drops old vectors when a representation changes version or dimension', () => {
    fill(2);
    store.ensureRepresentation('dsp', 'builtin', DIM, 'v2');
    expect(store.vectorCount('dsp')).toBe(0);
  });
});

describe('VectorIndexes', () => {
  const open = () => new VectorIndexes(join(t.dir, 'index'), store, groups, { M: 16, efConstruction: 100, ef: 50 });

  it('builds from the store, writes atomically, and loads with ef set', () => {
    fill(200);
    const idx = open();
    const built = idx.ensure('dsp');
    expect(built.origin).toBe('built');
    const files = readdirSync(join(t.dir, 'index')).sort();
    expect(files).toEqual(['dsp.hnsw', 'dsp.json', 'dsp.mp']); // no temporary files left behind
    const again = open().ensure('dsp');
    expect(again.origin).toBe('loaded');
    expect(again.hnsw!.getEf()).toBe(50);
    expect(again.meta).toMatchObject({ dim: DIM, count: 200, version: 'v1', space: 'cosine' });
  });

  it('finds a track’s own vector first and, without hubness reduction, agrees with exact search', () => {
    const ids = fill(300);
    const idx = open();
    const { normaliser } = idx.ensure('dsp').meta;
    const all = store.vectors('dsp');
    let agree = 0;
    for (const q of ids.slice(0, 30)) {
      const raw = store.vector(q, 'dsp')!;
      const hits = idx.search('dsp', raw, 10, undefined, { hubness: 'none' });
      expect(hits[0].trackId).toBe(q);
      expect(idx.search('dsp', raw, 10)[0].trackId).toBe(q);
      expect(hits[0].score).toBeCloseTo(1, 5);
      const nq = applyNormaliser(normaliser, raw);
      const exact = all.data
        .map((v, i) => ({ id: all.ids[i], s: cosine(nq, applyNormaliser(normaliser, v)) }))
        .sort((a, b) => b.s - a.s)
        .slice(0, 10)
        .map((x) => x.id);
      agree += hits.filter((h) => exact.includes(h.trackId)).length;
    }
    expect(agree / 300).toBeGreaterThan(0.95);
  });

  it('applies filters inside the search and returns k results when k pass', () => {
    const ids = fill(100);
    const even = new Set(ids.filter((_, i) => i % 2 === 0));
    const hits = open().search('dsp', store.vector(ids[1], 'dsp')!, 10, (id) => even.has(id));
    expect(hits).toHaveLength(10);
    expect(hits.every((h) => even.has(h.trackId))).toBe(true);
  });

  it('is stale after vectors change and is rebuilt; deleted tracks leave the index', () => {
    const ids = fill(50);
    const idx = open();
    idx.ensure('dsp');
    store.deleteTrack(ids[0]);
    expect(idx.state('dsp').state).toBe('stale');
    const li = open().ensure('dsp');
    expect(li.origin).toBe('built');
    expect(li.meta.count).toBe(49);
    expect(li.hnsw!.getIdsList()).not.toContain(ids[0]);
    expect(open().search('dsp', store.vector(ids[1], 'dsp')!, 49).map((h) => h.trackId)).not.toContain(ids[0]);
  });

  it('rebuilds when the index file is missing or corrupt, or built for another dimension', () => {
    fill(40);
    open().ensure('dsp');
    writeFileSync(join(t.dir, 'index', 'dsp.hnsw'), 'corrupt');
    const a = open().ensure('dsp');
    expect(a.origin).toBe('built');
    expect(a.reason).toMatch(/could not load|index holds/);
    const meta = JSON.parse(readFileSync(join(t.dir, 'index', 'dsp.json'), 'utf8'));
    writeFileSync(join(t.dir, 'index', 'dsp.json'), JSON.stringify({ ...meta, dim: DIM + 1 }));
    expect(open().state('dsp').state).toBe('inconsistent');
    expect(open().ensure('dsp').origin).toBe('built');
  });

  it('ranks by mutual proximity by default, so a hub stops crowding the lists; the statistics survive a reload', () => {
    const { points, cluster, hub } = withHub();
    const dim = points[0].length;
    store.ensureRepresentation('emb', 'model:triplet', dim, 'e1');
    const ids: number[] = [];
    store.transaction(() => {
      points.forEach((p, i) => {
        const id = store.insertTrack(`/music/h-${i}.mp3`, null, { size: 1, mtimeMs: 1, hash: `hub${i}` }, null);
        store.putVector(id, 'emb', `hub${i}`, Float32Array.from(p), []);
        ids.push(id);
      });
    });
    const oneGroup = (_rep: string, d: number) => ({ groups: [{ name: 'emb', start: 0, end: d }], standardise: false });
    const idx = new VectorIndexes(join(t.dir, 'index'), store, oneGroup, { M: 16, efConstruction: 100, ef: 50 });
    const k = 5;
    const lists = (o: { hubness?: 'mp' | 'none' }, indexes = idx) =>
      ids.slice(0, hub).map((q) => indexes.search('emb', store.vector(q, 'emb')!, k, (id) => id !== q, { ...o, queryId: q }).map((h) => ids.indexOf(h.trackId)));
    const plain = lists({ hubness: 'none' });
    const mp = lists({});
    const hubIn = (ls: number[][]) => ls.filter((l) => l.includes(hub)).length;
    const precision = (ls: number[][]) => ls.reduce((a, l, i) => a + l.filter((j) => cluster[j] === cluster[i]).length / k, 0) / ls.length;
    expect(hubIn(plain)).toBeGreaterThan(hub / 2);
    expect(hubIn(mp)).toBeLessThan(hubIn(plain) / 3);
    expect(precision(mp)).toBeGreaterThan(precision(plain));
    expect(idx.search('emb', store.vector(ids[0], 'emb')!, 3)[0].mp).toBeGreaterThan(0);
    // Reloaded from disk, the same statistics give the same lists; a query from outside the library works too.
    const reloaded = new VectorIndexes(join(t.dir, 'index'), store, oneGroup, { M: 16, efConstruction: 100, ef: 50 });
    expect(reloaded.ensure('emb').origin).toBe('loaded');
    expect(lists({}, reloaded)).toEqual(mp);
    expect(reloaded.search('emb', Float32Array.from(points[0]), 3)).toHaveLength(3);
    // Statistics missing on disk: the index is rebuilt rather than searched without them.
    rmSync(join(t.dir, 'index', 'emb.mp'));
    expect(reloaded.state('emb').state).toBe('missing');
  });

  it('leaves no index for a representation without vectors', () => {
    store.ensureRepresentation('dsp', 'builtin', DIM, 'v1');
    expect(open().state('dsp').state).toBe('empty');
    expect(open().search('dsp', new Float32Array(DIM), 5)).toEqual([]);
    expect(existsSync(join(t.dir, 'index', 'dsp.hnsw'))).toBe(false);
  });
});

describe('normaliser', () => {
  it('z-scores each dimension and weighs groups by 1/√size so none dominates', () => {
    const rng = new Random(5);
    const vs = Array.from({ length: 500 }, () => Float32Array.from({ length: 10 }, (_, i) => rng.normal(i * 100, i + 1)));
    const n = fitNormaliser(vs, 10, [{ name: 'small', start: 0, end: 1 }, { name: 'big', start: 1, end: 10 }]);
    const energy = [0, 0];
    for (const v of vs) {
      const z = applyNormaliser(n, v);
      energy[0] += z[0] ** 2;
      for (let i = 1; i < 10; i++) energy[1] += z[i] ** 2;
    }
    expect(energy[0] / energy[1]).toBeCloseTo(1, 1);
  });
  it('zeroes constant dimensions instead of dividing by zero', () => {
    const vs = [Float32Array.of(1, 5), Float32Array.of(2, 5), Float32Array.of(3, 5)];
    const z = applyNormaliser(fitNormaliser(vs, 2, [{ name: 'g', start: 0, end: 2 }]), Float32Array.of(2, 5));
    expect(z[1]).toBe(0);
    expect([...z].every(Number.isFinite)).toBe(true);
  });
});

import hnswlib from 'hnswlib-node';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FeatureGroup } from '../audio/representations.js';
import type { LibraryStore } from '../store/library-store.js';
import { applyNormaliser, fitNormaliser, type Normaliser } from './normalise.js';

const { HierarchicalNSW } = hnswlib;
type Hnsw = InstanceType<typeof HierarchicalNSW>;

export const INDEX_FORMAT = 1;

export interface IndexParams {
  M: number;
  efConstruction: number;
  /** Search breadth, set after every load (hnswlib does not store it). */
  ef: number;
}
export const DEFAULT_INDEX_PARAMS: IndexParams = { M: 16, efConstruction: 200, ef: 128 };

export interface IndexMeta {
  format: number;
  representation: string;
  version: string;
  dim: number;
  space: 'cosine';
  params: IndexParams;
  count: number;
  generation: number;
  builtAt: number;
  normaliser: Normaliser;
}

export type IndexState = 'fresh' | 'missing' | 'stale' | 'inconsistent' | 'empty';

export interface LoadedIndex {
  meta: IndexMeta;
  hnsw: Hnsw | null;
  /** Why it was (re)built on this load, or 'loaded'. */
  origin: 'loaded' | 'built';
  reason?: string;
}

export interface Neighbour {
  trackId: number;
  /** Cosine similarity of the normalised vectors, in [−1, 1]. */
  score: number;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Layout of a representation for normalisation: its feature groups, or one group when it has none. */
export type GroupsOf = (rep: string, dim: number) => { groups: FeatureGroup[]; standardise: boolean };

/**
 * One HNSW index per representation, derived from the store and kept on disk as `<rep>.hnsw` + `<rep>.json`.
 * Written atomically (temporary file, fsync, rename; the metadata last), checked on load (format, version,
 * dimension, element count, and the store's generation for that representation) and rebuilt from SQLite
 * whenever it is missing, stale or inconsistent.
 */
export class VectorIndexes {
  private loaded = new Map<string, LoadedIndex>();

  constructor(
    private readonly dir: string,
    private readonly store: LibraryStore,
    private readonly groupsOf: GroupsOf,
    private readonly params: IndexParams = DEFAULT_INDEX_PARAMS,
  ) {}

  private paths(rep: string) {
    const safe = rep.replace(/[^A-Za-z0-9._-]/g, '_');
    return { index: join(this.dir, `${safe}.hnsw`), meta: join(this.dir, `${safe}.json`) };
  }

  readMeta(rep: string): IndexMeta | null {
    const { meta } = this.paths(rep);
    if (!existsSync(meta)) return null;
    try {
      return JSON.parse(readFileSync(meta, 'utf8')) as IndexMeta;
    } catch {
      return null;
    }
  }

  /** Whether the on-disk index agrees with the store, without loading it. */
  state(rep: string): { state: IndexState; reason: string } {
    const r = this.store.representation(rep);
    if (!r) return { state: 'missing', reason: `no representation "${rep}" in the store` };
    const count = this.store.vectorCount(rep);
    if (count === 0) return { state: 'empty', reason: 'no vectors yet' };
    const meta = this.readMeta(rep);
    if (!meta || !existsSync(this.paths(rep).index)) return { state: 'missing', reason: 'no index on disk' };
    if (meta.format !== INDEX_FORMAT || meta.dim !== r.dim || meta.version !== r.version || meta.space !== 'cosine') {
      return { state: 'inconsistent', reason: `index built for ${meta.version} dim ${meta.dim}, store has ${r.version} dim ${r.dim}` };
    }
    if (meta.generation !== r.generation || meta.count !== count) {
      return { state: 'stale', reason: `index is of generation ${meta.generation} (${meta.count} vectors), store is at ${r.generation} (${count})` };
    }
    return { state: 'fresh', reason: 'up to date' };
  }

  /** The index of `rep`, loaded or rebuilt as needed. */
  ensure(rep: string): LoadedIndex {
    const r = this.store.representation(rep);
    if (!r) throw new Error(`Unknown representation "${rep}". Run \`earmark analyze --representation ${rep}\` first.`);
    const cached = this.loaded.get(rep);
    // Every vector insert, update and delete moves the generation on (SQLite triggers), so an equal
    // generation means an equal set of vectors: no need to count them on every query.
    if (cached && cached.meta.generation === r.generation) return cached;
    const st = this.state(rep);
    if (st.state === 'fresh') {
      const meta = this.readMeta(rep) as IndexMeta;
      try {
        const hnsw = new HierarchicalNSW('cosine', meta.dim);
        hnsw.readIndexSync(this.paths(rep).index, true);
        if (hnsw.getCurrentCount() !== meta.count) throw new Error(`index holds ${hnsw.getCurrentCount()} vectors, metadata says ${meta.count}`);
        hnsw.setEf(Math.max(meta.params.ef, 10));
        const li: LoadedIndex = { meta, hnsw, origin: 'loaded' };
        this.loaded.set(rep, li);
        return li;
      } catch (e) {
        return this.rebuild(rep, `could not load the index file (${(e as Error).message})`);
      }
    }
    return this.rebuild(rep, st.reason);
  }

  /** Build the index of `rep` from the store's vectors and write it atomically. */
  rebuild(rep: string, reason = 'requested'): LoadedIndex {
    const r = this.store.representation(rep);
    if (!r) throw new Error(`Unknown representation "${rep}".`);
    // Read vectors and generation in one read transaction, so they agree.
    const { ids, data, generation } = this.store.db.transaction(() => ({ ...this.store.vectors(rep), generation: this.store.representation(rep)!.generation }))();
    const layout = this.groupsOf(rep, r.dim);
    const normaliser = fitNormaliser(data, r.dim, layout.groups, layout.standardise);
    let hnsw: Hnsw | null = null;
    const { index, meta: metaPath } = this.paths(rep);
    mkdirSync(this.dir, { recursive: true });
    if (ids.length > 0) {
      hnsw = new HierarchicalNSW('cosine', r.dim);
      hnsw.initIndex({ maxElements: ids.length, m: this.params.M, efConstruction: this.params.efConstruction, randomSeed: 100, allowReplaceDeleted: true });
      for (let i = 0; i < ids.length; i++) hnsw.addPoint(Array.from(applyNormaliser(normaliser, data[i])), ids[i]);
      hnsw.setEf(this.params.ef);
      const tmp = `${index}.tmp-${process.pid}`;
      hnsw.writeIndexSync(tmp);
      fsyncPath(tmp);
      renameSync(tmp, index);
    } else if (existsSync(index)) rmSync(index);
    const meta: IndexMeta = {
      format: INDEX_FORMAT,
      representation: rep,
      version: r.version,
      dim: r.dim,
      space: 'cosine',
      params: this.params,
      count: ids.length,
      generation,
      builtAt: Date.now(),
      normaliser,
    };
    const tmpMeta = `${metaPath}.tmp-${process.pid}`;
    writeFileSync(tmpMeta, JSON.stringify(meta));
    fsyncPath(tmpMeta);
    renameSync(tmpMeta, metaPath);
    try {
      fsyncPath(this.dir);
    } catch {
      // Directories cannot be fsynced on every platform (Windows); the renames are still atomic.
    }
    const li: LoadedIndex = { meta, hnsw, origin: 'built', reason };
    this.loaded.set(rep, li);
    return li;
  }

  /** Normalise a raw vector of `rep` the way the index's vectors were. */
  normalise(rep: string, raw: Float32Array): Float32Array {
    return applyNormaliser(this.ensure(rep).meta.normaliser, raw);
  }

  /**
   * The `k` nearest tracks to a raw vector by cosine similarity, optionally restricted by `allow`.
   * Filtering happens inside the HNSW search, so k results come back whenever k tracks pass.
   */
  search(rep: string, raw: Float32Array, k: number, allow?: (trackId: number) => boolean): Neighbour[] {
    return this.searchNormalised(rep, this.normalise(rep, raw), k, allow);
  }

  /** Search with a query already in the index's space (from `normalise`, e.g. the mean of several). */
  searchNormalised(rep: string, normalised: Float32Array, k: number, allow?: (trackId: number) => boolean): Neighbour[] {
    const li = this.ensure(rep);
    if (!li.hnsw || li.meta.count === 0) return [];
    const q = Array.from(normalised);
    const n = Math.min(k, li.meta.count);
    if (n <= 0) return [];
    li.hnsw.setEf(Math.max(li.meta.params.ef, n));
    const res = allow ? li.hnsw.searchKnn(q, n, allow) : li.hnsw.searchKnn(q, n);
    return res.neighbors.map((id, i) => ({ trackId: id, score: 1 - res.distances[i] }));
  }

  /** Forget a representation's index and delete its files. */
  remove(rep: string): void {
    this.loaded.delete(rep);
    const { index, meta } = this.paths(rep);
    // The metadata first: an index file without it is never trusted.
    rmSync(meta, { force: true });
    rmSync(index, { force: true });
  }

  forget(rep?: string): void {
    if (rep) this.loaded.delete(rep);
    else this.loaded.clear();
  }
}

import hnswlib from 'hnswlib-node';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FeatureGroup } from '../audio/representations.js';
import type { LibraryStore } from '../store/library-store.js';
import { Random } from '../util/random.js';
import { cosineDistance, distanceStats, rerankByMutualProximity, type DistanceStats, type HubnessMethod } from './hubness.js';
import { applyNormaliser, fitNormaliser, type Normaliser } from './normalise.js';

const { HierarchicalNSW } = hnswlib;
type Hnsw = InstanceType<typeof HierarchicalNSW>;

/** 2: groups at unit length in every vector (`Normaliser.groups`). */
export const INDEX_FORMAT = 2;

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
  /**
   * Mutual-proximity statistics (`hubness.ts`): the ids of the random sample every track's distance statistics
   * were taken against. The statistics themselves are in `<rep>.mp`.
   */
  hubness: { sample: number[] };
}

/** Tracks in the sample each track's distance statistics are estimated from (Schnitzer et al.'s MP-S). */
export const HUBNESS_SAMPLE = 200;
/** Mutual proximity re-ranks this many HNSW candidates per result asked for (at least 50). */
export const HUBNESS_CANDIDATES = 5;

/** A representation's mutual-proximity statistics, loaded. */
interface HubnessStats {
  /** Track id → position in `mean` / `std`. */
  at: Map<number, number>;
  mean: Float32Array;
  std: Float32Array;
  /** The sample's vectors, for the statistics of a query that is not a library track. */
  sample: number[][];
}

export type IndexState = 'fresh' | 'missing' | 'stale' | 'inconsistent' | 'empty';

export interface LoadedIndex {
  meta: IndexMeta;
  hnsw: Hnsw | null;
  hubness: HubnessStats | null;
  /** Why it was (re)built on this load, or 'loaded'. */
  origin: 'loaded' | 'built';
  reason?: string;
}

export interface Neighbour {
  trackId: number;
  /** Cosine similarity of the normalised vectors, in [−1, 1]. */
  score: number;
  /** Mutual proximity with the query, in [0, 1], when the results were ranked by it. */
  mp?: number;
}

export interface SearchOptions {
  /** `mp` (default): re-rank a larger candidate set by mutual proximity; `none`: plain cosine order. */
  hubness?: HubnessMethod;
  /** The library track the query is, when it is one: its stored statistics are used. */
  queryId?: number;
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
    return { index: join(this.dir, `${safe}.hnsw`), meta: join(this.dir, `${safe}.json`), mp: join(this.dir, `${safe}.mp`) };
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
    if (!existsSync(this.paths(rep).mp)) return { state: 'missing', reason: 'no mutual-proximity statistics on disk' };
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
        const li: LoadedIndex = { meta, hnsw, hubness: this.readHubness(rep, meta, hnsw), origin: 'loaded' };
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
    const { index, meta: metaPath, mp: mpPath } = this.paths(rep);
    mkdirSync(this.dir, { recursive: true });
    let hubness: HubnessStats | null = null;
    let sampleIds: number[] = [];
    if (ids.length > 0) {
      hnsw = new HierarchicalNSW('cosine', r.dim);
      hnsw.initIndex({ maxElements: ids.length, m: this.params.M, efConstruction: this.params.efConstruction, randomSeed: 100, allowReplaceDeleted: true });
      const normalised = data.map((v) => applyNormaliser(normaliser, v));
      for (let i = 0; i < ids.length; i++) hnsw.addPoint(Array.from(normalised[i]), ids[i]);
      hnsw.setEf(this.params.ef);
      const tmp = `${index}.tmp-${process.pid}`;
      hnsw.writeIndexSync(tmp);
      fsyncPath(tmp);
      renameSync(tmp, index);
      const built = hubnessStats(ids, normalised);
      hubness = built.stats;
      sampleIds = built.sampleIds;
    } else if (existsSync(index)) rmSync(index);
    // The statistics before the metadata, which is written last: metadata on disk means everything is there.
    writeAtomically(mpPath, encodeHubness(ids, hubness));
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
      hubness: { sample: sampleIds },
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
    const li: LoadedIndex = { meta, hnsw, hubness, origin: 'built', reason };
    this.loaded.set(rep, li);
    return li;
  }

  /** Normalise a raw vector of `rep` the way the index's vectors were. */
  normalise(rep: string, raw: Float32Array): Float32Array {
    return applyNormaliser(this.ensure(rep).meta.normaliser, raw);
  }

  /**
   * The `k` nearest tracks to a raw vector, optionally restricted by `allow` (see `searchNormalised`).
   * Filtering happens inside the HNSW search, so k results come back whenever k tracks pass.
   */
  search(rep: string, raw: Float32Array, k: number, allow?: (trackId: number) => boolean, o: SearchOptions = {}): Neighbour[] {
    return this.searchNormalised(rep, this.normalise(rep, raw), k, allow, o);
  }

  /**
   * Search with a query already in the index's space (from `normalise`, e.g. the mean of several). By default the
   * HNSW search fetches a larger candidate set (`HUBNESS_CANDIDATES` × k, at least 50) and ranks it by mutual
   * proximity with the query, which keeps hubs — tracks near everything — from crowding every list; with
   * `hubness: 'none'`, the plain cosine order.
   */
  searchNormalised(rep: string, normalised: Float32Array, k: number, allow?: (trackId: number) => boolean, o: SearchOptions = {}): Neighbour[] {
    const li = this.ensure(rep);
    if (!li.hnsw || li.meta.count === 0) return [];
    const q = Array.from(normalised);
    const n = Math.min(k, li.meta.count);
    if (n <= 0) return [];
    const mp = (o.hubness ?? 'mp') === 'mp' && li.hubness !== null;
    const want = mp ? Math.min(li.meta.count, Math.max(50, HUBNESS_CANDIDATES * n)) : n;
    li.hnsw.setEf(Math.max(li.meta.params.ef, want));
    const res = allow ? li.hnsw.searchKnn(q, want, allow) : li.hnsw.searchKnn(q, want);
    if (!mp || !li.hubness) return res.neighbors.map((id, i) => ({ trackId: id, score: 1 - res.distances[i] }));
    const h = li.hubness;
    const of = (id: number): DistanceStats | null => {
      const at = h.at.get(id);
      return at === undefined ? null : { mean: h.mean[at], std: h.std[at] };
    };
    const own = o.queryId !== undefined ? of(o.queryId) : null;
    const queryStats = own ?? distanceStats(h.sample.map((v) => cosineDistance(q, v)));
    const candidates = res.neighbors.map((id, i) => ({ trackId: id, distance: res.distances[i], stats: of(id) ?? queryStats }));
    return rerankByMutualProximity(queryStats, candidates)
      .slice(0, n)
      .map((c) => ({ trackId: c.trackId, score: 1 - c.distance, mp: c.mp }));
  }

  private readHubness(rep: string, meta: IndexMeta, hnsw: Hnsw): HubnessStats {
    const buf = readFileSync(this.paths(rep).mp);
    const stats = decodeHubness(buf);
    if (stats.ids.length !== meta.count) throw new Error(`mutual-proximity statistics hold ${stats.ids.length} tracks, metadata says ${meta.count}`);
    const sample = (meta.hubness?.sample ?? []).map((id) => hnsw.getPoint(id));
    return { at: new Map(Array.from(stats.ids, (id, i) => [id, i])), mean: stats.mean, std: stats.std, sample };
  }

  /** Forget a representation's index and delete its files. */
  remove(rep: string): void {
    this.loaded.delete(rep);
    const { index, meta, mp } = this.paths(rep);
    // The metadata first: an index file without it is never trusted.
    rmSync(meta, { force: true });
    rmSync(index, { force: true });
    rmSync(mp, { force: true });
  }

  forget(rep?: string): void {
    if (rep) this.loaded.delete(rep);
    else this.loaded.clear();
  }
}

function writeAtomically(path: string, data: Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  fsyncPath(tmp);
  renameSync(tmp, path);
}

/**
 * Each track's cosine-distance statistics against a seeded random sample of `HUBNESS_SAMPLE` tracks (itself left
 * out), as mutual proximity needs them. `vectors[i]` is track `ids[i]`'s normalised vector.
 */
function hubnessStats(ids: ArrayLike<number>, vectors: readonly Float32Array[]): { stats: HubnessStats; sampleIds: number[] } {
  const n = ids.length;
  const order = Array.from({ length: n }, (_, i) => i);
  const rng = new Random(2012);
  const m = Math.min(n, HUBNESS_SAMPLE);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rng.next() * (n - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const sample = order.slice(0, m).sort((a, b) => a - b);
  // Unit-length copies of the sample, so each distance is one dot product.
  const unit = (v: Float32Array) => {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i] * v[i];
    const f = s > 0 ? 1 / Math.sqrt(s) : 0;
    return Float32Array.from(v, (x) => x * f);
  };
  const sampleUnit = sample.map((i) => unit(vectors[i]));
  const mean = new Float32Array(n);
  const std = new Float32Array(n);
  const d = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    const v = unit(vectors[i]);
    let k = 0;
    for (let s = 0; s < m; s++) {
      if (sample[s] === i) continue;
      const u = sampleUnit[s];
      let dot = 0;
      for (let j = 0; j < v.length; j++) dot += v[j] * u[j];
      d[k++] = 1 - dot;
    }
    const st = distanceStats(d.subarray(0, k));
    mean[i] = st.mean;
    std[i] = st.std;
  }
  return {
    stats: { at: new Map(Array.from(ids, (id, i) => [id, i])), mean, std, sample: sampleUnit.map((v) => Array.from(v)) },
    sampleIds: sample.map((i) => ids[i]),
  };
}

/** `<rep>.mp`: "EMP1", the track count (uint32 LE), then the ids (int32), means and stds (float32). */
function encodeHubness(ids: ArrayLike<number>, stats: HubnessStats | null): Buffer {
  const n = stats ? ids.length : 0;
  const buf = Buffer.alloc(8 + 12 * n);
  buf.write('EMP1', 0, 'latin1');
  buf.writeUInt32LE(n, 4);
  for (let i = 0; i < n; i++) {
    buf.writeInt32LE(ids[i], 8 + 4 * i);
    buf.writeFloatLE((stats as HubnessStats).mean[i], 8 + 4 * n + 4 * i);
    buf.writeFloatLE((stats as HubnessStats).std[i], 8 + 8 * n + 4 * i);
  }
  return buf;
}

function decodeHubness(buf: Buffer): { ids: Int32Array; mean: Float32Array; std: Float32Array } {
  if (buf.length < 8 || buf.toString('latin1', 0, 4) !== 'EMP1') throw new Error('not a mutual-proximity statistics file');
  const n = buf.readUInt32LE(4);
  if (buf.length !== 8 + 12 * n) throw new Error(`mutual-proximity statistics file is ${buf.length} bytes, expected ${8 + 12 * n}`);
  const ids = new Int32Array(n);
  const mean = new Float32Array(n);
  const std = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    ids[i] = buf.readInt32LE(8 + 4 * i);
    mean[i] = buf.readFloatLE(8 + 4 * n + 4 * i);
    std[i] = buf.readFloatLE(8 + 8 * n + 4 * i);
  }
  return { ids, mean, std };
}

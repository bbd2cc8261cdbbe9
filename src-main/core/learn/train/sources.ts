import { facetVocabulary, valueKey } from '../../library/facets.js';
import { LEARNING_SOURCES } from '../../contract.js';
import type { LibraryStore } from '../../store/library-store.js';
import { dense, fitGmm1d, lsi, plsa, responsibilities } from '../targets/index.js';

/**
 * Learning sources built from a library (seed 001 §2.3, Table 1): each gives some tracks a target
 * distribution the encoder learns to predict (by KL divergence), or, for the triplet loss, a vector whose
 * cosine says how related two tracks are.
 * - `tags` — the chosen tag fields as one bag of values per track, factorised by pLSA into k ≤ 50 factors;
 * - `artist` — the track's artist, as a category over the artists with at least two tracks;
 * - `year` — the release year through a 1-d GMM, a soft category over its components;
 * - `bpm` — the `bpm` tag through a GMM likewise.
 * A source with too little data is refused with the reason (`SourceError`).
 */
export type SourceName = (typeof LEARNING_SOURCES)[number];
export const SOURCE_NAMES: readonly SourceName[] = LEARNING_SOURCES;

export interface Source {
  name: SourceName;
  /** Size of each target distribution. */
  k: number;
  /** Target distributions (rows sum to 1) of the tracks this source knows. */
  targets: Map<number, Float32Array>;
  describe: string;
}

export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

const DEFAULT_FIELDS = ['genre', 'mood', 'style'];

/** Per track, its canonical values of the fields, prefixed by field (`genre:Rock`). */
export function tagBags(store: LibraryStore, fields: readonly string[] = DEFAULT_FIELDS, minSupport = 2): { tags: string[]; bags: Map<number, string[]> } {
  const bags = new Map<number, string[]>();
  const tags: string[] = [];
  for (const f of fields) {
    const v = facetVocabulary(store, f, { minSupport });
    const known = new Set(v.values.map((x) => x.value));
    for (const x of v.values) tags.push(`${v.field}:${x.value}`);
    for (const [id, values] of v.byTrack) {
      const mine = values.filter((x) => known.has(x)).map((x) => `${v.field}:${x}`);
      if (mine.length) bags.set(id, [...(bags.get(id) ?? []), ...mine]);
    }
  }
  return { tags, bags };
}

function tagsSource(store: LibraryStore, fields: readonly string[], seed: number): Source {
  const { tags, bags } = tagBags(store, fields);
  if (bags.size < 20 || tags.length < 3) {
    throw new SourceError(`The tags source needs at least 20 tagged tracks and 3 values in ${fields.join(', ')}; the library has ${bags.size} and ${tags.length}.`);
  }
  const index = new Map(tags.map((t, i) => [t, i]));
  const ids = [...bags.keys()];
  const counts = dense(ids.length, tags.length);
  ids.forEach((id, d) => {
    for (const t of bags.get(id) as string[]) counts.data[d * tags.length + (index.get(t) as number)] += 1;
  });
  const k = Math.max(2, Math.min(50, tags.length, Math.floor(ids.length / 4)));
  const p = plsa(counts, k, { seed });
  const targets = new Map<number, Float32Array>();
  ids.forEach((id, d) => targets.set(id, Float32Array.from(p.docTopics.data.subarray(d * k, (d + 1) * k))));
  return { name: 'tags', k, targets, describe: `pLSA with ${k} factors over ${tags.length} values of ${fields.join(', ')} on ${ids.length} tracks` };
}

function artistOf(store: LibraryStore): Map<number, string> {
  const rows = store.db.prepare('SELECT id, coalesce(album_artist, artist) AS a FROM tracks WHERE coalesce(album_artist, artist) IS NOT NULL').all() as Array<{ id: number; a: string }>;
  return new Map(rows.map((r) => [r.id, valueKey(r.a)]));
}

function artistSource(store: LibraryStore): Source {
  const byTrack = artistOf(store);
  const counts = new Map<string, number>();
  for (const a of byTrack.values()) counts.set(a, (counts.get(a) ?? 0) + 1);
  const artists = [...counts].filter(([, n]) => n >= 2).map(([a]) => a).sort();
  if (artists.length < 3) throw new SourceError(`The artist source needs at least 3 artists with two or more tracks; the library has ${artists.length}.`);
  const index = new Map(artists.map((a, i) => [a, i]));
  const targets = new Map<number, Float32Array>();
  for (const [id, a] of byTrack) {
    const i = index.get(a);
    if (i === undefined) continue;
    const t = new Float32Array(artists.length);
    t[i] = 1;
    targets.set(id, t);
  }
  return { name: 'artist', k: artists.length, targets, describe: `${artists.length} artists (with 2+ tracks) on ${targets.size} tracks` };
}

function scalarSource(name: 'year' | 'bpm', values: Map<number, number>, seed: number): Source {
  const xs = [...values.values()];
  const distinct = new Set(xs).size;
  if (xs.length < 20 || distinct < 3) throw new SourceError(`The ${name} source needs at least 20 tracks with a ${name} and 3 distinct values; the library has ${xs.length} and ${distinct}.`);
  const k = Math.min(8, distinct, Math.floor(xs.length / 5));
  const g = fitGmm1d(xs, k, { seed });
  const targets = new Map<number, Float32Array>();
  for (const [id, x] of values) targets.set(id, Float32Array.from(responsibilities(g, x)));
  return { name, k, targets, describe: `a ${k}-component GMM over ${name} on ${xs.length} tracks` };
}

export function buildSource(store: LibraryStore, name: SourceName, o: { fields?: readonly string[]; seed?: number } = {}): Source {
  const seed = o.seed ?? 1;
  if (name === 'tags') return tagsSource(store, o.fields ?? DEFAULT_FIELDS, seed);
  if (name === 'artist') return artistSource(store);
  if (name === 'year') {
    const rows = store.db.prepare('SELECT id, year FROM tracks WHERE year IS NOT NULL AND year > 0').all() as Array<{ id: number; year: number }>;
    return scalarSource('year', new Map(rows.map((r) => [r.id, r.year])), seed);
  }
  if (name === 'bpm') {
    const values = new Map<number, number>();
    for (const [id, v] of store.fieldValues('bpm')) {
      const x = Number.parseFloat(v[0]);
      if (Number.isFinite(x) && x > 0) values.set(id, x);
    }
    return scalarSource('bpm', values, seed);
  }
  throw new SourceError(`Unknown learning source "${name as string}" (known: ${SOURCE_NAMES.join(', ')}).`);
}

/**
 * Track relatedness for triplet selection (seed 004 §III-B): LSI over the tracks' tag bags; two tracks are
 * related by the cosine of their LSI vectors. Returns each tagged track's unit LSI vector.
 */
export function lsiVectors(store: LibraryStore, fields: readonly string[] = DEFAULT_FIELDS, k = 0): { vectors: Map<number, Float32Array>; k: number } {
  const { tags, bags } = tagBags(store, fields);
  if (bags.size < 20 || tags.length < 3) {
    throw new SourceError(`Triplet selection needs at least 20 tagged tracks and 3 values in ${fields.join(', ')}; the library has ${bags.size} and ${tags.length}.`);
  }
  const ids = [...bags.keys()];
  const index = new Map(tags.map((t, i) => [t, i]));
  const m = dense(tags.length, ids.length);
  ids.forEach((id, d) => {
    for (const t of bags.get(id) as string[]) m.data[(index.get(t) as number) * ids.length + d] = 1;
  });
  const kk = k > 0 ? k : Math.max(2, Math.min(tags.length - 1, 64));
  const l = lsi(m, kk);
  const vectors = new Map<number, Float32Array>();
  ids.forEach((id, d) => {
    const v = Float32Array.from(l.trackVectors.data.subarray(d * l.k, (d + 1) * l.k));
    let n = 0;
    for (const x of v) n += x * x;
    n = Math.sqrt(n) || 1;
    vectors.set(id, v.map((x) => x / n));
  });
  return { vectors, k: l.k };
}

import { facetVocabulary, valueKey } from '../../library/facets.js';
import { LEARNING_SOURCES } from '../../contract.js';
import type { LibraryStore } from '../../store/library-store.js';
import { delta, dctRows } from '../../audio/features.js';
import { matrix } from '../../audio/matrix.js';
import { Random } from '../../util/random.js';
import type { LogMel } from '../patches.js';
import { dense, fitGmm1d, kmeans, lda, lsi, nearest, plsa, responsibilities } from '../targets/index.js';

/**
 * Learning sources built from a library (seed 001 §2.3, Table 1; seed 000 §3.1): each gives some tracks a
 * target distribution the encoder learns to predict (by KL divergence), or, for the triplet loss, a vector
 * whose cosine says how related two tracks are.
 * - `tags` — the chosen tag fields as one bag of values per track, factorised by pLSA into k ≤ 50 factors;
 * - `artist` — the track's artist, as a category over the artists with at least two tracks;
 * - `artist-tags` — seed 001's combination: the tags of all an artist's tracks as one bag per artist, pLSA;
 *   every track gets its artist's factors;
 * - `agf-mfcc`, `agf-dmfcc` — seed 000's artist group factors: a k-means dictionary (2048 codes) over MFCC
 *   (or ΔMFCC) frames, each artist a bag of codes, LDA into 40 groups; built from the training audio;
 * - `agf-subgenre` — seed 000's sub-genre artist groups: the artist's bag of genre and style values, LDA;
 * - `year`, `bpm` — the release year or the `bpm` tag through a 1-d GMM, a soft category over its components;
 * - `self` — seed 001's siamese task: are two patches from the same track?
 * A source with too little data is refused with the reason (`SourceError`).
 */
export type SourceName = (typeof LEARNING_SOURCES)[number];
export const SOURCE_NAMES: readonly SourceName[] = LEARNING_SOURCES;
/** Sources built from the training audio (after the log-mel spectrograms are ready), not from the tags. */
export const AUDIO_SOURCES: ReadonlySet<SourceName> = new Set<SourceName>(['agf-mfcc', 'agf-dmfcc']);

export interface Source {
  name: SourceName;
  /** Size of each target distribution. */
  k: number;
  /** Target distributions (rows sum to 1) of the tracks this source knows. */
  targets: Map<number, Float32Array>;
  describe: string;
  /** A pair task (siamese): its batches are pairs of patches, its target whether they share a track. */
  pair?: boolean;
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
  const { byTrack, artists } = artistGroups(store);
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

/** Each track's artist and the artists with at least two tracks (the ones a target can be learned for). */
export function artistGroups(store: LibraryStore): { byTrack: Map<number, string>; artists: string[] } {
  const byTrack = artistOf(store);
  const counts = new Map<string, number>();
  for (const a of byTrack.values()) counts.set(a, (counts.get(a) ?? 0) + 1);
  return { byTrack, artists: [...counts].filter(([, n]) => n >= 2).map(([a]) => a).sort() };
}

/** An artist × word count matrix turned into per-track targets (every track gets its artist's row of factors). */
function perArtistTargets(byTrack: Map<number, string>, artists: readonly string[], docTopics: { data: Float64Array }, k: number): Map<number, Float32Array> {
  const row = new Map(artists.map((a, i) => [a, i]));
  const targets = new Map<number, Float32Array>();
  for (const [id, a] of byTrack) {
    const i = row.get(a);
    if (i !== undefined) targets.set(id, Float32Array.from(docTopics.data.subarray(i * k, (i + 1) * k)));
  }
  return targets;
}

/** The number of artist groups: 40 as in seed 000, fewer for a library with fewer artists. */
function groupCount(artists: number): number {
  return Math.max(2, Math.min(40, Math.floor(artists / 2)));
}

/** The tag bags of each artist (artists with 2+ tracks and at least one tag), as counts `[artists, tags]`. */
function artistTagCounts(store: LibraryStore, fields: readonly string[]): { artists: string[]; tags: string[]; counts: ReturnType<typeof dense>; byTrack: Map<number, string> } {
  const { byTrack, artists: all } = artistGroups(store);
  const { tags, bags } = tagBags(store, fields);
  const index = new Map(tags.map((t, i) => [t, i]));
  const perArtist = new Map<string, number[]>();
  for (const [id, bag] of bags) {
    const a = byTrack.get(id);
    if (a === undefined) continue;
    let v = perArtist.get(a);
    if (!v) perArtist.set(a, (v = new Array<number>(tags.length).fill(0)));
    for (const t of bag) v[index.get(t) as number] += 1;
  }
  const artists = all.filter((a) => perArtist.has(a));
  const counts = dense(artists.length, tags.length);
  artists.forEach((a, i) => counts.data.set(perArtist.get(a) as number[], i * tags.length));
  return { artists, tags, counts, byTrack };
}

function artistTagsSource(store: LibraryStore, fields: readonly string[], seed: number): Source {
  const { artists, tags, counts, byTrack } = artistTagCounts(store, fields);
  if (artists.length < 4 || tags.length < 3) {
    throw new SourceError(`The artist-tags source needs at least 4 artists with two or more tracks and tags, and 3 values in ${fields.join(', ')}; the library has ${artists.length} and ${tags.length}.`);
  }
  const k = Math.max(2, Math.min(50, tags.length, Math.floor(artists.length / 2)));
  const p = plsa(counts, k, { seed });
  const targets = perArtistTargets(byTrack, artists, p.docTopics, k);
  return { name: 'artist-tags', k, targets, describe: `pLSA with ${k} factors over the ${fields.join(', ')} tags of ${artists.length} artists, on ${targets.size} tracks` };
}

function agfSubgenreSource(store: LibraryStore, fields: readonly string[], seed: number): Source {
  // Sub-genres: the genre and style values (seed 000 uses its 150 genre and sub-genre labels).
  const sub = fields.filter((f) => f === 'genre' || f === 'style');
  const use = sub.length ? sub : ['genre', 'style'];
  const { artists, tags, counts, byTrack } = artistTagCounts(store, use);
  if (artists.length < 4 || tags.length < 3) {
    throw new SourceError(`The agf-subgenre source needs at least 4 artists with two or more tracks carrying ${use.join(' or ')}, and 3 values; the library has ${artists.length} and ${tags.length}.`);
  }
  const k = groupCount(artists.length);
  const l = lda(counts, k, { seed });
  const targets = perArtistTargets(byTrack, artists, l.docTopics, k);
  return { name: 'agf-subgenre', k, targets, describe: `LDA with ${k} artist groups over the ${use.join(' and ')} values of ${artists.length} artists, on ${targets.size} tracks` };
}

/** `self`: every track takes part; the target of a pair is [different, same]. */
function selfSource(store: LibraryStore): Source {
  const ids = store.allTracks().map((t) => t.id);
  if (ids.length < 8) throw new SourceError(`The self source needs at least 8 tracks; the library has ${ids.length}.`);
  const one = Float32Array.from([0, 1]);
  return { name: 'self', k: 2, targets: new Map(ids.map((id) => [id, one])), describe: `same track or not, over pairs of patches of ${ids.length} tracks`, pair: true };
}

/** The tracks an audio source (AGF) can give a target to, before any audio is read: those of artists with 2+ tracks. */
export function audioSourceTracks(store: LibraryStore, name: SourceName): number[] {
  const { byTrack, artists } = artistGroups(store);
  if (artists.length < 4) throw new SourceError(`The ${name} source needs at least 4 artists with two or more tracks; the library has ${artists.length}.`);
  const keep = new Set(artists);
  return [...byTrack].filter(([, a]) => keep.has(a)).map(([id]) => id);
}

/** MFCC frames `[n, 20]` of a log-mel `[frames, nMels]` segment (a DCT of the dB mel bands, librosa's `mfcc`); Δ when asked. */
function mfccFrames(segment: Float32Array, nMels: number, deltas: boolean): { data: Float32Array; frames: number } {
  const frames = segment.length / nMels;
  // [nMels, frames], as dctRows wants it.
  const S = new Float32Array(segment.length);
  for (let t = 0; t < frames; t++) for (let b = 0; b < nMels; b++) S[b * frames + t] = segment[t * nMels + b];
  let m = dctRows(matrix(nMels, frames, S), N_MFCC);
  if (deltas) {
    if (frames < 9) return { data: new Float32Array(0), frames: 0 };
    m = delta(m, { width: 9 });
  }
  const out = new Float32Array(frames * N_MFCC);
  for (let t = 0; t < frames; t++) for (let c = 0; c < N_MFCC; c++) out[t * N_MFCC + c] = m.data[c * frames + t];
  return { data: out, frames };
}
const N_MFCC = 20;

/**
 * Seed 000's artist group factors from audio: MFCC (or ΔMFCC) frames of the training tracks, a k-means
 * dictionary of `codes` codes (2048 in the paper) over a sample of them, each artist a bag of codes over its
 * tracks' frames, LDA into ≤ 40 groups. Deterministic for a seed. Frames per track and the dictionary sample
 * are capped to keep it to seconds on a large library.
 */
export async function buildAudioSource(
  store: LibraryStore,
  name: SourceName,
  logMels: ReadonlyMap<number, LogMel> | { ids(): number[]; get(id: number): Promise<LogMel | undefined> },
  o: { seed?: number; codes?: number; framesPerTrack?: number; dictionarySample?: number; onProgress?: (phase: string) => void } = {},
): Promise<Source> {
  if (!AUDIO_SOURCES.has(name)) throw new SourceError(`${name} is not built from audio.`);
  const seed = o.seed ?? 1;
  const rng = new Random(seed + 104729);
  const { byTrack, artists: all } = artistGroups(store);
  const keep = new Set(all);
  const perTrack = o.framesPerTrack ?? 256;
  const deltas = name === 'agf-dmfcc';
  // Sampled frames of each training track of a known artist.
  const frames: Array<{ artist: string; data: Float32Array }> = [];
  let total = 0;
  const ids = logMels instanceof Map ? [...logMels.keys()] : (logMels as { ids(): number[] }).ids();
  for (const id of ids) {
    const artist = byTrack.get(id);
    if (artist === undefined || !keep.has(artist)) continue;
    const lm = await logMels.get(id);
    if (!lm) continue;
    const parts = lm.segments.map((seg) => mfccFrames(seg, lm.nMels, deltas)).filter((p) => p.frames > 0);
    const n = parts.reduce((a, p) => a + p.frames, 0);
    if (n === 0) continue;
    const take = Math.min(perTrack, n);
    const data = new Float32Array(take * N_MFCC);
    for (let i = 0; i < take; i++) {
      let f = Math.floor(rng.next() * n);
      let p = 0;
      while (f >= parts[p].frames) f -= parts[p++].frames;
      data.set(parts[p].data.subarray(f * N_MFCC, (f + 1) * N_MFCC), i * N_MFCC);
    }
    frames.push({ artist, data });
    total += take;
  }
  const artists = all.filter((a) => frames.some((f) => f.artist === a));
  if (artists.length < 4) throw new SourceError(`The ${name} source needs the audio of at least 4 artists with two or more tracks; the training tracks have ${artists.length}.`);
  // The dictionary, from a sample of all frames.
  const sampleSize = Math.min(total, o.dictionarySample ?? 65_536);
  const sample = new Float32Array(sampleSize * N_MFCC);
  const all2 = new Float32Array(total * N_MFCC);
  let at = 0;
  for (const f of frames) {
    all2.set(f.data, at);
    at += f.data.length;
  }
  for (let i = 0; i < sampleSize; i++) {
    const j = sampleSize === total ? i : Math.floor(rng.next() * total);
    sample.set(all2.subarray(j * N_MFCC, (j + 1) * N_MFCC), i * N_MFCC);
  }
  const codes = Math.max(2, Math.min(o.codes ?? 2048, Math.floor(sampleSize / 4)));
  o.onProgress?.(`${name}: a dictionary of ${codes} codes over ${sampleSize} frames`);
  const cb = kmeans(sample, N_MFCC, codes, { seed, iterations: 10 });
  // Each artist's bag of codes.
  const row = new Map(artists.map((a, i) => [a, i]));
  const counts = dense(artists.length, codes);
  for (const f of frames) {
    const r = row.get(f.artist) as number;
    const n = f.data.length / N_MFCC;
    for (let i = 0; i < n; i++) counts.data[r * codes + nearest(cb, f.data, i).code] += 1;
  }
  const k = groupCount(artists.length);
  o.onProgress?.(`${name}: LDA with ${k} groups over ${artists.length} artists`);
  const l = lda(counts, k, { seed, iterations: 60 });
  const targets = perArtistTargets(byTrack, artists, l.docTopics, k);
  return {
    name,
    k,
    targets,
    describe: `LDA with ${k} artist groups over a ${codes}-code k-means dictionary of ${deltas ? 'ΔMFCC' : 'MFCC'} frames (${total} frames of ${frames.length} tracks by ${artists.length} artists)`,
  };
}

export function buildSource(store: LibraryStore, name: SourceName, o: { fields?: readonly string[]; seed?: number } = {}): Source {
  const seed = o.seed ?? 1;
  const fields = o.fields ?? DEFAULT_FIELDS;
  if (name === 'tags') return tagsSource(store, fields, seed);
  if (name === 'artist') return artistSource(store);
  if (name === 'artist-tags') return artistTagsSource(store, fields, seed);
  if (name === 'agf-subgenre') return agfSubgenreSource(store, fields, seed);
  if (name === 'self') return selfSource(store);
  if (AUDIO_SOURCES.has(name)) throw new SourceError(`The ${name} source is built from the training audio: use buildAudioSource.`);
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

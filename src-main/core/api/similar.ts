import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isBuiltin } from '../audio/representations.js';
import type { SimilarRequest, SimilarResult } from '../contract.js';
import { analyzeFile } from '../jobs/analyze-file.js';
import type { TrackRow } from '../store/library-store.js';
import { trackSummary, type ApiContext } from './context.js';
import { defaultRepresentation } from './recommend.js';

/** Search by example: the tracks nearest one or more library tracks, or any audio file, in a representation's index. */

/** `SimilarRequest` as the core takes it: one library track by id, or several, or a file path (no upload ids). */
export type SimilarQuery = Omit<SimilarRequest, 'uploadId'> & {
  /** A library track id. */
  trackId?: number;
};

export async function similar(ctx: ApiContext, q: SimilarQuery): Promise<SimilarResult> {
  const rep = q.representation ?? defaultRepresentation(ctx).name;
  const k = q.k ?? 10;
  if (!Number.isInteger(k) || k < 1 || k > 1000) throw new Error(`k must be a whole number from 1 to 1000, got ${q.k}`);
  const repRow = ctx.store.representation(rep);
  if (!repRow || ctx.store.vectorCount(rep) === 0) {
    throw new Error(
      isBuiltin(rep)
        ? `No "${rep}" vectors yet. Run \`earmark analyze --representation ${rep}\` first.`
        : existsSync(join(ctx.paths.modelsDir, rep))
          ? `No "${rep}" vectors: embed the library with that model first (\`earmark embed --model ${rep}\`).`
          : `No representation or model named "${rep}" (\`earmark info\` lists the representations, \`earmark models\` the models).`,
    );
  }
  const seedIds = q.trackIds ?? (q.trackId !== undefined ? [q.trackId] : []);
  const seeds: TrackRow[] = [];
  for (const id of seedIds) {
    const t = ctx.store.trackById(id);
    if (!t) throw new Error(`No track with id ${id} in the library.`);
    seeds.push(t);
  }
  if (seeds.length === 0) {
    if (!q.path) throw new Error('Give a track id or a file path to search from.');
    const t = ctx.store.trackByPath(resolve(q.path));
    if (t) seeds.push(t);
  }
  const track: TrackRow | undefined = seeds[0];

  // The query: each seed's vector in the index's space, unit length, averaged ("more like these").
  const queryVectors: Float32Array[] = [];
  for (const t of seeds) {
    const raw = ctx.store.vector(t.id, rep);
    if (!raw) {
      const how = isBuiltin(rep) ? '`earmark analyze`' : `\`earmark embed --model ${rep}\``;
      throw Object.assign(new Error(`Track ${t.id} has no "${rep}" vector yet (${errorOf(ctx, t.id) ?? 'not analysed'}). Run ${how}.`), { code: 'not-found' });
    }
    queryVectors.push(raw);
  }
  const path = track ? track.path : resolve(q.path as string);
  if (queryVectors.length === 0) {
    if (!isBuiltin(rep)) throw new Error(`Files outside the library can be searched with the built-in representations (dsp, mfcc), not "${rep}" yet.`);
    const a = await analyzeFile(ctx.ffmpeg(), path, null, [rep]);
    queryVectors.push(a.vectors[rep]);
  }
  const dim = repRow.dim;
  const query = new Float32Array(dim);
  for (const raw of queryVectors) {
    const v = ctx.indexes.normalise(rep, raw);
    let n = 0;
    for (let i = 0; i < dim; i++) n += v[i] * v[i];
    n = Math.sqrt(n) || 1;
    for (let i = 0; i < dim; i++) query[i] += v[i] / n / queryVectors.length;
  }

  const filters: Array<(id: number) => boolean> = [];
  const selves = new Set(seeds.map((t) => t.id));
  if (selves.size) filters.push((id) => !selves.has(id));
  if (q.artist && track?.artist) {
    const same = new Set(
      (ctx.store.db.prepare('SELECT id FROM tracks WHERE artist = ? COLLATE NOCASE').all(track.artist) as Array<{ id: number }>).map((r) => r.id),
    );
    filters.push(q.artist === 'same' ? (id) => same.has(id) : (id) => !same.has(id));
  }
  if (q.excludeSameAlbum) {
    const same = new Set<number>();
    for (const t of seeds) {
      if (!t.album) continue;
      const rows = ctx.store.db
        .prepare("SELECT id FROM tracks WHERE album = ? COLLATE NOCASE AND coalesce(album_artist, artist, '') = coalesce(?, ?, '') COLLATE NOCASE")
        .all(t.album, t.album_artist, t.artist) as Array<{ id: number }>;
      for (const r of rows) same.add(r.id);
    }
    filters.push((id) => !same.has(id));
  }
  for (const [field, values] of Object.entries(q.tags ?? {})) {
    if (values.length === 0) continue;
    const allowed = new Set<number>();
    for (const v of values) for (const id of ctx.store.tracksWithTag(field, v)) allowed.add(id);
    filters.push((id) => allowed.has(id));
  }
  const allow = filters.length ? (id: number) => filters.every((f) => f(id)) : undefined;
  const hubness = q.hubness ?? 'mp';
  // A single library track's own distance statistics are stored; a mean of several, or a file, gets them from the sample.
  const hits = ctx.indexes.searchNormalised(rep, query, k, allow, { hubness, queryId: seeds.length === 1 ? seeds[0].id : undefined });
  const results = hits.map((h, i) => {
    const t = ctx.store.trackById(h.trackId) as TrackRow;
    return { ...trackSummary(t, ctx.store.tagsOf(t.id)), score: h.mp ?? h.score, cosine: h.score, rank: i + 1 };
  });
  return {
    query: {
      trackId: track?.id ?? null,
      trackIds: seeds.map((t) => t.id),
      path,
      inLibrary: !!track,
      artist: track?.artist ?? null,
      title: track ? (seeds.length > 1 ? `${seeds.length} tracks` : track.title) : null,
    },
    representation: rep,
    hubness: hits.some((h) => h.mp !== undefined) || hits.length === 0 ? hubness : 'none',
    results,
  };
}

function errorOf(ctx: ApiContext, id: number): string | null {
  const e = ctx.store.errors().find((r) => r.track_id === id);
  return e ? e.message : null;
}

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Earmark } from './api.js';
import type { MapData, TrackDetail } from './contract.js';
import { BadRequestError } from './contract-schema.js';
import { projectUmap } from './eval/projection.js';
import { listRow } from './library/track-query.js';
import { NotFoundError } from './service-errors.js';

/** Read views the service builds from the library for the interface: the map and a track's detail. */

/**
 * The map of a representation: a 2-D UMAP projection of every track's vector in the index space (cached per index
 * generation in `mapsDir`), coloured by one tag field. Throws `BadRequestError` before the library is analysed.
 */
export async function libraryMap(earmark: Earmark, mapsDir: string, rep: string, field: string): Promise<MapData> {
  const store = earmark.store;
  const repRow = store.representation(rep);
  if (!repRow || store.vectorCount(rep) === 0) throw new BadRequestError(`No "${rep}" vectors yet: analyze the library first.`);
  const index = earmark.indexes.ensure(rep);
  const cache = join(mapsDir, `${rep}.json`);
  let proj: { generation: number; ids: number[]; xy: Array<[number, number]>; method: string; total: number } | null = null;
  if (existsSync(cache)) {
    try {
      const c = JSON.parse(readFileSync(cache, 'utf8'));
      if (c.generation === index.meta.generation) proj = c;
    } catch {
      proj = null;
    }
  }
  if (!proj) {
    const { ids, data } = store.vectors(rep);
    const normalised = data.map((v) => earmark.indexes.normalise(rep, v));
    const p = await projectUmap(Array.from(ids), normalised);
    proj = { generation: index.meta.generation, ids: p.ids, xy: p.xy, method: p.method, total: ids.length };
    mkdirSync(mapsDir, { recursive: true });
    writeFileSync(`${cache}.tmp`, JSON.stringify(proj));
    renameSync(`${cache}.tmp`, cache);
  }
  const values = store.fieldValues(field);
  const counts = new Map<string, number>();
  const points = [];
  for (let i = 0; i < proj.ids.length; i++) {
    const t = store.trackById(proj.ids[i]);
    if (!t) continue;
    const value = values.get(t.id)?.[0] ?? null;
    if (value) counts.set(value, (counts.get(value) ?? 0) + 1);
    points.push({ id: t.id, x: proj.xy[i][0], y: proj.xy[i][1], title: t.title, artist: t.artist, value });
  }
  const legend = [...counts].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
  return { representation: rep, field, method: proj.method, total: proj.total, points, legend };
}

/** Everything the track panel shows: tags, file facts, analysis, errors, neighbours and predictions. Throws `NotFoundError`. */
export async function trackDetail(earmark: Earmark, id: number, representation: string | undefined, k: number): Promise<TrackDetail> {
  const store = earmark.store;
  const t = store.trackById(id);
  const row = listRow(store.db, id);
  if (!t || !row) throw new NotFoundError(`No track with id ${id}.`);
  const errors = store
    .errors()
    .filter((e) => e.track_id === id)
    .map((e) => ({ stage: e.stage, code: e.code, message: e.message }));
  const analysis = store.analysisInfo(id).map((a) => ({
    representation: a.representation,
    computedAt: a.computed_at,
    excerpts: (JSON.parse(a.excerpts) as Array<{ offset: number; duration: number }>).map((e) => ({ offset: e.offset, duration: e.duration })),
  }));
  const preferred = earmark.defaultRepresentation().name;
  const rep = representation ?? (analysis.some((a) => a.representation === preferred) ? preferred : analysis.some((a) => a.representation === 'dsp') ? 'dsp' : analysis[0]?.representation);
  let neighbours = null;
  if (rep && analysis.some((a) => a.representation === rep)) neighbours = await earmark.similar({ trackId: id, k, representation: rep });
  return {
    track: row,
    tags: store.tagsOf(id),
    file: {
      path: t.path,
      size: t.size,
      modified: t.mtime_ms,
      container: t.container,
      codec: t.codec,
      bitrate: t.bitrate,
      sampleRate: t.sample_rate,
      channels: t.channels,
      lossless: t.lossless === null ? null : t.lossless === 1,
      duration: t.duration,
      trackNo: t.track_no,
      albumArtist: t.album_artist,
    },
    analysis,
    errors,
    neighbours,
    predictions: earmark.predictions(id),
  };
}

import type { AnalysisStatus, FacetField, ReviewState, TrackListRow, TrackPage, TrackQuery } from '../contract.js';
import type { Db } from '../store/db.js';
import { fold } from '../util/fold.js';

export { fold };

/** Fields always offered as facets (when present), in this order; other tag fields follow by use. */
export const FACET_FIELDS = ['genre', 'mood', 'style', 'theme'] as const;

const SEP = '\u001f';

const listOf = (field: string) =>
  `(SELECT group_concat(value, char(31)) FROM (SELECT value FROM tags g WHERE g.track_id = t.id AND g.field = '${field}' ORDER BY g.position))`;
const firstOf = (field: string) => `(SELECT value FROM tags g WHERE g.track_id = t.id AND g.field = '${field}' ORDER BY g.position LIMIT 1)`;

const STATUS_SQL = `CASE
  WHEN EXISTS (SELECT 1 FROM errors e WHERE e.track_id = t.id AND e.stage IN ('decode', 'analyze')) THEN 'error'
  WHEN EXISTS (SELECT 1 FROM vectors v WHERE v.track_id = t.id) THEN 'analyzed'
  ELSE 'pending' END`;

const ORDER: Record<NonNullable<TrackQuery['sort']>['column'], string> = {
  title: 'coalesce(t.title, t.path) COLLATE NOCASE',
  artist: "coalesce(t.artist, '\uffff') COLLATE NOCASE",
  album: "coalesce(t.album, '\uffff') COLLATE NOCASE",
  genre: `coalesce(${firstOf('genre')}, '\uffff') COLLATE NOCASE`,
  mood: `coalesce(${firstOf('mood')}, '\uffff') COLLATE NOCASE`,
  style: `coalesce(${firstOf('style')}, '\uffff') COLLATE NOCASE`,
  year: 'coalesce(t.year, 99999)',
  duration: 'coalesce(t.duration, 1e12)',
  status: 'status',
  added: 't.added_at',
  path: 't.path',
};

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

interface Where {
  sql: string;
  params: unknown[];
}

const REVIEW_SQL: Record<ReviewState, string> = {
  untagged: 't.id NOT IN (SELECT track_id FROM tags WHERE field = ?)',
  predicted: "t.id IN (SELECT track_id FROM predictions WHERE field = ? AND proposed = 1 AND status IN ('pending', 'accepted'))",
  suspicious: 't.id IN (SELECT track_id FROM predictions WHERE field = ? AND suspicious = 1)',
  accepted: "t.id IN (SELECT track_id FROM predictions WHERE field = ? AND proposed = 1 AND status = 'accepted')",
};

function whereOf(q: Pick<TrackQuery, 'search' | 'facets' | 'status' | 'review'>): Where {
  const parts: string[] = [];
  const params: unknown[] = [];
  const words = (q.search ?? '').trim().split(/\s+/).filter(Boolean).slice(0, 12);
  for (const w of words) {
    // The store keeps a folded text of title, artists, album, path and tag values per track.
    parts.push("t.search LIKE ? ESCAPE '\\'");
    params.push(`%${escapeLike(fold(w))}%`);
  }
  for (const [field, values] of Object.entries(q.facets ?? {})) {
    if (values.length === 0) continue;
    parts.push(`t.id IN (SELECT track_id FROM tags WHERE field = ? AND value COLLATE NOCASE IN (${values.map(() => '?').join(', ')}))`);
    params.push(field.toLowerCase(), ...values);
  }
  if (q.status && q.status !== 'all') {
    parts.push(`(${STATUS_SQL}) = ?`);
    params.push(q.status);
  }
  if (q.review) {
    parts.push(REVIEW_SQL[q.review.state]);
    params.push(q.review.field.toLowerCase());
  }
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params };
}

interface Raw {
  id: number;
  path: string;
  artist: string | null;
  album: string | null;
  title: string | null;
  year: number | null;
  duration: number | null;
  container: string | null;
  codec: string | null;
  genre: string | null;
  mood: string | null;
  style: string | null;
  status: AnalysisStatus;
  error: string | null;
  proposals: string | null;
  suspicious: string | null;
}

const split = (s: string | null) => (s ? s.split(SEP) : []);

export function toListRow(r: Raw): TrackListRow {
  return {
    id: r.id,
    path: r.path,
    artist: r.artist,
    album: r.album,
    title: r.title,
    year: r.year,
    duration: r.duration,
    genre: split(r.genre),
    mood: split(r.mood),
    style: split(r.style),
    status: r.status,
    error: r.error,
    format: [r.container, r.codec].filter(Boolean).join(' · ') || null,
    proposals: r.proposals ? (JSON.parse(r.proposals) as TrackListRow['proposals']) : [],
    suspicious: r.suspicious ? r.suspicious.split(',') : [],
  };
}

const SELECT = `SELECT t.id, t.path, t.artist, t.album, t.title, t.year, t.duration, t.container, t.codec,
  ${listOf('genre')} AS genre, ${listOf('mood')} AS mood, ${listOf('style')} AS style,
  ${STATUS_SQL} AS status,
  (SELECT message FROM errors e WHERE e.track_id = t.id ORDER BY CASE e.stage WHEN 'decode' THEN 0 WHEN 'analyze' THEN 1 ELSE 2 END LIMIT 1) AS error,
  (SELECT json_group_array(json_object('field', p.field, 'value', p.value, 'confidence', p.confidence, 'status', p.status))
     FROM (SELECT * FROM predictions p WHERE p.track_id = t.id AND p.proposed = 1 AND p.status IN ('pending', 'accepted') ORDER BY p.field, p.confidence DESC) p) AS proposals,
  (SELECT group_concat(DISTINCT p.field) FROM predictions p WHERE p.track_id = t.id AND p.suspicious = 1) AS suspicious
  FROM tracks t`;

interface SortedIds {
  key: string;
  version: string;
  ids: Int32Array;
}
/** The last full ordering per database, so scrolling deep into a big library costs a slice, not a sort. */
const orderings = new WeakMap<Db, SortedIds[]>();
const KEEP_ORDERINGS = 4;

/** Changes when any connection commits (`data_version`) or this one writes (`total_changes()`). */
function dataVersion(db: Db): string {
  const dv = db.pragma('data_version', { simple: true }) as number;
  const tc = (db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  return `${dv}:${tc}`;
}

/** One page of the library table: search, facet filters, analysis status, sorting. */
export function queryTracks(db: Db, q: TrackQuery): TrackPage {
  const w = whereOf(q);
  const sort = q.sort ?? { column: 'artist', direction: 'asc' };
  const dir = sort.direction === 'desc' ? 'DESC' : 'ASC';
  const order =
    sort.column === 'artist'
      ? `${ORDER.artist} ${dir}, coalesce(t.album, '') COLLATE NOCASE ${dir}, coalesce(t.track_no, 0) ${dir}, t.path ${dir}`
      : `${ORDER[sort.column]} ${dir}, t.id ${dir}`;
  const statusCol = sort.column === 'status' ? `, ${STATUS_SQL} AS status` : '';
  const key = JSON.stringify([w.sql, w.params, order]);
  const version = dataVersion(db);
  let total: number;
  let ids: number[];
  const cached = orderings.get(db)?.find((o) => o.key === key && o.version === version);
  if (cached) {
    total = cached.ids.length;
    ids = Array.from(cached.ids.subarray(q.offset, q.offset + q.limit));
  } else if (q.offset === 0) {
    // The first page of a new query: the top rows by the sort key alone, and a count.
    total = (db.prepare(`SELECT count(*) AS n FROM tracks t ${w.sql}`).get(...w.params) as { n: number }).n;
    ids = (db.prepare(`SELECT t.id${statusCol} FROM tracks t ${w.sql} ORDER BY ${order} LIMIT ?`).all(...w.params, q.limit) as Array<{ id: number }>).map((r) => r.id);
  } else {
    // Deeper pages: order every matching id once, then serve pages as slices until the data changes.
    const all = Int32Array.from((db.prepare(`SELECT t.id${statusCol} FROM tracks t ${w.sql} ORDER BY ${order}`).all(...w.params) as Array<{ id: number }>).map((r) => r.id));
    const list = [{ key, version, ids: all }, ...(orderings.get(db) ?? []).filter((o) => o.version === version)].slice(0, KEEP_ORDERINGS);
    orderings.set(db, list);
    total = all.length;
    ids = Array.from(all.subarray(q.offset, q.offset + q.limit));
  }
  if (ids.length === 0) return { total, offset: q.offset, rows: [] };
  // The full rows of this page only.
  const byId = new Map((db.prepare(`${SELECT} WHERE t.id IN (${ids.map(() => '?').join(', ')})`).all(...ids) as Raw[]).map((r) => [r.id, r]));
  return { total, offset: q.offset, rows: ids.flatMap((id) => (byId.has(id) ? [toListRow(byId.get(id) as Raw)] : [])) };
}

/** One table row by id. */
export function listRow(db: Db, id: number): TrackListRow | undefined {
  const r = db.prepare(`${SELECT} WHERE t.id = ?`).get(id) as Raw | undefined;
  return r ? toListRow(r) : undefined;
}

/** Facet values with the number of tracks carrying each, most common first. */
export function facetCounts(db: Db, fields?: readonly string[], limit = 200): FacetField[] {
  const present = db.prepare('SELECT field, count(DISTINCT track_id) AS tracks FROM tags GROUP BY field').all() as Array<{ field: string; tracks: number }>;
  const byField = new Map(present.map((p) => [p.field, p.tracks]));
  const wanted = fields?.map((f) => f.toLowerCase()) ?? [
    ...FACET_FIELDS.filter((f) => byField.has(f)),
    ...present
      .filter((p) => !(FACET_FIELDS as readonly string[]).includes(p.field))
      .sort((a, b) => b.tracks - a.tracks)
      .map((p) => p.field),
  ];
  const stmt = db.prepare(
    'SELECT value, count(DISTINCT track_id) AS count FROM tags WHERE field = ? GROUP BY value COLLATE NOCASE ORDER BY count DESC, value COLLATE NOCASE LIMIT ?',
  );
  return wanted.map((field) => ({ field, tracks: byField.get(field) ?? 0, values: stmt.all(field, limit) as Array<{ value: string; count: number }> }));
}

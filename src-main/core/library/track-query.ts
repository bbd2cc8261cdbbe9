import type { AnalysisStatus, FacetField, TrackListRow, TrackPage, TrackQuery } from '../contract.js';
import type { Db } from '../store/db.js';

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

/** Case- and accent-insensitive form for search: "Ünïcode Café" → "unicode cafe". */
export function fold(s: string): string {
  return s.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase();
}

const withFold = new WeakSet<Db>();
function ensureFold(db: Db): void {
  if (withFold.has(db)) return;
  db.function('em_fold', { deterministic: true }, (v: unknown) => (typeof v === 'string' ? fold(v) : null));
  withFold.add(db);
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

interface Where {
  sql: string;
  params: unknown[];
}

function whereOf(q: Pick<TrackQuery, 'search' | 'facets' | 'status'>): Where {
  const parts: string[] = [];
  const params: unknown[] = [];
  const words = (q.search ?? '').trim().split(/\s+/).filter(Boolean).slice(0, 12);
  for (const w of words) {
    const like = `%${escapeLike(fold(w))}%`;
    parts.push(
      `(em_fold(t.title) LIKE ? ESCAPE '\\' OR em_fold(t.artist) LIKE ? ESCAPE '\\' OR em_fold(t.album) LIKE ? ESCAPE '\\'
        OR em_fold(t.album_artist) LIKE ? ESCAPE '\\' OR em_fold(t.path) LIKE ? ESCAPE '\\'
        OR EXISTS (SELECT 1 FROM tags g WHERE g.track_id = t.id AND em_fold(g.value) LIKE ? ESCAPE '\\'))`,
    );
    params.push(like, like, like, like, like, like);
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
  };
}

const SELECT = `SELECT t.id, t.path, t.artist, t.album, t.title, t.year, t.duration, t.container, t.codec,
  ${listOf('genre')} AS genre, ${listOf('mood')} AS mood, ${listOf('style')} AS style,
  ${STATUS_SQL} AS status,
  (SELECT message FROM errors e WHERE e.track_id = t.id ORDER BY CASE e.stage WHEN 'decode' THEN 0 WHEN 'analyze' THEN 1 ELSE 2 END LIMIT 1) AS error
  FROM tracks t`;

/** One page of the library table: search, facet filters, analysis status, sorting. */
export function queryTracks(db: Db, q: TrackQuery): TrackPage {
  ensureFold(db);
  const w = whereOf(q);
  const total = (db.prepare(`SELECT count(*) AS n FROM tracks t ${w.sql}`).get(...w.params) as { n: number }).n;
  const sort = q.sort ?? { column: 'artist', direction: 'asc' };
  const dir = sort.direction === 'desc' ? 'DESC' : 'ASC';
  const order =
    sort.column === 'artist'
      ? `${ORDER.artist} ${dir}, coalesce(t.album, '') COLLATE NOCASE ${dir}, coalesce(t.track_no, 0) ${dir}, t.path ${dir}`
      : `${ORDER[sort.column]} ${dir}, t.id ${dir}`;
  const rows = db.prepare(`${SELECT} ${w.sql} ORDER BY ${order} LIMIT ? OFFSET ?`).all(...w.params, q.limit, q.offset) as Raw[];
  return { total, offset: q.offset, rows: rows.map(toListRow) };
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

import type { TrackFacts } from '../library/read-tags.js';
import { fold } from '../util/fold.js';
import { openDatabase, type Db, type OpenOptions } from './db.js';

export interface TrackRow {
  id: number;
  path: string;
  root_id: number | null;
  size: number;
  mtime_ms: number;
  content_hash: string;
  container: string | null;
  codec: string | null;
  duration: number | null;
  sample_rate: number | null;
  channels: number | null;
  bitrate: number | null;
  lossless: number | null;
  artist: string | null;
  album_artist: string | null;
  album: string | null;
  title: string | null;
  track_no: number | null;
  year: number | null;
  added_at: number;
  updated_at: number;
}

export interface ErrorRow {
  track_id: number;
  path: string;
  stage: 'tags' | 'decode' | 'analyze';
  code: string;
  message: string;
  detail: string | null;
  at: number;
}

export interface RepresentationRow {
  name: string;
  kind: string;
  dim: number;
  version: string;
  generation: number;
  created_at: number;
}

/** Float32 vector ⇄ BLOB (little-endian, as every platform Earmark runs on). */
export function vectorToBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}
export function blobToVector(b: Buffer): Float32Array {
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** The SQLite store: the source of truth for tracks, tags, vectors and per-file errors. */
export class LibraryStore {
  readonly db: Db;

  constructor(file: string, o: OpenOptions = {}) {
    this.db = openDatabase(file, o);
    if (!o.readonly) this.backfillSearch();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // ── roots ──
  addRoot(path: string): number {
    this.db.prepare('INSERT OR IGNORE INTO roots (path, added_at) VALUES (?, ?)').run(path, Date.now());
    return (this.db.prepare('SELECT id FROM roots WHERE path = ?').get(path) as { id: number }).id;
  }
  removeRoot(path: string): number {
    const root = this.db.prepare('SELECT id FROM roots WHERE path = ?').get(path) as { id: number } | undefined;
    if (!root) return 0;
    return this.transaction(() => {
      const n = this.db.prepare('DELETE FROM tracks WHERE root_id = ?').run(root.id).changes;
      this.db.prepare('DELETE FROM roots WHERE id = ?').run(root.id);
      return n;
    });
  }
  roots(): Array<{ id: number; path: string; added_at: number }> {
    return this.db.prepare('SELECT id, path, added_at FROM roots ORDER BY path').all() as Array<{ id: number; path: string; added_at: number }>;
  }

  // ── tracks ──
  trackById(id: number): TrackRow | undefined {
    return this.db.prepare('SELECT * FROM tracks WHERE id = ?').get(id) as TrackRow | undefined;
  }
  trackByPath(path: string): TrackRow | undefined {
    return this.db.prepare('SELECT * FROM tracks WHERE path = ?').get(path) as TrackRow | undefined;
  }
  tracksUnderRoot(rootId: number): TrackRow[] {
    return this.db.prepare('SELECT * FROM tracks WHERE root_id = ?').all(rootId) as TrackRow[];
  }
  allTracks(): TrackRow[] {
    return this.db.prepare('SELECT * FROM tracks ORDER BY id').all() as TrackRow[];
  }
  trackCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM tracks').get() as { n: number }).n;
  }

  insertTrack(path: string, rootId: number | null, file: { size: number; mtimeMs: number; hash: string }, facts: TrackFacts | null): number {
    const now = Date.now();
    const r = this.db
      .prepare(
        `INSERT INTO tracks (path, root_id, size, mtime_ms, content_hash, added_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(path, rootId, file.size, file.mtimeMs, file.hash, now, now);
    const id = Number(r.lastInsertRowid);
    this.setFacts(id, facts);
    return id;
  }

  /** Replace a track's header facts and tags (null facts: tags unreadable, leave them empty). */
  setFacts(id: number, f: TrackFacts | null): void {
    this.db
      .prepare(
        `UPDATE tracks SET container = ?, codec = ?, duration = ?, sample_rate = ?, channels = ?, bitrate = ?, lossless = ?,
           artist = ?, album_artist = ?, album = ?, title = ?, track_no = ?, year = ?, updated_at = ? WHERE id = ?`,
      )
      .run(
        f?.container ?? null,
        f?.codec ?? null,
        f?.duration ?? null,
        f?.sampleRate ?? null,
        f?.channels ?? null,
        f?.bitrate ?? null,
        f?.lossless === null || f?.lossless === undefined ? null : f.lossless ? 1 : 0,
        f?.artist ?? null,
        f?.albumArtist ?? null,
        f?.album ?? null,
        f?.title ?? null,
        f?.trackNo ?? null,
        f?.year ?? null,
        Date.now(),
        id,
      );
    this.db.prepare('DELETE FROM tags WHERE track_id = ?').run(id);
    const ins = this.db.prepare('INSERT INTO tags (track_id, field, position, value) VALUES (?, ?, ?, ?)');
    for (const [field, values] of Object.entries(f?.facets ?? {})) values.forEach((v, i) => ins.run(id, field, i, v));
    this.refreshSearch(id);
  }

  /** Recompute a track's folded search text (after its tags or path changed). */
  refreshSearch(id: number): void {
    const t = this.db.prepare('SELECT path, title, artist, album, album_artist FROM tracks WHERE id = ?').get(id) as
      | { path: string; title: string | null; artist: string | null; album: string | null; album_artist: string | null }
      | undefined;
    if (!t) return;
    const values = (this.db.prepare('SELECT value FROM tags WHERE track_id = ?').all(id) as Array<{ value: string }>).map((r) => r.value);
    const text = [t.title, t.artist, t.album, t.album_artist, t.path, ...values].filter(Boolean).join('\n');
    this.db.prepare('UPDATE tracks SET search = ? WHERE id = ?').run(fold(text), id);
  }

  /** Fill the search text of tracks that lack it (tracks from before schema 2). */
  private backfillSearch(): void {
    const ids = (this.db.prepare('SELECT id FROM tracks WHERE search IS NULL').all() as Array<{ id: number }>).map((r) => r.id);
    if (ids.length) this.transaction(() => ids.forEach((id) => this.refreshSearch(id)));
  }

  /**
   * Forget what the store knew of a file's modification time, so the next scan hashes it and, if its content
   * changed, re-reads its tags: for a file a tag write found changed although its size and time were the same.
   */
  markStale(id: number): void {
    this.db.prepare('UPDATE tracks SET mtime_ms = -1, updated_at = ? WHERE id = ?').run(Date.now(), id);
  }

  updateFileIdentity(id: number, file: { path?: string; size: number; mtimeMs: number; hash: string; rootId?: number | null }): void {
    if (file.path !== undefined) {
      this.db
        .prepare('UPDATE tracks SET path = ?, root_id = ?, size = ?, mtime_ms = ?, content_hash = ?, updated_at = ? WHERE id = ?')
        .run(file.path, file.rootId ?? null, file.size, file.mtimeMs, file.hash, Date.now(), id);
      this.refreshSearch(id);
    } else {
      this.db
        .prepare('UPDATE tracks SET size = ?, mtime_ms = ?, content_hash = ?, updated_at = ? WHERE id = ?')
        .run(file.size, file.mtimeMs, file.hash, Date.now(), id);
    }
  }

  deleteTrack(id: number): void {
    this.db.prepare('DELETE FROM tracks WHERE id = ?').run(id);
  }

  /** Tags of a track, by field. */
  tagsOf(id: number): Record<string, string[]> {
    const rows = this.db.prepare('SELECT field, value FROM tags WHERE track_id = ? ORDER BY field, position').all(id) as Array<{ field: string; value: string }>;
    const out: Record<string, string[]> = {};
    for (const r of rows) (out[r.field] ??= []).push(r.value);
    return out;
  }
  /** Track ids carrying `value` in `field` (case-insensitive). */
  tracksWithTag(field: string, value: string): Set<number> {
    const rows = this.db
      .prepare('SELECT DISTINCT track_id FROM tags WHERE field = ? AND value = ? COLLATE NOCASE')
      .all(field.toLowerCase(), value) as Array<{ track_id: number }>;
    return new Set(rows.map((r) => r.track_id));
  }
  /** Every track's values of one field (first value first). */
  fieldValues(field: string): Map<number, string[]> {
    const rows = this.db.prepare('SELECT track_id, value FROM tags WHERE field = ? ORDER BY track_id, position').all(field.toLowerCase()) as Array<{
      track_id: number;
      value: string;
    }>;
    const out = new Map<number, string[]>();
    for (const r of rows) {
      const list = out.get(r.track_id);
      if (list) list.push(r.value);
      else out.set(r.track_id, [r.value]);
    }
    return out;
  }
  tagFieldCounts(): Array<{ field: string; tracks: number; values: number }> {
    return this.db
      .prepare('SELECT field, count(DISTINCT track_id) AS tracks, count(DISTINCT value) AS "values" FROM tags GROUP BY field ORDER BY tracks DESC')
      .all() as Array<{ field: string; tracks: number; values: number }>;
  }

  // ── errors ──
  setError(trackId: number, stage: ErrorRow['stage'], code: string, message: string, detail: string | null, contentHash: string): void {
    this.db
      .prepare(
        `INSERT INTO errors (track_id, stage, code, message, detail, content_hash, at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (track_id, stage) DO UPDATE SET code = excluded.code, message = excluded.message, detail = excluded.detail,
           content_hash = excluded.content_hash, at = excluded.at`,
      )
      .run(trackId, stage, code, message, detail, contentHash, Date.now());
  }
  clearErrors(trackId: number, stage?: ErrorRow['stage']): void {
    if (stage) this.db.prepare('DELETE FROM errors WHERE track_id = ? AND stage = ?').run(trackId, stage);
    else this.db.prepare('DELETE FROM errors WHERE track_id = ?').run(trackId);
  }
  /** A track's error of this code for its current content, if it has one (e.g. 'truncated'). */
  errorOf(trackId: number, code: string, contentHash: string): { message: string } | undefined {
    return this.db.prepare('SELECT message FROM errors WHERE track_id = ? AND code = ? AND content_hash = ?').get(trackId, code, contentHash) as { message: string } | undefined;
  }

  errors(): ErrorRow[] {
    return this.db
      .prepare('SELECT e.track_id, t.path, e.stage, e.code, e.message, e.detail, e.at FROM errors e JOIN tracks t ON t.id = e.track_id ORDER BY t.path, e.stage')
      .all() as ErrorRow[];
  }
  setScanProblems(problems: Array<{ path: string; code: string; message: string }>): void {
    this.transaction(() => {
      this.db.prepare('DELETE FROM scan_problems').run();
      const ins = this.db.prepare('INSERT OR REPLACE INTO scan_problems (path, code, message, at) VALUES (?, ?, ?, ?)');
      for (const p of problems) ins.run(p.path, p.code, p.message, Date.now());
    });
  }
  scanProblems(): Array<{ path: string; code: string; message: string }> {
    return this.db.prepare('SELECT path, code, message FROM scan_problems ORDER BY path').all() as Array<{ path: string; code: string; message: string }>;
  }

  // ── representations and vectors ──
  ensureRepresentation(name: string, kind: string, dim: number, version: string): void {
    const row = this.representation(name);
    if (row && row.dim === dim && row.version === version) return;
    this.transaction(() => {
      // A new version or dimension makes every stored vector of that name stale.
      if (row) this.db.prepare('DELETE FROM representations WHERE name = ?').run(name);
      this.db.prepare('INSERT INTO representations (name, kind, dim, version, created_at) VALUES (?, ?, ?, ?, ?)').run(name, kind, dim, version, Date.now());
    });
  }
  /** Drop a representation and all its vectors. */
  /** Tracks a published model's outputs are kept for (`model_outputs`), whatever their content now. */
  modelOutputCount(model: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM model_outputs WHERE model = ?').get(model) as { n: number }).n;
  }
  /** Forget a published model's kept outputs. */
  deleteModelOutputs(model: string): void {
    this.db.prepare('DELETE FROM model_outputs WHERE model = ?').run(model);
  }
  /** After a write that left the audio as it was: a track's kept model outputs stay valid for its new content hash. */
  rehashModelOutputs(trackId: number, contentHash: string): void {
    this.db.prepare('UPDATE model_outputs SET content_hash = ? WHERE track_id = ?').run(contentHash, trackId);
  }
  deleteRepresentation(name: string): void {
    this.db.prepare('DELETE FROM representations WHERE name = ?').run(name);
  }
  representation(name: string): RepresentationRow | undefined {
    return this.db.prepare('SELECT * FROM representations WHERE name = ?').get(name) as RepresentationRow | undefined;
  }
  representations(): Array<RepresentationRow & { vectors: number }> {
    return this.db
      .prepare('SELECT r.*, (SELECT count(*) FROM vectors v WHERE v.representation = r.name) AS vectors FROM representations r ORDER BY r.name')
      .all() as Array<RepresentationRow & { vectors: number }>;
  }
  putVector(trackId: number, rep: string, contentHash: string, v: Float32Array, excerpts: unknown): void {
    this.db
      .prepare(
        `INSERT INTO vectors (track_id, representation, content_hash, data, excerpts, computed_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (track_id, representation) DO UPDATE SET content_hash = excluded.content_hash, data = excluded.data,
           excerpts = excluded.excerpts, computed_at = excluded.computed_at`,
      )
      .run(trackId, rep, contentHash, vectorToBlob(v), JSON.stringify(excerpts), Date.now());
  }
  deleteVectors(trackId: number): void {
    this.db.prepare('DELETE FROM vectors WHERE track_id = ?').run(trackId);
  }
  vector(trackId: number, rep: string): Float32Array | undefined {
    const r = this.db.prepare('SELECT data FROM vectors WHERE track_id = ? AND representation = ?').get(trackId, rep) as { data: Buffer } | undefined;
    return r ? blobToVector(r.data) : undefined;
  }
  /** All vectors of a representation, ordered by track id. */
  vectors(rep: string): { ids: Int32Array; data: Float32Array[] } {
    const rows = this.db.prepare('SELECT track_id, data FROM vectors WHERE representation = ? ORDER BY track_id').all(rep) as Array<{ track_id: number; data: Buffer }>;
    return { ids: Int32Array.from(rows.map((r) => r.track_id)), data: rows.map((r) => blobToVector(r.data)) };
  }
  vectorCount(rep: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM vectors WHERE representation = ?').get(rep) as { n: number }).n;
  }
  analysisInfo(trackId: number): Array<{ representation: string; computed_at: number; excerpts: string }> {
    return this.db.prepare('SELECT representation, computed_at, excerpts FROM vectors WHERE track_id = ?').all(trackId) as Array<{
      representation: string;
      computed_at: number;
      excerpts: string;
    }>;
  }

  /**
   * Tracks that still need `reps`: no vector for the file's current content, and no decode/analyze error recorded
   * for that same content (a failed file is retried only once it changes, or with `retryFailed`).
   */
  tracksNeedingAnalysis(reps: readonly string[], retryFailed = false): TrackRow[] {
    const placeholders = reps.map(() => '?').join(',');
    const sql = `SELECT t.* FROM tracks t
      WHERE (SELECT count(*) FROM vectors v WHERE v.track_id = t.id AND v.content_hash = t.content_hash AND v.representation IN (${placeholders})) < ?
      ${retryFailed ? '' : `AND NOT EXISTS (SELECT 1 FROM errors e WHERE e.track_id = t.id AND e.stage IN ('decode', 'analyze') AND e.content_hash = t.content_hash)`}
      ORDER BY t.id`;
    return this.db.prepare(sql).all(...reps, reps.length) as TrackRow[];
  }

  // ── settings ──
  setting(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }
  setSetting(key: string, value: string | null): void {
    if (value === null) this.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
    else this.db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}

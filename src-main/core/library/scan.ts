import { resolve } from 'node:path';
import type { LibraryStore, TrackRow } from '../store/library-store.js';
import { contentHash } from './content-hash.js';
import { readTrackFacts, type TrackFacts } from './read-tags.js';
import { walkAudio, type FoundFile, type WalkProblem } from './walk.js';

export interface ScanProgress {
  phase: 'walking' | 'hashing' | 'reading';
  done: number;
  total: number;
}

export interface ScanReport {
  roots: string[];
  files: number;
  added: number;
  changed: number;
  moved: number;
  removed: number;
  unchanged: number;
  tagErrors: number;
  problems: WalkProblem[];
}

export interface ScanOptions {
  onProgress?: (p: ScanProgress) => void;
  signal?: AbortSignal;
  /** Files hashed and read at once. */
  concurrency?: number;
  /**
   * Hash every file and re-read the tags of any whose content changed, even where size and modification time
   * say nothing did (a file edited in place by a program that put the time back).
   */
  verify?: boolean;
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>, signal?: AbortSignal): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      signal?.throwIfAborted();
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

interface Read {
  facts: TrackFacts | null;
  error: { code: string; message: string } | null;
}

async function readFacts(path: string): Promise<Read> {
  try {
    return { facts: await readTrackFacts(path), error: null };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return { facts: null, error: { code: 'unreadable-tags', message: `Tags could not be read: ${message}` } };
  }
}

/**
 * Scan music folders into the store, incrementally: files whose size and mtime are unchanged are not opened
 * (with `verify`, every file is hashed); a track marked stale (a tag write found it changed) is always re-read;
 * new and changed files are hashed and their tags read; a file that vanished from one path and appears at
 * another with the same content hash is a move (it keeps its id, tags and analysis); vanished files leave.
 * Unreadable folders, vanished files and over-long names are reported, never fatal.
 */
export async function scanLibrary(store: LibraryStore, folders: readonly string[], o: ScanOptions = {}): Promise<ScanReport> {
  const roots = folders.map((f) => resolve(f));
  const problems: WalkProblem[] = [];
  o.onProgress?.({ phase: 'walking', done: 0, total: 0 });
  const rootIds = new Map<string, number>();
  for (const r of roots) rootIds.set(r, store.addRoot(r));
  const rootOf = (p: string): number | null => {
    let best: string | null = null;
    for (const r of roots) if ((p === r || p.startsWith(r.endsWith('/') ? r : `${r}/`)) && (!best || r.length > best.length)) best = r;
    return best ? (rootIds.get(best) ?? null) : null;
  };

  const found = await walkAudio(roots, (p) => problems.push(p), o.signal);
  const existing = new Map<string, TrackRow>();
  for (const id of rootIds.values()) for (const t of store.tracksUnderRoot(id)) existing.set(t.path, t);
  // Tracks that were scanned under no root (or another root) but now lie inside one of these roots.
  for (const t of store.allTracks()) if (!existing.has(t.path) && rootOf(t.path) !== null) existing.set(t.path, t);

  const seen = new Set<string>();
  const toHash: FoundFile[] = [];
  let unchanged = 0;
  for (const f of found) {
    seen.add(f.path);
    const t = existing.get(f.path);
    if (t && !o.verify && t.size === f.size && t.mtime_ms === f.mtimeMs) unchanged++;
    else toHash.push(f);
  }
  const vanished = [...existing.values()].filter((t) => !seen.has(t.path));

  let hashed = 0;
  const hashes = await mapLimit(
    toHash,
    o.concurrency ?? 8,
    async (f) => {
      try {
        return await contentHash(f.path);
      } catch (e) {
        problems.push({ path: f.path, code: (e as NodeJS.ErrnoException).code ?? 'EIO', message: `could not be read (${(e as Error).message})` });
        return null;
      } finally {
        o.onProgress?.({ phase: 'hashing', done: ++hashed, total: toHash.length });
      }
    },
    o.signal,
  );

  // Decide per file, then read tags only where needed.
  const vanishedByHash = new Map<string, TrackRow[]>();
  for (const t of vanished) {
    const list = vanishedByHash.get(t.content_hash);
    if (list) list.push(t);
    else vanishedByHash.set(t.content_hash, [t]);
  }
  type Action =
    | { kind: 'add'; f: FoundFile; hash: string }
    | { kind: 'move'; f: FoundFile; hash: string; track: TrackRow }
    | { kind: 'touch'; f: FoundFile; hash: string; track: TrackRow }
    | { kind: 'change'; f: FoundFile; hash: string; track: TrackRow };
  const actions: Action[] = [];
  toHash.forEach((f, i) => {
    const hash = hashes[i];
    if (hash === null) return;
    const t = existing.get(f.path);
    if (t) actions.push(t.content_hash === hash ? { kind: 'touch', f, hash, track: t } : { kind: 'change', f, hash, track: t });
    else {
      const candidates = vanishedByHash.get(hash);
      const moved = candidates?.shift();
      actions.push(moved ? { kind: 'move', f, hash, track: moved } : { kind: 'add', f, hash });
    }
  });
  const movedIds = new Set(actions.filter((a) => a.kind === 'move').map((a) => (a as { track: TrackRow }).track.id));
  // A file that could not be hashed is still there: do not remove its track.
  const unhashable = new Set(toHash.filter((_, i) => hashes[i] === null).map((f) => f.path));
  const removed = vanished.filter((t) => !movedIds.has(t.id) && !unhashable.has(t.path));

  const needsTags = actions.filter((a) => a.kind === 'add' || a.kind === 'change');
  let read = 0;
  const reads = await mapLimit(
    needsTags,
    o.concurrency ?? 8,
    async (a) => {
      const r = await readFacts(a.f.path);
      o.onProgress?.({ phase: 'reading', done: ++read, total: needsTags.length });
      return r;
    },
    o.signal,
  );
  const readOf = new Map(needsTags.map((a, i) => [a, reads[i]]));

  let added = 0;
  let changed = 0;
  let moved = 0;
  let tagErrors = 0;
  const BATCH = 500;
  for (let start = 0; start < actions.length; start += BATCH) {
    store.transaction(() => {
      for (const a of actions.slice(start, start + BATCH)) {
        const file = { size: a.f.size, mtimeMs: a.f.mtimeMs, hash: a.hash };
        if (a.kind === 'touch') {
          store.updateFileIdentity(a.track.id, file);
        } else if (a.kind === 'move') {
          store.updateFileIdentity(a.track.id, { ...file, path: a.f.path, rootId: rootOf(a.f.path) });
          moved++;
        } else {
          const r = readOf.get(a) as Read;
          let id: number;
          if (a.kind === 'add') {
            id = store.insertTrack(a.f.path, rootOf(a.f.path), file, r.facts);
            added++;
          } else {
            id = a.track.id;
            store.updateFileIdentity(id, file);
            store.setFacts(id, r.facts);
            // New content: old analysis and old errors no longer apply.
            store.deleteVectors(id);
            store.clearErrors(id);
            changed++;
          }
          if (r.error) {
            store.setError(id, 'tags', r.error.code, r.error.message, null, a.hash);
            tagErrors++;
          } else store.clearErrors(id, 'tags');
        }
      }
    });
  }
  store.transaction(() => {
    for (const t of removed) store.deleteTrack(t.id);
  });
  store.setScanProblems(problems);
  return {
    roots,
    files: found.length,
    added,
    changed,
    moved,
    removed: removed.length,
    unchanged: unchanged + actions.filter((a) => a.kind === 'touch').length,
    tagErrors,
    problems,
  };
}

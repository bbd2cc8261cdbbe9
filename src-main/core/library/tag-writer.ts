import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, constants, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { access } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type { Ffmpeg } from '../audio/decode.js';
import { applyByteDelta, byteDelta, DELTA_MAX_BYTES, DELTA_MAX_FILE, sha256 } from './byte-delta.js';
import { contentHash } from './content-hash.js';
import { readId3v2, type Id3v2Tag } from './id3v2.js';
import { oggStreams } from './ogg.js';
import { readTrackFacts, type TrackFacts } from './read-tags.js';
import { writeTags, type TagSet } from './tag-fields.js';

/** Temporary copies are named so the scanner never takes them for music (see walk.ts). */
export const TEMP_PREFIX = '.earmark-tmp-';

/** The steps of one safe write, in order; tests inject a failure at each. */
export const WRITE_STEPS = ['check', 'journal', 'copy', 'write', 'fsync', 'verify-tags', 'verify-audio', 'rename', 'fsync-dir'] as const;
export type WriteStep = (typeof WRITE_STEPS)[number];

export type WriteRefusal = 'changed-since-scan' | 'read-only' | 'missing' | 'unsupported' | 'verify-failed' | 'write-failed';

export class TagWriteError extends Error {
  constructor(
    readonly code: WriteRefusal,
    message: string,
  ) {
    super(message);
  }
}

/** What the store knew of a file when it was scanned: a write is refused if the file is not that file now. */
export interface ExpectedFile {
  size: number;
  mtimeMs: number;
  hash: string;
}

/** Facet values to set, by field (an empty list removes the field). */
export type FacetChanges = Record<string, string[]>;

export interface JournalEntry {
  batch: string;
  path: string;
  at: number;
  /** The facet values before the write (every changed field; [] for absent). */
  before: FacetChanges;
  after: FacetChanges;
  /** The file's identity before and after, so undo knows the file was not touched since. */
  hashBefore: string;
  hashAfter: string | null;
  /** pending: journaled, the file maybe replaced (a crash); done: replaced; failed: refused, the file untouched. */
  state: 'pending' | 'done' | 'failed';
  /** For the entries of an undo: the batch it undoes. */
  undoOf?: string;
  /** The ID3v2 version the file had before (2, 3, 4), or null without ID3v2: a values undo writes that version. */
  id3VersionBefore?: number | null;
  /** SHA-256 of the whole file before and after the write: undo gives back the original bytes only from `sha256After`. */
  sha256Before?: string;
  sha256After?: string;
  /** The binary delta from the written file to the original (`byte-delta.ts`), relative to the journal folder. */
  delta?: string | null;
  deltaBytes?: number;
}

export interface SafeWriteOptions {
  ffmpeg: Ffmpeg;
  journalDir: string;
  batch: string;
  expected: ExpectedFile;
  id3Version?: 3 | 4;
  /** Tests: throw at this step, as a crash there would stop the write. */
  failAt?: WriteStep;
  /** This write undoes that batch (recorded in the journal). */
  undoOf?: string;
}

/** How a file was given back by undo: its original bytes, or (the file changed since the write) its values. */
export type UndoMode = 'bytes' | 'values';

export interface SafeWriteResult {
  path: string;
  before: FacetChanges;
  after: FacetChanges;
  file: ExpectedFile;
  facts: TrackFacts;
}

export function newBatchId(): string {
  const d = new Date();
  const stamp = d.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

function fsyncPath(path: string, flags = 'r'): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Write (flags 'w', 'wx') or append ('a') bytes to a file and fsync it before returning. */
function writeSynced(path: string, data: string | Uint8Array, flags: 'a' | 'w' | 'wx'): void {
  const fd = openSync(path, flags);
  try {
    // (Two calls: writeSync's overloads take a string or a buffer, not their union.)
    if (typeof data === 'string') writeSync(fd, data);
    else writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function appendJournal(dir: string, e: JournalEntry): void {
  mkdirSync(dir, { recursive: true });
  writeSynced(join(dir, `${e.batch}.jsonl`), `${JSON.stringify(e)}\n`, 'a');
}

/** Where a batch's deltas live, and one file's delta name (stable per batch and path). */
function deltaName(batch: string, path: string): string {
  return join(`${batch}.d`, `${createHash('sha256').update(path).digest('hex').slice(0, 20)}.fossil`);
}

/**
 * Keep the delta from `written` back to `original` in the journal (fsynced), if the file is small enough and the
 * delta within `DELTA_MAX_BYTES`; returns its name, or null when undo will restore values only.
 */
function keepDelta(journalDir: string, batch: string, path: string, written: Uint8Array, original: Uint8Array): { name: string; bytes: number } | null {
  const delta = byteDelta(written, original);
  if (delta.length > DELTA_MAX_BYTES) return null;
  const name = deltaName(batch, path);
  const full = join(journalDir, name);
  mkdirSync(dirname(full), { recursive: true });
  const tmp = `${full}.tmp-${process.pid}`;
  writeSynced(tmp, delta, 'w');
  renameSync(tmp, full);
  fsyncPath(dirname(full));
  return { name, bytes: delta.length };
}

/** The journal of a batch: the last line per path wins (pending, then done). */
export function readJournal(dir: string, batch: string): JournalEntry[] {
  if (!/^[\w.-]+$/.test(batch)) throw new Error(`"${batch}" is not a batch id.`);
  const f = join(dir, `${batch}.jsonl`);
  if (!existsSync(f)) throw new Error(`No tag-writing batch "${batch}" in ${dir}.`);
  const byPath = new Map<string, JournalEntry>();
  for (const line of readFileSync(f, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as JournalEntry;
      byPath.set(e.path, e);
    } catch {
      // A line cut short by a crash while appending: the entry before it stands.
    }
  }
  // A refused write left its file untouched: nothing of it to undo.
  return [...byPath.values()].filter((e) => e.state !== 'failed');
}

export interface BatchSummary {
  batch: string;
  files: number;
  at: number;
  /** An undo: the batch it undid. */
  undoOf?: string;
  /** Undone by this later batch. */
  undoneBy?: string;
}

/** The batches written so far, newest first (batches whose every write was refused are left out). */
export function listBatches(dir: string): BatchSummary[] {
  if (!existsSync(dir)) return [];
  const all: BatchSummary[] = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => {
      const batch = f.slice(0, -6);
      const entries = readJournal(dir, batch);
      const undoOf = entries.find((e) => e.undoOf)?.undoOf;
      return { batch, files: entries.length, at: entries.length ? Math.min(...entries.map((e) => e.at)) : 0, ...(undoOf ? { undoOf } : {}) };
    })
    .filter((b) => b.files > 0)
    .sort((a, b) => b.at - a.at);
  for (const b of all) if (b.undoOf) for (const u of all) if (u.batch === b.undoOf && !u.undoneBy) u.undoneBy = b.batch;
  return all;
}

/** MD5 of the decoded audio of the first audio stream (ffmpeg's md5 muxer): equal means bit-identical audio. */
export function audioDigest(ff: Ffmpeg, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(ff.path, ['-nostdin', '-v', 'error', '-i', path, '-map', '0:a:0', '-f', 'md5', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      const m = /MD5=([0-9a-f]{32})/.exec(out);
      if (code === 0 && m) resolve(m[1]);
      else reject(new Error(`ffmpeg could not decode ${path}: ${err.trim() || `exit ${code}`}`));
    });
  });
}

function normalised(values: string[] | undefined): string[] {
  return (values ?? []).map((v) => v.trim()).filter(Boolean);
}

function sameValues(a: string[] | undefined, b: string[] | undefined): boolean {
  const x = normalised(a);
  const y = normalised(b);
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Stray temporary copies left by a crash mid-write (the original is intact): remove them. */
export function cleanStrayTemps(folder: string): string[] {
  if (!existsSync(folder)) return [];
  const gone: string[] = [];
  for (const f of readdirSync(folder)) {
    if (f.startsWith(TEMP_PREFIX)) {
      rmSync(join(folder, f), { force: true });
      gone.push(join(folder, f));
    }
  }
  return gone;
}

/**
 * Refuse a file that is not the one the store scanned (gone, or another size, time or content hash): `outcome` says
 * what was not done, `retry` what to do after scanning. Returns its stat.
 */
async function checkUnchanged(path: string, expected: ExpectedFile, outcome: string, retry: string) {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new TagWriteError('missing', `${path} is gone (moved, renamed or deleted); ${outcome}. Scan again, then ${retry}.`);
  }
  if (st.size !== expected.size || Math.floor(st.mtimeMs) !== Math.floor(expected.mtimeMs) || (await contentHash(path)) !== expected.hash) {
    throw new TagWriteError('changed-since-scan', `${path} changed since it was scanned (another program edited it); ${outcome}. Scan again (earmark scan, or Scan in the app; it re-reads this file), then ${retry}.`);
  }
  return st;
}

/**
 * Where a write goes: the real file behind a symbolic link (the link stays a link), its folder and a temporary
 * name beside it. Refuses a file that is read-only by its permission bits (even for root, who could force it), a
 * folder that is not writable, and a file with several hard links (replacing it would split them: the other names
 * would keep the old tags).
 */
async function writableTarget(path: string, st: Stats, outcome: string): Promise<{ real: string; folder: string; tmp: string }> {
  const real = realpathSync(path);
  const folder = dirname(real);
  const readOnly = (st.mode & 0o222) === 0;
  try {
    if (readOnly) throw new Error('read-only');
    await access(real, constants.W_OK);
    await access(folder, constants.W_OK);
  } catch {
    throw new TagWriteError('read-only', `${path} is read-only (or its folder is); ${outcome}: Earmark does not force it. Make it writable (chmod u+w, or the file's Properties), then try again.`);
  }
  if (st.nlink > 1) {
    throw new TagWriteError(
      'unsupported',
      `${path} has ${st.nlink} hard links (the same file under several names); ${outcome}: replacing it safely would split them, and the other names would keep the old tags. Tag the files by one name only (copy it), or use a symbolic link.`,
    );
  }
  return { real, folder, tmp: join(folder, `${TEMP_PREFIX}${randomBytes(4).toString('hex')}-${basename(real)}`) };
}

/** Give the temporary copy the original's permissions and, where allowed, its owner (root would make it root's). */
function keepOwnership(tmp: string, st: Stats): void {
  chmodSync(tmp, st.mode & 0o7777);
  try {
    chownSync(tmp, st.uid, st.gid);
  } catch {
    // Not permitted for an ordinary user (and not needed: the file is already theirs).
  }
}

/** After the rename: the file's new identity (as the scanner records it), and the journal's "done" line. */
async function journalDone(journalDir: string, pending: JournalEntry, sha256After: string | undefined, kept: { name: string; bytes: number } | null): Promise<ExpectedFile> {
  const now = statSync(pending.path);
  // Whole milliseconds, as the scanner records them, so a re-scan sees the file as unchanged.
  const file = { size: now.size, mtimeMs: Math.floor(now.mtimeMs), hash: await contentHash(pending.path) };
  appendJournal(journalDir, {
    ...pending,
    at: Date.now(),
    hashAfter: file.hash,
    state: 'done',
    ...(sha256After ? { sha256After } : {}),
    delta: kept?.name ?? null,
    ...(kept ? { deltaBytes: kept.bytes } : {}),
  });
  return file;
}

/**
 * Write facet tags into one file without ever leaving it broken: refuse if it changed since the scan or cannot
 * be written; journal the old values first (fsynced); write into a temporary copy in the same folder, fsync it,
 * re-read it and check the tags, check that its decoded audio is bit-identical to the original's, then rename it
 * over the original (atomic) and fsync the folder. A crash at any point leaves the old file or the new one.
 */
export async function safeWriteTags(path: string, changes: FacetChanges, o: SafeWriteOptions): Promise<SafeWriteResult> {
  const fail = (step: WriteStep) => {
    if (o.failAt === step) throw new Error(`injected failure at ${step}`);
  };
  const fields = Object.keys(changes).map((f) => f.toLowerCase());
  if (fields.length === 0) throw new TagWriteError('unsupported', 'Nothing to write.');

  // ── check ──
  const st = await checkUnchanged(path, o.expected, `no ${fields.join(', ')} written`, 'write again');
  const { real, folder, tmp } = await writableTarget(path, st, `no ${fields.join(', ')} written`);
  if (!/\.(mp3|flac|ogg|oga|opus|m4a|mp4|m4b|wav|aiff?)$/i.test(path)) {
    throw new TagWriteError('unsupported', `${path}: Earmark writes tags into MP3, FLAC, Ogg, Opus, M4A, WAV and AIFF files only; no ${fields.join(', ')} written. Tag it with a tagger for its format (the values are in earmark review).`);
  }
  if (/\.(ogg|oga|opus)$/i.test(path)) {
    const streams = oggStreams(path).length;
    if (streams > 1) {
      throw new TagWriteError(
        'unsupported',
        `${path} is a chained Ogg file (${streams} streams one after another, as radio recordings and some rips are); no ${fields.join(', ')} written: tag writers change only the first stream's tags, so the others would keep theirs. Split it into one file per stream (for example with oggz or ffmpeg) to tag it.`,
      );
    }
  }
  let current: TrackFacts;
  try {
    current = await readTrackFacts(path);
  } catch (e) {
    throw new TagWriteError('unsupported', `${path} is not an audio file Earmark can read (${(e as Error).message}); no ${fields.join(', ')} written.`);
  }
  if (current.contentFormat) {
    const ext = extname(path);
    throw new TagWriteError(
      'unsupported',
      `${path} is a ${current.contentFormat.toUpperCase()} file named ${ext}; Earmark reads its tags by content but writes only into files named for their format, so no ${fields.join(', ')} written. Rename it to .${current.contentFormat}, scan, then write.`,
    );
  }
  const before: FacetChanges = Object.fromEntries(fields.map((f) => [f, current.facets[f] ?? []]));
  const after: FacetChanges = Object.fromEntries(Object.entries(changes).map(([f, v]) => [f.toLowerCase(), normalised(v)]));
  // The original bytes, for the delta that lets undo give them back (files up to DELTA_MAX_FILE).
  const original = st.size <= DELTA_MAX_FILE ? readFileSync(path) : null;
  const id3VersionBefore = id3Version(path);
  fail('check');

  // ── journal ──
  const pending: JournalEntry = {
    batch: o.batch,
    path,
    at: Date.now(),
    before,
    after,
    hashBefore: o.expected.hash,
    hashAfter: null,
    state: 'pending',
    id3VersionBefore,
    ...(original ? { sha256Before: sha256(original) } : {}),
    ...(o.undoOf ? { undoOf: o.undoOf } : {}),
  };
  appendJournal(o.journalDir, pending);
  fail('journal');
  let kept: { name: string; bytes: number } | null = null;
  let sha256After: string | undefined;

  try {
    // ── copy, write, fsync ──
    copyFileSync(real, tmp, constants.COPYFILE_EXCL);
    keepOwnership(tmp, st);
    fail('copy');
    const set: TagSet = { facets: after };
    try {
      writeTags(tmp, set, { id3Version: o.id3Version ?? 4 });
    } catch (e) {
      throw new TagWriteError('write-failed', `${path}: ${fields.join(', ')} could not be written (${(e as Error).message}); the file was left as it was. Check it plays and is not damaged, then try again.`);
    }
    fail('write');
    fsyncPath(tmp, 'r+');
    fail('fsync');

    // ── verify ──
    const reread = await readTrackFacts(tmp);
    for (const f of fields) {
      if (!sameValues(reread.facets[f], after[f])) {
        throw new TagWriteError('verify-failed', `${path}: after writing, ${f} reads back as ${JSON.stringify(reread.facets[f] ?? [])}, not ${JSON.stringify(after[f])}, so the file was left as it was. Its format cannot hold these values as written: try other values, or report the file.`);
      }
    }
    for (const [k, v] of Object.entries(current.facets)) {
      if (!fields.includes(k) && !sameValues(reread.facets[k], v)) {
        throw new TagWriteError('verify-failed', `${path}: writing ${fields.join(', ')} would also change ${k}, which was not asked for, so the file was left as it was. Report the file (its tags confuse the writer).`);
      }
    }
    // Every other ID3v2 frame survives a write in the same version (node-taglib-sharp drops some it cannot render).
    const lost = lostId3Frames(path, tmp);
    if (lost.length) {
      throw new TagWriteError(
        'verify-failed',
        `${path}: writing ${fields.join(', ')} would drop its ${lost.join(', ')} frame${lost.length === 1 ? '' : 's'} (the tag writer cannot keep ${lost.length === 1 ? 'it' : 'them'}), so the file was left as it was. Write with --id3 ${id3VersionBefore === 3 ? 4 : 3} if that version suits you, or tag it with another tagger.`,
      );
    }
    for (const k of ['artist', 'album', 'title', 'trackNo', 'year', 'albumArtist'] as const) {
      if (reread[k] !== current[k]) throw new TagWriteError('verify-failed', `${path}: writing ${fields.join(', ')} would also change ${k}, so the file was left as it was. Report the file (its tags confuse the writer).`);
    }
    fail('verify-tags');
    const [a, b] = await Promise.all([audioDigest(o.ffmpeg, path), audioDigest(o.ffmpeg, tmp)]);
    if (a !== b) throw new TagWriteError('verify-failed', `${path}: writing ${fields.join(', ')} would change its decoded audio, so the file was left as it was. Report the file.`);
    fail('verify-audio');

    // The way back to the original bytes, in the journal before the original is replaced.
    if (original) {
      const written = readFileSync(tmp);
      sha256After = sha256(written);
      kept = keepDelta(o.journalDir, o.batch, path, written, original);
    }

    // ── replace ──
    renameSync(tmp, real);
    fail('rename');
  } catch (e) {
    rmSync(tmp, { force: true });
    // A refusal leaves the file as it was: say so in the journal, so undo does not look for it.
    if (e instanceof TagWriteError) appendJournal(o.journalDir, { ...pending, at: Date.now(), state: 'failed' });
    throw e;
  }
  fsyncPath(folder);
  fail('fsync-dir');

  const file = await journalDone(o.journalDir, pending, sha256After, kept);
  return { path, before, after, file, facts: await readTrackFacts(path) };
}

/**
 * The ID3v2 frames a write lost: ids present before (in the original file's tag) and not after (the written copy's), when the
 * tag kept its version. The facet frames are left out (they are what is written), and a version change is asked
 * for explicitly, so not checked.
 */
function lostId3Frames(original: string, written: string): string[] {
  let before: Id3v2Tag | null = null;
  let after: Id3v2Tag | null = null;
  try {
    before = readId3v2(original);
    after = readId3v2(written);
  } catch {
    return [];
  }
  if (!before || !after || before.version !== after.version) return [];
  const facet = (id: string) => ['TCON', 'TMOO', 'TXXX', 'TCO', 'TXX'].includes(id);
  const left = new Map<string, number>();
  for (const id of after.ids) left.set(id, (left.get(id) ?? 0) + 1);
  const lost: string[] = [];
  for (const id of before.ids) {
    if (facet(id)) continue;
    const n = left.get(id) ?? 0;
    if (n > 0) left.set(id, n - 1);
    else if (!lost.includes(id)) lost.push(id);
  }
  return lost;
}

/** The ID3v2 version of a file's tag (2, 3, 4), or null when it has none or it cannot be read. */
export function id3Version(path: string): number | null {
  try {
    return readId3v2(path)?.version ?? null;
  } catch {
    return null;
  }
}

/**
 * Undo one journaled write by giving the file back its original bytes: only when the file is exactly what the
 * write left (`sha256After`) and the journal kept the delta. Returns null when it is not (the caller restores the
 * values instead). Otherwise as safe as a write: refuses a file changed since the scan, journals (with the delta
 * back to the state it undoes, so the undo can itself be undone), writes a temporary copy, checks its SHA-256 is
 * the original's and its decoded audio the same, renames it over the file and fsyncs the folder.
 * Throws `TagWriteError` like `safeWriteTags`.
 */
export async function restoreOriginalBytes(entry: JournalEntry, o: Omit<SafeWriteOptions, 'id3Version' | 'undoOf'>): Promise<SafeWriteResult | null> {
  const path = entry.path;
  // A write cut short after its rename (a crash) is still pending, with its delta kept under its usual name.
  const deltaRel = entry.state === 'done' ? entry.delta : entry.state === 'pending' ? deltaName(entry.batch, path) : null;
  if (!deltaRel || !entry.sha256Before || (entry.state === 'done' && !entry.sha256After)) return null;
  const st = await checkUnchanged(path, o.expected, 'nothing undone', 'undo again');
  const { real, folder, tmp } = await writableTarget(path, st, 'nothing undone');
  const current = readFileSync(path);
  if (entry.state === 'done' && sha256(current) !== entry.sha256After) return null;
  let deltaBytes: Buffer;
  try {
    deltaBytes = readFileSync(join(o.journalDir, deltaRel));
  } catch {
    return null; // the delta file is gone (journal folder cleaned by hand, or the crash came before it): values, then
  }
  let original: Buffer;
  try {
    original = applyByteDelta(current, deltaBytes);
  } catch (e) {
    if (entry.state === 'pending') return null; // the file is not the one the delta was made from
    throw e;
  }
  if (entry.state === 'pending' && sha256(original) !== entry.sha256Before) return null;
  if (sha256(original) !== entry.sha256Before) throw new TagWriteError('verify-failed', `${path}: the journal's delta does not give back its original bytes (the journal was edited?), so ${Object.keys(entry.before).join(', ')} ${Object.keys(entry.before).length === 1 ? 'was' : 'were'} not undone and the file was left as it is. Set the old values by hand with earmark tag --set.`);
  const facts = await readTrackFacts(path);
  const before: FacetChanges = Object.fromEntries(Object.keys(entry.after).map((f) => [f, facts.facets[f] ?? []]));
  const pending: JournalEntry = {
    batch: o.batch,
    path,
    at: Date.now(),
    before,
    after: entry.before,
    hashBefore: o.expected.hash,
    hashAfter: null,
    state: 'pending',
    id3VersionBefore: id3Version(path),
    sha256Before: sha256(current),
    undoOf: entry.batch,
  };
  appendJournal(o.journalDir, pending);
  let kept: { name: string; bytes: number } | null = null;
  let restored: TrackFacts;
  try {
    writeSynced(tmp, original, 'wx');
    keepOwnership(tmp, st);
    restored = await readTrackFacts(tmp);
    const [a, b] = await Promise.all([audioDigest(o.ffmpeg, path), audioDigest(o.ffmpeg, tmp)]);
    if (a !== b) throw new TagWriteError('verify-failed', `${path}: undoing ${Object.keys(entry.before).join(', ')} would change its decoded audio, so the file was left as it is. Report the file.`);
    kept = keepDelta(o.journalDir, o.batch, path, original, current);
    renameSync(tmp, real);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof TagWriteError) appendJournal(o.journalDir, { ...pending, at: Date.now(), state: 'failed' });
    throw e;
  }
  fsyncPath(folder);
  const file = await journalDone(o.journalDir, pending, entry.sha256Before, kept);
  return { path, before, after: entry.before, file, facts: restored };
}

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Ffmpeg } from '../audio/decode.js';
import { contentHash } from './content-hash.js';
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
  state: 'pending' | 'done';
}

export interface SafeWriteOptions {
  ffmpeg: Ffmpeg;
  journalDir: string;
  batch: string;
  expected: ExpectedFile;
  id3Version?: 3 | 4;
  /** Tests: throw at this step, as a crash there would stop the write. */
  failAt?: WriteStep;
}

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

function appendJournal(dir: string, e: JournalEntry): void {
  mkdirSync(dir, { recursive: true });
  const fd = openSync(join(dir, `${e.batch}.jsonl`), 'a');
  try {
    writeSync(fd, `${JSON.stringify(e)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
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
  return [...byPath.values()];
}

export function listBatches(dir: string): Array<{ batch: string; files: number; at: number }> {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .map((f) => {
      const batch = f.slice(0, -6);
      const entries = readJournal(dir, batch);
      return { batch, files: entries.length, at: Math.min(...entries.map((e) => e.at)) };
    })
    .sort((a, b) => b.at - a.at);
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
 * Write facet tags into one file without ever leaving it broken: refuse if it changed since the scan or cannot
 * be written; journal the old values first (fsynced); write into a temporary copy in the same folder, fsync it,
 * re-read it and check the tags, check that its decoded audio is bit-identical to the original's, then rename it
 * over the original (atomic) and fsync the folder. A crash at any point leaves the old file or the new one.
 */
export async function safeWriteTags(path: string, changes: FacetChanges, o: SafeWriteOptions): Promise<SafeWriteResult> {
  const fail = (step: WriteStep) => {
    if (o.failAt === step) throw new Error(`injected failure at ${step}`);
  };
  const folder = dirname(path);
  const tmp = join(folder, `${TEMP_PREFIX}${randomBytes(4).toString('hex')}-${basename(path)}`);
  const fields = Object.keys(changes).map((f) => f.toLowerCase());
  if (fields.length === 0) throw new TagWriteError('unsupported', 'Nothing to write.');

  // ── check ──
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new TagWriteError('missing', `${path} is gone; scan again.`);
  }
  if (st.size !== o.expected.size || Math.floor(st.mtimeMs) !== Math.floor(o.expected.mtimeMs) || (await contentHash(path)) !== o.expected.hash) {
    throw new TagWriteError('changed-since-scan', `${path} changed since it was scanned; scan again before writing tags.`);
  }
  try {
    await access(path, constants.W_OK);
    await access(folder, constants.W_OK);
  } catch {
    throw new TagWriteError('read-only', `${path} is read-only (or its folder is); Earmark does not force it.`);
  }
  if (!/\.(mp3|flac|ogg|oga|opus|m4a|mp4|m4b|wav|aiff?)$/i.test(path)) {
    throw new TagWriteError('unsupported', `Earmark does not write tags into ${basename(path)} (MP3, FLAC, Ogg, Opus, M4A, WAV and AIFF only).`);
  }
  const current = await readTrackFacts(path);
  const before: FacetChanges = Object.fromEntries(fields.map((f) => [f, current.facets[f] ?? []]));
  const after: FacetChanges = Object.fromEntries(Object.entries(changes).map(([f, v]) => [f.toLowerCase(), normalised(v)]));
  fail('check');

  // ── journal ──
  appendJournal(o.journalDir, { batch: o.batch, path, at: Date.now(), before, after, hashBefore: o.expected.hash, hashAfter: null, state: 'pending' });
  fail('journal');

  try {
    // ── copy, write, fsync ──
    copyFileSync(path, tmp, constants.COPYFILE_EXCL);
    fail('copy');
    const set: TagSet = { facets: after };
    try {
      writeTags(tmp, set, { id3Version: o.id3Version ?? 4 });
    } catch (e) {
      throw new TagWriteError('write-failed', `Tags could not be written into ${basename(path)}: ${(e as Error).message}`);
    }
    fail('write');
    fsyncPath(tmp, 'r+');
    fail('fsync');

    // ── verify ──
    const reread = await readTrackFacts(tmp);
    for (const f of fields) {
      if (!sameValues(reread.facets[f], after[f])) {
        throw new TagWriteError('verify-failed', `After writing, ${f} reads back as ${JSON.stringify(reread.facets[f] ?? [])}, not ${JSON.stringify(after[f])}; the file was left as it was.`);
      }
    }
    for (const [k, v] of Object.entries(current.facets)) {
      if (!fields.includes(k) && !sameValues(reread.facets[k], v)) {
        throw new TagWriteError('verify-failed', `Writing changed ${k}, which was not asked for; the file was left as it was.`);
      }
    }
    for (const k of ['artist', 'album', 'title', 'trackNo', 'year', 'albumArtist'] as const) {
      if (reread[k] !== current[k]) throw new TagWriteError('verify-failed', `Writing changed ${k}; the file was left as it was.`);
    }
    fail('verify-tags');
    const [a, b] = await Promise.all([audioDigest(o.ffmpeg, path), audioDigest(o.ffmpeg, tmp)]);
    if (a !== b) throw new TagWriteError('verify-failed', `The audio of ${basename(path)} would not stay bit-identical; the file was left as it was.`);
    fail('verify-audio');

    // ── replace ──
    renameSync(tmp, path);
    fail('rename');
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  fsyncPath(folder);
  fail('fsync-dir');

  const now = statSync(path);
  // As the scanner records it (whole milliseconds), so a re-scan sees the file as unchanged.
  const file = { size: now.size, mtimeMs: Math.floor(now.mtimeMs), hash: await contentHash(path) };
  appendJournal(o.journalDir, { batch: o.batch, path, at: Date.now(), before, after, hashBefore: o.expected.hash, hashAfter: file.hash, state: 'done' });
  return { path, before, after, file, facts: await readTrackFacts(path) };
}

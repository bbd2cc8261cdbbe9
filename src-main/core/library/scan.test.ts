import { copyFileSync, mkdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lavfi, tempDir } from '../../../tests/helpers/fixtures.js';
import { LibraryStore } from '../store/library-store.js';
import { scanLibrary } from './scan.js';
import { writeTags } from './tag-fields.js';
import { walkAudio, type WalkProblem } from './walk.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

const music = join(dir, 'music');
const LONG = 'L'.repeat(200);
beforeAll(() => {
  mkdirSync(join(music, 'Björk Ólafsdóttir', '東京 Sessions'), { recursive: true });
  mkdirSync(join(music, LONG), { recursive: true });
  lavfi(join(music, 'Björk Ólafsdóttir', '東京 Sessions', '01 – Ünïcödé 🎵.flac'), 'sine=f=440:d=1');
  lavfi(join(music, LONG, `${'x'.repeat(200)}.mp3`), 'sine=f=330:d=1');
  lavfi(join(music, 'a.ogg'), 'sine=f=220:d=1');
  writeTags(join(music, 'a.ogg'), { artist: 'Tester', title: 'A', facets: { genre: ['Folk'] } });
  writeFileSync(join(music, 'cover.jpg'), 'not audio, not scanned');
  // A symlink loop, and a second path to the same file.
  symlinkSync(music, join(music, 'loop'));
  symlinkSync(join(music, 'a.ogg'), join(music, 'same-as-a.ogg'));
  symlinkSync(join(dir, 'nowhere'), join(music, 'dangling.mp3'));
});

describe('walkAudio', () => {
  it('finds each audio file once, ends symlink loops, handles unicode and long names, reports dangling links', async () => {
    const problems: WalkProblem[] = [];
    const found = await walkAudio([music], (p) => problems.push(p));
    const names = found.map((f) => f.path.slice(music.length + 1));
    expect(names).toHaveLength(3);
    expect(names).toContain('a.ogg');
    expect(names.some((n) => n.includes('Ünïcödé 🎵.flac'))).toBe(true);
    expect(names.some((n) => n.startsWith(LONG))).toBe(true);
    expect(problems.map((p) => p.path)).toContain(join(music, 'dangling.mp3'));
  });
  it('takes a single audio file as a root, and reports a non-audio file given as a folder', async () => {
    const problems: WalkProblem[] = [];
    const found = await walkAudio([join(music, 'a.ogg'), join(music, 'cover.jpg')], (p) => problems.push(p));
    expect(found.map((f) => f.path)).toEqual([join(music, 'a.ogg')]);
    expect(problems).toEqual([{ path: join(music, 'cover.jpg'), code: 'not-audio', message: expect.stringMatching(/not a music folder/) }]);
  });
  it('reports a folder that does not exist and carries on', async () => {
    const problems: WalkProblem[] = [];
    const found = await walkAudio([join(dir, 'missing'), music], (p) => problems.push(p));
    expect(found.length).toBe(3);
    expect(problems[0].code).toBe('ENOENT');
  });
});

describe('scanLibrary (incremental)', () => {
  const db = () => new LibraryStore(join(dir, 'home', 'library.db'));

  it('adds every file with its tags on the first scan', async () => {
    const s = db();
    const r = await scanLibrary(s, [music]);
    expect(r).toMatchObject({ files: 3, added: 3, changed: 0, moved: 0, removed: 0, unchanged: 0 });
    const a = s.trackByPath(join(music, 'a.ogg'))!;
    expect(a.artist).toBe('Tester');
    expect(s.tagsOf(a.id)).toEqual({ genre: ['Folk'] });
    s.close();
  });

  it('touches nothing on a re-scan of an unchanged library', async () => {
    const s = db();
    const before = s.allTracks();
    const r = await scanLibrary(s, [music]);
    expect(r).toMatchObject({ added: 0, changed: 0, moved: 0, removed: 0, unchanged: 3 });
    expect(s.allTracks()).toEqual(before);
    s.close();
  });

  it('keeps analysis for a file whose mtime changed but content did not', async () => {
    const s = db();
    const a = s.trackByPath(join(music, 'a.ogg'))!;
    s.ensureRepresentation('dsp', 'builtin', 2, 'test/1');
    s.putVector(a.id, 'dsp', a.content_hash, Float32Array.of(1, 2), []);
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(music, 'a.ogg'), later, later);
    const r = await scanLibrary(s, [music]);
    expect(r).toMatchObject({ added: 0, changed: 0, unchanged: 3 });
    expect(s.vector(a.id, 'dsp')).toEqual(Float32Array.of(1, 2));
    s.close();
  });

  it('re-reads tags and drops stale analysis when content changes', async () => {
    const s = db();
    const a = s.trackByPath(join(music, 'a.ogg'))!;
    writeTags(join(music, 'a.ogg'), { artist: 'Retagged', facets: { genre: ['Rock'] } });
    const r = await scanLibrary(s, [music]);
    expect(r).toMatchObject({ added: 0, changed: 1 });
    const after = s.trackById(a.id)!;
    expect(after.artist).toBe('Retagged');
    expect(after.content_hash).not.toBe(a.content_hash);
    expect(s.tagsOf(a.id)).toEqual({ genre: ['Rock'] });
    expect(s.vector(a.id, 'dsp')).toBeUndefined();
    s.close();
  });

  it('keeps identity and analysis of a moved file', async () => {
    const s = db();
    const a = s.trackByPath(join(music, 'a.ogg'))!;
    s.putVector(a.id, 'dsp', a.content_hash, Float32Array.of(3, 4), []);
    rmSync(join(music, 'same-as-a.ogg'));
    mkdirSync(join(music, 'moved here'));
    renameSync(join(music, 'a.ogg'), join(music, 'moved here', 'a-renamed.ogg'));
    const r = await scanLibrary(s, [music]);
    expect(r).toMatchObject({ added: 0, moved: 1, removed: 0 });
    const moved = s.trackByPath(join(music, 'moved here', 'a-renamed.ogg'))!;
    expect(moved.id).toBe(a.id);
    expect(s.vector(a.id, 'dsp')).toEqual(Float32Array.of(3, 4));
    expect(s.tagsOf(a.id)).toEqual({ genre: ['Rock'] });
    s.close();
  });

  it('removes deleted files with their vectors, and adds copies as new tracks', async () => {
    const s = db();
    const moved = join(music, 'moved here', 'a-renamed.ogg');
    const id = s.trackByPath(moved)!.id;
    copyFileSync(moved, join(music, 'copy.ogg'));
    rmSync(moved);
    const r1 = await scanLibrary(s, [music]);
    // The copy has the same content as the vanished file: it inherits the identity (a move).
    expect(r1).toMatchObject({ moved: 1, removed: 0 });
    expect(s.trackByPath(join(music, 'copy.ogg'))!.id).toBe(id);
    rmSync(join(music, 'copy.ogg'));
    const r2 = await scanLibrary(s, [music]);
    expect(r2).toMatchObject({ removed: 1 });
    expect(s.trackById(id)).toBeUndefined();
    expect(s.vectorCount('dsp')).toBe(0);
    s.close();
  });

  it('records a file with unreadable tags as an error and keeps it as a track', async () => {
    const s = db();
    writeFileSync(join(music, 'broken.flac'), 'garbage');
    const r = await scanLibrary(s, [music]);
    expect(r.tagErrors).toBe(1);
    const t = s.trackByPath(join(music, 'broken.flac'))!;
    expect(s.errors().find((e) => e.track_id === t.id)).toMatchObject({ stage: 'tags', code: 'unreadable-tags' });
    s.close();
  });
});

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFile } from 'music-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpeg, lavfi, tempDir } from '../../../tests/helpers/fixtures.js';
import { Earmark } from '../api.js';
import { contentHash } from './content-hash.js';
import { readTrackFacts } from './read-tags.js';
import { audioDigest, newBatchId, readJournal, safeWriteTags, TagWriteError, TEMP_PREFIX, WRITE_STEPS } from './tag-writer.js';

const t = tempDir();
const src = join(t.dir, 'src');
const cover = join(t.dir, 'cover.png');
const HUGE = 'x'.repeat(120_000);
const FORMATS: Array<{ name: string; ext: string; id3?: 3 | 4; args: string[]; picture: boolean }> = [
  { name: 'MP3 ID3v2.4', ext: 'mp3', id3: 4, args: ['-id3v2_version', '4'], picture: true },
  { name: 'MP3 ID3v2.3', ext: 'mp3', id3: 3, args: ['-id3v2_version', '3'], picture: true },
  { name: 'FLAC', ext: 'flac', args: [], picture: true },
  { name: 'Ogg Vorbis', ext: 'ogg', args: ['-c:a', 'libvorbis'], picture: false },
  { name: 'Opus', ext: 'opus', args: ['-c:a', 'libopus'], picture: false },
  { name: 'M4A', ext: 'm4a', args: ['-c:a', 'aac'], picture: true },
  { name: 'AIFF', ext: 'aiff', args: ['-write_id3v2', '1'], picture: false },
  // RIFF INFO tags only: the writer adds an ID3 chunk holding just the facets written.
  { name: 'WAV', ext: 'wav', args: [], picture: false },
];
const NEW = { genre: ['Jazz', 'Bebop'], mood: ['Calm', 'Dark — ünïcödé 夜'], style: ['Cool Jazz'] };

function make(f: (typeof FORMATS)[number], out: string): void {
  const meta = ['-metadata', 'title=Original Title', '-metadata', 'artist=Ann Artist', '-metadata', 'album=First Album', '-metadata', 'genre=Rock'];
  const comment = ['-metadata', `comment=${HUGE}`];
  if (f.picture) {
    const r = spawnSync(ffmpeg().path, ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=f=330:d=4', '-i', cover, '-map', '0:a', '-map', '1:v', '-c:v', f.ext === 'm4a' ? 'png' : 'copy', '-disposition:v', 'attached_pic', ...f.args, ...meta, ...comment, out]);
    if (r.status !== 0) throw new Error(r.stderr.toString());
  } else lavfi(out, 'sine=f=330:d=4', [...f.args, ...meta, ...comment]);
}

async function expected(path: string) {
  const st = statSync(path);
  return { size: st.size, mtimeMs: st.mtimeMs, hash: await contentHash(path) };
}

beforeAll(() => {
  mkdirSync(src, { recursive: true });
  lavfi(cover, 'color=c=orange:s=64x64', ['-frames:v', '1']);
  for (const f of FORMATS) make(f, join(src, `${f.name.replace(/\W+/g, '-')}.${f.ext}`));
});
afterAll(() => t.cleanup());

const fileOf = (f: (typeof FORMATS)[number]) => join(src, `${f.name.replace(/\W+/g, '-')}.${f.ext}`);

describe.each(FORMATS)('safe tag writing: $name', (f) => {
  it('writes multi-valued unicode facets, keeps other tags, pictures and huge tags, and the audio bit-identical', async () => {
    const dir = join(t.dir, `rt-${f.name.replace(/\W+/g, '-')}`);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `track.${f.ext}`);
    copyFileSync(fileOf(f), path);
    const before = await readTrackFacts(path);
    const audio = await audioDigest(ffmpeg(), path);
    const pictures = (await parseFile(path)).common.picture?.length ?? 0;
    if (f.picture) expect(pictures).toBeGreaterThan(0);
    const r = await safeWriteTags(path, NEW, { ffmpeg: ffmpeg(), journalDir: join(t.dir, 'journal'), batch: newBatchId(), expected: await expected(path), id3Version: f.id3 });
    const after = await readTrackFacts(path);
    expect(after.facets.genre).toEqual(NEW.genre);
    expect(after.facets.mood).toEqual(NEW.mood);
    expect(after.facets.style).toEqual(NEW.style);
    expect(r.before.genre).toEqual(before.facets.genre ?? []);
    for (const k of ['title', 'artist', 'album'] as const) expect(after[k]).toBe(before[k]);
    expect(await audioDigest(ffmpeg(), path)).toBe(audio);
    const meta = await parseFile(path);
    expect(meta.common.picture?.length ?? 0).toBe(pictures);
    const comments = (m: Awaited<ReturnType<typeof parseFile>>) => (m.common.comment ?? []).map((c) => (typeof c === 'string' ? c : c.text));
    expect(comments(meta)).toEqual(comments(await parseFile(fileOf(f))));
    expect(comments(meta).join('').length + JSON.stringify(meta.native).length).toBeGreaterThan(HUGE.length);
    expect(readdirSync(dir)).toEqual([`track.${f.ext}`]);
  });

  it.each(WRITE_STEPS)('leaves the old file or the new one when a write stops at %s', async (step) => {
    const dir = join(t.dir, `crash-${f.name.replace(/\W+/g, '-')}-${step}`);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `track.${f.ext}`);
    copyFileSync(fileOf(f), path);
    const original = readFileSync(path);
    const audio = await audioDigest(ffmpeg(), path);
    await expect(
      safeWriteTags(path, NEW, { ffmpeg: ffmpeg(), journalDir: join(dir, 'journal'), batch: 'b1', expected: await expected(path), id3Version: f.id3, failAt: step }),
    ).rejects.toThrow(`injected failure at ${step}`);
    const now = readFileSync(path);
    const facts = await readTrackFacts(path);
    if (now.equals(original)) expect(facts.facets.genre).toEqual(['Rock']);
    else {
      expect(['rename', 'fsync-dir']).toContain(step);
      expect(facts.facets.genre).toEqual(NEW.genre);
    }
    expect(await audioDigest(ffmpeg(), path)).toBe(audio);
    expect(readdirSync(dir).filter((x) => x.startsWith(TEMP_PREFIX))).toEqual([]);
    if (step !== 'check') expect(readJournal(join(dir, 'journal'), 'b1')[0].before.genre).toEqual(['Rock']);
  });
});

describe('refusals', () => {
  it('refuses a file that changed since it was scanned', async () => {
    const path = join(t.dir, 'changed.flac');
    copyFileSync(fileOf(FORMATS[2]), path);
    const exp = await expected(path);
    writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from('tail')]));
    const err = await safeWriteTags(path, NEW, { ffmpeg: ffmpeg(), journalDir: join(t.dir, 'j2'), batch: 'b', expected: exp }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TagWriteError);
    expect((err as TagWriteError).code).toBe('changed-since-scan');
  });

  it.skipIf(process.getuid?.() === 0)('refuses a read-only file and does not force it', async () => {
    const { chmodSync } = await import('node:fs');
    const path = join(t.dir, 'ro.flac');
    copyFileSync(fileOf(FORMATS[2]), path);
    chmodSync(path, 0o444);
    const err = await safeWriteTags(path, NEW, { ffmpeg: ffmpeg(), journalDir: join(t.dir, 'j3'), batch: 'b', expected: await expected(path) }).catch((e: unknown) => e);
    expect((err as TagWriteError).code).toBe('read-only');
  });
});

describe('batches through the library: write, then undo exactly', () => {
  it('writes a batch, keeps the analysis, and undo restores every old value', async () => {
    const lib = join(t.dir, 'lib');
    mkdirSync(lib, { recursive: true });
    for (const f of FORMATS.filter((x) => x.id3 !== 3)) copyFileSync(fileOf(f), join(lib, `t.${f.ext}`));
    const e = Earmark.open({ home: join(t.dir, 'home') });
    try {
      await e.scan([lib]);
      const tracks = e.store.allTracks();
      const before = new Map(tracks.map((x) => [x.id, e.store.tagsOf(x.id)]));
      const digests = new Map(await Promise.all(tracks.map(async (x) => [x.id, await audioDigest(ffmpeg(), x.path)] as const)));
      const dry = await e.writeTags(tracks.map((x) => ({ trackId: x.id, changes: { genre: ['Ambient'], mood: ['Calm', 'Sad'] } })), { dryRun: true });
      expect(dry.written).toHaveLength(tracks.length);
      expect(e.store.tagsOf(tracks[0].id)).toEqual(before.get(tracks[0].id));
      const r = await e.writeTags(tracks.map((x) => ({ trackId: x.id, changes: { genre: ['Ambient'], mood: ['Calm', 'Sad'] } })));
      expect(r.refused.map((x) => x.message)).toEqual([]);
      expect(r.written).toHaveLength(tracks.length);
      for (const x of tracks) {
        expect(e.store.tagsOf(x.id).genre).toEqual(['Ambient']);
        expect((await readTrackFacts(x.path)).facets.mood).toEqual(['Calm', 'Sad']);
      }
      // A rescan finds nothing changed: the store knows the new files.
      const rescan = await e.scan([lib]);
      expect(rescan.changed).toBe(0);
      expect(e.tagBatches()[0].batch).toBe(r.batch);
      const u = await e.undoTags(r.batch);
      expect(u.refused).toEqual([]);
      for (const x of tracks) {
        const now = await readTrackFacts(x.path);
        const old = before.get(x.id) ?? {};
        expect(now.facets.genre ?? []).toEqual(old.genre ?? []);
        expect(now.facets.mood ?? []).toEqual(old.mood ?? []);
        expect(await audioDigest(ffmpeg(), x.path)).toBe(digests.get(x.id));
      }
    } finally {
      e.close();
    }
  });
});

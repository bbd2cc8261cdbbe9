import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LibraryInfo, SimilarResult } from '../src-main/core/api.js';
import type { DemoManifest } from '../src-main/core/demo/demo-library.js';
import { precisionAtK, randomVectors } from '../src-main/core/eval/retrieval.js';
import { readTrackFacts } from '../src-main/core/library/read-tags.js';
import { blobToVector } from '../src-main/core/store/library-store.js';
import { cli, cliJson, tempDir } from './helpers/fixtures.js';

/**
 * The core engine end to end through the `earmark` command line, on a generated library of real encoded files:
 * demo-library → scan → analyze → similar / info / errors / export-embeddings / features, and the retrieval
 * quality of the built-in representations.
 */
const t = tempDir('earmark-engine-');
const lib = join(t.dir, 'library');
const home = join(t.dir, 'home');
let manifest: DemoManifest;

beforeAll(() => {
  const r = cli(['demo-library', lib, '--broken', '3', '--json'], { home });
  if (r.status !== 0) throw new Error(r.stderr);
  manifest = JSON.parse(readFileSync(join(lib, 'earmark-demo.json'), 'utf8')) as DemoManifest;
}, 600_000);
afterAll(() => t.cleanup());

describe('demo-library', () => {
  it('writes ~60 real files in all six formats, with tags, untagged tracks and planted mislabels', async () => {
    expect(manifest.tracks).toHaveLength(60);
    const formats = new Set(manifest.tracks.map((x) => x.format));
    expect([...formats].sort()).toEqual(['flac', 'm4a', 'mp3', 'ogg', 'opus', 'wav']);
    expect(manifest.tracks.filter((x) => x.tagging === 'untagged' || x.tagging === 'no-tags').length).toBeGreaterThan(2);
    expect(manifest.tracks.filter((x) => x.tagging === 'mislabeled').length).toBeGreaterThan(0);
    for (const fmt of formats) {
      const tr = manifest.tracks.find((x) => x.format === fmt && x.tagging === 'full')!;
      const facts = await readTrackFacts(tr.path);
      expect(facts.artist).toBe(tr.artist);
      expect(facts.title).toBe(tr.title);
      expect(facts.facets.genre).toEqual([tr.taggedGenre]);
      expect(facts.facets.mood).toEqual(tr.moods);
      expect(facts.facets.style).toEqual([tr.style]);
      expect(facts.duration).toBeGreaterThan(20);
    }
    const mis = manifest.tracks.find((x) => x.tagging === 'mislabeled')!;
    expect(mis.taggedGenre).not.toBe(mis.trueGenre);
    expect((await readTrackFacts(mis.path)).facets.genre).toEqual([mis.taggedGenre]);
  });

  it('is deterministic in its seed', () => {
    const a = join(t.dir, 'det-a');
    const b = join(t.dir, 'det-b');
    for (const d of [a, b]) expect(cli(['demo-library', d, '--tracks', '8', '--seconds', '4', '--seed', '42'], { home }).status).toBe(0);
    const ma = JSON.parse(readFileSync(join(a, 'earmark-demo.json'), 'utf8')) as DemoManifest;
    const mb = JSON.parse(readFileSync(join(b, 'earmark-demo.json'), 'utf8')) as DemoManifest;
    expect(ma.tracks.map((x) => ({ ...x, path: x.relativePath }))).toEqual(mb.tracks.map((x) => ({ ...x, path: x.relativePath })));
    for (const tr of ma.tracks.filter((x) => x.format === 'flac' || x.format === 'wav')) {
      expect(readFileSync(join(a, tr.relativePath)).equals(readFileSync(join(b, tr.relativePath)))).toBe(true);
    }
    const other = join(t.dir, 'det-c');
    expect(cli(['demo-library', other, '--tracks', '8', '--seconds', '4', '--seed', '43'], { home }).status).toBe(0);
    const mc = JSON.parse(readFileSync(join(other, 'earmark-demo.json'), 'utf8')) as DemoManifest;
    expect(mc.tracks.map((x) => x.title)).not.toEqual(ma.tracks.map((x) => x.title));
  });

  it('rejects a bad track count with a clear message', () => {
    const r = cli(['demo-library', join(t.dir, 'bad'), '--tracks', '0'], { home });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--tracks must be a positive whole number/);
  });
});

describe('scan → analyze → search', () => {
  it('scans every file and reports the broken ones without stopping', () => {
    const r = cliJson<{ files: number; added: number; tagErrors: number }>(['scan', lib], { home });
    expect(r.files).toBe(63);
    expect(r.added).toBe(63);
    expect(r.tagErrors).toBeGreaterThanOrEqual(2);
  });

  it('analyses every track with dsp and mfcc, records per-file decode errors, builds both indexes', () => {
    const r = cliJson<{ total: number; analyzed: number; failed: number; failures: Array<{ path: string; code: string }>; indexes: Record<string, string> }>(
      ['analyze', '--jobs', '2'],
      { home },
    );
    expect(r.total).toBe(63);
    expect(r.analyzed).toBe(60);
    expect(r.failed).toBe(3);
    expect(r.failures.map((f) => f.code).sort()).toEqual(['corrupt', 'empty', 'not-audio']);
    expect(r.indexes).toEqual({ dsp: 'built', mfcc: 'built' });
  });

  it('has nothing left to do on a second run, and a re-scan touches nothing', () => {
    expect(cliJson<{ total: number }>(['analyze'], { home }).total).toBe(0);
    expect(cliJson<{ unchanged: number; added: number }>(['scan'], { home })).toMatchObject({ unchanged: 63, added: 0 });
  });

  it('reports counts, errors, representations, index state, ffmpeg and compute in info', () => {
    const i = cliJson<LibraryInfo>(['info'], { home });
    expect(i.tracks).toBe(63);
    expect(i.analyzed).toEqual({ dsp: 60, mfcc: 60 });
    expect(i.errors.byStage.decode).toBe(3);
    expect(i.representations.map((r) => [r.name, r.index.state, r.index.count])).toEqual([
      ['dsp', 'fresh', 60],
      ['mfcc', 'fresh', 60],
    ]);
    expect(i.ffmpeg.ok).toBe(true);
    expect(i.compute.backends.map((b) => b.name)).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
    expect(i.compute.audioFft).toEqual({ engine: 'pffft-wasm-simd', fallbackReason: null });
    expect(i.tagFields.map((f) => f.field)).toEqual(expect.arrayContaining(['genre', 'mood', 'style']));
  });

  it('lists broken files with the reason in words', () => {
    const r = cli(['errors'], { home });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/empty-0\.mp3\n\s+The file is empty/);
    expect(r.stdout).toMatch(/truncated-2\.m4a\n\s+The file is corrupt or truncated/);
  });

  let id = 0;
  it('finds similar tracks for a library track, ranked, without the track itself', () => {
    const byPath = cliJson<SimilarResult>(['similar', manifest.tracks[0].path, '-k', '1'], { home });
    id = byPath.query.trackId!;
    const r = cliJson<SimilarResult>(['similar', String(id), '-k', '10'], { home });
    expect(r.query).toMatchObject({ trackId: id, inLibrary: true, path: manifest.tracks[0].path });
    expect(r.results).toHaveLength(10);
    expect(r.results.map((x) => x.id)).not.toContain(id);
    const scores = r.results.map((x) => x.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    const text = cli(['similar', String(id), '-k', '3'], { home }).stdout;
    expect(text.split('\n').filter((l) => /^\s+\d\. /.test(l))).toHaveLength(3);
  });

  it('filters by artist, album and tag values', () => {
    const q = cliJson<SimilarResult>(['similar', String(id), '-k', '5'], { home });
    const artist = q.query.artist;
    expect(artist).toBeTruthy();
    const diff = cliJson<SimilarResult>(['similar', String(id), '-k', '10', '--artist', 'different'], { home });
    expect(diff.results.every((x) => x.artist !== artist)).toBe(true);
    const same = cliJson<SimilarResult>(['similar', String(id), '-k', '10', '--artist', 'same'], { home });
    expect(same.results.length).toBeGreaterThan(0);
    expect(same.results.every((x) => x.artist === artist)).toBe(true);
    const noAlbum = cliJson<SimilarResult>(['similar', String(id), '-k', '20', '--exclude-same-album'], { home });
    const album = manifest.tracks.find((x) => x.artist === artist && noAlbum.query.title === x.title)?.album;
    expect(noAlbum.results.every((x) => !(x.album === album && x.artist === artist))).toBe(true);
    const jazz = cliJson<SimilarResult>(['similar', String(id), '-k', '10', '--tag', 'genre=Jazz', '--tag', 'genre=Folk'], { home });
    expect(jazz.results.length).toBeGreaterThan(0);
    expect(jazz.results.every((x) => x.genre.some((g) => g === 'Jazz' || g === 'Folk'))).toBe(true);
  });

  it('searches from a file outside the library by analysing it on the fly', () => {
    const src = manifest.tracks.find((x) => x.format === 'flac')!;
    const outside = join(t.dir, 'outside', 'query copy.flac');
    mkdirSync(join(t.dir, 'outside'), { recursive: true });
    copyFileSync(src.path, outside);
    const r = cliJson<SimilarResult>(['similar', outside, '-k', '5'], { home });
    expect(r.query.inLibrary).toBe(false);
    expect(r.results[0].path).toBe(src.path);
    // The same audio: cosine 1, and first by mutual proximity too (its score, the ranking's, is a probability)
    expect(r.results[0].cosine).toBeGreaterThan(0.999);
    expect(r.hubness).toBe('mp');
  });

  it('explains bad queries', () => {
    expect(cli(['similar', '99999'], { home }).stderr).toMatch(/No track with id 99999/);
    expect(cli(['similar', join(t.dir, 'nope.mp3')], { home }).stderr).toMatch(/No such file/);
    expect(cli(['similar', String(id), '--representation', 'nonexistent'], { home }).stderr).toMatch(/No representation or model named "nonexistent"/);
    expect(cli(['similar', String(id), '--artist', 'maybe'], { home }).stderr).toMatch(/Allowed choices are same, different/);
    const broken = join(lib, 'Broken Files', 'empty-0.mp3');
    expect(cli(['similar', broken], { home }).stderr).toMatch(/has no "dsp" vector yet \(The file is empty/);
  });

  it('exports embeddings as row-major float32 plus a TSV of the rows', () => {
    const out = join(t.dir, 'export', 'dsp');
    const r = cliJson<{ rows: number; dim: number; f32: string; tsv: string }>(['export-embeddings', '--representation', 'dsp', '--out', out], { home });
    expect(r.rows).toBe(60);
    expect(statSync(`${out}.f32`).size).toBe(60 * r.dim * 4);
    const lines = readFileSync(`${out}.tsv`, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('row\ttrack_id\tpath\tartist\talbum\ttitle\tgenre');
    expect(lines).toHaveLength(61);
    // Row i of the .f32 is the vector of the track named on line i + 1.
    const f32 = readFileSync(`${out}.f32`);
    const first = blobToVector(f32.subarray(0, r.dim * 4));
    expect([...first].every(Number.isFinite)).toBe(true);
    expect(Math.hypot(...first)).toBeGreaterThan(0);
  });

  it('prints front-end matrices of any file', () => {
    const tr = manifest.tracks.find((x) => x.format === 'wav')!;
    const r = cli(['features', tr.path, '--kind', 'mel', '--n-fft', '1024', '--hop-length', '256', '--n-mels', '64', '--duration', '2', '--json'], { home });
    expect(r.status).toBe(0);
    const m = JSON.parse(r.stdout) as { shape: [number, number]; data: number[][] };
    expect(m.shape).toEqual([64, 1 + Math.floor((2 * 22050) / 256)]);
    expect(m.data).toHaveLength(64);
    const mfcc = JSON.parse(cli(['features', tr.path, '--kind', 'mfcc', '--duration', '1', '--json'], { home }).stdout) as { shape: [number, number] };
    expect(mfcc.shape[0]).toBe(20);
  });

  it('keeps a moved file’s analysis', () => {
    const tr = manifest.tracks.find((x) => x.format === 'ogg')!;
    const before = cliJson<SimilarResult>(['similar', tr.path, '-k', '3'], { home });
    const moved = join(lib, 'Moved', 'moved.ogg');
    mkdirSync(join(lib, 'Moved'), { recursive: true });
    renameSync(tr.path, moved);
    expect(cliJson<{ moved: number; added: number }>(['scan'], { home })).toMatchObject({ moved: 1, added: 0 });
    expect(cliJson<{ total: number }>(['analyze'], { home }).total).toBe(0);
    const after = cliJson<SimilarResult>(['similar', moved, '-k', '3'], { home });
    expect(after.query.trackId).toBe(before.query.trackId);
    expect(after.results.map((x) => x.id)).toEqual(before.results.map((x) => x.id));
    renameSync(moved, tr.path);
    expect(cliJson<{ moved: number }>(['scan'], { home }).moved).toBe(1);
  });
});

describe('retrieval quality on the demo library', () => {
  it('dsp beats mfcc, and both beat random, in precision@10 by artist and by genre', () => {
    const out: Record<string, Record<string, number>> = {};
    const truth = new Map(manifest.tracks.map((x) => [x.path, x]));
    for (const rep of ['dsp', 'mfcc']) {
      const base = join(t.dir, 'quality', rep);
      cliJson(['export-embeddings', '--representation', rep, '--out', base], { home });
      const rows = readFileSync(`${base}.tsv`, 'utf8').trim().split('\n').slice(1).map((l) => truth.get(l.split('\t')[2])!);
      const buf = readFileSync(`${base}.f32`);
      const dim = buf.length / 4 / rows.length;
      const vecs = rows.map((_, i) => blobToVector(buf.subarray(i * dim * 4, (i + 1) * dim * 4)));
      out[rep] = {
        artist: precisionAtK(vecs, rows.map((x) => [x.artist]), 10),
        genre: precisionAtK(vecs, rows.map((x) => [x.trueGenre]), 10),
      };
      if (rep === 'dsp') {
        const rnd = randomVectors(rows.length, 16);
        out.random = { artist: precisionAtK(rnd, rows.map((x) => [x.artist]), 10), genre: precisionAtK(rnd, rows.map((x) => [x.trueGenre]), 10) };
      }
    }
    console.log(`precision@10 on the demo library: ${JSON.stringify(out)}`);
    for (const f of ['artist', 'genre']) {
      expect(out.dsp[f]).toBeGreaterThan(out.mfcc[f]);
      expect(out.mfcc[f]).toBeGreaterThan(2 * out.random[f]);
    }
    expect(existsSync(join(home, 'index', 'dsp.hnsw'))).toBe(true);
  });
});

import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTrackFacts } from '../src-main/core/library/read-tags.js';
import { cli, cliJson, lavfi, tempDir } from './helpers/fixtures.js';

const t = tempDir();
const music = join(t.dir, 'music');
const home = join(t.dir, 'home');
afterAll(() => t.cleanup());
beforeAll(() => {
  mkdirSync(music, { recursive: true });
  lavfi(join(music, 'a.flac'), 'sine=f=220:d=2', ['-metadata', 'genre=Rock', '-metadata', 'title=A']);
  lavfi(join(music, 'b.mp3'), 'sine=f=440:d=2', ['-metadata', 'genre=Pop', '-metadata', 'title=B']);
  copyFileSync(join(music, 'a.flac'), join(t.dir, 'outside.flac'));
  expect(cli(['scan', music], { home }).status).toBe(0);
});

describe('earmark tag', () => {
  it('writes facets into files as a batch, dry-runs, lists batches and undoes', async () => {
    const dry = cliJson<{ written: unknown[]; dryRun: boolean }>(['tag', '--track', join(music, 'a.flac'), '--set', 'genre=Jazz;Bebop', '--dry-run'], { home });
    expect(dry).toMatchObject({ dryRun: true });
    expect(dry.written).toHaveLength(1);
    expect((await readTrackFacts(join(music, 'a.flac'))).facets.genre).toEqual(['Rock']);
    const r = cliJson<{ batch: string; written: Array<{ path: string }> }>(
      ['tag', '--track', join(music, 'a.flac'), '--track', join(music, 'b.mp3'), '--set', 'genre=Jazz;Bebop', '--set', 'mood=Calm', '--id3', '3'],
      { home },
    );
    expect(r.written).toHaveLength(2);
    expect((await readTrackFacts(join(music, 'a.flac'))).facets).toMatchObject({ genre: ['Jazz', 'Bebop'], mood: ['Calm'] });
    expect((await readTrackFacts(join(music, 'b.mp3'))).facets).toMatchObject({ genre: ['Jazz', 'Bebop'], mood: ['Calm'] });
    const batches = cliJson<Array<{ batch: string; files: number }>>(['tag', '--batches'], { home });
    expect(batches[0]).toMatchObject({ batch: r.batch, files: 2 });
    const u = cli(['tag', '--undo', r.batch], { home });
    expect(u.status).toBe(0);
    expect((await readTrackFacts(join(music, 'a.flac'))).facets.genre).toEqual(['Rock']);
    expect((await readTrackFacts(join(music, 'b.mp3'))).facets.genre).toEqual(['Pop']);
    expect((await readTrackFacts(join(music, 'b.mp3'))).facets.mood ?? []).toEqual([]);
  });

  it('refuses files changed since the scan, tracks outside the library, and bad arguments', () => {
    lavfi(join(music, 'a.flac'), 'sine=f=230:d=2', ['-metadata', 'genre=Rock']);
    const r = cli(['tag', '--track', join(music, 'a.flac'), '--set', 'genre=Jazz'], { home });
    expect(r.status).toBe(3);
    expect(r.stdout).toMatch(/changed since it was scanned/);
    expect(cli(['tag', '--track', join(t.dir, 'outside.flac'), '--set', 'genre=Jazz'], { home }).stderr).toMatch(/not a track in the library/);
    expect(cli(['tag', '--track', '1', '--set', 'genre'], { home }).stderr).toMatch(/field=value/);
    expect(cli(['tag', '--undo', 'nope'], { home }).stderr).toMatch(/No tag-writing batch/);
    expect(cli(['tag', '--write'], { home }).stdout).toMatch(/Nothing to write: there are no predictions yet\. Run `earmark predict`/);
    writeFileSync(join(t.dir, 'notes.txt'), 'not music');
    expect(cli(['scan', join(t.dir, 'notes.txt')], { home }).stderr).toMatch(/notes\.txt is a file, not a music folder/);
    expect(cli(['predict', '--folds', '1'], { home }).stderr).toMatch(/--folds must be a whole number of at least 2/);
  });
});

describe('earmark facets and alias', () => {
  it('reports a field normalised, with aliases the user sets', () => {
    const v = cliJson<{ values: Array<{ value: string; count: number }>; rare: Array<{ value: string }> }>(['facets', '--field', 'genre', '--min-support', '1'], { home });
    expect(v.values.map((x) => x.value).sort()).toEqual(['Pop', 'Rock']);
    const a = cliJson<Array<{ alias: string; value: string }>>(['alias', 'genre', 'pop', 'Rock'], { home });
    expect(a).toEqual([{ field: 'genre', alias: 'pop', value: 'Rock' }]);
    const v2 = cliJson<{ values: Array<{ value: string; count: number }> }>(['facets', '--field', 'genre', '--min-support', '2'], { home });
    expect(v2.values).toEqual([{ value: 'Rock', count: 2, spellings: ['Pop', 'Rock'] }]);
    expect(cliJson<unknown[]>(['alias', 'genre', 'pop', '--remove'], { home })).toEqual([]);
    expect(cli(['alias', 'genre', 'pop', '--remove'], { home }).stderr).toMatch(/No alias/);
  });
});

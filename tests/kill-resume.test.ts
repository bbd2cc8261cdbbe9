import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LibraryInfo, SimilarResult } from '../src-main/core/api.js';
import { cli, cliJson, REPO, tempDir } from './helpers/fixtures.js';

/** kill -9 during `analyze`, then run it again: the store and index end consistent and complete. */
const t = tempDir('earmark-kill-');
const lib = join(t.dir, 'library');
const home = join(t.dir, 'home');
const N = 24;

beforeAll(() => {
  expect(cli(['demo-library', lib, '--tracks', String(N), '--seconds', '12'], { home }).status).toBe(0);
  expect(cliJson<{ added: number }>(['scan', lib], { home }).added).toBe(N);
}, 300_000);
afterAll(() => t.cleanup());

function counts(): { dsp: number; mfcc: number; mismatched: number; integrity: string } {
  const db = new Database(join(home, 'library.db'), { readonly: true });
  try {
    const c = (rep: string) => (db.prepare('SELECT count(*) AS n FROM vectors WHERE representation = ?').get(rep) as { n: number }).n;
    const mismatched = (db.prepare('SELECT count(*) AS n FROM vectors v JOIN tracks t ON t.id = v.track_id WHERE v.content_hash != t.content_hash').get() as { n: number }).n;
    return { dsp: c('dsp'), mfcc: c('mfcc'), mismatched, integrity: db.pragma('integrity_check', { simple: true }) as string };
  } catch {
    return { dsp: 0, mfcc: 0, mismatched: 0, integrity: 'unreadable' };
  } finally {
    db.close();
  }
}

describe('kill -9 during analyze', () => {
  it('leaves a consistent store, and a re-run finishes the job', async () => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'earmark.js'), '--home', home, 'analyze', '--jobs', '2'], { stdio: 'ignore' });
    const deadline = Date.now() + 120_000;
    let seen = 0;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      seen = counts().dsp;
      if (seen >= 3) break;
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(seen).toBeGreaterThanOrEqual(3);

    const after = counts();
    expect(after.integrity).toBe('ok');
    expect(after.dsp).toBeLessThan(N); // it really was interrupted
    expect(after.mfcc).toBe(after.dsp); // a track's vectors are committed together or not at all
    expect(after.mismatched).toBe(0);

    // The index on disk, if any, is not trusted: info says it is stale or missing.
    const info = cliJson<LibraryInfo>(['info'], { home });
    for (const r of info.representations) expect(['stale', 'missing']).toContain(r.index.state);

    const resumed = cliJson<{ total: number; analyzed: number; failed: number }>(['analyze'], { home });
    expect(resumed.total).toBe(N - after.dsp);
    expect(resumed.analyzed).toBe(N - after.dsp);
    const done = counts();
    expect(done).toMatchObject({ dsp: N, mfcc: N, mismatched: 0, integrity: 'ok' });
    const info2 = cliJson<LibraryInfo>(['info'], { home });
    expect(info2.representations.map((r) => [r.index.state, r.index.count])).toEqual([
      ['fresh', N],
      ['fresh', N],
    ]);
    const sim = cliJson<SimilarResult>(['similar', '1', '-k', String(N - 1)], { home });
    expect(sim.results).toHaveLength(N - 1);
  });
});

import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Earmark, type FieldPrediction, type ReviewSummary, type TagEvaluation, type TagWriteReport } from '../src-main/core/api.js';
import type { DemoManifest } from '../src-main/core/demo/demo-library.js';
import { readTrackFacts } from '../src-main/core/library/read-tags.js';
import { cli, cliJson, tempDir } from './helpers/fixtures.js';

/**
 * Auto-tagging end to end through the command line on the demo library (with its planted untagged and
 * mislabelled tracks): predict → eval-tags → review → tag --write → undo, on real files.
 */
const t = tempDir('earmark-autotag-');
const lib = join(t.dir, 'library');
const home = join(t.dir, 'home');
let manifest: DemoManifest;
let predictions: FieldPrediction[];

beforeAll(() => {
  for (const args of [['demo-library', lib], ['scan', lib], ['analyze', '--representation', 'dsp']]) {
    const r = cli(args, { home });
    if (r.status !== 0) throw new Error(`earmark ${args.join(' ')}: ${r.stderr}`);
  }
  manifest = JSON.parse(readFileSync(join(lib, 'earmark-demo.json'), 'utf8')) as DemoManifest;
  // Two worker threads train the folds side by side (the default keeps a library this small in one thread).
  predictions = cliJson<{ fields: FieldPrediction[] }>(['predict', '--fields', 'genre,mood', '--workers', '2'], { home }).fields;
}, 900_000);
afterAll(() => t.cleanup());

/** The store as other tools see it: the plain SQLite file the CLI wrote, opened read-only. */
function runSql(query: string, args: unknown[]): unknown[] {
  const db = new Database(join(home, 'library.db'), { readonly: true });
  try {
    return db.prepare(query).all(...args);
  } finally {
    db.close();
  }
}

describe('earmark predict', () => {
  it('learns genre from the tagged tracks and beats the majority class by a wide margin on held-out predictions', () => {
    const genre = predictions.find((p) => p.field === 'genre')!;
    expect(genre.multiLabel).toBe(false);
    // The default head is `auto`: kNN and linear (and the MLP from 500 tagged tracks) cross-validated, the best kept.
    expect(genre.selection.requested).toBe('auto');
    expect(genre.selection.candidates.map((c) => c.kind)).toEqual(['knn', 'linear', 'knn+linear']);
    const best = Math.max(...genre.selection.candidates.map((c) => c.score));
    expect(genre.selection.candidates.find((c) => c.kind === genre.kind)!.score).toBe(best);
    expect(genre.values.length).toBeGreaterThanOrEqual(3);
    expect(genre.heldOut.accuracy!).toBeGreaterThan(genre.heldOut.majorityAccuracy! + 0.35);
    expect(genre.heldOut.macroF1!).toBeGreaterThan(0.6);
    expect(genre.predicted).toBe(manifest.tracks.length);
  });

  it('treats mood as multi-label and ranks its values far better than chance', () => {
    const mood = predictions.find((p) => p.field === 'mood')!;
    expect(mood.multiLabel).toBe(true);
    expect(mood.heldOut.meanAveragePrecision!).toBeGreaterThan(0.45);
  });

  it('finds most planted mislabels among the suspicious, and few others', () => {
    const planted = manifest.tracks.filter((x) => x.tagging === 'mislabeled').map((x) => x.path);
    const flagged = (runSql("SELECT DISTINCT t.path FROM predictions p JOIN tracks t ON t.id = p.track_id WHERE p.field = 'genre' AND p.suspicious = 1", []) as Array<{ path: string }>).map(
      (r) => r.path,
    );
    const found = planted.filter((p) => flagged.includes(p));
    expect(found.length / planted.length).toBeGreaterThanOrEqual(0.5);
    expect(flagged.length).toBeLessThanOrEqual(planted.length + 3);
  });

  it('proposes genres for untagged tracks, mostly the true ones, and stores the head that made them', () => {
    const rows = runSql(
      "SELECT t.path, p.value, p.confidence, p.head_id FROM predictions p JOIN tracks t ON t.id = p.track_id WHERE p.field = 'genre' AND p.proposed = 1",
      [],
    ) as Array<{ path: string; value: string; confidence: number; head_id: string }>;
    const truth = new Map(manifest.tracks.map((x) => [x.path, x.trueGenre]));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((r) => r.value === truth.get(r.path)).length / rows.length).toBeGreaterThan(0.7);
    const head = predictions.find((p) => p.field === 'genre')!.headId;
    for (const r of rows) expect(r.head_id).toBe(head);
  });

  it('refuses a field with too little to learn from, saying why', () => {
    const r = cli(['predict', '--fields', 'theme'], { home });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Too little to learn "theme"/);
  });
});

describe('earmark eval-tags', () => {
  it('scores the genre head on a stratified 85/15 split above the majority baseline, with a confusion table', () => {
    const r = cliJson<TagEvaluation>(['eval-tags', '--field', 'genre'], { home });
    expect(r.test).toBeGreaterThan(0);
    expect(r.accuracy!).toBeGreaterThan(r.majority!.accuracy + 0.3);
    expect(r.confusion!.length).toBe(r.values.length);
    expect(r.confusion!.flat().reduce((a, b) => a + b, 0)).toBe(r.test);
  });
  it('keeps each artist on one side of the artist split', () => {
    const r = cliJson<TagEvaluation>(['eval-tags', '--field', 'genre', '--split', 'artist', '--head', 'linear'], { home });
    expect(r.split).toBe('artist');
    expect(r.kind).toBe('linear');
    expect(r.train + r.test).toBeGreaterThan(20);
  });
  it('reports per-value precision/recall/F1 and mAP for a multi-label field', () => {
    const r = cliJson<TagEvaluation>(['eval-tags', '--field', 'mood'], { home });
    expect(r.multiLabel).toBe(true);
    expect(r.meanAveragePrecision).toBeGreaterThan(0);
    expect(r.perValue.length).toBe(r.values.length);
  });
  it('trains the head in a worker thread when asked (as the app’s service does), with the same scores', async () => {
    const e = Earmark.open({ home });
    try {
      for (const field of ['genre', 'mood']) {
        const here = await e.evaluateTags({ field });
        let epochs = 0;
        const off = await e.evaluateTags({ field, offThread: true, onProgress: () => epochs++ });
        expect(epochs).toBeGreaterThan(0);
        expect([off.train, off.test, off.values]).toEqual([here.train, here.test, here.values]);
        if (field === 'genre') {
          expect(off.confusion).toEqual(here.confusion);
          expect(off.logLoss!).toBeCloseTo(here.logLoss!, 5);
        } else {
          expect(off.thresholds).toEqual(here.thresholds);
          expect(off.meanAveragePrecision!).toBeCloseTo(here.meanAveragePrecision!, 5);
        }
        expect(off.macroF1!).toBeCloseTo(here.macroF1!, 5);
      }
    } finally {
      e.close();
    }
  });
});

describe('review and tag --write', () => {
  it('accepts proposals in bulk by confidence, writes exactly those into the files, and undoes them', async () => {
    const accepted = cliJson<{ changed: number; fields: ReviewSummary[] }>(['review', '--accept', '--field', 'genre', '--min-confidence', '0.5'], { home });
    expect(accepted.changed).toBeGreaterThan(0);
    const rows = runSql(
      "SELECT t.id, t.path, p.value FROM predictions p JOIN tracks t ON t.id = p.track_id WHERE p.field = 'genre' AND p.status = 'accepted'",
      [],
    ) as Array<{ id: number; path: string; value: string }>;
    expect(rows.length).toBe(accepted.changed);
    // A bulk accept never overwrites a genre a track already has (that takes --replace or naming the track).
    const replacing = runSql(
      "SELECT COUNT(*) AS n FROM predictions p WHERE p.field = 'genre' AND p.status = 'accepted' AND EXISTS (SELECT 1 FROM predictions q WHERE q.track_id = p.track_id AND q.field = 'genre' AND q.in_file = 1)",
      [],
    ) as Array<{ n: number }>;
    expect(replacing[0].n).toBe(0);

    const dry = cliJson<TagWriteReport>(['tag', '--write', '--fields', 'genre', '--dry-run'], { home });
    expect(dry.written.length).toBe(rows.length);
    const before = new Map<string, string[]>();
    for (const r of rows) before.set(r.path, (await readTrackFacts(r.path)).facets.genre ?? []);

    const w = cli(['tag', '--write', '--fields', 'genre', '--json'], { home });
    const report = JSON.parse(w.stdout) as TagWriteReport;
    expect(report.refused).toEqual([]);
    expect(report.written.length).toBe(rows.length);
    expect(new Set(report.written.map((x) => x.path.split('.').pop())).size).toBeGreaterThan(2); // several formats
    for (const r of rows) {
      const wrote = report.written.some((x) => x.path === r.path);
      expect((await readTrackFacts(r.path)).facets.genre ?? []).toEqual(wrote ? [r.value] : before.get(r.path));
    }
    const written = runSql("SELECT COUNT(*) AS n FROM predictions WHERE field = 'genre' AND status = 'written'", []) as Array<{ n: number }>;
    expect(written[0].n).toBe(report.written.length);

    // Nothing left to write: it says why and what to run.
    expect(cli(['tag', '--write', '--fields', 'genre'], { home }).stdout).toMatch(/Nothing to write: every accepted value for genre is written already \(\d+; `earmark tag --undo last` takes the latest batch back\)/);
    expect(cli(['tag', '--write', '--fields', 'mood'], { home }).stdout).toMatch(/Nothing to write: no prediction is accepted for mood\. \d+ proposals? waits? for review: accept them with `earmark review --accept`/);

    const undo = cliJson<TagWriteReport>(['tag', '--undo', report.batch], { home });
    expect(undo.written.length).toBe(report.written.length);
    expect(undo.written.every((x) => x.restored === 'bytes')).toBe(true);
    for (const r of rows) expect((await readTrackFacts(r.path)).facets.genre ?? []).toEqual(before.get(r.path));
  });

  it('rejects a proposal so that it is not written', () => {
    const row = (runSql("SELECT track_id, value FROM predictions WHERE field = 'mood' AND proposed = 1 AND status = 'pending' LIMIT 1", []) as Array<{ track_id: number; value: string }>)[0];
    expect(row).toBeDefined();
    const r = cliJson<{ changed: number }>(['review', '--reject', '--field', 'mood', '--track', String(row.track_id), '--value', row.value], { home });
    expect(r.changed).toBe(1);
    const dry = cliJson<TagWriteReport>(['tag', '--write', '--fields', 'mood', '--track', String(row.track_id), '--dry-run'], { home });
    expect(dry.written).toHaveLength(0);
  });
});

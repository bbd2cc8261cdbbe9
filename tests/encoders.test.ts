import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DSP_REPRESENTATION } from '../src-main/core/audio/representations.js';
import { Earmark, type EmbedResult, type ModelMeta, type RepresentationComparison, type TrainRequest, type TrainResult } from '../src-main/core/api.js';
import { cli, cliJson, REPO, tempDir } from './helpers/fixtures.js';

/**
 * Trained encoders end to end through the command line on a small demo library: train (triplet and
 * multi-task), a cancel and a resume, embed (and the untrained `rand` twin), search with the new
 * representation, evaluate against dsp and mfcc, export and import. Small sizes: this checks the workflow,
 * not the quality a long training reaches.
 */
const t = tempDir('earmark-encoders-');
const lib = join(t.dir, 'library');
const home = join(t.dir, 'home');

beforeAll(() => {
  for (const args of [['demo-library', lib, '--tracks', '40', '--seconds', '12'], ['scan', lib], ['analyze']]) {
    const r = cli(args, { home });
    if (r.status !== 0) throw new Error(`earmark ${args.join(' ')}: ${r.stderr}`);
  }
}, 600_000);
afterAll(() => t.cleanup());

describe('earmark train / embed / eval', () => {
  it('trains a triplet encoder, embeds the library with it and with its untrained twin, and searches with it', () => {
    const r = cliJson<TrainResult>(['train', '--name', 'trip', '--kind', 'triplet', '--iterations', '12', '--batch-size', '16', '--fields', 'genre'], { home });
    expect(r.cancelled).toBe(false);
    expect(r.meta.done).toBe(12);
    expect(r.meta.history).toHaveLength(12);
    expect(r.meta.heldOut.length).toBeGreaterThan(0);
    expect(existsSync(join(home, 'models', 'trip', 'weights.bin'))).toBe(true);
    const e = cliJson<EmbedResult>(['embed', '--model', 'trip'], { home });
    expect(e.tracks).toBe(40);
    // the 256-d embedding, fused with each track's dsp vector (the default)
    expect(e.dim).toBe(256 + DSP_REPRESENTATION.dim);
    expect(cliJson<EmbedResult>(['embed', '--model', 'trip', '--rand'], { home }).representation).toBe('rand');
    // --no-dsp: the learned features alone
    cliJson<TrainResult>(['train', '--name', 'trip-alone', '--kind', 'triplet', '--iterations', '3', '--batch-size', '16', '--fields', 'genre', '--no-dsp'], { home });
    expect(cliJson<EmbedResult>(['embed', '--model', 'trip-alone'], { home }).dim).toBe(256);
    const s = cli(['similar', '1', '--representation', 'trip', '-k', '5', '--json'], { home });
    expect(s.status).toBe(0);
    expect((JSON.parse(s.stdout) as { results: unknown[] }).results).toHaveLength(5);
    const ev = cliJson<RepresentationComparison>(['eval', '--representations', 'dsp,mfcc,rand,trip', '--queries-from', 'trip', '--min-support', '2'], { home });
    expect(ev.queriesFrom).toBe('trip');
    expect(ev.rows.map((x) => x.representation)).toEqual(['dsp', 'mfcc', 'rand', 'trip']);
    for (const x of ev.rows) {
      expect(x.queries).toBe(r.meta.heldOut.length);
      for (const v of Object.values(x.precision)) expect(v).toBeGreaterThanOrEqual(0);
      // A head per field, trained on the other tracks and scored on the held-out ones.
      expect(x.heads.map((h) => h.field)).toEqual(['genre', 'mood', 'style']);
      const genre = x.heads[0];
      expect(genre.refused).toBeNull();
      expect(genre.test).toBeGreaterThan(0);
      expect(genre.test).toBeLessThanOrEqual(r.meta.heldOut.length);
      expect(genre.accuracy).toBeGreaterThanOrEqual(0);
      expect(x.heads[1].meanAveragePrecision).toBeGreaterThan(0);
    }
    // Plain eval takes every representation the library has but rand, scored on the latest model's held-out tracks.
    const plain = cliJson<RepresentationComparison>(['eval', '--no-heads'], { home });
    expect(plain.rows.map((x) => x.representation)).toEqual(['dsp', 'mfcc', 'trip', 'trip-alone']);
    // (when they are at least 10: this small library holds out fewer, so 15 % of the tracks by seed)
    const alone = JSON.parse(readFileSync(join(home, 'models', 'trip-alone', 'earmark.json'), 'utf8')) as { heldOut: number[] };
    expect(plain.queriesFrom).toBe(alone.heldOut.length >= 10 ? 'trip-alone' : null);
    // Too strict a support leaves a field unlearnt, with the reason, and the rest still scored.
    const strict = cliJson<RepresentationComparison>(['eval', '--representations', 'dsp', '--queries-from', 'trip', '--heads', 'genre', '--min-support', '1000'], { home });
    expect(strict.rows[0].heads[0].refused).toMatch(/Too little to learn "genre"/);
    expect(strict.rows[0].precision.genre).toBe(ev.rows[0].precision.genre);
  }, 600_000);

  it('stops a multi-task training on a signal with its progress saved, and resumes it to the end', async () => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'earmark.js'), '--home', home, 'train', '--name', 'multi', '--iterations', '80', '--batch-size', '8', '--sources', 'tags,artist', '--fields', 'genre,mood'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, EARMARK_HOME: '' },
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      // Once a few iterations are in, ask it to stop.
      const seen = [...err.matchAll(/Training (\d+)\/80/g)].map((m) => Number(m[1]));
      if (seen.length && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((res) => child.on('close', res));
    expect(code).toBe(0);
    const stopped = cliJson<ModelMeta[]>(['models'], { home }).find((m) => m.name === 'multi') as ModelMeta;
    expect(stopped.done).toBeGreaterThanOrEqual(1);
    expect(stopped.done).toBeLessThan(80);
    const resumed = cliJson<TrainResult>(['train', '--name', 'multi', '--resume'], { home });
    expect(resumed.meta.done).toBe(80);
    expect(resumed.meta.history.map((h) => h.iteration)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
    expect(resumed.meta.batchSize).toBe(8); // the resumed run kept the batch size it started with
    expect(new Set(resumed.meta.history.map((h) => h.task))).toEqual(new Set(['tags', 'artist']));
    expect(cli(['train', '--name', 'multi', '--resume'], { home }).stderr).toMatch(/finished its 80 iterations/);
    expect(cliJson<EmbedResult>(['embed', '--model', 'multi'], { home }).dim).toBe(512 + DSP_REPRESENTATION.dim); // mean ‖ std of the 256-d feature, then dsp
  }, 600_000);

  it('trains and embeds in a worker thread, as the app does: the same losses and vectors as in this thread, a stop saves, errors cross over', async () => {
    const em = Earmark.open({ home });
    try {
      const req: Omit<TrainRequest, 'name'> = { kind: 'multitask', sources: ['tags', 'artist'], fields: ['genre'], iterations: 4, batchSize: 8, seed: 3 };
      const here = await em.trainEncoder({ name: 'in-here', ...req });
      const steps: number[] = [];
      const there = await em.trainEncoderInThread({ name: 'in-thread', ...req, onProgress: (p) => p.phase === 'training' && steps.push(p.done) });
      expect(there.cancelled).toBe(false);
      expect(steps).toEqual([1, 2, 3, 4]);
      expect(there.meta.history.map((h) => h.task)).toEqual(here.meta.history.map((h) => h.task));
      there.meta.history.forEach((h, i) => expect(h.loss).toBeCloseTo(here.meta.history[i].loss, 5));

      const stop = new AbortController();
      const stopped = await em.trainEncoderInThread({
        name: 'in-thread-stopped',
        ...req,
        iterations: 20,
        signal: stop.signal,
        onProgress: (p) => p.phase === 'training' && p.done === 2 && stop.abort(),
      });
      expect(stopped.cancelled).toBe(true);
      expect(stopped.meta.done).toBeGreaterThanOrEqual(2);
      expect(stopped.meta.done).toBeLessThan(20);
      const resumed = await em.trainEncoderInThread({ name: 'in-thread-stopped', ...req, resume: true });
      expect(resumed.cancelled).toBe(false);
      expect(resumed.meta.done).toBe(20);

      await expect(em.trainEncoderInThread({ name: 'in-here', ...req })).rejects.toThrow(/exists already/);

      // Embedding in the thread writes the same vectors as here, and the index is built from them.
      const a = await em.embed('in-here');
      const before = em.store.vectors('in-here');
      const b = await em.embed('in-here', { inThread: true });
      expect(b.tracks).toBe(a.tracks);
      const after = em.store.vectors('in-here');
      expect(Array.from(after.ids)).toEqual(Array.from(before.ids));
      after.data.forEach((v, i) => v.forEach((x, j) => expect(x).toBeCloseTo(before.data[i][j], 5)));
      const s = await em.similar({ trackId: before.ids[0], k: 3, representation: 'in-here' });
      expect(s.results).toHaveLength(3);
    } finally {
      em.close();
    }
  }, 600_000);

  it('exports a model as one file and imports it under another name, with the same vectors', () => {
    const file = join(t.dir, 'trip.earmark-model');
    expect(cli(['export-model', 'trip', '--out', file], { home }).status).toBe(0);
    expect(cli(['import-model', file, '--name', 'trip2'], { home }).status).toBe(0);
    const a = cliJson<EmbedResult>(['embed', '--model', 'trip2'], { home });
    expect(a.dim).toBe(256 + DSP_REPRESENTATION.dim);
    const ev = cliJson<RepresentationComparison>(['eval', '--representations', 'trip,trip2', '--queries-from', 'trip', '--no-heads'], { home });
    expect(ev.rows[1].precision).toEqual(ev.rows[0].precision);
    expect(ev.rows[0].heads).toEqual([]);
  }, 600_000);

  it('counts iterations from epochs: passes over the training tracks', () => {
    const r = cliJson<TrainResult>(['train', '--name', 'ep', '--kind', 'triplet', '--epochs', '2', '--batch-size', '16', '--fields', 'genre'], { home });
    expect(r.meta.trainTracks).toBeGreaterThan(20);
    expect(r.meta.iterations).toBe(Math.ceil((2 * (r.meta.trainTracks as number)) / 16));
    expect(r.meta.done).toBe(r.meta.iterations);
    expect(cli(['train', '--name', 'ep2', '--epochs', '1', '--iterations', '3'], { home }).stderr).toMatch(/iterations or epochs, not both/);
  }, 600_000);

  it('reports the backend in use and why the GPU ones were passed over (earmark info)', () => {
    const i = cliJson<{ compute: { preferred: string }; runtime: { backend: string; device: string; skipped: Array<{ name: string; reason: string }> }; models: Array<{ name: string }> }>(['info'], { home });
    expect(i.runtime.backend).toBe('wasm');
    expect(i.runtime.device).toMatch(/^CPU \(WebAssembly/);
    expect(i.runtime.skipped).toEqual([
      { name: 'tensorflow-gpu', reason: '@tensorflow/tfjs-node-gpu is not installed' },
      { name: 'tensorflow', reason: '@tensorflow/tfjs-node is not installed' },
    ]);
    expect(i.models.map((m) => m.name)).toContain('trip');
    expect(cli(['info'], { home }).stdout).toMatch(/in use: CPU \(WebAssembly.*— no GPU/);
  });

  it('refuses what it cannot do, saying why', () => {
    expect(cli(['train', '--name', 'dsp'], { home }).stderr).toMatch(/built-in representation/);
    expect(cli(['train', '--name', 'x', '--sources', 'bpm'], { home }).stderr).toMatch(/bpm source needs/);
    expect(cli(['train', '--name', 'trip'], { home }).stderr).toMatch(/exists already/);
    expect(cli(['train', '--name', 'trip', '--resume', '--kind', 'multitask'], { home }).stderr).toMatch(/"trip" is a triplet model: --resume continues it as one/);
    expect(cli(['eval', '--representations', 'nothing'], { home }).stderr).toMatch(/No "nothing" vectors/);
  });
});

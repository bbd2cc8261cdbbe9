import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeExcerpt } from '../src-main/core/audio/decode.js';
import { MUSICNN_INPUT, musicnnFrameCount, musicnnPatches } from '../src-main/core/audio/musicnn-input.js';
import type { EmbedResult, InferResult, PublishedMeta, ReviewSummary, TagMapping } from '../src-main/core/api.js';
import { LibraryStore } from '../src-main/core/store/library-store.js';
import { loadGraph, readPublishedMeta, runPublished } from '../src-main/core/learn/published/published-model.js';
import { loadTf } from '../src-main/core/learn/tf/backend.js';
import { cli, cliJson, ffmpeg, lavfi, tempDir } from './helpers/fixtures.js';
import { writeTinyMusicnn } from './helpers/tiny-musicnn.js';
import { zipBytes } from './helpers/zip-writer.js';

/**
 * Published models end to end through the command line, with tiny graph models the tests write themselves in
 * MusiCNN's shape (no downloaded weights): import from a folder and from a zip with the local-header quirk, run
 * over a demo library (embedding as a representation, outputs kept, proposals through the mapping, reviewed and
 * written like learned ones), `infer` on a file equal to running the graph on essentia.js's own input, the
 * mapping edited, heads trained on the new representation, and the model deleted with what it made.
 */
const t = tempDir('earmark-published-');
const lib = join(t.dir, 'library');
const home = join(t.dir, 'home');
const DB = join(home, 'library.db');

beforeAll(() => {
  for (const args of [['demo-library', lib, '--tracks', '24', '--seconds', '8'], ['scan', lib], ['analyze']]) {
    const r = cli(args, { home });
    if (r.status !== 0) throw new Error(`earmark ${args.join(' ')}: ${r.stderr}`);
  }
}, 600_000);
afterAll(() => t.cleanup());

const require = createRequire(import.meta.url);
interface Extractor {
  compute(frame: Float32Array): { melSpectrum: Float32Array };
}

describe('published models (import-model, embed, infer, model-mapping)', () => {
  it('imports the auto-tagger from a folder; embeds the library: a representation, kept outputs, proposals', () => {
    const tiny = writeTinyMusicnn(join(t.dir, 'msd-musicnn-1'), { metadata: true });
    const m = cliJson<PublishedMeta>(['import-model', tiny.dir], { home });
    expect(m).toMatchObject({ name: 'musicnn', task: 'auto-tagging', embeddingDim: 200, representation: true });
    const text = cli(['models'], { home }).stdout;
    expect(text).toMatch(/musicnn {2}published auto-tagging: Tiny MusiCNN, 50 classes, 200-d embedding/);

    const e = cliJson<EmbedResult & { index: string }>(['embed', '--model', 'musicnn'], { home });
    expect(e).toMatchObject({ representation: 'musicnn', tracks: 24, dim: 200, skipped: 0, failures: [] });
    expect(Object.keys(e.proposals ?? {}).sort()).toEqual(['era', 'genre', 'mood', 'style', 'voice']);
    const store = new LibraryStore(DB);
    try {
      expect(store.vectorCount('musicnn')).toBe(24);
      expect((store.db.prepare("SELECT COUNT(*) AS n FROM model_outputs WHERE model = 'musicnn'").get() as { n: number }).n).toBe(24);
      // Every track's proposals came from the model, and say so.
      const heads = store.db.prepare("SELECT id, kind, representation FROM heads WHERE id LIKE 'model:%' ORDER BY id").all() as Array<{ id: string; kind: string; representation: string }>;
      expect(heads.map((h) => h.id)).toEqual(['model:musicnn:era', 'model:musicnn:genre', 'model:musicnn:mood', 'model:musicnn:style', 'model:musicnn:voice']);
      expect(heads.every((h) => h.kind === 'model' && h.representation === 'musicnn')).toBe(true);
      const made = store.db.prepare("SELECT COUNT(*) AS n FROM predictions WHERE head_id LIKE 'model:musicnn:%' AND proposed = 1").get() as { n: number };
      expect(made.n).toBe(Object.values(e.proposals ?? {}).reduce((a, b) => a + b, 0));
    } finally {
      store.close();
    }
    const list = cliJson<{ rows: Array<{ value: string; proposedBy: { kind: string; representation: string } }> }>(['review', '--field', 'era', '--list'], { home });
    expect(list.rows.length).toBeGreaterThan(0);
    expect(list.rows.every((r) => r.proposedBy.kind === 'model' && r.proposedBy.representation === 'musicnn')).toBe(true);
    expect(cli(['review', '--field', 'era', '--list'], { home }).stdout).toMatch(/\(model musicnn\)/);
    const summary = cliJson<{ fields: ReviewSummary[] }>(['review'], { home }).fields;
    const era = summary.find((s) => s.field === 'era')!;
    expect(era).toMatchObject({ kind: 'model', representation: 'musicnn' });
    expect(era.proposed).toBeGreaterThan(0);
    // A second run has nothing to do: its outputs are kept per track and content.
    const again = cliJson<EmbedResult>(['embed', '--model', 'musicnn'], { home });
    expect(again.tracks).toBe(24);
    // Similar on the new representation; a head learns genre on it.
    const s = cliJson<{ results: unknown[] }>(['similar', '1', '--representation', 'musicnn', '-k', '5'], { home });
    expect(s.results).toHaveLength(5);
    const p = cli(['predict', '--fields', 'genre', '--representation', 'musicnn', '--head', 'auto', '--min-support', '2', '--json'], { home });
    expect(p.status, p.stderr).toBe(0);
    // A learned head on the field takes over the values it also predicts; the model's other proposals stay.
    const kept = new LibraryStore(DB);
    try {
      expect(kept.db.prepare("SELECT COUNT(*) AS n FROM heads WHERE id = 'model:musicnn:genre'").get()).toEqual({ n: 1 });
      expect((kept.db.prepare("SELECT COUNT(*) AS n FROM heads WHERE field = 'genre' AND kind != 'model'").get() as { n: number }).n).toBe(1);
      // Genre takes one value: however many heads propose in it, one value per track is offered.
      const doubled = kept.db.prepare("SELECT COUNT(*) AS n FROM (SELECT track_id FROM predictions WHERE field = 'genre' AND proposed = 1 AND status IN ('pending', 'accepted') GROUP BY track_id HAVING COUNT(*) > 1)").get() as { n: number };
      expect(doubled.n).toBe(0);
    } finally {
      kept.close();
    }
    // Compared with dsp like any other representation, and included when nothing is named.
    const ev = cliJson<{ rows: Array<{ representation: string; precision: Record<string, number> }> }>(['eval', '--no-heads'], { home });
    expect(ev.rows.map((r) => r.representation)).toEqual(['dsp', 'mfcc', 'musicnn']);
  });

  it('infer prints outputs equal to the graph run on essentia.js’s own input for the same file', async () => {
    const f = join(t.dir, 'tune.wav');
    lavfi(f, "aevalsrc='0.3*sin(2*PI*330*t)*exp(-3*mod(t,0.5))+0.2*sin(2*PI*(110+20*sin(t))*t)+0.03*(random(0)-0.5)':s=44100:d=7");
    const r = cliJson<InferResult>(['infer', '--model', 'musicnn', f], { home });
    expect(r.labels).toHaveLength(50);
    expect(r.labels[0]).toBe('rock');
    // Essentia's input, frame by frame, cut into the same patches, through the same graph.
    const y = await decodeExcerpt(ffmpeg(), f, { sr: MUSICNN_INPUT.sr });
    const ej = require('essentia.js') as { EssentiaWASM: unknown; EssentiaModel: { EssentiaTFInputExtractor: new (w: unknown, k: string) => Extractor } };
    const x = new ej.EssentiaModel.EssentiaTFInputExtractor(ej.EssentiaWASM, 'musicnn');
    const n = musicnnFrameCount(y.length);
    const bands = new Float32Array(n * 96);
    for (let i = 0; i < n; i++) bands.set(x.compute(y.slice(i * 256, i * 256 + 512)).melSpectrum, i * 96);
    const patches = musicnnPatches({ data: bands, nFrames: n });
    expect(r.patches).toBe(patches.nPatches);
    const { tf } = await loadTf();
    const dir = join(home, 'models', 'musicnn');
    const model = await loadGraph(tf, dir);
    const ref = runPublished(tf, model, readPublishedMeta(dir), patches.data, patches.nPatches);
    model.dispose();
    r.values.forEach((v, i) => expect(Math.abs(v - ref.values[i])).toBeLessThan(1e-4));
  });

  it('edits the mapping: a class to another field or to nothing, a threshold of the user’s; proposals follow without running the model', () => {
    const before = cliJson<{ mapping: TagMapping[] }>(['model-mapping', 'musicnn'], { home }).mapping;
    expect(before.find((m) => m.label === '80s')).toMatchObject({ field: 'era', value: '1980s' });
    const r = cliJson<{ mapping: TagMapping[]; proposals: Record<string, number> }>(
      ['model-mapping', 'musicnn', '--ignore', '80s', '--ignore', '00s', '--ignore', '90s', '--ignore', '70s', '--ignore', '60s', '--ignore', 'oldies', '--set', 'guitar=instrument:guitar', '--threshold', 'acoustic=0.01'],
      { home },
    );
    expect(r.mapping.find((m) => m.label === '80s')?.field).toBeNull();
    expect(r.mapping.find((m) => m.label === 'guitar')).toMatchObject({ field: 'instrument', value: 'guitar' });
    expect(r.mapping.find((m) => m.label === 'acoustic')).toMatchObject({ threshold: 0.01, fixed: true });
    expect(r.proposals.era ?? 0).toBe(0);
    expect(r.proposals.style).toBe(24);
    const bad = cli(['model-mapping', 'musicnn', '--set', 'polka=genre:Polka'], { home });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/no class "polka"/);
    // Only facet fields; a class sent two ways at once is refused.
    expect(cli(['model-mapping', 'musicnn', '--set', 'happy=title:Happy'], { home }).stderr).toMatch(/"title" is not a tag field Earmark proposes into/);
    expect(cli(['model-mapping', 'musicnn', '--set', 'rock=path:/x'], { home }).stderr).toMatch(/"path" is not a tag field/);
    expect(cli(['model-mapping', 'musicnn', '--set', 'Mellow=mood:calm', '--ignore', 'Mellow'], { home }).stderr).toMatch(/"Mellow" is given twice/);
    expect(cli(['model-mapping', 'musicnn', '--threshold', 'rock=-0.1'], { home }).stderr).toMatch(/between 0 and 1/);
    // The era field has nothing mapped to it now: no proposal is left pending in it.
    expect(cliJson<{ rows: unknown[] }>(['review', '--field', 'era', '--list'], { home }).rows).toEqual([]);
  });

  it('imports a classifier from a zip with a wrong local extra-field length; its positive class proposes mood, accepted and written with undo', () => {
    const tiny = writeTinyMusicnn(join(t.dir, 'mood_happy-musicnn-msd-2'), { classes: ['happy', 'non_happy'], seed: 11 });
    const zip = join(t.dir, 'mood_happy-musicnn-msd-2-tfjs.zip');
    writeFileSync(zip, zipBytes(readdirSync(tiny.dir).map((f) => ({ name: `mood_happy-musicnn-msd-2/${f}`, data: readFileSync(join(tiny.dir, f)) })), { localExtraSkew: 5 }));
    const m = cliJson<PublishedMeta>(['import-model', zip], { home });
    expect(m).toMatchObject({ name: 'mood_happy-musicnn-msd-2', task: 'classifier', classes: ['happy', 'non_happy'], representation: false });
    // Every track gets "happy" at threshold 0 (the user's), so the flow is certain.
    cliJson(['model-mapping', m.name, '--threshold', 'happy=0'], { home });
    const e = cliJson<EmbedResult>(['embed', '--model', m.name], { home });
    expect(e.representation).toBe('');
    expect(e.proposals?.mood).toBeGreaterThan(0);
    const review = cliJson<{ changed: number; fields: ReviewSummary[] }>(['review', '--field', 'mood', '--accept', '--value', 'happy'], { home });
    expect(review.changed).toBeGreaterThan(0);
    const w = cli(['tag', '--write', '--fields', 'mood', '--json'], { home });
    expect(w.status, w.stderr).toBe(0);
    const written = JSON.parse(w.stdout) as { written: Array<{ after: Record<string, string[]> }>; batch: string };
    expect(written.written.length).toBeGreaterThan(0);
    expect(written.written.every((x) => x.after.mood.includes('happy'))).toBe(true);
    const u = cli(['tag', '--undo', 'last', '--json'], { home });
    expect(u.status, u.stderr).toBe(0);
    // What the undo took out of the files is open for review again, not "written".
    const reopened = cliJson<{ rows: Array<{ value: string; status: string }> }>(['review', '--field', 'mood', '--list', '--limit', '500'], { home }).rows.filter((r) => r.value === 'happy');
    expect(reopened.length).toBe(written.written.length);
    expect(reopened.every((r) => r.status === 'pending')).toBe(true);
    // Writing tags leaves the audio as it was: the model's kept outputs stay valid for the files' new hashes.
    const store = new LibraryStore(DB);
    try {
      const valid = store.db.prepare('SELECT COUNT(*) AS n FROM model_outputs o JOIN tracks t ON t.id = o.track_id AND t.content_hash = o.content_hash WHERE o.model = ?').get(m.name) as { n: number };
      expect(valid.n).toBe(e.tracks);
    } finally {
      store.close();
    }
  });

  it('says what is wrong with a model it cannot import, before any name clash', () => {
    const unknown = writeTinyMusicnn(join(t.dir, 'sad-model'), { classes: ['non_sad', 'sad'] });
    const r1 = cli(['import-model', unknown.dir], { home });
    expect(r1.status).not.toBe(0);
    expect(r1.stderr).toMatch(/gives 2 outputs and there is no metadata naming them: put Essentia's metadata JSON/);
    const two = join(t.dir, 'two');
    writeTinyMusicnn(join(two, 'a'));
    writeTinyMusicnn(join(two, 'b'));
    expect(cli(['import-model', two], { home }).stderr).toMatch(/holds 2 models \(a, b\): import them one at a time/);
    const broken = writeTinyMusicnn(join(t.dir, 'broken'));
    writeFileSync(join(broken.dir, 'model.json'), readFileSync(join(broken.dir, 'model.json'), 'utf8').slice(0, 500));
    expect(cli(['import-model', broken.dir], { home }).stderr).toMatch(/model\.json in .*broken is not valid JSON/);
    expect(cli(['import-model', join(t.dir, 'empty-nothing')], { home }).stderr).toMatch(/does not exist/);
    // Two metadata files and none named like the model; a metadata file that is not JSON; a zip pointing outside itself.
    const twoMeta = writeTinyMusicnn(join(t.dir, 'mood_sad-musicnn-msd-2x'), { classes: ['non_sad', 'sad'] });
    for (const n of ['mood_happy-musicnn-msd-2', 'mood_relaxed-musicnn-msd-2']) writeFileSync(join(twoMeta.dir, `${n}.json`), JSON.stringify({ classes: ['a', 'b'], type: 'classifier' }));
    expect(cli(['import-model', twoMeta.dir], { home }).stderr).toMatch(/holds 2 metadata files .* none is named like the model/);
    writeFileSync(join(twoMeta.dir, 'mood_happy-musicnn-msd-2.json'), '{"classes": ["happy", ');
    expect(cli(['import-model', twoMeta.dir], { home }).stderr).toMatch(/mood_happy-musicnn-msd-2\.json is not valid JSON/);
    const evil = join(t.dir, 'evil.zip');
    writeFileSync(evil, zipBytes([{ name: '../../evil/model.json', data: Buffer.from('{}') }]));
    expect(cli(['import-model', evil], { home }).stderr).toMatch(/points outside the archive/);
    // A second copy of a model already imported: the clash is named after the graph was found sound.
    const again = writeTinyMusicnn(join(t.dir, 'again', 'msd-musicnn-1'), { metadata: true });
    expect(cli(['import-model', again.dir], { home }).stderr).toMatch(/A model named "musicnn" exists already \(the name comes from/);
  });

  it('infer says when a file is silent, and names a file that is missing', () => {
    const silence = join(t.dir, 'silence.wav');
    lavfi(silence, 'anullsrc=r=44100:cl=stereo', ['-t', '5']);
    const r = cliJson<InferResult>(['infer', '--model', 'musicnn', silence], { home });
    expect(r.silent).toBe(true);
    expect(r.proposals).toEqual([]);
    expect(cli(['infer', '--model', 'musicnn', join(t.dir, 'gone.flac')], { home }).stderr).toMatch(/gone\.flac does not exist/);
  });

  it('deletes a published model with its representation, outputs and proposals, even when its folder went first', () => {
    // As when another process deleted it while it ran: the folder is gone, what it stored is not.
    rmSync(join(home, 'models', 'musicnn'), { recursive: true });
    const r = cliJson<{ deleted: string; representations: string[] }>(['delete-model', 'musicnn'], { home });
    expect(r).toEqual({ deleted: 'musicnn', representations: ['musicnn'] });
    expect(existsSync(join(home, 'models', 'musicnn'))).toBe(false);
    const store = new LibraryStore(DB);
    try {
      expect(store.vectorCount('musicnn')).toBe(0);
      expect((store.db.prepare("SELECT COUNT(*) AS n FROM predictions WHERE head_id LIKE 'model:musicnn:%'").get() as { n: number }).n).toBe(0);
      expect((store.db.prepare("SELECT COUNT(*) AS n FROM model_outputs WHERE model = 'musicnn'").get() as { n: number }).n).toBe(0);
    } finally {
      store.close();
    }
  });
});

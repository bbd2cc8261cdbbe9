import type { Tensor2D } from '@tensorflow/tfjs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../tests/helpers/fixtures.js';
import { LibraryStore } from '../../store/library-store.js';
import { Random } from '../../util/random.js';
import { exportModel, importModel, loadModel, restoreOptimizers, saveModel } from '../model-store.js';
import { buildEncoder, disposeEncoder } from '../nets/encoders.js';
import { bandStatistics, PATCH_SPECS, type LogMel } from '../patches.js';
import { loadTf, type Tf } from '../tf/backend.js';
import { audioSourceTracks, buildAudioSource, buildSource, lsiVectors, SourceError } from './sources.js';
import { embedTrack, pairMasks, trainMultitask, trainTriplet, tripletLoss, type TrainingInput } from './trainer.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await loadTf()).tf;
});
const t = tempDir('earmark-train-');
afterAll(() => t.cleanup());

const GENRES = ['Rock', 'Jazz', 'Techno'];

/** A store of `n` tracks: genre by i % 3, artist by i % 6, album by i % 12, year 1970 + 10·(i % 3) + noise. */
function library(n: number): LibraryStore {
  const store = new LibraryStore(join(t.dir, `lib-${n}-${Math.random().toString(36).slice(2)}.db`));
  const root = store.addRoot('/m');
  for (let i = 0; i < n; i++) {
    store.insertTrack(`/m/${i}.flac`, root, { size: 1, mtimeMs: 1, hash: `h${i}` }, {
      container: null, codec: null, duration: null, sampleRate: null, channels: null, bitrate: null, lossless: null,
      artist: `Artist ${i % 6}`, albumArtist: null, album: `Album ${i % 12}`, title: `T${i}`, trackNo: null, year: 1970 + 10 * (i % 3) + (i % 2),
      facets: { genre: [GENRES[i % 3]], mood: [i % 2 ? 'Calm' : 'Dark'] },
    });
  }
  return store;
}

/** Synthetic log-mels: the genre decides which third of the bands is loud; noise on top. */
function logMels(ids: number[], nMels: number, frames: number, seed: number): Map<number, LogMel> {
  const rng = new Random(seed);
  const out = new Map<number, LogMel>();
  for (const id of ids) {
    const g = (id - 1) % 3;
    const seg = new Float32Array(frames * nMels);
    for (let f = 0; f < frames; f++) for (let b = 0; b < nMels; b++) seg[f * nMels + b] = (Math.floor((3 * b) / nMels) === g ? 10 : 0) + 3 * rng.normal();
    out.set(id, { nMels, segments: [seg] });
  }
  return out;
}

describe('learning sources', () => {
  it('factorise tags by pLSA, take artists with two or more tracks, and put years through a GMM', () => {
    const store = library(60);
    const tags = buildSource(store, 'tags', { fields: ['genre', 'mood'] });
    expect(tags.targets.size).toBe(60);
    for (const v of tags.targets.values()) expect(v.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    const artist = buildSource(store, 'artist');
    expect(artist.k).toBe(6);
    const year = buildSource(store, 'year');
    expect(year.k).toBeGreaterThanOrEqual(3);
    for (const v of year.targets.values()) expect(v.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
    store.close();
  });

  it("build seed 001's artist × tag combination and seed 000's artist groups (sub-genres by LDA; MFCC and ΔMFCC dictionaries from audio)", async () => {
    const store = library(60);
    const sum1 = (m: Map<number, Float32Array>) => [...m.values()].forEach((v) => expect(v.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4));
    const combo = buildSource(store, 'artist-tags', { fields: ['genre', 'mood'] });
    expect(combo.targets.size).toBe(60);
    sum1(combo.targets);
    // Every track gets its artist's factors: tracks 1 and 7 share Artist 0.
    expect(Array.from(combo.targets.get(1) as Float32Array)).toEqual(Array.from(combo.targets.get(7) as Float32Array));
    const sub = buildSource(store, 'agf-subgenre', { fields: ['genre', 'mood'] });
    expect(sub.k).toBe(3); // 6 artists → min(40, 6 / 2) groups
    expect(sub.describe).toMatch(/genre values of 6 artists/);
    sum1(sub.targets);
    expect(() => buildSource(store, 'agf-mfcc')).toThrow(/built from the training audio/);
    expect(audioSourceTracks(store, 'agf-mfcc')).toHaveLength(60);
    // Audio: artists 0 and 3 (genre Rock) sound alike, and so on; artist groups follow the sound.
    const ids = Array.from({ length: 60 }, (_, i) => i + 1);
    const lms = logMels(ids, 32, 120, 9);
    for (const name of ['agf-mfcc', 'agf-dmfcc'] as const) {
      const agf = await buildAudioSource(store, name, lms, { seed: 2, codes: 64 });
      expect(agf.targets.size).toBe(60);
      sum1(agf.targets);
      expect(agf.describe).toMatch(name === 'agf-mfcc' ? /64-code k-means dictionary of MFCC frames/ : /ΔMFCC/);
      expect(Array.from(agf.targets.get(1) as Float32Array)).toEqual(Array.from(agf.targets.get(7) as Float32Array));
      // Built the same way twice, the same targets.
      expect(Array.from((await buildAudioSource(store, name, lms, { seed: 2, codes: 64 })).targets.get(2) as Float32Array)).toEqual(Array.from(agf.targets.get(2) as Float32Array));
    }
    const groupOf = (v: Float32Array) => v.indexOf(Math.max(...v));
    const mfcc = await buildAudioSource(store, 'agf-mfcc', lms, { seed: 2, codes: 64 });
    // Tracks 1 (Artist 0, Rock) and 4 (Artist 3, Rock) share a group; track 2 (Artist 1, Jazz) does not.
    expect(groupOf(mfcc.targets.get(1) as Float32Array)).toBe(groupOf(mfcc.targets.get(4) as Float32Array));
    expect(groupOf(mfcc.targets.get(1) as Float32Array)).not.toBe(groupOf(mfcc.targets.get(2) as Float32Array));
    const self = buildSource(store, 'self');
    expect(self.pair).toBe(true);
    expect(self.targets.size).toBe(60);
    store.close();
  });

  it('refuses sources with too little data, saying why', () => {
    const store = library(10);
    expect(() => buildSource(library(6), 'artist-tags')).toThrow(/at least 4 artists/);
    expect(() => audioSourceTracks(library(6), 'agf-mfcc')).toThrow(/at least 4 artists with two or more tracks/);
    expect(() => buildSource(store, 'tags')).toThrow(SourceError);
    expect(() => buildSource(store, 'tags')).toThrow(/at least 20 tagged tracks/);
    expect(() => buildSource(store, 'bpm')).toThrow(/bpm/);
    store.close();
  });

  it('relate tracks by the cosine of their LSI tag vectors', () => {
    const store = library(30);
    const { vectors } = lsiVectors(store, ['genre', 'mood']);
    const cos = (a: number, b: number) => (vectors.get(a) as Float32Array).reduce((s, x, i) => s + x * (vectors.get(b) as Float32Array)[i], 0);
    expect(cos(1, 7)).toBeGreaterThan(0.99); // same genre, same mood
    expect(cos(1, 2)).toBeLessThan(0.2); // different genre and mood
    store.close();
  });
});

describe('triplet selection and loss', () => {
  const rel = new Map<number, Float32Array>([
    [1, Float32Array.from([1, 0])],
    [2, Float32Array.from([1, 0])],
    [3, Float32Array.from([0, 1])],
    [4, Float32Array.from([1, 0])],
  ]);
  it('pairs by relatedness, and within an album only when an anchor has no other positive', () => {
    const { pos, neg } = pairMasks([1, 2, 3, 4], { relatedness: rel, albums: new Map([[1, 'a'], [4, 'a']]) });
    expect(pos[0 * 4 + 1]).toBe(1);
    expect(pos[0 * 4 + 3]).toBe(0); // same album, and track 2 is a positive from elsewhere
    expect(neg[0 * 4 + 2]).toBe(1);
    expect(pos[0]).toBe(0);
    // Tagged album by album: 1 and 4 share album and tags, 3 is another album and tag. Without the fallback
    // anchor 1 would have no positive at all.
    const perAlbum = pairMasks([1, 3, 4], { relatedness: rel, albums: new Map([[1, 'a'], [4, 'a'], [3, 'b']]) });
    expect(perAlbum.pos[0 * 3 + 2]).toBe(1);
    expect(perAlbum.neg[0 * 3 + 1]).toBe(1);
    expect(perAlbum.pos[1 * 3 + 0] + perAlbum.pos[1 * 3 + 2]).toBe(0); // 3 has no positive
  });
  it('computes the max-margin loss on the hardest pairs, or on the paper’s argmin/argmax pairs', () => {
    // Anchor 0's positives: 1 (near) and 3 (far); negative: 2.
    const emb = tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1], [0.6, 0.8]]).div(tf.norm(tf.tensor2d([[1, 0], [0.8, 0.6], [0, 1], [0.6, 0.8]]), 'euclidean', 1, true)) as Tensor2D;
    const pos = tf.tensor2d([[0, 1, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
    const neg = tf.tensor2d([[0, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
    const d = (a: number[], b: number[]) => (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2;
    const hard = tripletLoss(tf, emb, pos, neg, 0.2, 'batch-hard').dataSync()[0];
    const literal = tripletLoss(tf, emb, pos, neg, 0.2, 'literal').dataSync()[0];
    expect(hard).toBeCloseTo(Math.max(0, d([1, 0], [0.6, 0.8]) - d([1, 0], [0, 1]) + 0.2), 5);
    expect(literal).toBeCloseTo(Math.max(0, d([1, 0], [0.8, 0.6]) - d([1, 0], [0, 1]) + 0.2), 5);
    // batch-all: both triplets of anchor 0, averaged over those that violate the margin
    const all = tripletLoss(tf, emb, pos, neg, 0.2, 'batch-all').dataSync()[0];
    const losses = [[0.8, 0.6], [0.6, 0.8]].map((p) => Math.max(0, d([1, 0], p) - d([1, 0], [0, 1]) + 0.2)).filter((l) => l > 0);
    expect(all).toBeCloseTo(losses.reduce((x, y) => x + y, 0) / Math.max(1, losses.length), 5);
    tf.dispose([emb, pos, neg]);
  });

  it('gives batch-all a gradient where batch-hard has collapsed (every embedding at one point, the loss at the margin)', () => {
    const before = tf.memory().numTensors;
    const init = tf.tensor2d([[1, 0.01], [1, 0.02], [1, -0.01], [1, -0.02]]);
    const x = tf.variable(init);
    const pos = tf.tensor2d([[0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]]);
    const neg = tf.tensor2d([[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]]);
    const { value, grads } = tf.variableGrads(() => {
      const e = tf.div(x, tf.norm(x, 'euclidean', 1, true)) as Tensor2D;
      return tripletLoss(tf, e, pos, neg, 0.2, 'batch-all');
    }, [x]);
    expect(value.dataSync()[0]).toBeGreaterThan(0.19);
    expect(Math.max(...Array.from(grads[x.name].dataSync()).map(Math.abs))).toBeGreaterThan(0);
    tf.dispose([init, x, pos, neg, value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('training', () => {
  const nMels = 32;
  const frames = 43;
  function input(ids: number[], seed: number): TrainingInput {
    const lms = logMels(ids, nMels, 120, seed);
    const { mean, std } = bandStatistics(lms.values(), nMels);
    return { logMels: lms, mean, std, frames };
  }
  const accuracyOfNearest = (vectors: Map<number, Float32Array>) => {
    const ids = [...vectors.keys()];
    let ok = 0;
    for (const a of ids) {
      let best = -1;
      let bestD = Infinity;
      for (const b of ids) {
        if (a === b) continue;
        const d = (vectors.get(a) as Float32Array).reduce((s, x, i) => s + (x - (vectors.get(b) as Float32Array)[i]) ** 2, 0);
        if (d < bestD) [bestD, best] = [d, b];
      }
      if ((best - 1) % 3 === (a - 1) % 3) ok++;
    }
    return ok / ids.length;
  };

  it('multi-task: steps tasks at random, lowers the loss, embeds by mean ‖ std, resumes the same sequence, leaks nothing', async () => {
    const store = library(60);
    const sources = [buildSource(store, 'tags', { fields: ['genre'] }), buildSource(store, 'artist')];
    const ids = Array.from({ length: 60 }, (_, i) => i + 1);
    const data = input(ids, 3);
    const before = tf.memory().numTensors;
    const enc = buildEncoder(tf, { arch: 'dcnn', fusion: 'MS-SR@FC', tasks: sources.map((s) => ({ name: s.name, outputs: s.k })), frames, nMels, seed: 1 });
    const history = await trainMultitask(tf, enc, sources, data, { iterations: 40, batchSize: 12, seed: 5 });
    expect(new Set(history.map((h) => h.task))).toEqual(new Set(['tags', 'artist']));
    const tagLoss = history.filter((h) => h.task === 'tags').map((h) => h.loss);
    expect(tagLoss.slice(-5).reduce((a, b) => a + b) / 5).toBeLessThan(tagLoss.slice(0, 5).reduce((a, b) => a + b) / 5);
    const vectors = new Map(ids.map((id) => [id, embedTrack(tf, enc.featureModel, data.logMels.get(id) as LogMel, data, 'multitask')]));
    expect((vectors.get(1) as Float32Array).length).toBe(2 * enc.featureDim);
    expect(accuracyOfNearest(vectors)).toBeGreaterThan(0.8);
    // The same run resumed at iteration 30 draws the same tasks from there on.
    const enc2 = buildEncoder(tf, { arch: 'dcnn', fusion: 'MS-SR@FC', tasks: sources.map((s) => ({ name: s.name, outputs: s.k })), frames, nMels, seed: 1 });
    const resumed = await trainMultitask(tf, enc2, sources, data, { iterations: 40, batchSize: 12, seed: 5, startIteration: 30 });
    expect(resumed.map((h) => h.task)).toEqual(history.slice(30).map((h) => h.task));
    disposeEncoder(enc);
    disposeEncoder(enc2);
    expect(tf.memory().numTensors).toBe(before);
    store.close();
  }, 300_000);

  it('resumes exactly: a checkpoint keeps the weights and the Adam moments (an exported and imported copy too), so 10 + 10 iterations equal 20', async () => {
    const store = library(30);
    const sources = [buildSource(store, 'artist')];
    const ids = Array.from({ length: 30 }, (_, i) => i + 1);
    const data = input(ids, 6);
    const tasks = sources.map((s) => ({ name: s.name, outputs: s.k }));
    const spec = { arch: 'dcnn' as const, fusion: 'SS-R' as const, tasks, frames, nMels, seed: 4 };
    const before = tf.memory().numTensors;
    const adam = () => new Map([['artist', tf.train.adam(1e-3)]]);
    const weightsOf = (e: ReturnType<typeof buildEncoder>) => e.featureModel.getWeights().map((w) => Array.from(w.dataSync()));
    // Straight through.
    const straight = buildEncoder(tf, spec);
    const o1 = adam();
    await trainMultitask(tf, straight, sources, data, { iterations: 20, batchSize: 8, seed: 2, optimizers: o1 });
    const want = weightsOf(straight);
    // Stopped at 10, saved, loaded into a new network with new optimisers, resumed.
    const first = buildEncoder(tf, spec);
    const o2 = adam();
    await trainMultitask(tf, first, sources, data, { iterations: 10, batchSize: 8, seed: 2, optimizers: o2 });
    const dir = join(t.dir, 'resume-model');
    const m = { format: 1 as const, name: 'r', kind: 'multitask' as const, ...spec, patch: { ...PATCH_SPECS.agf, nMels, frames }, mean: [], std: [], sources: [], fields: [], iterations: 20, done: 10, history: [], heldOut: [], backend: 'wasm', createdAt: 1, updatedAt: 1 };
    await saveModel(tf, dir, first, m, o2);
    // Carried elsewhere as one file and resumed there.
    exportModel(dir, join(t.dir, 'r.earmark-model'));
    importModel(join(t.dir, 'r.earmark-model'), t.dir, 'resume-imported');
    const moved = join(t.dir, 'resume-imported');
    const { enc: second } = await loadModel(tf, moved);
    const o3 = adam();
    expect(await restoreOptimizers(tf, moved, o3)).toEqual(['artist']);
    await trainMultitask(tf, second, sources, data, { iterations: 20, batchSize: 8, seed: 2, startIteration: 10, optimizers: o3 });
    const got = weightsOf(second);
    expect(got.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) for (let j = 0; j < want[i].length; j += 97) expect(got[i][j]).toBeCloseTo(want[i][j], 5);
    for (const e of [straight, first, second]) disposeEncoder(e);
    for (const o of [o1, o2, o3]) for (const x of o.values()) x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    store.close();
  }, 300_000);

  it("self (seed 001's siamese task): a two-patch network sharing the trunk, trained beside another task, leaking nothing", async () => {
    const store = library(30);
    const sources = [buildSource(store, 'self'), buildSource(store, 'artist')];
    const ids = Array.from({ length: 30 }, (_, i) => i + 1);
    const data = input(ids, 4);
    const before = tf.memory().numTensors;
    const tasks = sources.map((s) => ({ name: s.name, outputs: s.k, ...(s.pair ? { pair: true } : {}) }));
    const enc = buildEncoder(tf, { arch: 'dcnn', fusion: 'MS-CR@4', tasks, frames, nMels, seed: 2 });
    const pairModel = enc.taskModels.get('self');
    expect(pairModel?.inputs).toHaveLength(2);
    const history = await trainMultitask(tf, enc, sources, data, { iterations: 30, batchSize: 8, seed: 3 });
    expect(new Set(history.map((h) => h.task))).toEqual(new Set(['self', 'artist']));
    for (const h of history) expect(Number.isFinite(h.loss)).toBe(true);
    // The feature network still takes one patch; its feature concatenates both branches.
    expect(enc.featureModel.inputs).toHaveLength(1);
    expect(embedTrack(tf, enc.featureModel, data.logMels.get(1) as LogMel, data, 'multitask')).toHaveLength(2 * enc.featureDim);
    disposeEncoder(enc);
    expect(tf.memory().numTensors).toBe(before);
    store.close();
  }, 300_000);

  it('triplet: lowers the loss and learns an embedding where neighbours share the genre', async () => {
    const store = library(60);
    const { vectors: rel } = lsiVectors(store, ['genre']);
    const ids = Array.from({ length: 60 }, (_, i) => i + 1);
    const data = input(ids, 4);
    const albums = new Map(ids.map((id) => [id, `album ${(id - 1) % 12}`]));
    const before = tf.memory().numTensors;
    const enc = buildEncoder(tf, { arch: 'dcnn', fusion: 'SS-R', tasks: [], frames, nMels, seed: 2 });
    const untrained = accuracyOfNearest(new Map(ids.map((id) => [id, embedTrack(tf, enc.featureModel, data.logMels.get(id) as LogMel, data, 'triplet')])));
    const history = await trainTriplet(tf, enc, data, { iterations: 30, batchSize: 24, seed: 3, relatedness: rel, albums });
    const first = history.slice(0, 5).reduce((a, h) => a + h.loss, 0) / 5;
    const last = history.slice(-5).reduce((a, h) => a + h.loss, 0) / 5;
    expect(last).toBeLessThan(first);
    const vectors = new Map(ids.map((id) => [id, embedTrack(tf, enc.featureModel, data.logMels.get(id) as LogMel, data, 'triplet')]));
    for (const v of vectors.values()) expect(Math.hypot(...v)).toBeCloseTo(1, 4);
    expect(accuracyOfNearest(vectors)).toBeGreaterThanOrEqual(Math.max(0.8, untrained));
    disposeEncoder(enc);
    expect(tf.memory().numTensors).toBe(before);
    store.close();
  }, 300_000);
});

import type { LayersModel, Tensor } from '@tensorflow/tfjs';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../tests/helpers/fixtures.js';
import { exportModel, importModel, listModels, loadModel, readMeta, saveModel, checkModelName, type ModelMeta } from './model-store.js';
import { buildEncoder, disposeEncoder } from './nets/encoders.js';
import { PATCH_SPECS } from './patches.js';
import { loadTf, type Tf } from './tf/backend.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await loadTf()).tf;
});
const t = tempDir('earmark-models-');
afterAll(() => t.cleanup());

const meta = (name: string): ModelMeta => ({
  format: 1, name, kind: 'multitask', arch: 'dcnn', fusion: 'MS-CR@2', tasks: [{ name: 'tags', outputs: 4 }, { name: 'artist', outputs: 3 }], seed: 9,
  patch: { ...PATCH_SPECS.agf, nMels: 32 }, mean: new Array(32).fill(0), std: new Array(32).fill(1), sources: [], fields: ['genre'],
  iterations: 10, done: 10, history: [], heldOut: [], backend: 'wasm', createdAt: 1, updatedAt: 1,
});

describe('model files', () => {
  it('save and load an encoder exactly, export and import it as one file, and give its untrained twin', async () => {
    const m = meta('tiny');
    const enc = buildEncoder(tf, { arch: m.arch, fusion: m.fusion, tasks: m.tasks, frames: m.patch.frames, nMels: m.patch.nMels, seed: m.seed });
    // Move the weights away from their initial values, as training would.
    enc.featureModel.setWeights(enc.featureModel.getWeights().map((w) => tf.add(w, 0.01)));
    const x = tf.randomNormal([2, m.patch.frames, m.patch.nMels, 1], 0, 1, 'float32', 3);
    const want = Array.from((enc.featureModel.predict(x) as Tensor).dataSync());
    const dir = join(t.dir, 'models', 'tiny');
    await saveModel(tf, dir, enc, m);
    const before = tf.memory().numTensors;
    const { enc: back, meta: read } = await loadModel(tf, dir);
    expect(read.name).toBe('tiny');
    expect(Array.from((back.featureModel.predict(x) as Tensor).dataSync())).toEqual(want);
    const rand = await loadModel(tf, dir, { untrained: true });
    expect(Array.from((rand.enc.featureModel.predict(x) as Tensor).dataSync())).not.toEqual(want);
    disposeEncoder(back);
    disposeEncoder(rand.enc);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 2); // the two predictions above

    const file = join(t.dir, 'tiny.earmark-model');
    exportModel(dir, file);
    const imported = importModel(file, join(t.dir, 'models'), 'tiny2');
    expect(imported.name).toBe('tiny2');
    const again = await loadModel(tf, join(t.dir, 'models', 'tiny2'));
    expect(Array.from((again.enc.featureModel.predict(x) as Tensor).dataSync())).toEqual(want);
    expect(listModels(join(t.dir, 'models')).map((x) => x.name).sort()).toEqual(['tiny', 'tiny2']);
    expect(() => importModel(file, join(t.dir, 'models'), 'tiny2')).toThrow(/exists already/);
    writeFileSync(join(t.dir, 'junk.json'), '{"a":1}');
    expect(() => importModel(join(t.dir, 'junk.json'), join(t.dir, 'models'))).toThrow(/not an Earmark model file/);
    const damaged = { ...JSON.parse(readFileSync(file, 'utf8')), optimizer: { json: {}, bin: 7 } };
    writeFileSync(join(t.dir, 'damaged.earmark-model'), JSON.stringify(damaged));
    expect(() => importModel(join(t.dir, 'damaged.earmark-model'), join(t.dir, 'models'), 'tiny3')).toThrow(/damaged optimizer section/);
    expect(listModels(join(t.dir, 'models')).map((x) => x.name)).not.toContain('tiny3');
    disposeEncoder(enc);
    disposeEncoder(again.enc);
    x.dispose();
  });

  it('saves and loads a network with a pair task (two inputs) exactly', async () => {
    const m = { ...meta('pairs'), fusion: 'MS-CR@4' as const, tasks: [{ name: 'self', outputs: 2, pair: true }, { name: 'artist', outputs: 3 }] };
    const enc = buildEncoder(tf, { arch: m.arch, fusion: m.fusion, tasks: m.tasks, frames: m.patch.frames, nMels: m.patch.nMels, seed: m.seed });
    enc.featureModel.setWeights(enc.featureModel.getWeights().map((w) => tf.add(w, 0.02)));
    const x = tf.randomNormal([2, m.patch.frames, m.patch.nMels, 1], 0, 1, 'float32', 4);
    const pairOut = (e: typeof enc) => Array.from(((e.taskModels.get('self') as LayersModel).predict([x, x]) as Tensor).dataSync());
    const want = { feature: Array.from((enc.featureModel.predict(x) as Tensor).dataSync()), pair: pairOut(enc) };
    const dir = join(t.dir, 'models', 'pairs');
    await saveModel(tf, dir, enc, m);
    const { enc: back } = await loadModel(tf, dir);
    expect(Array.from((back.featureModel.predict(x) as Tensor).dataSync())).toEqual(want.feature);
    expect(pairOut(back)).toEqual(want.pair);
    disposeEncoder(enc);
    disposeEncoder(back);
    x.dispose();
  });

  it('loads a model trained on one backend on another (WebAssembly → JavaScript), with the same outputs', async () => {
    const m = meta('portable');
    const enc = buildEncoder(tf, { arch: m.arch, fusion: m.fusion, tasks: m.tasks, frames: m.patch.frames, nMels: m.patch.nMels, seed: m.seed });
    enc.featureModel.setWeights(enc.featureModel.getWeights().map((w) => tf.add(w, 0.03)));
    const input = Float32Array.from({ length: 2 * m.patch.frames * m.patch.nMels }, (_, i) => Math.sin(i / 7));
    const shape: [number, number, number, number] = [2, m.patch.frames, m.patch.nMels, 1];
    const run = (e: typeof enc) => tf.tidy(() => Array.from((e.featureModel.predict(tf.tensor4d(input, shape)) as Tensor).dataSync()));
    const original = tf.getBackend();
    expect(original).toBe('wasm');
    const want = run(enc);
    const dir = join(t.dir, 'models', 'portable');
    await saveModel(tf, dir, enc, m);
    disposeEncoder(enc);
    try {
      expect(await tf.setBackend('cpu')).toBe(true);
      const { enc: back } = await loadModel(tf, dir);
      const got = run(back);
      disposeEncoder(back);
      // Different kernels, different rounding: equal to float32 precision.
      expect(got).toHaveLength(want.length);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(want[i])));
    } finally {
      await tf.setBackend(original);
    }
  });

  it('refuses names that are built-in representations or unsafe', () => {
    expect(() => checkModelName('dsp')).toThrow(/built-in/);
    expect(() => checkModelName('../x')).toThrow(/starts with a letter/);
    expect(() => checkModelName('genre-triplet.v2')).not.toThrow();
    expect(() => checkModelName('mine.old')).toThrow(/may not end/);
  });

  it('finishes a save that was killed between its two renames: the new version if whole, else the old one', () => {
    const models = join(t.dir, 'crash');
    const write = (dir: string, name: string, done: number, whole = true) => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'model.json'), '{}');
      writeFileSync(join(dir, 'weights.bin'), 'w');
      if (whole) writeFileSync(join(dir, 'earmark.json'), JSON.stringify({ ...meta(name), done }));
    };
    // Killed after `a` moved aside and the new version was complete: the new one wins.
    write(join(models, 'a.old'), 'a', 5);
    write(join(models, 'a.saving'), 'a', 10);
    // Killed while the new version of `b` was being written: the old one comes back.
    write(join(models, 'b.old'), 'b', 5);
    write(join(models, 'b.saving'), 'b', 10, false);
    expect(listModels(models).map((m) => [m.name, m.done]).sort()).toEqual([['a', 10], ['b', 5]]);
    expect(readdirSync(models).sort()).toEqual(['a', 'b', 'b.saving']);
    expect(() => readMeta(join(models, 'nothing'))).toThrow(/No model named "nothing"/);
  });
});

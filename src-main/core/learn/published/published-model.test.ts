import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../../tests/helpers/fixtures.js';
import { writeTinyMusicnn, type TinyModel } from '../../../../tests/helpers/tiny-musicnn.js';
import { zipBytes } from '../../../../tests/helpers/zip-writer.js';
import { MUSICNN_INPUT } from '../../audio/musicnn-input.js';
import { loadTf, type Tf } from '../tf/backend.js';
import { importPublished, listPublished, loadGraph, MSD_TAGS, readPublishedMeta, runPublished } from './published-model.js';
import { readZip } from './zip.js';

const t = tempDir();
afterAll(t.cleanup);
let tf: Tf;
beforeAll(async () => {
  tf = (await loadTf()).tf;
});

/** The tiny graph by hand: per band mean and standard deviation over time, dense, ReLU, dense, sigmoid. */
function byHand(m: TinyModel, patch: Float32Array): { sigmoid: Float64Array; embedding: Float64Array } {
  const { patchFrames: T, nMels: B } = MUSICNN_INPUT;
  const x = new Float64Array(2 * B);
  for (let b = 0; b < B; b++) {
    let s = 0;
    for (let f = 0; f < T; f++) s += patch[f * B + b];
    const mean = s / T;
    let v = 0;
    for (let f = 0; f < T; f++) v += (patch[f * B + b] - mean) ** 2;
    x[b] = mean;
    x[B + b] = Math.sqrt(v / T);
  }
  const emb = new Float64Array(200);
  for (let j = 0; j < 200; j++) {
    let s = m.b1[j];
    for (let i = 0; i < 2 * B; i++) s += x[i] * m.w1[i * 200 + j];
    emb[j] = s;
  }
  const C = m.classes.length;
  const out = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = m.b2[c];
    for (let j = 0; j < 200; j++) s += Math.max(0, emb[j]) * m.w2[j * C + c];
    out[c] = 1 / (1 + Math.exp(-s));
  }
  return { sigmoid: out, embedding: emb };
}

function patches(n: number, seed: number): Float32Array {
  let s = seed;
  const size = MUSICNN_INPUT.patchFrames * MUSICNN_INPUT.nMels;
  return Float32Array.from({ length: n * size }, (_, i) => {
    s = (s * 16807) % 2147483647;
    return 2 + 2 * Math.sin(i / 97) + (s / 2147483647 - 0.5);
  });
}

/** A zip of a folder's files (under its name) whose local headers claim extra fields that are not there. */
function quirkyZip(folder: string, prefix: string, out: string, deflate: boolean): void {
  const files = readdirSync(folder).map((f) => ({ name: `${prefix}/${f}`, data: readFileSync(join(folder, f)) }));
  writeFileSync(out, zipBytes(files, { deflate, localExtraSkew: 7 }));
}

describe('published graph models (MusiCNN family)', () => {
  it('imports a folder with Essentia metadata, runs the graph on every patch and averages, leaking no tensor', async () => {
    const tiny = writeTinyMusicnn(join(t.dir, 'msd-musicnn-1-tfjs'), { metadata: true });
    const models = join(t.dir, 'models');
    const meta = await importPublished(tf, tiny.dir, models);
    expect(meta).toMatchObject({ name: 'musicnn', task: 'auto-tagging', input: 'model/Placeholder', isTraining: 'model/Placeholder_1', predictions: 'model/Sigmoid', embeddings: 'model/dense/BiasAdd', embeddingDim: 200, representation: true, title: 'Tiny MusiCNN' });
    expect(meta.classes).toEqual(MSD_TAGS);
    expect(meta.mapping.find((m) => m.label === 'Hip-Hop')).toMatchObject({ field: 'genre', value: 'Hip-Hop' });
    expect(meta.mapping.find((m) => m.label === '80s')).toMatchObject({ field: 'era', value: '1980s' });
    expect(meta.mapping.find((m) => m.label === 'Mellow')).toMatchObject({ field: 'mood', value: 'mellow' });
    expect(meta.mapping.find((m) => m.label === 'female vocalists')).toMatchObject({ field: 'voice', value: 'female vocals' });
    expect(existsSync(join(models, 'musicnn', 'metadata.json'))).toBe(true);
    expect(listPublished(models).map((m) => m.name)).toEqual(['musicnn']);

    const model = await loadGraph(tf, join(models, 'musicnn'));
    const before = tf.memory().numTensors;
    const n = 40; // more than one batch
    const p = patches(n, 3);
    const r = runPublished(tf, model, readPublishedMeta(join(models, 'musicnn')), p, n);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    const size = MUSICNN_INPUT.patchFrames * MUSICNN_INPUT.nMels;
    const sig = new Float64Array(50);
    const emb = new Float64Array(200);
    for (let i = 0; i < n; i++) {
      const h = byHand(tiny, p.subarray(i * size, (i + 1) * size));
      h.sigmoid.forEach((v, k) => (sig[k] += v / n));
      h.embedding.forEach((v, k) => (emb[k] += v / n));
    }
    expect(r.patches).toBe(n);
    r.values.forEach((v, k) => expect(Math.abs(v - sig[k])).toBeLessThan(1e-4));
    r.embedding!.forEach((v, k) => expect(Math.abs(v - emb[k])).toBeLessThan(1e-3 * Math.max(1, Math.abs(emb[k]))));

    // Every backend Earmark has here loads and runs it alike.
    const first = tf.getBackend();
    for (const b of ['wasm', 'cpu'].filter((x) => x !== first)) {
      if (!(await tf.setBackend(b).catch(() => false))) continue;
      const again = await loadGraph(tf, join(models, 'musicnn'));
      const r2 = runPublished(tf, again, readPublishedMeta(join(models, 'musicnn')), p, n);
      again.dispose();
      r2.values.forEach((v, k) => expect(Math.abs(v - r.values[k])).toBeLessThan(1e-5));
    }
    await tf.setBackend(first);
  });

  it('falls back to the known node names and class orders without metadata (Relu embedding, no training flag)', async () => {
    const tiny = writeTinyMusicnn(join(t.dir, 'mood_sad-musicnn-msd-2'), { classes: ['non_sad', 'sad'], embedding: 'Relu', isTraining: false });
    const meta = await importPublished(tf, tiny.dir, join(t.dir, 'models2'));
    expect(meta).toMatchObject({ name: 'mood_sad-musicnn-msd-2', task: 'classifier', classes: ['non_sad', 'sad'], isTraining: null, embeddings: 'model/dense/Relu', representation: false });
    expect(meta.mapping).toEqual([
      { label: 'non_sad', field: null, value: 'non_sad', threshold: 0.5, calibrated: null },
      { label: 'sad', field: 'mood', value: 'sad', threshold: 0.5, calibrated: null },
    ]);
  });

  it('refuses what is not a MusiCNN graph model, keeping nothing', async () => {
    const dir = join(t.dir, 'bad');
    writeTinyMusicnn(dir);
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: {}, weightsManifest: [] }));
    await expect(importPublished(tf, dir, join(t.dir, 'models3'))).rejects.toThrow(/not a TensorFlow.js graph model|lists no weights/);
    const wrong = writeTinyMusicnn(join(t.dir, 'wrong-classes'), { classes: ['a', 'b', 'c'] });
    writeFileSync(join(wrong.dir, 'meta.json'), JSON.stringify({ classes: ['a', 'b'], type: 'auto-tagging' }));
    await expect(importPublished(tf, wrong.dir, join(t.dir, 'models3'))).rejects.toThrow(/gives 3 predictions per patch; its description says 2/);
    expect(listPublished(join(t.dir, 'models3'))).toEqual([]);
  });

  it.each([true, false])('reads a zip whose local headers give a wrong extra-field length, by its central directory (deflated: %s)', async (deflate) => {
    const tiny = writeTinyMusicnn(join(t.dir, `zipped-${deflate}`), { metadata: true });
    const zip = join(t.dir, `msd-musicnn-1-tfjs-${deflate}.zip`);
    quirkyZip(tiny.dir, 'msd-musicnn-1', zip, deflate);
    const files = readZip(zip);
    expect(files.map((f) => f.name).sort()).toEqual(['msd-musicnn-1/group1-shard1of1.bin', 'msd-musicnn-1/model.json', 'msd-musicnn-1/tiny-musicnn-1.json']);
    expect(files.find((f) => f.name.endsWith('.bin'))!.data.equals(readFileSync(join(tiny.dir, 'group1-shard1of1.bin')))).toBe(true);
    const meta = await importPublished(tf, zip, join(t.dir, `models4-${deflate}`), 'tagger');
    expect(meta.name).toBe('tagger');
    expect(meta.embeddingDim).toBe(200);
    // A damaged entry is reported by name.
    const b = readFileSync(zip);
    const at = b.indexOf(Buffer.from('group1-shard1of1.bin')) + 200;
    b[at] ^= 0xff;
    writeFileSync(zip, b);
    expect(() => readZip(zip)).toThrow(/group1-shard1of1\.bin.*CRC-32|cannot be read/);
  });
});

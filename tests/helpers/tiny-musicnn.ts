import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MSD_TAGS } from '../../src-main/core/learn/published/published-model.js';

/**
 * A tiny TensorFlow.js graph model with the node names and shapes of Essentia's MusiCNN models, written the way
 * tensorflowjs_converter writes one (`model.json`: a GraphDef in JSON, plus a weights manifest and one shard),
 * for tests: no downloaded weights anywhere. Input `model/Placeholder` [-1, 187, 96] and the boolean
 * `model/Placeholder_1` (is training, used the way batch normalisation's switch would: multiplied in as 0);
 * a per-band mean and standard deviation over time ([-1, 192]), `model/dense/MatMul` + `model/dense/BiasAdd`
 * ([-1, 200], the embedding), `model/dense/Relu`, `model/dense_1/MatMul` + `model/dense_1/BiasAdd`
 * ([-1, classes]), `model/Sigmoid`.
 */
export interface TinyModel {
  dir: string;
  classes: string[];
  /** Row-major weights, for recomputing the graph by hand. */
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

const dim = (...sizes: number[]) => ({ dim: sizes.map((s) => ({ size: String(s) })) });
const f32 = { type: 'DT_FLOAT' };
const constNode = (name: string, shape: number[], dtype = 'DT_FLOAT') => ({
  name,
  op: 'Const',
  attr: { value: { tensor: { dtype, tensorShape: dim(...shape) } }, dtype: { type: dtype } },
});

export function writeTinyMusicnn(dir: string, o: { classes?: string[]; seed?: number; metadata?: boolean; embedding?: 'BiasAdd' | 'Relu'; isTraining?: boolean } = {}): TinyModel {
  const classes = o.classes ?? MSD_TAGS;
  const r = rng(o.seed ?? 7);
  const nIn = 192;
  const w1 = Float32Array.from({ length: nIn * 200 }, () => r() * 0.3);
  const b1 = Float32Array.from({ length: 200 }, () => r() * 0.1);
  const w2 = Float32Array.from({ length: 200 * classes.length }, () => r() * 0.3);
  const b2 = Float32Array.from({ length: classes.length }, () => r() * 0.5);
  const isTraining = o.isTraining ?? true;
  const nodes: unknown[] = [
    { name: 'model/Placeholder', op: 'Placeholder', attr: { dtype: f32, shape: { shape: dim(-1, 187, 96) } } },
    ...(isTraining ? [{ name: 'model/Placeholder_1', op: 'Placeholder', attr: { dtype: { type: 'DT_BOOL' }, shape: { shape: dim(1) } } }] : []),
    constNode('model/Mean/reduction_indices', [], 'DT_INT32'),
    { name: 'model/Mean', op: 'Mean', input: ['model/Placeholder', 'model/Mean/reduction_indices'], attr: { T: f32, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } },
    { name: 'model/centred', op: 'Sub', input: ['model/Placeholder', 'model/Mean_keep'], attr: { T: f32 } },
    { name: 'model/Mean_keep', op: 'Mean', input: ['model/Placeholder', 'model/Mean/reduction_indices'], attr: { T: f32, Tidx: { type: 'DT_INT32' }, keep_dims: { b: true } } },
    { name: 'model/sq', op: 'Square', input: ['model/centred'], attr: { T: f32 } },
    { name: 'model/var', op: 'Mean', input: ['model/sq', 'model/Mean/reduction_indices'], attr: { T: f32, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } },
    { name: 'model/std', op: 'Sqrt', input: ['model/var'], attr: { T: f32 } },
    constNode('model/concat/axis', [], 'DT_INT32'),
    { name: 'model/concat', op: 'ConcatV2', input: ['model/Mean', 'model/std', 'model/concat/axis'], attr: { T: f32, N: { i: '2' }, Tidx: { type: 'DT_INT32' } } },
    constNode('model/dense/kernel', [nIn, 200]),
    constNode('model/dense/bias', [200]),
    { name: 'model/dense/MatMul', op: 'MatMul', input: ['model/concat', 'model/dense/kernel'], attr: { T: f32, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'model/dense/BiasAdd', op: 'BiasAdd', input: ['model/dense/MatMul', 'model/dense/bias'], attr: { T: f32, data_format: { s: 'TkhXQw==' } } },
    ...(isTraining
      ? [
          { name: 'model/is_training_f', op: 'Cast', input: ['model/Placeholder_1'], attr: { SrcT: { type: 'DT_BOOL' }, DstT: f32, Truncate: { b: false } } },
          { name: 'model/dense/Relu_in', op: 'Mul', input: ['model/dense/BiasAdd', 'model/one_minus'], attr: { T: f32 } },
          constNode('model/one', []),
          { name: 'model/one_minus', op: 'Sub', input: ['model/one', 'model/is_training_f'], attr: { T: f32 } },
        ]
      : []),
    { name: 'model/dense/Relu', op: 'Relu', input: [isTraining ? 'model/dense/Relu_in' : 'model/dense/BiasAdd'], attr: { T: f32 } },
    constNode('model/dense_1/kernel', [200, classes.length]),
    constNode('model/dense_1/bias', [classes.length]),
    { name: 'model/dense_1/MatMul', op: 'MatMul', input: ['model/dense/Relu', 'model/dense_1/kernel'], attr: { T: f32, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'model/dense_1/BiasAdd', op: 'BiasAdd', input: ['model/dense_1/MatMul', 'model/dense_1/bias'], attr: { T: f32, data_format: { s: 'TkhXQw==' } } },
    { name: 'model/Sigmoid', op: 'Sigmoid', input: ['model/dense_1/BiasAdd'], attr: { T: f32 } },
  ];
  // The embedding a graph without BiasAdd exposes is its Relu: rename to drop the BiasAdd node name.
  if (o.embedding === 'Relu') {
    for (const n of nodes as Array<{ name: string; input?: string[] }>) {
      if (n.name === 'model/dense/BiasAdd') n.name = 'model/dense/Add';
      n.input = n.input?.map((i) => (i === 'model/dense/BiasAdd' ? 'model/dense/Add' : i));
    }
  }
  const weights: Array<{ name: string; shape: number[]; dtype: string; data: Buffer }> = [
    { name: 'model/Mean/reduction_indices', shape: [], dtype: 'int32', data: Buffer.from(Int32Array.of(1).buffer) },
    { name: 'model/concat/axis', shape: [], dtype: 'int32', data: Buffer.from(Int32Array.of(1).buffer) },
    { name: 'model/dense/kernel', shape: [nIn, 200], dtype: 'float32', data: Buffer.from(w1.buffer) },
    { name: 'model/dense/bias', shape: [200], dtype: 'float32', data: Buffer.from(b1.buffer) },
    ...(isTraining ? [{ name: 'model/one', shape: [], dtype: 'float32', data: Buffer.from(Float32Array.of(1).buffer) }] : []),
    { name: 'model/dense_1/kernel', shape: [200, classes.length], dtype: 'float32', data: Buffer.from(w2.buffer) },
    { name: 'model/dense_1/bias', shape: [classes.length], dtype: 'float32', data: Buffer.from(b2.buffer) },
  ];
  mkdirSync(dir, { recursive: true });
  const model = {
    format: 'graph-model',
    generatedBy: '1.15.0',
    convertedBy: 'Earmark tests (tiny MusiCNN-shaped graph)',
    modelTopology: { node: nodes, library: {}, versions: { producer: 134 } },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: weights.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
  };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(model));
  writeFileSync(join(dir, 'group1-shard1of1.bin'), Buffer.concat(weights.map((w) => w.data)));
  if (o.metadata) {
    writeFileSync(
      join(dir, 'tiny-musicnn-1.json'),
      JSON.stringify({
        name: 'Tiny MusiCNN',
        type: classes.length === 2 ? 'classifier' : 'auto-tagging',
        link: 'https://example.invalid/tiny-musicnn-1.pb',
        classes,
        schema: {
          inputs: [{ name: 'model/Placeholder', type: 'float', shape: [187, 96] }],
          outputs: [
            { name: 'model/Sigmoid', type: 'float', shape: [1, classes.length], op: 'Sigmoid', output_purpose: 'predictions' },
            { name: 'model/dense/BiasAdd', type: 'float', shape: [1, 200], op: 'fully connected', output_purpose: 'embeddings' },
          ],
        },
        inference: { sample_rate: 16000, algorithm: 'TensorflowPredictMusiCNN' },
      }),
    );
  }
  return { dir, classes, w1, b1, w2, b2 };
}

import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import { ENCODER_ARCHS, ENCODER_FUSIONS } from '../../contract.js';
import type { Tf } from '../tf/backend.js';

/**
 * The encoder networks of the papers, in TensorFlow.js layers, channels-last with inputs `[frames, nMels, 1]`
 * (time, mel, one channel: the papers' stereo input adapted to mono):
 *
 * - `base-cnn` — seed 001 Table 3: conv1 5×5/16 with stride 2 in time, max-pool 2×2, conv2 3×3/32, pool,
 *   conv3 3×3/64, pool, conv4 3×3/64, pool, conv5 3×3/128, pool, conv61 3×3/256, conv62 1×1/256, global
 *   average pooling, fc-feature 256 (ReLU), dropout 0.5, fc-output (softmax); batch normalisation after every
 *   convolution and fc-feature; ReLU throughout. Input 216 × 128 (2.5 s).
 * - `dcnn` — seed 000 §3.2.1: seven convolutions (5×5/16, 3×3/32, 3×3/64, 3×3/64, 3×3/64 each followed by
 *   2×2 max-pooling, then 3×3/64 and 1×1/64), batch normalisation and ELU, global average pooling, a dense
 *   layer of 256 (the feature), dropout 0.5, softmax. Input 43 × 128 (1 s).
 * - `dpnn` — seed 004 Fig. 1: batch normalisation of the input, then two parallel stacks of four convolutions
 *   (batch normalisation, ELU): a timbre stack of wide-in-frequency kernels pooled along time, and a rhythm
 *   stack of long-in-time kernels pooled along frequency; each globally average-pooled, concatenated, and a
 *   256-unit ELU embedding. Input 130 × 80 (6 s).
 *
 * Sharing between tasks (seed 001 §3.2, seed 000 §3.2.2), “branching at layer X” meaning X is the first
 * task-specific layer:
 * - `SS-R` one task; `MSS-CR` one independent network per task (seed 000's STNs), features concatenated;
 * - `MS-CR@2`, `@4`, `@6` shared up to the 2nd, 4th or 6th convolution, task branches from there, features
 *   concatenated (seed 000's MTN, which shares the first convolutional block, is `MS-CR@2`);
 * - `MS-SR@FC` everything shared up to fc-feature, one output layer per task: a single feature.
 * A network built without tasks (the triplet case) is the trunk with its feature (or embedding) alone.
 */
export type Arch = (typeof ENCODER_ARCHS)[number];
export type Fusion = (typeof ENCODER_FUSIONS)[number];
export const FUSIONS: readonly Fusion[] = ENCODER_FUSIONS;

export interface TaskSpec {
  name: string;
  /** Output units (the factor count of the task's target). */
  outputs: number;
  /**
   * A siamese task (seed 001's "self"): the task network takes two patches, runs each through its branch of
   * the shared network, and decides from their features together (fc, then softmax) whether they are of one track.
   */
  pair?: boolean;
}

export interface EncoderSpec {
  arch: Arch;
  fusion: Fusion;
  tasks: TaskSpec[];
  frames: number;
  nMels: number;
  seed: number;
  /** L2 weight decay on every kernel (seed 001: 1e-6). */
  l2?: number;
}

export interface Encoder {
  spec: EncoderSpec;
  /** Per task: input → softmax over the task's outputs (sharing weights as the fusion prescribes). */
  taskModels: Map<string, LayersModel>;
  /** Input → the representation: fc-feature (or the task features concatenated, or the embedding). */
  featureModel: LayersModel;
  featureDim: number;
}

/** The input shape each architecture was specified for: `[frames, nMels]`. */
export const ARCH_INPUT: Record<Arch, { frames: number; nMels: number; patch: 'mtdtl' | 'agf' | 'dpnn' }> = {
  'base-cnn': { frames: 216, nMels: 128, patch: 'mtdtl' },
  dcnn: { frames: 43, nMels: 128, patch: 'agf' },
  dpnn: { frames: 130, nMels: 80, patch: 'dpnn' },
};

type Layer = (x: SymbolicTensor) => SymbolicTensor;

interface Stage {
  /** Index of the convolution this stage starts with (1-based), or 0 for non-convolution stages. */
  conv: number;
  build: (tag: string) => Layer;
}

function stages(tf: Tf, spec: EncoderSpec, seedOf: (name: string) => number): { stages: Stage[]; featureAt: number; featureDim: number } {
  const l2 = spec.l2 ?? 1e-6;
  const reg = () => tf.regularizers.l2({ l2 });
  const init = (name: string) => tf.initializers.heNormal({ seed: seedOf(name) });
  const conv = (name: string, filters: number, kernel: [number, number], activation: 'relu' | 'elu', strides: [number, number] = [1, 1]): Layer => {
    const c = tf.layers.conv2d({ name, filters, kernelSize: kernel, strides, padding: 'same', useBias: false, kernelInitializer: init(name), kernelRegularizer: reg() });
    const bn = tf.layers.batchNormalization({ name: `${name}_bn` });
    const act = tf.layers.activation({ name: `${name}_${activation}`, activation });
    return (x) => act.apply(bn.apply(c.apply(x))) as SymbolicTensor;
  };
  const pool = (name: string, size: [number, number]): Layer => {
    const p = tf.layers.maxPooling2d({ name, poolSize: size, strides: size, padding: 'valid' });
    return (x) => p.apply(x) as SymbolicTensor;
  };
  const seq =
    (...ls: Layer[]): Layer =>
    (x) =>
      ls.reduce((acc, l) => l(acc), x);
  const gap = (name: string): Layer => {
    const g = tf.layers.globalAveragePooling2d({ name });
    return (x) => g.apply(x) as SymbolicTensor;
  };
  const dense = (name: string, units: number, activation: 'relu' | 'elu', bn: boolean): Layer => {
    const d = tf.layers.dense({ name, units, useBias: !bn, kernelInitializer: init(name), kernelRegularizer: reg() });
    const b = bn ? tf.layers.batchNormalization({ name: `${name}_bn` }) : null;
    const a = tf.layers.activation({ name: `${name}_${activation}`, activation });
    return (x) => a.apply(b ? b.apply(d.apply(x)) : d.apply(x)) as SymbolicTensor;
  };

  /**
   * The VGG-like stacks of the base CNN and the DCNN: five convolutions each followed by 2×2 max-pooling (5×5
   * first, 3×3 after), then the top convolutions, global average pooling and fc-feature.
   */
  const vggStages = (
    activation: 'relu' | 'elu',
    filters: number[],
    firstStride: [number, number],
    top: Array<[string, number, [number, number]]>,
    featureBn: boolean,
  ): Stage[] => [
    ...filters.map((f, i) => ({
      conv: i + 1,
      build: (t: string) => seq(conv(`conv${i + 1}${t}`, f, i === 0 ? [5, 5] : [3, 3], activation, i === 0 ? firstStride : [1, 1]), pool(`pool${i + 1}${t}`, [2, 2])),
    })),
    { conv: filters.length + 1, build: (t) => seq(...top.map(([name, f, k]) => conv(`${name}${t}`, f, k, activation)), gap(`gap${t}`)) },
    { conv: 0, build: (t) => dense(`fc_feature${t}`, 256, activation, featureBn) },
  ];

  if (spec.arch === 'base-cnn') {
    const s = vggStages('relu', [16, 32, 64, 64, 128], [2, 1], [['conv61', 256, [3, 3]], ['conv62', 256, [1, 1]]], true);
    return { stages: s, featureAt: s.length, featureDim: 256 };
  }
  if (spec.arch === 'dcnn') {
    const s = vggStages('elu', [16, 32, 64, 64, 64], [1, 1], [['conv6', 64, [3, 3]], ['conv7', 64, [1, 1]]], false);
    return { stages: s, featureAt: s.length, featureDim: 256 };
  }
  // dpnn: two parallel stacks, then the embedding.
  const stack = (side: 'timbre' | 'rhythm', t: string): Layer => {
    // [frames, mels]: timbre kernels span frequency (3 × 12), pooled along time; rhythm kernels span time (12 × 3), pooled along frequency.
    const k: [number, number] = side === 'timbre' ? [3, 12] : [12, 3];
    const p: Array<[number, number]> = side === 'timbre' ? [[4, 1], [4, 2], [2, 2], [2, 2]] : [[1, 4], [2, 4], [2, 2], [2, 2]];
    const filters = [16, 32, 64, 64];
    return seq(...filters.flatMap((f, i) => [conv(`${side}${i + 1}${t}`, f, k, 'elu'), pool(`${side}_pool${i + 1}${t}`, p[i])]), gap(`${side}_gap${t}`));
  };
  const s: Stage[] = [
    {
      conv: 1,
      build: (t) => {
        const bn = tf.layers.batchNormalization({ name: `input_bn${t}` });
        const timbre = stack('timbre', t);
        const rhythm = stack('rhythm', t);
        const cat = tf.layers.concatenate({ name: `dpnn_concat${t}` });
        return (x) => {
          const n = bn.apply(x) as SymbolicTensor;
          return cat.apply([timbre(n), rhythm(n)]) as SymbolicTensor;
        };
      },
    },
    { conv: 0, build: (t) => dense(`embedding${t}`, 256, 'elu', false) },
  ];
  return { stages: s, featureAt: s.length, featureDim: 256 };
}

/** How many stages (from the input) all tasks share. */
function sharedStages(fusion: Fusion, st: Stage[], nTasks: number): number {
  if (nTasks <= 1 || fusion === 'SS-R') return st.length;
  if (fusion === 'MSS-CR') return 0;
  if (fusion === 'MS-SR@FC') return st.length;
  const k = Number(fusion.slice('MS-CR@'.length));
  // Branch at convolution k: share every stage before the one that starts with conv k.
  const at = st.findIndex((s) => s.conv >= k);
  return at < 0 ? st.length : at;
}

/** Deterministic per-layer seeds from the network seed and the layer's name. */
function seeder(seed: number): (name: string) => number {
  return (name) => {
    let h = seed * 2654435761;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
    return Math.abs(h) % 2 ** 31;
  };
}

/** The smallest input each architecture's pooling can take: `[frames, nMels]`. */
export const MIN_INPUT: Record<Arch, [number, number]> = { 'base-cnn': [64, 32], dcnn: [32, 32], dpnn: [64, 64] };

export function buildEncoder(tf: Tf, spec: EncoderSpec): Encoder {
  const [minFrames, minMels] = MIN_INPUT[spec.arch];
  if (spec.frames < minFrames || spec.nMels < minMels) {
    throw new Error(`The ${spec.arch} pools its input down ${minFrames} × ${minMels} times; ${spec.frames} frames × ${spec.nMels} mel bands is too small.`);
  }
  if (spec.fusion === 'SS-R' && spec.tasks.length > 1) throw new Error('SS-R learns from a single task; use a multi-source fusion for several.');
  if (spec.arch === 'dpnn' && spec.fusion.startsWith('MS-CR@') && spec.fusion !== 'MS-CR@2') {
    throw new Error(`The DPNN has no 4th or 6th convolution to branch at (its stacks are parallel); use MS-SR@FC, MSS-CR or SS-R.`);
  }
  const seedOf = seeder(spec.seed);
  const { stages: st, featureDim } = stages(tf, spec, seedOf);
  const input = tf.input({ shape: [spec.frames, spec.nMels, 1], name: 'logmel' });
  const shared = sharedStages(spec.fusion, st, spec.tasks.length);
  // Each stage is built once and may be applied to more than one input (the pair task's second patch).
  const sharedLayers = st.slice(0, shared).map((s) => s.build(''));
  const through = (layers: Layer[], x: SymbolicTensor) => layers.reduce((acc, l) => l(acc), x);
  const trunk = through(sharedLayers, input);
  const taskModels = new Map<string, LayersModel>();
  const features: SymbolicTensor[] = [];
  const tasks = spec.tasks.length ? spec.tasks : [];
  const branchPerTask = shared < st.length;
  if (!branchPerTask) features.push(trunk);
  const l2 = () => tf.regularizers.l2({ l2: spec.l2 ?? 1e-6 });
  for (const task of tasks) {
    const tag = `_${task.name.replace(/[^A-Za-z0-9]/g, '_')}`;
    const branch = st.slice(shared).map((s) => s.build(tag));
    const x = through(branch, trunk);
    if (branchPerTask) features.push(x);
    const drop = tf.layers.dropout({ name: `dropout${tag}`, rate: 0.5, seed: seedOf(`dropout${tag}`) });
    const out = tf.layers.dense({
      name: `fc_output${tag}`,
      units: task.outputs,
      activation: 'softmax',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seedOf(`fc_output${tag}`) }),
      kernelRegularizer: l2(),
    });
    if (task.pair) {
      // Siamese: the second patch through the same layers; both features, concatenated, into an fc layer.
      const right = tf.input({ shape: [spec.frames, spec.nMels, 1], name: `logmel_pair${tag}` });
      const xr = through(branch, through(sharedLayers, right));
      const cat = tf.layers.concatenate({ name: `pair_concat${tag}` }).apply([x, xr]) as SymbolicTensor;
      const fc = tf.layers.dense({ name: `fc_pair${tag}`, units: 256, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: seedOf(`fc_pair${tag}`) }), kernelRegularizer: l2() });
      taskModels.set(task.name, tf.model({ inputs: [input, right], outputs: out.apply(drop.apply(fc.apply(cat))) as SymbolicTensor, name: `task${tag}` }));
    } else {
      taskModels.set(task.name, tf.model({ inputs: input, outputs: out.apply(drop.apply(x)) as SymbolicTensor, name: `task${tag}` }));
    }
  }
  const feature = features.length === 1 ? features[0] : (tf.layers.concatenate({ name: 'features' }).apply(features) as SymbolicTensor);
  const featureModel = tf.model({ inputs: input, outputs: feature, name: 'features' });
  return { spec, taskModels, featureModel, featureDim: featureDim * features.length };
}

/**
 * Free every weight of the encoder once. Layers shared between the task models and the feature model make
 * `LayersModel.dispose()` unusable here (the second model fails on a layer the first disposed); the weights
 * are collected across all of them instead.
 */
export function disposeEncoder(e: Encoder): void {
  const seen = new Set<object>();
  for (const m of [e.featureModel, ...e.taskModels.values()]) {
    m.optimizer?.dispose();
    for (const w of m.weights) {
      if (seen.has(w)) continue;
      seen.add(w);
      w.dispose();
    }
  }
}

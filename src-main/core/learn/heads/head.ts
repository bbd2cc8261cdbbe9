import type { Scalar, Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import { Random } from '../../util/random.js';
import type { Tf } from '../tf/backend.js';

/**
 * Tag heads: small classifiers on top of a representation's track vectors (seed 000 §3.2.3).
 * - `mlp`: the transfer MLP — dropout 0.5 on the input, one 1024-unit ELU layer, dropout 0.5, output layer.
 * - `linear`: the output layer alone, the fast baseline.
 * Single-label fields (genre) end in a softmax trained with cross-entropy; multi-label fields (mood, style)
 * in one sigmoid per value trained with binary cross-entropy. Adam, learning rate 1e-3. Inputs are
 * standardised with the training vectors' mean and standard deviation, kept with the head.
 */
export type HeadKind = 'mlp' | 'linear';

export interface HeadConfig {
  kind: HeadKind;
  multiLabel: boolean;
  /** Most epochs; training stops earlier when the validation loss stops improving. */
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Epochs without a better validation loss before stopping. */
  patience?: number;
  hidden?: number;
  dropout?: number;
  seed?: number;
  /**
   * The fewest optimiser steps a head takes, whatever the epochs say: with few tagged tracks an epoch is one or
   * two batches, and 50 epochs at Adam's 1e-3 leave a head barely moved from its initial weights (measured on a
   * real library of 84 tagged tracks: a linear head below always answering the commonest value). Epochs and
   * patience are stretched to cover this many steps.
   */
  minSteps?: number;
  /** L2 penalty on the weight matrices, λ‖W‖² added to the loss (the linear head's only regulariser). */
  l2?: number;
}

export interface HeadData {
  /** One vector per sample, all of the same dimension. */
  x: Float32Array[];
  /** Each sample's value indices (exactly one for single-label data). */
  y: number[][];
  nValues: number;
}

export interface TrainedHead {
  config: Required<HeadConfig>;
  dim: number;
  nValues: number;
  mean: Float32Array;
  std: Float32Array;
  net: HeadNet;
  history: Array<{ epoch: number; loss: number; valLoss: number | null }>;
  /** The epoch whose weights were kept (the best validation loss, or the last). */
  bestEpoch: number;
}

export interface HeadProgress {
  epoch: number;
  epochs: number;
  loss: number;
  valLoss: number | null;
}

/** Seed 000 §3.2.3–3.2.4: batches of 64, Adam at 1e-3, 50 epochs for the MLP (here: at most 50, stopping early). */
export const HEAD_DEFAULTS: Omit<Required<HeadConfig>, 'kind' | 'multiLabel'> = {
  epochs: 50,
  batchSize: 64,
  learningRate: 1e-3,
  patience: 8,
  hidden: 1024,
  dropout: 0.5,
  seed: 1,
  minSteps: 400,
  l2: 0,
};

/** Per kind: the linear head learns faster and needs a penalty on its weights to stay general on few tracks. */
export const HEAD_KIND_DEFAULTS: Record<HeadKind, Partial<HeadConfig>> = {
  mlp: {},
  linear: { learningRate: 1e-2, l2: 1e-3 },
};

/** Epochs and patience for `n` training samples, stretched so that training takes at least `minSteps` steps. */
export function schedule(c: Required<HeadConfig>, n: number): { epochs: number; patience: number } {
  const perEpoch = Math.max(1, Math.ceil(n / c.batchSize));
  const stretch = Math.max(1, Math.ceil(c.minSteps / (perEpoch * c.epochs)));
  return { epochs: c.epochs * stretch, patience: c.patience * stretch };
}

export class HeadDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HeadDataError';
  }
}

function checkData(d: HeadData, multiLabel: boolean): number {
  if (d.x.length === 0) throw new HeadDataError('No training samples.');
  if (d.x.length !== d.y.length) throw new HeadDataError(`${d.x.length} vectors but ${d.y.length} label sets.`);
  if (d.nValues < (multiLabel ? 1 : 2)) throw new HeadDataError(`A ${multiLabel ? 'multi' : 'single'}-label head needs at least ${multiLabel ? 1 : 2} values, got ${d.nValues}.`);
  const dim = d.x[0].length;
  d.x.forEach((v, i) => {
    if (v.length !== dim) throw new HeadDataError(`Sample ${i} has ${v.length} dimensions, expected ${dim}.`);
  });
  d.y.forEach((ys, i) => {
    if (!multiLabel && ys.length !== 1) throw new HeadDataError(`Sample ${i} has ${ys.length} values; a single-label head needs exactly one.`);
    for (const v of ys) if (!(Number.isInteger(v) && v >= 0 && v < d.nValues)) throw new HeadDataError(`Sample ${i} has value index ${v}, outside 0…${d.nValues - 1}.`);
  });
  return dim;
}

function standardisation(x: Float32Array[], dim: number): { mean: Float32Array; std: Float32Array } {
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (const v of x) for (let j = 0; j < dim; j++) mean[j] += v[j];
  for (let j = 0; j < dim; j++) mean[j] /= x.length;
  for (const v of x) for (let j = 0; j < dim; j++) sq[j] += (v[j] - mean[j]) ** 2;
  const std = Float32Array.from(sq, (s) => Math.max(1e-6, Math.sqrt(s / x.length)));
  return { mean: Float32Array.from(mean), std };
}

/** Standardised inputs `[n, dim]` as one flat array. */
function inputs(x: Float32Array[], idx: ArrayLike<number>, mean: Float32Array, std: Float32Array): Float32Array {
  const dim = mean.length;
  const out = new Float32Array(idx.length * dim);
  for (let i = 0; i < idx.length; i++) {
    const v = x[idx[i]];
    for (let j = 0; j < dim; j++) out[i * dim + j] = (v[j] - mean[j]) / std[j];
  }
  return out;
}

/** Targets `[n, nValues]`: one-hot (single-label) or multi-hot (multi-label). */
function targets(y: number[][], idx: ArrayLike<number>, nValues: number): Float32Array {
  const out = new Float32Array(idx.length * nValues);
  for (let i = 0; i < idx.length; i++) for (const v of y[idx[i]]) out[i * nValues + v] = 1;
  return out;
}

/**
 * The head's parameters as variables: `mlp` — W1 `[dim, hidden]`, b1 `[hidden]`, W2 `[hidden, nValues]`,
 * b2 `[nValues]`; `linear` — W `[dim, nValues]`, b `[nValues]`. Glorot-uniform weights, zero biases (Keras'
 * defaults for a dense layer). A plain training loop over these (rather than a Keras-style model) keeps the
 * per-step work to the few kernels the network needs: most of a step's time goes into the two matrix products.
 */
export interface HeadNet {
  kind: HeadKind;
  vars: Variable[];
}

function buildNet(tf: Tf, dim: number, nValues: number, c: Required<HeadConfig>): HeadNet {
  const glorot = (shape: [number, number], k: number) => tf.initializers.glorotUniform({ seed: c.seed * 7919 + k }).apply(shape);
  const v = (t: Tensor, name: string) => tf.variable(t, true, `head_${name}_${nextNetId}`);
  nextNetId++;
  return tf.tidy(() =>
    c.kind === 'mlp'
      ? { kind: c.kind, vars: [v(glorot([dim, c.hidden], 1), 'w1'), v(tf.zeros([c.hidden]), 'b1'), v(glorot([c.hidden, nValues], 2), 'w2'), v(tf.zeros([nValues]), 'b2')] }
      : { kind: c.kind, vars: [v(glorot([dim, nValues], 1), 'w'), v(tf.zeros([nValues]), 'b')] },
  );
}
let nextNetId = 0;

/**
 * Logits `[n, nValues]`. While training, `hiddenMask` `[n, hidden]` is the hidden layer's inverted-dropout
 * mask (0 or 1/(1−rate)); the input's dropout is applied when the batch is assembled.
 */
function logits(tf: Tf, net: HeadNet, x: Tensor, hiddenMask?: Tensor): Tensor {
  if (net.kind === 'linear') {
    const [w, b] = net.vars;
    return tf.fused.matMul({ a: x as Tensor2D, b: w as Tensor2D, bias: b });
  }
  const [w1, b1, w2, b2] = net.vars;
  let h = tf.elu(tf.fused.matMul({ a: x as Tensor2D, b: w1 as Tensor2D, bias: b1 }));
  if (hiddenMask) h = tf.mul(h, hiddenMask);
  return tf.fused.matMul({ a: h as Tensor2D, b: w2 as Tensor2D, bias: b2 });
}

/** Mean cross-entropy from logits: softmax over values, or one sigmoid per value averaged over values. */
function lossOf(tf: Tf, z: Tensor, y: Tensor, multiLabel: boolean): Scalar {
  return multiLabel ? (tf.losses.sigmoidCrossEntropy(y, z) as Scalar) : (tf.losses.softmaxCrossEntropy(y, z) as Scalar);
}

function probabilities(tf: Tf, z: Tensor, multiLabel: boolean): Tensor {
  return multiLabel ? tf.sigmoid(z) : tf.softmax(z);
}

/**
 * Inverted dropout in place: each entry kept with probability 1 − rate and scaled by 1/(1 − rate). At the
 * usual rate of ½ each random bit is one coin (32 entries per draw); other rates draw one number per entry.
 */
export function dropInPlace(a: Float32Array, rate: number, rng: Random): void {
  if (rate <= 0) return;
  const scale = 1 / (1 - rate);
  if (rate === 0.5) {
    for (let i = 0; i < a.length; i += 32) {
      let bits = rng.uint32();
      const end = Math.min(a.length, i + 32);
      for (let j = i; j < end; j++, bits >>>= 1) a[j] = bits & 1 ? a[j] * scale : 0;
    }
    return;
  }
  for (let i = 0; i < a.length; i++) a[i] = rng.next() < rate ? 0 : a[i] * scale;
}

/** The loss the head trains on, without dropout, on held-out data (in chunks, so memory stays flat). */
function meanLoss(tf: Tf, net: HeadNet, x: Float32Array, y: Float32Array, n: number, dim: number, nValues: number, multiLabel: boolean): number {
  const chunk = 4096;
  let sum = 0;
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    sum +=
      m *
      tf.tidy(() => {
        const xt = tf.tensor2d(x.subarray(s * dim, (s + m) * dim), [m, dim]);
        const yt = tf.tensor2d(y.subarray(s * nValues, (s + m) * nValues), [m, nValues]);
        return lossOf(tf, logits(tf, net, xt), yt, multiLabel).dataSync()[0];
      });
  }
  return sum / n;
}

/**
 * Train a head. With `validation`, the weights of the epoch with the lowest validation loss are kept and
 * training stops after `patience` epochs without improvement; without, all epochs run. Batches and dropout
 * masks are drawn from a seeded generator, so the same data, config and backend give the same head.
 */
export async function trainHead(
  tf: Tf,
  data: HeadData,
  config: HeadConfig,
  o: { validation?: HeadData; onEpoch?: (p: HeadProgress) => void; signal?: AbortSignal } = {},
): Promise<TrainedHead> {
  const c: Required<HeadConfig> = { ...HEAD_DEFAULTS, ...HEAD_KIND_DEFAULTS[config.kind], ...config } as Required<HeadConfig>;
  const dim = checkData(data, c.multiLabel);
  const { epochs, patience } = schedule(c, data.x.length);
  if (o.validation && o.validation.x.length > 0) checkData(o.validation, c.multiLabel);
  const { mean, std } = standardisation(data.x, dim);
  const n = data.x.length;
  const all = Array.from({ length: n }, (_, i) => i);
  const X = inputs(data.x, all, mean, std); // [n, dim]
  const Y = targets(data.y, all, data.nValues); // [n, nValues]
  const net = buildNet(tf, dim, data.nValues, c);
  const optimizer = tf.train.adam(c.learningRate);
  const rng = new Random(c.seed);
  const dropRng = new Random(c.seed * 31 + 1);
  const order = all.slice();
  const val = o.validation && o.validation.x.length > 0 ? o.validation : null;
  const valX = val ? inputs(val.x, Array.from(val.x.keys()), mean, std) : null;
  const valY = val ? targets(val.y, Array.from(val.y.keys()), data.nValues) : null;
  const history: TrainedHead['history'] = [];
  const bs = c.batchSize;
  const xb = new Float32Array(bs * dim);
  const yb = new Float32Array(bs * data.nValues);
  const hm = c.kind === 'mlp' ? new Float32Array(bs * c.hidden) : null;
  let best = Infinity;
  let bestEpoch = 0;
  let bestWeights: Tensor[] | null = null;
  try {
    for (let epoch = 1; epoch <= epochs; epoch++) {
      if (o.signal?.aborted) throw new DOMException('Training was cancelled.', 'AbortError');
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rng.next() * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      // The epoch's loss stays on the device until the epoch ends: no read-back per step.
      let lossSum: Tensor = tf.scalar(0);
      let batches = 0;
      for (let b = 0; b < n; b += bs) {
        const m = Math.min(bs, n - b);
        // A last batch of one sample gives batch statistics nothing to learn from; fold it into the previous.
        if (m < 2 && b > 0) continue;
        for (let i = 0; i < m; i++) {
          const r = order[b + i];
          xb.set(X.subarray(r * dim, (r + 1) * dim), i * dim);
          yb.set(Y.subarray(r * data.nValues, (r + 1) * data.nValues), i * data.nValues);
        }
        const xs = xb.subarray(0, m * dim);
        if (c.kind === 'mlp') dropInPlace(xs, c.dropout, dropRng);
        let mask: Float32Array | null = null;
        if (hm) {
          mask = hm.subarray(0, m * c.hidden);
          mask.fill(1);
          dropInPlace(mask, c.dropout, dropRng);
        }
        const next = tf.tidy(() => {
          const xt = tf.tensor2d(xs, [m, dim]);
          const yt = tf.tensor2d(yb.subarray(0, m * data.nValues), [m, data.nValues]);
          const mt = mask ? tf.tensor2d(mask, [m, c.hidden]) : undefined;
          const loss = optimizer.minimize(
            () => {
              const data = lossOf(tf, logits(tf, net, xt, mt), yt, c.multiLabel);
              if (!(c.l2 > 0)) return data;
              const weights = net.kind === 'mlp' ? [net.vars[0], net.vars[2]] : [net.vars[0]];
              return tf.add(data, tf.mul(c.l2, tf.addN(weights.map((w) => tf.sum(tf.square(w)))))) as Scalar;
            },
            true,
            net.vars,
          ) as Scalar;
          return tf.add(lossSum, loss);
        });
        lossSum.dispose();
        lossSum = next;
        batches++;
      }
      const loss = (lossSum.dataSync()[0] as number) / Math.max(1, batches);
      lossSum.dispose();
      const valLoss = val && valX && valY ? meanLoss(tf, net, valX, valY, val.x.length, dim, data.nValues, c.multiLabel) : null;
      history.push({ epoch, loss, valLoss });
      o.onEpoch?.({ epoch, epochs, loss, valLoss });
      if (valLoss !== null) {
        if (valLoss < best - 1e-5) {
          best = valLoss;
          bestEpoch = epoch;
          bestWeights?.forEach((w) => w.dispose());
          bestWeights = net.vars.map((w) => tf.clone(w));
        } else if (epoch - bestEpoch >= patience) {
          break;
        }
      } else {
        bestEpoch = epoch;
      }
      // Let progress events and cancellation through between epochs.
      await new Promise((r) => setImmediate(r));
    }
    if (bestWeights) net.vars.forEach((w, i) => w.assign((bestWeights as Tensor[])[i]));
  } catch (e) {
    disposeNet(net);
    throw e;
  } finally {
    bestWeights?.forEach((w) => w.dispose());
    optimizer.dispose();
  }
  return { config: c, dim, nValues: data.nValues, mean, std, net, history, bestEpoch };
}

/** Each sample's probabilities `[nValues]` (softmax or per-value sigmoid), in chunks so memory stays flat. */
export function headProbabilities(tf: Tf, head: TrainedHead, x: Float32Array[], chunk = 2048): Float32Array[] {
  const out: Float32Array[] = [];
  for (let s = 0; s < x.length; s += chunk) {
    const idx = Array.from({ length: Math.min(chunk, x.length - s) }, (_, i) => s + i);
    const flat = tf.tidy(() => probabilities(tf, logits(tf, head.net, tf.tensor2d(inputs(x, idx, head.mean, head.std), [idx.length, head.dim])), head.config.multiLabel).dataSync() as Float32Array);
    for (let i = 0; i < idx.length; i++) out.push(flat.slice(i * head.nValues, (i + 1) * head.nValues));
  }
  return out;
}

/**
 * Track probabilities for segment-level representations (seed 000 §3.2.3): each track is a list of segment
 * vectors; the head scores every segment and the track gets the mean of its segments' probabilities.
 */
export function segmentAveragedProbabilities(tf: Tf, head: TrainedHead, tracks: Float32Array[][]): Float32Array[] {
  const flat = tracks.flat();
  const probs = headProbabilities(tf, head, flat);
  let at = 0;
  return tracks.map((segments) => {
    if (segments.length === 0) throw new HeadDataError('A track with no segments cannot be predicted.');
    const mean = new Float32Array(head.nValues);
    for (let s = 0; s < segments.length; s++, at++) for (let v = 0; v < head.nValues; v++) mean[v] += probs[at][v] / segments.length;
    return mean;
  });
}

/** Free a head's weights. */
export function disposeHead(head: TrainedHead): void {
  disposeNet(head.net);
}

function disposeNet(net: HeadNet): void {
  net.vars.forEach((v) => v.dispose());
}

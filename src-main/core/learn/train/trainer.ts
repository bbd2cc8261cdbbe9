import type { LayersModel, Optimizer, Scalar, Tensor, Tensor2D, Variable } from '@tensorflow/tfjs';
import { Random } from '../../util/random.js';
import type { Encoder } from '../nets/encoders.js';
import { randomCrop, slices, standardise, type LogMel, type LogMelSource } from '../patches.js';
import type { Tf } from '../tf/backend.js';
import type { Source } from './sources.js';

/**
 * The two training procedures:
 * - multi-task (seed 001 Algorithm 1): each iteration picks a task at random, a batch of tracks that task has
 *   targets for, a random crop of each; the task's network is stepped on the KL divergence from the target
 *   distributions to its softmax, plus L2 weight decay (1e-6) on every kernel; Adam.
 * - triplet (seed 004 §III-A): each iteration embeds a batch of tagged tracks (L2-normalised), pairs them by
 *   the cosine of their LSI tag vectors (≥ 0.8 positive, < 0.2 negative; two tracks of one album only when an
 *   anchor has no other positive, see `pairMasks`), and
 *   applies the max-margin loss to one positive and one negative per anchor — the hardest ones (batch-hard:
 *   farthest positive, nearest negative) or, as the paper words it, argmin distance for the positive and argmax
 *   for the negative (`literal`).
 */
export interface TrainingInput {
  /** Each training track's log-mel (in memory, or read on demand from a bounded store). */
  logMels: LogMelSource;
  /** Per-band standardisation (from the training tracks). */
  mean: Float32Array;
  std: Float32Array;
  frames: number;
}

export interface StepReport {
  iteration: number;
  iterations: number;
  task: string;
  loss: number;
}

export interface TrainOptions {
  iterations: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  l2?: number;
  /** Resume: the iteration to start from. */
  startIteration?: number;
  /**
   * The Adam optimisers to step, by task name (`triplet` for the triplet loss), owned by the caller so their
   * moments can be checkpointed and restored on resume; made (and disposed) here when not given.
   */
  optimizers?: Map<string, Optimizer>;
  onStep?: (r: StepReport) => void;
  /** Called every `checkpointEvery` iterations (and at the end) so the caller can save. */
  onCheckpoint?: (iteration: number) => Promise<void> | void;
  checkpointEvery?: number;
  signal?: AbortSignal;
}

/** `[batch, frames, nMels, 1]` standardised random crops of the tracks (the input pipeline's one step). */
export async function batchOf(tf: Tf, ids: readonly number[], input: TrainingInput, rng: Random): Promise<Tensor> {
  const nMels = input.mean.length;
  // Fetch first, then crop in order: the crops depend on the random stream only, never on fetch timing.
  const lms = await Promise.all(ids.map((id) => input.logMels.get(id)));
  const flat = new Float32Array(ids.length * input.frames * nMels);
  ids.forEach((id, i) => {
    const lm = lms[i];
    if (!lm) throw new Error(`The log-mel spectrogram of track ${id} cannot be read any more (the file was moved or changed); run the training again.`);
    flat.set(standardise(randomCrop(lm, input.frames, rng), input.mean, input.std), i * input.frames * nMels);
  });
  return tf.tensor4d(flat, [ids.length, input.frames, nMels, 1]);
}

/** After a step: record and report it, checkpoint when due, and let signals, progress events and cancellation through (wasm steps resolve as microtasks only). */
async function endStep(o: TrainOptions, history: StepReport[], r: StepReport): Promise<void> {
  history.push(r);
  o.onStep?.(r);
  if (o.onCheckpoint && ((o.checkpointEvery && r.iteration % o.checkpointEvery === 0) || r.iteration === o.iterations)) await o.onCheckpoint(r.iteration);
  await new Promise((res) => setImmediate(res));
}

function iterationRandom(seed: number, iteration: number): Random {
  return new Random(seed * 1_000_003 + iteration);
}

function sample<T>(xs: readonly T[], n: number, rng: Random): T[] {
  const out: T[] = [];
  const pool = [...xs];
  for (let i = 0; i < n && pool.length; i++) out.push(pool.splice(Math.floor(rng.next() * pool.length), 1)[0]);
  return out;
}

function l2Term(tf: Tf, model: LayersModel, l2: number): Scalar {
  const kernels = model.trainableWeights.filter((w) => w.name.includes('kernel')).map((w) => tf.sum(tf.square(w.read())) as Scalar);
  return tf.mul(l2, kernels.length ? tf.addN(kernels) : tf.scalar(0)) as Scalar;
}

function trainableOf(model: LayersModel): Variable[] {
  return model.trainableWeights.map((w) => w.read() as Variable);
}

export async function trainMultitask(tf: Tf, enc: Encoder, sources: readonly Source[], input: TrainingInput, o: TrainOptions): Promise<StepReport[]> {
  const seed = o.seed ?? 1;
  const batchSize = o.batchSize ?? 16;
  const l2 = o.l2 ?? 1e-6;
  // One Adam per task (each task's update has its own moment estimates, as each task's compiled update
  // function has in seed 001; tfjs optimisers also index their state by the position of each variable).
  const own = !o.optimizers;
  const optimizers = o.optimizers ?? new Map<string, Optimizer>(sources.map((s) => [s.name, tf.train.adam(o.learningRate ?? 1e-3)]));
  for (const s of sources) if (!optimizers.has(s.name)) throw new Error(`No optimiser for the ${s.name} task.`);
  const pools = new Map(sources.map((s) => [s.name, [...s.targets.keys()].filter((id) => input.logMels.has(id))]));
  for (const s of sources) {
    const n = (pools.get(s.name) as number[]).length;
    if (n === 0 || (s.pair && n < 2)) throw new Error(`No training track has a target for the ${s.name} source.`);
  }
  // One iteration's batch, from that iteration's own seeded stream (so a resumed run continues the same sequence).
  const prepare = async (it: number): Promise<{ s: Source; x: Tensor | Tensor[]; y: Tensor2D }> => {
    const rng = iterationRandom(seed, it);
    const s = sources[Math.floor(rng.next() * sources.length)];
    if (s.pair) {
      // Seed 001's self task: half the pairs are two crops of one track, half crops of two tracks.
      const pool = pools.get(s.name) as number[];
      const left: number[] = [];
      const right: number[] = [];
      const same: boolean[] = [];
      for (let i = 0; i < batchSize; i++) {
        const a = pool[Math.floor(rng.next() * pool.length)];
        let b = a;
        if (i % 2 === 1) while (b === a) b = pool[Math.floor(rng.next() * pool.length)];
        left.push(a);
        right.push(b);
        same.push(a === b);
      }
      const xl = await batchOf(tf, left, input, rng);
      const xr = await batchOf(tf, right, input, rng);
      return { s, x: [xl, xr], y: tf.tensor2d(same.flatMap((v) => (v ? [0, 1] : [1, 0])), [batchSize, 2]) };
    }
    const ids = sample(pools.get(s.name) as number[], batchSize, rng);
    return { s, x: await batchOf(tf, ids, input, rng), y: tf.tensor2d(ids.flatMap((id) => Array.from(s.targets.get(id) as Float32Array)), [ids.length, s.k]) };
  };
  const history: StepReport[] = [];
  let next: ReturnType<typeof prepare> | null = null;
  try {
    for (let it = (o.startIteration ?? 0) + 1; it <= o.iterations; it++) {
      if (o.signal?.aborted) throw new DOMException('Training was cancelled.', 'AbortError');
      const { s, x, y } = await (next ?? prepare(it));
      next = null;
      const model = enc.taskModels.get(s.name) as LayersModel;
      const loss = (optimizers.get(s.name) as Optimizer).minimize(
        () =>
          tf.tidy(() => {
            const p = (model.apply(x, { training: true }) as Tensor2D).clipByValue(1e-7, 1);
            // KL(y ‖ p) = Σ y (log y − log p), with 0 · log 0 = 0.
            const kl = tf.sum(tf.mul(y, tf.sub(tf.log(tf.maximum(y, 1e-12)), tf.log(p))), 1).mean() as Scalar;
            return tf.add(kl, l2Term(tf, model, l2)) as Scalar;
          }),
        true,
        trainableOf(model),
      ) as Scalar;
      // The next batch is cut while an asynchronous backend (a GPU) is still computing this step.
      if (it < o.iterations) next = prepare(it + 1);
      const value = (await loss.data())[0];
      tf.dispose([x, y, loss]);
      await endStep(o, history, { iteration: it, iterations: o.iterations, task: s.name, loss: value });
    }
  } finally {
    if (next) await next.then((b) => tf.dispose([b.x, b.y]), () => undefined);
    if (own) for (const opt of optimizers.values()) opt.dispose();
  }
  return history;
}

/**
 * Which triplets of a batch the loss is taken on: `batch-all` (the default) every valid (anchor, positive,
 * negative) that violates the margin, averaged; `batch-hard` each anchor's farthest positive and nearest negative;
 * `literal` the paper's words (nearest positive, farthest negative). Batch-hard from random weights collapses on
 * a small library: every embedding goes to one point and the loss sits at the margin (measured on a real
 * library of 70 training tracks: loss 0.20 from iteration 150 on, held-out retrieval no better than `dsp`);
 * batch-all keeps a gradient from every violating triplet and does not.
 */
export type TripletSelection = 'batch-all' | 'batch-hard' | 'literal';

export interface TripletOptions extends TrainOptions {
  /** Unit LSI vectors of the tagged tracks. */
  relatedness: Map<number, Float32Array>;
  /** Album key per track: pairs from one album are used only as a last resort (see `pairMasks`). */
  albums: Map<number, string>;
  margin?: number;
  selection?: TripletSelection;
  positive?: number;
  negative?: number;
}

/**
 * The pair masks of a batch: `[B, B]` 0/1, positives and negatives by tag relatedness. Seed 004's album filter
 * (no pair from one album, so the network cannot learn an album's sound in place of its tags) applies to each
 * anchor that has a positive from another album in the batch; an anchor whose only positives share its album
 * keeps them. Without that fallback a library tagged album by album — the usual small library, where a genre
 * is set per album — has no positive pair at all and triplet training learns nothing (measured on real music:
 * no better than the untrained network).
 */
export function pairMasks(ids: readonly number[], o: Pick<TripletOptions, 'relatedness' | 'albums' | 'positive' | 'negative'>): { pos: Float32Array; neg: Float32Array } {
  const n = ids.length;
  const pos = new Float32Array(n * n);
  const neg = new Float32Array(n * n);
  const hi = o.positive ?? 0.8;
  const lo = o.negative ?? 0.2;
  const sameAlbum: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = o.relatedness.get(ids[i]) as Float32Array;
    const albumA = o.albums.get(ids[i]);
    let crossAlbumPositive = false;
    sameAlbum.length = 0;
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const b = o.relatedness.get(ids[j]) as Float32Array;
      let c = 0;
      for (let k = 0; k < a.length; k++) c += a[k] * b[k];
      const same = albumA !== undefined && albumA === o.albums.get(ids[j]);
      if (c >= hi) {
        if (same) sameAlbum.push(j);
        else {
          pos[i * n + j] = 1;
          crossAlbumPositive = true;
        }
      } else if (c < lo && !same) neg[i * n + j] = 1;
    }
    if (!crossAlbumPositive) for (const j of sameAlbum) pos[i * n + j] = 1;
  }
  return { pos, neg };
}

/** The triplet loss of a batch of unit embeddings `[B, d]` with its pair masks. */
export function tripletLoss(tf: Tf, emb: Tensor2D, pos: Tensor2D, neg: Tensor2D, margin: number, selection: TripletSelection): Scalar {
  return tf.tidy(() => {
    // Squared Euclidean distances of unit vectors: 2 − 2 a·b.
    const d = tf.relu(tf.sub(2, tf.mul(2, tf.matMul(emb, emb, false, true))));
    if (selection === 'batch-all') {
      // Every (anchor, positive, negative) of the batch: [B, B, 1] − [B, 1, B], masked, averaged over those that
      // still violate the margin (Hermans et al. 2017, "batch all").
      const B = d.shape[0];
      const l = tf.relu(tf.add(tf.sub(tf.reshape(d, [B, B, 1]), tf.reshape(d, [B, 1, B])), margin));
      const valid = tf.mul(tf.reshape(pos, [B, B, 1]), tf.reshape(neg, [B, 1, B]));
      const per = tf.mul(l, valid);
      // sign(per) is 1 for a violating triplet, 0 otherwise (Sign's gradient is zero; Greater has none).
      const active = tf.sum(tf.sign(per));
      return tf.div(tf.sum(per), tf.maximum(active, 1)) as Scalar;
    }
    const big = 1e4;
    const hardest = selection === 'batch-hard';
    // Positive: the farthest (batch-hard) or the nearest (literal argmin); negative: the nearest or the farthest.
    const dPos = hardest ? tf.max(tf.sub(tf.mul(d, pos), tf.mul(tf.sub(1, pos), big)), 1) : tf.min(tf.add(d, tf.mul(tf.sub(1, pos), big)), 1);
    const dNeg = hardest ? tf.min(tf.add(d, tf.mul(tf.sub(1, neg), big)), 1) : tf.max(tf.sub(tf.mul(d, neg), tf.mul(tf.sub(1, neg), big)), 1);
    const valid = tf.mul(tf.cast(tf.greater(tf.sum(pos, 1), 0), 'float32'), tf.cast(tf.greater(tf.sum(neg, 1), 0), 'float32'));
    const per = tf.mul(tf.relu(tf.add(tf.sub(dPos, dNeg), margin)), valid);
    return tf.div(tf.sum(per), tf.maximum(tf.sum(valid), 1)) as Scalar;
  });
}

export async function trainTriplet(tf: Tf, enc: Encoder, input: TrainingInput, o: TripletOptions): Promise<StepReport[]> {
  const seed = o.seed ?? 1;
  const batchSize = o.batchSize ?? 32;
  const l2 = o.l2 ?? 1e-6;
  const margin = o.margin ?? 0.2;
  const selection = o.selection ?? 'batch-all';
  const pool = [...o.relatedness.keys()].filter((id) => input.logMels.has(id));
  if (pool.length < 4) throw new Error('Triplet training needs at least 4 tagged training tracks.');
  const optimizer = o.optimizers?.get('triplet') ?? tf.train.adam(o.learningRate ?? 1e-3);
  const model = enc.featureModel;
  const prepare = async (it: number): Promise<{ x: Tensor; P: Tensor2D; N: Tensor2D }> => {
    const rng = iterationRandom(seed, it);
    const ids = sample(pool, batchSize, rng);
    const { pos, neg } = pairMasks(ids, o);
    const x = await batchOf(tf, ids, input, rng);
    return { x, P: tf.tensor2d(pos, [ids.length, ids.length]), N: tf.tensor2d(neg, [ids.length, ids.length]) };
  };
  const history: StepReport[] = [];
  let next: ReturnType<typeof prepare> | null = null;
  try {
    for (let it = (o.startIteration ?? 0) + 1; it <= o.iterations; it++) {
      if (o.signal?.aborted) throw new DOMException('Training was cancelled.', 'AbortError');
      const { x, P, N } = await (next ?? prepare(it));
      next = null;
      const loss = optimizer.minimize(
        () =>
          tf.tidy(() => {
            const f = model.apply(x, { training: true }) as Tensor2D;
            const e = tf.div(f, tf.maximum(tf.norm(f, 'euclidean', 1, true), 1e-8)) as Tensor2D;
            return tf.add(tripletLoss(tf, e, P, N, margin, selection), l2Term(tf, model, l2)) as Scalar;
          }),
        true,
        trainableOf(model),
      ) as Scalar;
      // The next batch is cut while an asynchronous backend (a GPU) is still computing this step.
      if (it < o.iterations) next = prepare(it + 1);
      const value = (await loss.data())[0];
      tf.dispose([x, P, N, loss]);
      await endStep(o, history, { iteration: it, iterations: o.iterations, task: 'triplet', loss: value });
    }
  } finally {
    if (next) await next.then((b) => tf.dispose([b.x, b.P, b.N]), () => undefined);
    if (!o.optimizers?.has('triplet')) optimizer.dispose();
  }
  return history;
}

/**
 * A track's vector from an encoder: its log-mel cut into consecutive patches, each through the feature
 * network; multi-task representations are the mean ‖ standard deviation of the patch features (seed 001
 * §4.3.1), triplet embeddings the mean of the unit patch embeddings, normalised again.
 */
export function embedTrack(tf: Tf, featureModel: LayersModel, lm: LogMel, input: Pick<TrainingInput, 'mean' | 'std' | 'frames'>, kind: 'multitask' | 'triplet'): Float32Array {
  const patches = slices(lm, input.frames).map((p) => standardise(p, input.mean, input.std));
  const nMels = input.mean.length;
  const flat = new Float32Array(patches.length * input.frames * nMels);
  patches.forEach((p, i) => flat.set(p, i * input.frames * nMels));
  return tf.tidy(() => {
    const f = featureModel.predict(tf.tensor4d(flat, [patches.length, input.frames, nMels, 1])) as Tensor2D;
    if (kind === 'triplet') {
      const unit = tf.div(f, tf.maximum(tf.norm(f, 'euclidean', 1, true), 1e-8));
      const m = tf.mean(unit, 0);
      return tf.div(m, tf.maximum(tf.norm(m), 1e-8)).dataSync() as Float32Array;
    }
    const { mean, variance } = tf.moments(f, 0);
    return tf.concat([mean, tf.sqrt(variance)]).dataSync() as Float32Array;
  });
}

import type { LayersModel, SymbolicTensor } from '@tensorflow/tfjs';
import { MUSICNN_INPUT, musicnnMelBands, musicnnPatches } from '../core/audio/musicnn-input.js';
import { planExcerpts } from '../core/audio/representations.js';
import type { Tf } from '../core/learn/tf/backend.js';
import { Random } from '../core/util/random.js';

/**
 * MusiCNN's network as `msd-musicnn-1` has it (Pons & Serra 2019; the musicnn repository's `models.py`,
 * `define_model` for MSD_musicnn: front end "7774timbraltemporal" with 1.6 × the base filters, dense mid end of
 * 64 filters, global max+mean pooling and a 200-unit dense back end), with random weights: the published
 * weights cannot ship with Earmark, and the speed depends on the shapes only. Input [-1, 187, 96].
 *
 * Front end, on the [187, 96, 1] patch: two timbral convolutions (7 × 67 and 7 × 38 over time × mel, 204 filters
 * each, time padded by 3, max over frequency) and three temporal ones (128 × 1, 64 × 1, 32 × 1, 51 filters
 * each, "same" padding, max over frequency): [187, 561]. Mid end: three 1-D convolutions of 64 filters over 7
 * frames, the last two residual: [187, 753] with the front end. Back end: max and mean over time (1506),
 * dense 200 (ReLU; the embedding), dense 50, sigmoid. About 0.79 M weights, 1.4 G multiply-adds per patch.
 */
export function musicnnNetwork(tf: Tf): LayersModel {
  const { patchFrames: T, nMels: B } = MUSICNN_INPUT;
  const L = tf.layers;
  const x = L.input({ shape: [T, B] });
  const img = L.reshape({ targetShape: [T, B, 1] }).apply(x) as SymbolicTensor;
  const padded = L.zeroPadding2d({ padding: [[3, 3], [0, 0]] }).apply(img) as SymbolicTensor;
  const maxOverFreq = (t: SymbolicTensor, freq: number, filters: number) =>
    L.reshape({ targetShape: [T, filters] }).apply(L.maxPooling2d({ poolSize: [1, freq], strides: [1, freq] }).apply(t) as SymbolicTensor) as SymbolicTensor;
  const timbral = (k: number, filters: number) => {
    const c = L.conv2d({ filters, kernelSize: [7, k], padding: 'valid', activation: 'relu' }).apply(padded) as SymbolicTensor;
    return maxOverFreq(c, B - k + 1, filters);
  };
  const temporal = (k: number, filters: number) => {
    const c = L.conv2d({ filters, kernelSize: [k, 1], padding: 'same', activation: 'relu' }).apply(img) as SymbolicTensor;
    return maxOverFreq(c, B, filters);
  };
  const front = L.concatenate({ axis: 2 }).apply([timbral(Math.floor(0.7 * B), 204), timbral(Math.floor(0.4 * B), 204), temporal(128, 51), temporal(64, 51), temporal(32, 51)]) as SymbolicTensor;
  const conv1d = (t: SymbolicTensor) => L.conv1d({ filters: 64, kernelSize: 7, padding: 'same', activation: 'relu' }).apply(t) as SymbolicTensor;
  const m1 = conv1d(front);
  const m2 = L.add().apply([conv1d(m1), m1]) as SymbolicTensor;
  const m3 = L.add().apply([conv1d(m2), m2]) as SymbolicTensor;
  const mid = L.concatenate({ axis: 2 }).apply([front, m1, m2, m3]) as SymbolicTensor;
  const pooled = L.concatenate().apply([L.globalMaxPooling1d().apply(mid) as SymbolicTensor, L.globalAveragePooling1d().apply(mid) as SymbolicTensor]) as SymbolicTensor;
  const embedding = L.dense({ units: 200, activation: 'relu' }).apply(pooled) as SymbolicTensor;
  const out = L.dense({ units: 50, activation: 'sigmoid' }).apply(embedding) as SymbolicTensor;
  return tf.model({ inputs: x, outputs: [out, embedding] });
}

export interface MusicnnSpeed {
  backend: string;
  patchesPerSecond: number;
  /** A typical track: three 10 s excerpts at 16 kHz (15 patches), front end included. */
  tracksPerSecond: number;
  frontEndMsPerTrack: number;
}

/**
 * Tracks per second of MusiCNN inference on the current backend: the front end (`musicnnMelBands`) of three
 * 10-s excerpts of noise-like audio, their 15 patches through the network in one batch, timed after a warm-up.
 * `patches` caps the patches run (the JavaScript backend is slow); the rate is scaled to 15.
 */
export function measureMusicnn(tf: Tf, o: { patches?: number; repeats?: number } = {}): MusicnnSpeed {
  const net = musicnnNetwork(tf);
  const rng = new Random(3);
  const excerpts = planExcerpts(240).map((e) => Float32Array.from({ length: Math.round(e.duration * MUSICNN_INPUT.sr) }, () => 0.2 * rng.normal()));
  const t0 = performance.now();
  const cut = excerpts.map((y) => musicnnPatches(musicnnMelBands(y)));
  const frontEndMs = performance.now() - t0;
  const perTrack = cut.reduce((a, c) => a + c.nPatches, 0);
  const n = Math.min(o.patches ?? perTrack, perTrack);
  const size = MUSICNN_INPUT.patchFrames * MUSICNN_INPUT.nMels;
  const data = new Float32Array(n * size);
  let at = 0;
  for (const c of cut) {
    const take = Math.min(c.nPatches, n - at);
    if (take <= 0) break;
    data.set(c.data.subarray(0, take * size), at * size);
    at += take;
  }
  const run = () =>
    tf.tidy(() => {
      const [p, e] = net.predict(tf.tensor3d(data, [n, MUSICNN_INPUT.patchFrames, MUSICNN_INPUT.nMels])) as [ReturnType<Tf['tensor']>, ReturnType<Tf['tensor']>];
      p.dataSync();
      e.dataSync();
    });
  run(); // warm-up: kernels compiled, memory allocated
  const repeats = o.repeats ?? 2;
  const t1 = performance.now();
  for (let i = 0; i < repeats; i++) run();
  const s = (performance.now() - t1) / 1000 / repeats;
  net.dispose();
  const patchesPerSecond = n / s;
  return { backend: tf.getBackend(), patchesPerSecond, tracksPerSecond: 1 / (frontEndMs / 1000 + perTrack / patchesPerSecond), frontEndMsPerTrack: frontEndMs };
}

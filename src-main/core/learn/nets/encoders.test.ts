import type { Tensor } from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTf, type Tf } from '../tf/backend.js';
import { ARCH_INPUT, buildEncoder, disposeEncoder, FUSIONS, type Arch, type Fusion } from './encoders.js';

let tf: Tf;
beforeAll(async () => {
  tf = (await loadTf()).tf;
});

const TASKS = [
  { name: 'tag', outputs: 7 },
  { name: 'artist', outputs: 5 },
];

function kernelOf(model: import('@tensorflow/tfjs').LayersModel, prefix: string) {
  return model.layers.find((l) => l.name.startsWith(prefix) && l.getWeights().length > 0)?.getWeights()[0];
}

describe('encoders', () => {
  for (const arch of ['base-cnn', 'dcnn', 'dpnn'] as Arch[]) {
    it(`${arch}: takes its paper's input and gives a 256-d feature and per-task softmax outputs, without leaking`, () => {
      const before = tf.memory().numTensors;
      const { frames, nMels } = ARCH_INPUT[arch];
      const e = buildEncoder(tf, { arch, fusion: 'MS-SR@FC', tasks: TASKS, frames, nMels, seed: 1 });
      expect(e.featureDim).toBe(256);
      tf.tidy(() => {
        const x = tf.randomNormal([2, frames, nMels, 1]);
        expect((e.featureModel.predict(x) as Tensor).shape).toEqual([2, 256]);
        const out = e.taskModels.get('tag')!.predict(x) as Tensor;
        expect(out.shape).toEqual([2, 7]);
        const sums = out.sum(1).dataSync();
        for (const s of sums) expect(s).toBeCloseTo(1, 5);
      });
      disposeEncoder(e);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('follows seed 001 Table 3 for the base CNN: feature maps shrink to 3 × 4 before global pooling', () => {
    const e = buildEncoder(tf, { arch: 'base-cnn', fusion: 'SS-R', tasks: [TASKS[0]], frames: 216, nMels: 128, seed: 1 });
    const shape = (name: string) => e.featureModel.getLayer(name).outputShape;
    expect(shape('pool1')).toEqual([null, 54, 64, 16]);
    expect(shape('pool5')).toEqual([null, 3, 4, 128]);
    expect(shape('conv62_relu')).toEqual([null, 3, 4, 256]);
    disposeEncoder(e);
  });

  const expectShared: Record<Fusion, { shared: string[]; separate: string[]; dim: number }> = {
    'SS-R': { shared: [], separate: [], dim: 256 },
    'MSS-CR': { shared: [], separate: ['conv1', 'fc_feature'], dim: 512 },
    'MS-CR@2': { shared: ['conv1'], separate: ['conv2', 'fc_feature'], dim: 512 },
    'MS-CR@4': { shared: ['conv1', 'conv3'], separate: ['conv4', 'fc_feature'], dim: 512 },
    'MS-CR@6': { shared: ['conv1', 'conv5'], separate: ['conv61', 'fc_feature'], dim: 512 },
    'MS-SR@FC': { shared: ['conv1', 'conv61', 'fc_feature'], separate: [], dim: 256 },
  };
  for (const fusion of FUSIONS) {
    it(`${fusion}: shares exactly the layers it should, and its representation has the right size`, () => {
      const tasks = fusion === 'SS-R' ? [TASKS[0]] : TASKS;
      const e = buildEncoder(tf, { arch: 'base-cnn', fusion, tasks, frames: 216, nMels: 128, seed: 3 });
      expect(e.featureDim).toBe(expectShared[fusion].dim);
      if (tasks.length === 2) {
        const [a, b] = tasks.map((t) => e.taskModels.get(t.name)!);
        for (const name of expectShared[fusion].shared) expect(kernelOf(a, name), name).toBe(kernelOf(b, name));
        for (const name of expectShared[fusion].separate) expect(kernelOf(a, name), name).not.toBe(kernelOf(b, name));
      }
      disposeEncoder(e);
    });
  }

  it('is reproducible from its seed (the untrained network is the `rand` baseline)', () => {
    const make = (seed: number) => buildEncoder(tf, { arch: 'dcnn', fusion: 'SS-R', tasks: [TASKS[0]], frames: 43, nMels: 128, seed });
    const [a, b, c] = [make(5), make(5), make(6)];
    const x = tf.randomNormal([1, 43, 128, 1], 0, 1, 'float32', 9);
    const fa = (a.featureModel.predict(x) as Tensor).dataSync();
    const fb = (b.featureModel.predict(x) as Tensor).dataSync();
    const fc = (c.featureModel.predict(x) as Tensor).dataSync();
    expect(Array.from(fa)).toEqual(Array.from(fb));
    expect(Array.from(fa)).not.toEqual(Array.from(fc));
    [a, b, c].forEach(disposeEncoder);
    x.dispose();
  });

  it('refuses fusions that do not fit', () => {
    expect(() => buildEncoder(tf, { arch: 'base-cnn', fusion: 'SS-R', tasks: TASKS, frames: 216, nMels: 128, seed: 1 })).toThrow(/single task/);
    expect(() => buildEncoder(tf, { arch: 'dpnn', fusion: 'MS-CR@4', tasks: TASKS, frames: 130, nMels: 80, seed: 1 })).toThrow(/DPNN/);
    expect(() => buildEncoder(tf, { arch: 'dcnn', fusion: 'SS-R', tasks: [TASKS[0]], frames: 43, nMels: 24, seed: 1 })).toThrow(/too small/);
  });
});

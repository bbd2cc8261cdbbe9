import { createRequire } from 'node:module';
import { fftEngine, type FftEngine } from '../audio/fft.js';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface ComputeInfo {
  /** The backend Earmark would use for training and embedding: the first installed in order of preference. */
  preferred: BackendName | null;
  backends: Array<{ name: BackendName; package: string; installed: boolean; device: string }>;
  note: string;
  /** The FFT of the audio front end (spectrograms for every representation), and why not PFFFT if not. */
  audioFft: { engine: FftEngine; fallbackReason: string | null };
}

/** In order of preference (DESIGN.md, Compute). */
const CANDIDATES: Array<{ name: BackendName; package: string; device: string }> = [
  { name: 'tensorflow-gpu', package: '@tensorflow/tfjs-node-gpu', device: 'GPU (CUDA 11.2, cuDNN 8.1)' },
  { name: 'tensorflow', package: '@tensorflow/tfjs-node', device: 'native CPU' },
  { name: 'wasm', package: '@tensorflow/tfjs-backend-wasm', device: 'CPU (WebAssembly)' },
  { name: 'cpu', package: '@tensorflow/tfjs', device: 'CPU (JavaScript)' },
];

/**
 * Which TensorFlow.js backends are installed, without loading any (loading a native one is expensive and
 * must happen once per process, in the training process). Similarity with `dsp` and `mfcc` needs none.
 */
export function detectCompute(resolveFrom: string = import.meta.url): ComputeInfo {
  const require = createRequire(resolveFrom);
  const backends = CANDIDATES.map((c) => {
    let installed = false;
    try {
      require.resolve(`${c.package}/package.json`);
      installed = true;
    } catch {
      installed = false;
    }
    return { ...c, installed };
  });
  const preferred = backends.find((b) => b.installed)?.name ?? null;
  return {
    preferred,
    backends,
    note: preferred
      ? `Models train and embed on ${backends.find((b) => b.name === preferred)?.device}.`
      : 'No TensorFlow.js backend is installed: the built-in representations (dsp, mfcc) work; trained models need one.',
    audioFft: fftEngine(),
  };
}

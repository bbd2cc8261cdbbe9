import { describe, expect, it } from 'vitest';
import { loadTf, type Importer } from './backend.js';

/** A stand-in for the tfjs-node(-gpu) module: registers 'tensorflow' and says whether it sees a GPU. */
function nativeModule(gpu: boolean) {
  let backendName = 'cpu';
  return {
    setBackend: async (name: string) => {
      backendName = name;
      return name === 'tensorflow';
    },
    ready: async () => undefined,
    backend: () => ({ binding: { isUsingGpuDevice: () => gpu } }),
    getBackend: () => backendName,
  };
}

function importer(modules: Record<string, unknown>, seen: string[]): Importer {
  return async (s) => {
    seen.push(s);
    if (s in modules) return modules[s];
    // What Node's import() throws for a package that is not installed.
    if (s.startsWith('@tensorflow/tfjs-node')) throw Object.assign(new Error(`Cannot find package '${s}' imported from /app/out/main/index.js`), { code: 'ERR_MODULE_NOT_FOUND' });
    return import(s);
  };
}

describe('loadTf', () => {
  it('uses tfjs-node-gpu first, on the GPU when it finds one', async () => {
    const seen: string[] = [];
    const rt = await loadTf({ importer: importer({ '@tensorflow/tfjs-node-gpu': nativeModule(true) }, seen) });
    expect(rt.backend).toBe('tensorflow-gpu');
    expect(rt.device).toBe('GPU (CUDA)');
    expect(seen).toEqual(['@tensorflow/tfjs-node-gpu']);
  });

  it('says so when tfjs-node-gpu loads but finds no GPU', async () => {
    const rt = await loadTf({ importer: importer({ '@tensorflow/tfjs-node-gpu': nativeModule(false) }, []) });
    expect(rt.backend).toBe('tensorflow-gpu');
    expect(rt.device).toMatch(/no CUDA 11\.2/);
  });

  it('falls back to tfjs-node when the GPU package is missing', async () => {
    const seen: string[] = [];
    const rt = await loadTf({ importer: importer({ '@tensorflow/tfjs-node': nativeModule(false) }, seen) });
    expect(rt.backend).toBe('tensorflow');
    expect(rt.device).toBe('CPU (native libtensorflow)');
    expect(rt.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu']);
    expect(rt.skipped[0].reason).toBe('@tensorflow/tfjs-node-gpu is not installed');
  });

  it('reports why an installed GPU package could not load (no CUDA libraries) and goes on to the next backend', async () => {
    const broken: Importer = async (s) => {
      if (s === '@tensorflow/tfjs-node-gpu') throw new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory');
      return importer({ '@tensorflow/tfjs-node': nativeModule(false) }, [])(s);
    };
    const rt = await loadTf({ importer: broken });
    expect(rt.backend).toBe('tensorflow');
    expect(rt.skipped).toEqual([{ name: 'tensorflow-gpu', reason: 'libcudart.so.11.0: cannot open shared object file: No such file or directory' }]);
  });

  it('falls back to WebAssembly when neither native package is installed (as here), and reports why', async () => {
    const rt = await loadTf({ importer: importer({}, []) });
    expect(rt.backend).toBe('wasm');
    expect(rt.device).toMatch(/^CPU \(WebAssembly/);
    expect(rt.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
    const t = rt.tf.tensor1d([1, 2, 3]);
    expect(Array.from(t.square().dataSync())).toEqual([1, 4, 9]);
    t.dispose();
  });

  it('starts lower down the list when asked', async () => {
    const seen: string[] = [];
    const rt = await loadTf({ prefer: 'cpu', importer: importer({}, seen) });
    expect(rt.backend).toBe('cpu');
    expect(seen).toEqual(['@tensorflow/tfjs']);
  });
});

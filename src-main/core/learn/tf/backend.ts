import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as TfModule from '@tensorflow/tfjs';
import type { BackendName } from '../compute.js';
import { registerWasmKernels } from './wasm-kernels.js';

/** The TensorFlow.js namespace, whichever package provided it. Passed into every function that computes. */
export type Tf = typeof TfModule;

export interface TfRuntime {
  tf: Tf;
  backend: BackendName;
  /** What the backend computes on, in words ("GPU (CUDA)", "CPU (WebAssembly, SIMD)"). */
  device: string;
  /** Backends tried before this one and why each was passed over. */
  skipped: Array<{ name: BackendName; reason: string }>;
}

/** How a package is loaded: `import()` in production, a stub in tests. */
export type Importer = (specifier: string) => Promise<unknown>;

const ORDER: BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

interface NodeBinding {
  isUsingGpuDevice?: () => boolean;
}

function errorText(e: unknown): string {
  const code = (e as { code?: string } | null)?.code;
  const m = e instanceof Error ? e.message : String(e);
  const missing = /Cannot find (?:package|module) '([^']+)'/.exec(m);
  if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && missing) return `${missing[1]} is not installed`;
  return m.split('\n')[0].slice(0, 300);
}

/** The directory holding tfjs-backend-wasm's .wasm binaries, with a trailing slash (what `setWasmPaths` wants). */
export function wasmDirectory(resolveFrom: string = import.meta.url): string {
  const require = createRequire(resolveFrom);
  return `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`;
}

async function tryBackend(name: BackendName, importer: Importer): Promise<Omit<TfRuntime, 'skipped'>> {
  if (name === 'tensorflow-gpu' || name === 'tensorflow') {
    // Importing tfjs-node(-gpu) loads libtensorflow and registers the 'tensorflow' backend; the module is
    // the whole tfjs namespace. At most one of the two may be loaded per process (DESIGN.md, Compute).
    const tf = (await importer(name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node')) as Tf;
    if (!(await tf.setBackend('tensorflow'))) throw new Error('the tensorflow backend did not initialise');
    await tf.ready();
    const binding = (tf.backend() as unknown as { binding?: NodeBinding }).binding;
    const gpu = binding?.isUsingGpuDevice?.() ?? false;
    if (name === 'tensorflow-gpu' && !gpu) {
      return { tf, backend: name, device: 'CPU (libtensorflow; tfjs-node-gpu found no CUDA 11.2 / cuDNN 8.1 GPU)' };
    }
    return { tf, backend: name, device: gpu ? 'GPU (CUDA)' : 'CPU (native libtensorflow)' };
  }
  const tf = (await importer('@tensorflow/tfjs')) as Tf;
  if (name === 'wasm') {
    const wasm = (await importer('@tensorflow/tfjs-backend-wasm')) as { setWasmPaths: (prefix: string) => void };
    wasm.setWasmPaths(wasmDirectory());
  }
  if (!(await tf.setBackend(name))) throw new Error(`the ${name} backend did not initialise`);
  await tf.ready();
  if (name === 'wasm') {
    registerWasmKernels(tf);
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    return { tf, backend: name, device: `CPU (WebAssembly${simd ? ', SIMD' : ''}${threads ? ', threads' : ''})` };
  }
  return { tf, backend: name, device: 'CPU (JavaScript)' };
}

let active: Promise<TfRuntime> | null = null;

/**
 * Load TensorFlow.js once per process with the best backend that works, in the order of DESIGN.md:
 * tfjs-node-gpu → tfjs-node → wasm → cpu. `EARMARK_TF_BACKEND` (or `prefer`) starts the search lower down
 * the list, e.g. to compare backends. Later calls return the same runtime.
 */
export function loadTf(o: { prefer?: BackendName; importer?: Importer } = {}): Promise<TfRuntime> {
  if (active && !o.importer) return active;
  const importer: Importer = o.importer ?? ((s) => import(s));
  const envPrefer = process.env.EARMARK_TF_BACKEND as BackendName | undefined;
  const prefer = o.prefer ?? (envPrefer && ORDER.includes(envPrefer) ? envPrefer : undefined);
  const order = prefer ? ORDER.slice(ORDER.indexOf(prefer)) : ORDER;
  const run = (async () => {
    const skipped: TfRuntime['skipped'] = [];
    for (const name of order) {
      try {
        return { ...(await tryBackend(name, importer)), skipped };
      } catch (e) {
        skipped.push({ name, reason: errorText(e) });
      }
    }
    throw new Error(`No TensorFlow.js backend could be loaded: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`);
  })();
  if (!o.importer) {
    active = run;
    run.catch(() => (active = null));
  }
  return run;
}

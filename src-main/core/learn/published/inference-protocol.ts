/** Messages between the inference pool (`inference-pool.ts`) and its worker threads (`inference-worker.ts`). */
export type ToInferenceWorker =
  | { type: 'init'; dir: string; backend: 'wasm' | 'cpu' }
  | { type: 'run'; id: number; audio: Float32Array[] };

export type FromInferenceWorker =
  | { type: 'ready' }
  | { type: 'init-failed'; message: string }
  | { type: 'result'; id: number; values: Float32Array; embedding: Float32Array | null; patches: number }
  | { type: 'failure'; id: number; message: string };

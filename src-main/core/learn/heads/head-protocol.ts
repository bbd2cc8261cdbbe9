import type { BackendName } from '../compute.js';
import type { HeadConfig, HeadProgress } from './head.js';
import type { FoldTask } from './cross-fit.js';

/**
 * Messages between the head pool and its worker threads. The samples travel once, in shared memory:
 * `x` is `[n, dim]` (the labelled samples) and `extra` `[nExtra, dim]`, both over SharedArrayBuffers that every
 * worker reads without copying.
 */
export interface SharedHeadData {
  dim: number;
  nValues: number;
  x: SharedArrayBuffer;
  y: number[][];
  extra: SharedArrayBuffer;
}

export type ToHeadWorker = { type: 'fold'; backend: BackendName; data: SharedHeadData; config: HeadConfig; task: FoldTask };

export type FromHeadWorker =
  | { type: 'epoch'; fold: number; progress: HeadProgress }
  | { type: 'done'; fold: number; test: Float32Array; extra: Float32Array; bestEpoch: number }
  | { type: 'error'; fold: number; name: string; message: string };

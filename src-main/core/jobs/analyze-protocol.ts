import type { Excerpt } from '../audio/representations.js';
import type { AnalysisFailure } from './analyze-file.js';

/**
 * Messages between the analysis job and its worker threads. The job decodes (ffmpeg child processes, whose
 * output its event loop drains continuously); workers only compute features from the decoded audio, which is
 * in SharedArrayBuffers, neither copied nor transferred. Results come back copied. No thread on either side ever
 * detaches a buffer, which would slow every typed-array loop in that thread (see analyze-worker.ts).
 */
export type ToWorker = { type: 'task'; id: number; audio: Float32Array[]; reps: string[] } | { type: 'cancel' };

export type FromWorker =
  | { type: 'result'; id: number; vectors: Record<string, Float32Array>; computeMs: number }
  | { type: 'failure'; id: number; failure: AnalysisFailure };
export type { Excerpt };

import type { Ffmpeg } from '../audio/decode.js';
import type { Excerpt } from '../audio/representations.js';
import type { AnalysisFailure } from './analyze-file.js';

/** Messages between the analysis job and its worker threads. */
export type ToWorker =
  | { type: 'init'; ffmpeg: Ffmpeg }
  | { type: 'task'; id: number; path: string; duration: number | null; reps: string[] }
  | { type: 'cancel' };

export type FromWorker =
  | { type: 'result'; id: number; vectors: Record<string, Float32Array>; excerpts: Excerpt[]; decodeMs: number; computeMs: number }
  | { type: 'failure'; id: number; failure: AnalysisFailure };

import { decodeExcerpts, DecodeError, probe, SR, type Ffmpeg } from '../audio/decode.js';
import { BUILTIN_REPRESENTATIONS, frontEnd, planExcerpts, type Excerpt, type FrontEnd } from '../audio/representations.js';

export interface FileAnalysis {
  vectors: Record<string, Float32Array>;
  excerpts: Excerpt[];
  decodeMs: number;
  computeMs: number;
}

export type AnalysisFailure = { stage: 'decode' | 'analyze'; code: string; message: string; detail: string | null };

export function failureOf(e: unknown): AnalysisFailure {
  if (e instanceof DecodeError) return { stage: 'decode', code: e.code, message: e.message, detail: e.detail ?? null };
  const message = e instanceof Error ? e.message : String(e);
  return { stage: 'analyze', code: 'analysis-failed', message: `Analysis failed: ${message}`, detail: e instanceof Error ? (e.stack ?? null) : null };
}

/**
 * Decode the excerpts a track needs (with one ffmpeg process, see `decodeExcerpts`); `shared` puts them in
 * SharedArrayBuffers, for posting to a worker (see `ExcerptOptions.shared`).
 */
export async function decodeForAnalysis(
  ff: Ffmpeg,
  path: string,
  duration: number | null,
  signal?: AbortSignal,
  shared = false,
): Promise<{ excerpts: Excerpt[]; audio: Float32Array[]; ms: number }> {
  const t0 = performance.now();
  let d = duration;
  if (d === null || !Number.isFinite(d) || d <= 0) d = (await probe(ff, path)).duration;
  const excerpts = planExcerpts(d);
  const audio = await decodeExcerpts(ff, path, excerpts, { sr: SR, signal, shared });
  return { excerpts, audio, ms: performance.now() - t0 };
}

/** Compute built-in representations from decoded excerpts. */
export function computeBuiltins(audio: Float32Array[], reps: readonly string[]): { vectors: Record<string, Float32Array>; ms: number } {
  const t0 = performance.now();
  const vectors: Record<string, Float32Array> = {};
  const fine = reps.includes('mfcc');
  const fronts = audio.map((y) => frontEnd(y, SR, { fine })).filter((f): f is FrontEnd => f !== null);
  if (fronts.length === 0) throw new Error('The audio is too short to analyse (under 0.2 s).');
  for (const name of reps) {
    const rep = BUILTIN_REPRESENTATIONS[name as 'dsp' | 'mfcc'];
    if (!rep) throw new Error(`"${name}" is not a built-in representation`);
    vectors[name] = rep.compute(fronts);
  }
  return { vectors, ms: performance.now() - t0 };
}

export async function analyzeFile(ff: Ffmpeg, path: string, duration: number | null, reps: readonly string[], signal?: AbortSignal): Promise<FileAnalysis> {
  const dec = await decodeForAnalysis(ff, path, duration, signal);
  const { vectors, ms } = computeBuiltins(dec.audio, reps);
  return { vectors, excerpts: dec.excerpts, decodeMs: dec.ms, computeMs: ms };
}

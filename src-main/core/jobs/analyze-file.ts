import { decodableSeconds, decodeExcerpts, DecodeError, probe, SR, type Ffmpeg } from '../audio/decode.js';
import type { ProcessSpawner } from '../audio/spawner.js';
import { oggStreams } from '../library/ogg.js';
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

/** A file whose audio decodes to much less than its header says: analysed on what decodes, and reported. */
export interface Truncation {
  headerSeconds: number;
  decodedSeconds: number;
}

export interface DecodedTrack {
  excerpts: Excerpt[];
  audio: Float32Array[];
  ms: number;
  truncated: Truncation | null;
}

/** Shorter than this share of what was asked for (less half a second), an excerpt means the file ends early. */
const SHORT = 0.9;

/**
 * Decode the excerpts a track needs (with one ffmpeg process, see `decodeExcerpts`); `shared` puts them in
 * SharedArrayBuffers, for posting to a worker (see `ExcerptOptions.shared`); `spawner` starts ffmpeg from a small
 * helper process (see `ProcessSpawner`).
 *
 * Two kinds of file do not hold what their header says. A chained Ogg file (streams one after another) is as
 * long as all its streams, but seeking reaches only the first: its excerpts are reached by decoding from the
 * start. A file cut short (an interrupted copy) has excerpts past its real end come back short or empty: its
 * decodable length is measured (`decodableSeconds`), the excerpts are planned over that, and `truncated` says so.
 */
export async function decodeForAnalysis(
  ff: Ffmpeg,
  path: string,
  duration: number | null,
  signal?: AbortSignal,
  shared = false,
  spawner: ProcessSpawner | null = null,
): Promise<DecodedTrack> {
  const t0 = performance.now();
  let d = duration;
  if (d === null || !Number.isFinite(d) || d <= 0) d = (await probe(ff, path)).duration;
  let decodeFromStart = false;
  if (/\.(ogg|oga|opus)$/i.test(path)) {
    const streams = oggStreams(path);
    if (streams.length > 1) {
      decodeFromStart = true;
      const total = streams.reduce((a, s) => a + (s.seconds ?? 0), 0);
      if (total > 0) d = total;
    }
  }
  let excerpts = planExcerpts(d);
  let audio: Float32Array[] | null = null;
  try {
    audio = await decodeExcerpts(ff, path, excerpts, { sr: SR, signal, shared, decodeFromStart, spawner });
  } catch (e) {
    // An excerpt past the real end of a cut file decodes to nothing: measure what is there before giving up.
    if (!(e instanceof DecodeError) || e.code !== 'corrupt' || d === null) throw e;
  }
  let truncated: Truncation | null = null;
  const short = !audio || excerpts.some((x, i) => audio![i].length < (SHORT * x.duration - 0.5) * SR);
  if (short && d !== null && d > 0) {
    const decoded = await decodableSeconds(ff, path, signal);
    if (decoded <= 0.2) throw new DecodeError('corrupt', `No audio could be decoded from the file (its header says ${d.toFixed(1)} s).`);
    if (decoded < SHORT * d - 0.5) {
      truncated = { headerSeconds: d, decodedSeconds: decoded };
      excerpts = planExcerpts(decoded);
      audio = await decodeExcerpts(ff, path, excerpts, { sr: SR, signal, shared, decodeFromStart, spawner });
    }
  }
  if (!audio) throw new DecodeError('corrupt', 'The file is corrupt or truncated: ffmpeg could not decode it.');
  return { excerpts, audio, ms: performance.now() - t0, truncated };
}

/** The message a truncated file is reported with (the Status view, `earmark errors`, `info`). */
export function truncationMessage(t: Truncation): string {
  return `Truncated: the header says ${t.headerSeconds.toFixed(1)} s but only ${t.decodedSeconds.toFixed(1)} s decode (the file was probably cut short while copying or downloading); analysed on what decodes. Copy it again, then scan.`;
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

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { SpawnerGone, type ProcessSpawner } from './spawner.js';

/** Sample rate of every analysis in Earmark (librosa's default). */
export const SR = 22050;

export type FfmpegSource = 'setting' | 'bundled' | 'path';
export interface Ffmpeg {
  path: string;
  source: FfmpegSource;
  version: string;
}

export type DecodeErrorCode = 'missing' | 'unreadable' | 'empty' | 'not-audio' | 'drm' | 'corrupt' | 'ffmpeg';

/** A per-file decoding failure, with a code the store records and a sentence a person can act on. */
export class DecodeError extends Error {
  constructor(
    readonly code: DecodeErrorCode,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = 'DecodeError';
  }
}

function versionOf(path: string): string | null {
  const r = spawnSync(path, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 || !r.stdout) return null;
  const m = /ffmpeg version (\S+)/.exec(r.stdout);
  return m ? m[1] : 'unknown';
}

function bundledPath(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const mod = require('@ffmpeg-installer/ffmpeg') as { path?: string };
    return mod.path ?? null;
  } catch {
    // The installer throws (a string) when its platform package is absent.
    return null;
  }
}

let cached: Ffmpeg | null = null;
let cachedKey = '';

/**
 * Find ffmpeg: the user's setting first, then the binary inside `@ffmpeg-installer/ffmpeg`, then `ffmpeg` on PATH.
 * A setting that does not run is an error (never silently replaced).
 */
export function resolveFfmpeg(setting?: string | null, o: { skipBundled?: boolean } = {}): Ffmpeg {
  const key = `${setting ?? ''}|${o.skipBundled ? 1 : 0}`;
  if (cached && cachedKey === key) return cached;
  let found: Ffmpeg | null = null;
  if (setting) {
    const v = versionOf(setting);
    if (!v) throw new Error(`The ffmpeg set in settings (${setting}) does not run. Fix the path or clear the setting.`);
    found = { path: setting, source: 'setting', version: v };
  } else {
    const bundled = o.skipBundled ? null : bundledPath();
    const bv = bundled ? versionOf(bundled) : null;
    if (bundled && bv) found = { path: bundled, source: 'bundled', version: bv };
    else {
      const pv = versionOf('ffmpeg');
      if (pv) found = { path: 'ffmpeg', source: 'path', version: pv };
    }
  }
  if (!found) {
    throw new Error(
      'No ffmpeg found: the bundled @ffmpeg-installer/ffmpeg is missing and there is no ffmpeg on PATH. ' +
        'Install ffmpeg (e.g. `apt-get install ffmpeg`) or set its path in settings.',
    );
  }
  cached = found;
  cachedKey = key;
  return found;
}

export interface ExcerptOptions {
  /** Start, in seconds. */
  offset?: number;
  /** Length, in seconds; the rest of the file when omitted. */
  duration?: number;
  sr?: number;
  signal?: AbortSignal;
  /**
   * Put the samples in a SharedArrayBuffer, so they can be posted to a worker thread without a copy and without
   * a transfer: transferring detaches the buffer, and a thread that ever detached one runs every typed-array loop
   * more slowly from then on (V8 stops assuming no buffer is detached).
   */
  shared?: boolean;
  /**
   * Start ffmpeg from this helper process rather than from this one (see `ProcessSpawner`: cheaper when this
   * process is big); started here when absent, null, or gone.
   */
  spawner?: ProcessSpawner | null;
  /**
   * Reach each excerpt by decoding from the start and discarding (ffmpeg's output-side `-ss`) instead of seeking
   * in the input: for files whose later parts seeking cannot reach, such as chained Ogg streams. Slower.
   */
  decodeFromStart?: boolean;
}

function checkReadable(file: string): void {
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new DecodeError('not-audio', 'Not a regular file.');
    size = st.size;
  } catch (e) {
    if (e instanceof DecodeError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DecodeError('missing', 'The file no longer exists.');
    throw new DecodeError('unreadable', `The file cannot be read (${code ?? String(e)}).`);
  }
  if (size === 0) throw new DecodeError('empty', 'The file is empty (0 bytes).');
  try {
    accessSync(file, constants.R_OK);
  } catch {
    throw new DecodeError('unreadable', 'Permission denied: the file is not readable.');
  }
}

const DRM_MARKERS = [
  Buffer.from('enca'), // MP4 encrypted audio sample entry (CENC, FairPlay)
  Buffer.from('sinf'), // MP4 protection scheme information
  Buffer.from('drms'), // iTunes FairPlay (.m4p)
  // ASF Content Encryption Object {2211B3FB-BD23-11D2-B4B7-00C04FB3A7E0}
  Buffer.from([0xfb, 0xb3, 0x11, 0x22, 0x23, 0xbd, 0xd2, 0x11, 0xb4, 0xb7, 0x00, 0xc0, 0x4f, 0xb3, 0xa7, 0xe0]),
];

/** Whether a file's container declares encryption (looked for in its first and last 2 MiB). */
export function looksDrmProtected(file: string): boolean {
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    const size = statSync(file).size;
    const span = Math.min(size, 2 * 1024 * 1024);
    const parts = [0, Math.max(0, size - span)].map((pos) => {
      const b = Buffer.alloc(span);
      const n = readSync(fd as number, b, 0, span, pos);
      return b.subarray(0, n);
    });
    return parts.some((b) => DRM_MARKERS.some((m) => b.includes(m)));
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Turn ffmpeg's complaint into a per-file error a person understands. */
export function classifyFfmpegError(stderr: string): DecodeError {
  const s = stderr.toLowerCase();
  const detail = stderr.trim().split('\n').slice(-3).join(' | ');
  if (/drm|encrypted|encryption|cenc|protected/.test(s)) {
    return new DecodeError('drm', 'The audio is DRM-protected (encrypted) and cannot be decoded.', detail);
  }
  if (/matches no streams|does not contain any stream|no audio stream|output file #0 does not contain|cannot determine format of input stream/.test(s)) {
    return new DecodeError('not-audio', 'The file has no audio stream.', detail);
  }
  if (/invalid data found|could not find codec parameters|header missing|moov atom not found|end of file|truncat|invalid argument|unknown format|error while decoding|failed to read/.test(s)) {
    return new DecodeError('corrupt', 'The file is corrupt or truncated: ffmpeg could not decode it.', detail);
  }
  return new DecodeError('ffmpeg', `ffmpeg failed: ${detail || 'no message'}`, detail);
}

/**
 * Decode `[offset, offset + duration)` of a file to float32 mono at `sr` (22050 by default) with ffmpeg,
 * downmixing by averaging channels and resampling with soxr where the build has it (as librosa does).
 */
export async function decodeExcerpt(ff: Ffmpeg, file: string, o: ExcerptOptions = {}): Promise<Float32Array> {
  return (await decodeExcerpts(ff, file, [{ offset: o.offset, duration: o.duration }], o))[0];
}

/** One excerpt of a file: start and length in seconds (from the start, to the end, when omitted). */
export interface Span {
  offset?: number;
  duration?: number;
}

/**
 * Decode several excerpts of one file, as `decodeExcerpt` does each, with one ffmpeg process: one input per
 * excerpt (seeking as a separate process would) and one output per input, each on its own pipe. The samples are
 * the same as separate processes give (tested); ffmpeg's CPU is the same too, but each process start forks this
 * process, which costs more the bigger it is (its page tables are copied: ~8 ms at 140 MB, ~12 ms at 260 MB, here),
 * blocking its event loop all the while. On Windows, where ffmpeg may not see extra pipes, one process per excerpt.
 */
export async function decodeExcerpts(ff: Ffmpeg, file: string, spans: readonly Span[], o: Omit<ExcerptOptions, 'offset' | 'duration'> = {}): Promise<Float32Array[]> {
  if (spans.length === 0) return [];
  checkReadable(file);
  if (spans.length > 1 && process.platform === 'win32') return Promise.all(spans.map((s) => runFfmpeg(ff, file, [s], o).then((r) => r[0])));
  return runFfmpeg(ff, file, spans, o);
}

function runFfmpeg(ff: Ffmpeg, file: string, spans: readonly Span[], o: Omit<ExcerptOptions, 'offset' | 'duration'>): Promise<Float32Array[]> {
  const sr = o.sr ?? SR;
  const args = ['-nostdin', '-hide_banner', '-loglevel', 'error'];
  const window = (span: Span) => [
    ...(span.offset && span.offset > 0 ? ['-ss', span.offset.toFixed(3)] : []),
    ...(span.duration !== undefined ? ['-t', span.duration.toFixed(3)] : []),
  ];
  for (const span of spans) {
    if (!o.decodeFromStart) args.push(...window(span));
    args.push('-i', file);
  }
  // Output i goes to file descriptor 1 (stdout) for the first, 3, 4, … for the others (2 is stderr).
  const fds = spans.map((_, i) => (i === 0 ? 1 : i + 2));
  spans.forEach((span, i) => {
    if (o.decodeFromStart) args.push(...window(span));
    args.push('-map', `${i}:a:0`, '-vn', '-ac', '1');
    if (hasSoxr(ff)) args.push('-af', `aresample=${sr}:resampler=soxr`);
    args.push('-ar', String(sr), '-f', 'f32le', '-acodec', 'pcm_f32le', `pipe:${fds[i]}`);
  });
  const finish = (code: number | null, stderr: string, chunks: Buffer[][], bytes: number[]): Float32Array[] => {
    const counts = bytes.map((b) => Math.floor(b / 4));
    const empty = counts.some((n) => n === 0);
    if ((code !== 0 || empty) && looksDrmProtected(file)) {
      throw new DecodeError('drm', 'The audio is DRM-protected (encrypted) and cannot be decoded.', stderr.trim().split('\n').slice(-2).join(' | '));
    }
    if (code !== 0) throw classifyFfmpegError(stderr);
    if (empty) {
      throw stderr.trim() ? classifyFfmpegError(stderr) : new DecodeError('corrupt', 'No audio could be decoded from the file (it may be truncated or empty).');
    }
    return counts.map((n, i) => assemble(chunks[i], n, o.shared === true));
  };
  const spawner = o.spawner;
  if (spawner?.alive) {
    return spawner.run(ff.path, args, spans.length, o.signal).then(
      (r) => finish(r.code, r.stderr, r.chunks, r.bytes),
      (e: unknown) => {
        // The helper is gone: start ffmpeg here, as without it.
        if (e instanceof SpawnerGone) return runFfmpeg(ff, file, spans, { ...o, spawner: null });
        if ((e as NodeJS.ErrnoException).code === 'ABORT_ERR') throw e;
        throw new DecodeError('ffmpeg', `Could not run ffmpeg (${ff.path}): ${(e as Error).message}`);
      },
    );
  }
  return new Promise((resolve, reject) => {
    const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'pipe', 'pipe', ...spans.slice(1).map(() => 'pipe' as const)];
    const child = spawn(ff.path, args, { stdio, signal: o.signal });
    const chunks: Buffer[][] = spans.map(() => []);
    const bytes = spans.map(() => 0);
    fds.forEach((fd, i) => {
      (child.stdio[fd] as NodeJS.ReadableStream).on('data', (c: Buffer) => {
        chunks[i].push(c);
        bytes[i] += c.length;
      });
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => {
      if (stderr.length < 64_000) stderr += c;
    });
    child.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code === 'ABORT_ERR') reject(e);
      else reject(new DecodeError('ffmpeg', `Could not run ffmpeg (${ff.path}): ${e.message}`));
    });
    child.on('close', (code) => {
      try {
        resolve(finish(code, stderr, chunks, bytes));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/**
 * How many seconds of a file's first audio stream actually decode, by decoding all of it (to 1 kHz, 8-bit mono,
 * 3.6 MB an hour, and counting): for a file whose header promises more than is there (cut short while copying).
 * Decoding errors past the last good frame end the count, they do not fail it.
 */
export function decodableSeconds(ff: Ffmpeg, file: string, signal?: AbortSignal): Promise<number> {
  checkReadable(file);
  return new Promise((resolve, reject) => {
    const child = spawn(ff.path, ['-nostdin', '-hide_banner', '-loglevel', 'error', '-i', file, '-map', '0:a:0', '-vn', '-ac', '1', '-ar', '1000', '-f', 'u8', '-acodec', 'pcm_u8', 'pipe:1'], {
      stdio: ['ignore', 'pipe', 'ignore'],
      signal,
    });
    let bytes = 0;
    child.stdout.on('data', (c: Buffer) => (bytes += c.length));
    child.on('error', (e) => reject((e as NodeJS.ErrnoException).code === 'ABORT_ERR' ? e : new DecodeError('ffmpeg', `Could not run ffmpeg (${ff.path}): ${e.message}`)));
    child.on('close', () => resolve(bytes / 1000));
  });
}

/** One copy, chunk by chunk, into an aligned buffer (a chunk may sit at an odd offset of Node's pool). */
function assemble(chunks: readonly Buffer[], n: number, shared: boolean): Float32Array {
  const out = shared ? new Float32Array(new SharedArrayBuffer(4 * n)) : new Float32Array(n);
  const bytesOut = new Uint8Array(out.buffer);
  let at = 0;
  for (const c of chunks) {
    if (at >= bytesOut.length) break;
    const take = Math.min(c.length, bytesOut.length - at);
    bytesOut.set(take === c.length ? c : c.subarray(0, take), at);
    at += take;
  }
  return out;
}

const soxrCache = new Map<string, boolean>();
function hasSoxr(ff: Ffmpeg): boolean {
  let v = soxrCache.get(ff.path);
  if (v === undefined) {
    const r = spawnSync(ff.path, ['-hide_banner', '-buildconf'], { encoding: 'utf8', timeout: 10_000 });
    v = /--enable-libsoxr/.test(r.stdout ?? '');
    soxrCache.set(ff.path, v);
  }
  return v;
}

export interface Probe {
  duration: number | null;
  codec: string | null;
  sampleRate: number | null;
  channels: number | null;
}

/** What ffmpeg says of a file's first audio stream (used when tags carry no duration). */
export function probe(ff: Ffmpeg, file: string): Promise<Probe> {
  checkReadable(file);
  return new Promise((resolve, reject) => {
    const child = spawn(ff.path, ['-nostdin', '-hide_banner', '-i', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('close', () => {
      const audio = /Stream #\d+:\d+.*?: Audio: (\w+).*?, (\d+) Hz, ([^,]+)/.exec(err);
      if (!audio) {
        reject(classifyFfmpegError(err.includes('Invalid data') ? err : `${err}\nno audio stream`));
        return;
      }
      const d = /Duration: (\d+):(\d+):(\d+(?:\.\d+)?)/.exec(err);
      const channels = audio[3].trim() === 'mono' ? 1 : audio[3].trim() === 'stereo' ? 2 : Number.parseInt(audio[3], 10) || null;
      resolve({
        duration: d ? Number(d[1]) * 3600 + Number(d[2]) * 60 + Number(d[3]) : null,
        codec: audio[1],
        sampleRate: Number(audio[2]),
        channels,
      });
    });
  });
}

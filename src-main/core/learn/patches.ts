import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { melspectrogram, powerToDb } from '../audio/features.js';
import type { Random } from '../util/random.js';

/**
 * Log-mel input for the encoders, as each paper cuts it:
 * - `mtdtl` (seed 001 §3.1.1–3.1.2): 1024/256 STFT, 128 mel, 2.5 s crops = 216 frames;
 * - `agf` (seed 000 §3.2.1): 1024/512 STFT, 128 mel, 1 s crops = 43 frames;
 * - `dpnn` (seed 004 §IV-A2): 2048/1024 STFT, 80 mel from 16 to 11,000 Hz, 6 s crops = 130 frames.
 * A track's log-mel is computed once from the excerpts analysis plans and kept in a disk cache whose size is
 * bounded (least recently used first out); crops are drawn from it at random for every training step and
 * never straddle two excerpts.
 */
export interface PatchSpec {
  name: 'mtdtl' | 'agf' | 'dpnn';
  sr: number;
  nFft: number;
  hopLength: number;
  nMels: number;
  fmin: number;
  fmax: number;
  /** Frames per patch. */
  frames: number;
}

export const PATCH_SPECS: Record<PatchSpec['name'], PatchSpec> = {
  mtdtl: { name: 'mtdtl', sr: 22050, nFft: 1024, hopLength: 256, nMels: 128, fmin: 0, fmax: 11025, frames: 216 },
  agf: { name: 'agf', sr: 22050, nFft: 1024, hopLength: 512, nMels: 128, fmin: 0, fmax: 11025, frames: 43 },
  dpnn: { name: 'dpnn', sr: 22050, nFft: 2048, hopLength: 1024, nMels: 80, fmin: 16, fmax: 11000, frames: 130 },
};

/** One track's log-mel, one matrix per excerpt, each `[nFrames, nMels]` time-major (rows are frames). */
export interface LogMel {
  nMels: number;
  segments: Float32Array[];
}

/** `10·log10(mel power)` of each excerpt, time-major `[nFrames, nMels]` (librosa's power_to_db, top_db 80). */
export function logMelOf(audio: readonly Float32Array[], spec: PatchSpec): LogMel {
  const segments = audio.map((y) => {
    const m = powerToDb(melspectrogram(y, { sr: spec.sr, nFft: spec.nFft, hopLength: spec.hopLength, nMels: spec.nMels, fmin: spec.fmin, fmax: spec.fmax }));
    // [nMels, nFrames] → [nFrames, nMels]
    const out = new Float32Array(m.rows * m.cols);
    for (let b = 0; b < m.rows; b++) for (let t = 0; t < m.cols; t++) out[t * m.rows + b] = m.data[b * m.cols + t];
    return out;
  });
  return { nMels: spec.nMels, segments };
}

export function frameCount(lm: LogMel): number {
  return lm.segments.reduce((n, s) => n + s.length / lm.nMels, 0);
}

/**
 * A random crop of `frames` frames `[frames, nMels]` from one excerpt (chosen in proportion to its length); an
 * excerpt shorter than the patch is repeated (tiled) to fill it.
 */
export function randomCrop(lm: LogMel, frames: number, rng: Random): Float32Array {
  const lengths = lm.segments.map((s) => s.length / lm.nMels);
  const total = lengths.reduce((a, b) => a + b, 0);
  if (total === 0) throw new Error('randomCrop: the track has no frames');
  let pick = rng.next() * total;
  let seg = 0;
  while (seg < lengths.length - 1 && pick >= lengths[seg]) pick -= lengths[seg++];
  return cropAt(lm, seg, lengths[seg] > frames ? Math.floor(rng.next() * (lengths[seg] - frames + 1)) : 0, frames);
}

/** The crop of excerpt `seg` starting at frame `start` (tiled when the excerpt is shorter). */
export function cropAt(lm: LogMel, seg: number, start: number, frames: number): Float32Array {
  const s = lm.segments[seg];
  const n = s.length / lm.nMels;
  const out = new Float32Array(frames * lm.nMels);
  if (n >= start + frames) {
    out.set(s.subarray(start * lm.nMels, (start + frames) * lm.nMels));
    return out;
  }
  for (let t = 0; t < frames; t++) out.set(s.subarray(((start + t) % n) * lm.nMels, (((start + t) % n) + 1) * lm.nMels), t * lm.nMels);
  return out;
}

/** Consecutive non-overlapping crops covering every excerpt (at least one per excerpt): for embedding a track. */
export function slices(lm: LogMel, frames: number): Float32Array[] {
  const out: Float32Array[] = [];
  lm.segments.forEach((s, seg) => {
    const n = s.length / lm.nMels;
    const count = Math.max(1, Math.floor(n / frames));
    for (let i = 0; i < count; i++) out.push(cropAt(lm, seg, i * frames, frames));
  });
  return out;
}

/** Per-band mean and standard deviation over tracks' log-mels (the training statistics kept with a model). */
/** Per-band mean and standard deviation accumulated track by track (so the tracks need not all be in memory). */
export class BandAccumulator {
  private readonly sum: Float64Array;
  private readonly sq: Float64Array;
  private n = 0;

  constructor(readonly nMels: number) {
    this.sum = new Float64Array(nMels);
    this.sq = new Float64Array(nMels);
  }

  add(lm: LogMel): void {
    const { nMels, sum, sq } = this;
    for (const s of lm.segments) {
      for (let i = 0; i < s.length; i += nMels) {
        for (let b = 0; b < nMels; b++) {
          sum[b] += s[i + b];
          sq[b] += s[i + b] * s[i + b];
        }
        this.n++;
      }
    }
  }

  result(): { mean: Float32Array; std: Float32Array } {
    const n = this.n;
    if (n === 0) throw new Error('bandStatistics: no frames');
    const mean = Float32Array.from(this.sum, (v) => v / n);
    const std = Float32Array.from(this.sq, (v, b) => Math.sqrt(Math.max(1e-8, v / n - mean[b] * mean[b])));
    return { mean, std };
  }
}

export function bandStatistics(tracks: Iterable<LogMel>, nMels: number): { mean: Float32Array; std: Float32Array } {
  const acc = new BandAccumulator(nMels);
  for (const lm of tracks) acc.add(lm);
  return acc.result();
}

/**
 * Where training gets a track's log-mel: a plain `Map` (small sets, tests) or a store that keeps a bounded
 * part in memory and reads (or recomputes) the rest on demand.
 */
export interface LogMelSource {
  has(id: number): boolean;
  get(id: number): LogMel | undefined | Promise<LogMel | undefined>;
}

/** Standardise a `[frames, nMels]` patch in place with per-band statistics. */
export function standardise(patch: Float32Array, mean: Float32Array, std: Float32Array): Float32Array {
  const nMels = mean.length;
  for (let i = 0; i < patch.length; i++) {
    const b = i % nMels;
    patch[i] = (patch[i] - mean[b]) / std[b];
  }
  return patch;
}

const MAGIC = 'EMLC1';
/** dB values are stored as int16 hundredths of a dB (±327 dB, 0.005 dB resolution). */
const SCALE = 100;

export interface CacheInfo {
  dir: string;
  files: number;
  bytes: number;
  maxBytes: number;
}

/**
 * A disk cache of log-mels, one file per (spec, content hash): written atomically, read back exactly (to 0.005
 * dB), evicted least-recently-used first when the total passes `maxBytes`. Safe to delete at any time.
 */
export class LogMelCache {
  private readonly entries = new Map<string, { bytes: number; used: number }>();
  private total = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (f.endsWith('.tmp')) {
        rmSync(p, { force: true });
        continue;
      }
      if (!f.endsWith('.lmc')) continue;
      const st = statSync(p);
      this.entries.set(f, { bytes: st.size, used: st.mtimeMs });
      this.total += st.size;
    }
  }

  private file(spec: PatchSpec, hash: string): string {
    if (!/^[A-Za-z0-9_-]+$/.test(hash)) throw new Error(`LogMelCache: bad content hash ${JSON.stringify(hash)}`);
    return `${spec.name}-${hash}.lmc`;
  }

  info(): CacheInfo {
    return { dir: this.dir, files: this.entries.size, bytes: this.total, maxBytes: this.maxBytes };
  }

  get(spec: PatchSpec, hash: string): LogMel | null {
    const f = this.file(spec, hash);
    const e = this.entries.get(f);
    if (!e) return null;
    const p = join(this.dir, f);
    let buf: Buffer;
    try {
      buf = readFileSync(p);
    } catch {
      this.drop(f);
      return null;
    }
    const lm = decode(buf, spec);
    if (!lm) {
      this.drop(f);
      rmSync(p, { force: true });
      return null;
    }
    const now = Date.now();
    e.used = now;
    try {
      utimesSync(p, now / 1000, now / 1000);
    } catch {
      // A read-only cache still serves.
    }
    return lm;
  }

  put(spec: PatchSpec, hash: string, lm: LogMel): void {
    const f = this.file(spec, hash);
    const buf = encode(lm);
    if (buf.length > this.maxBytes) return; // larger than the whole cache: not kept
    const p = join(this.dir, f);
    const tmp = `${p}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, buf);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, p);
    this.drop(f);
    this.entries.set(f, { bytes: buf.length, used: Date.now() });
    this.total += buf.length;
    this.evict();
  }

  /** The cached log-mel, or compute it with `load` and keep it. */
  async getOrCompute(spec: PatchSpec, hash: string, load: () => Promise<readonly Float32Array[]>): Promise<LogMel> {
    const hit = this.get(spec, hash);
    if (hit) return hit;
    const lm = logMelOf(await load(), spec);
    this.put(spec, hash, lm);
    return lm;
  }

  private drop(f: string): void {
    const e = this.entries.get(f);
    if (!e) return;
    this.total -= e.bytes;
    this.entries.delete(f);
  }

  private evict(): void {
    if (this.total <= this.maxBytes) return;
    const byAge = [...this.entries].sort((a, b) => a[1].used - b[1].used);
    for (const [f] of byAge) {
      if (this.total <= this.maxBytes) break;
      rmSync(join(this.dir, f), { force: true });
      this.drop(f);
    }
  }

  clear(): void {
    for (const f of this.entries.keys()) rmSync(join(this.dir, f), { force: true });
    this.entries.clear();
    this.total = 0;
  }
}

function encode(lm: LogMel): Buffer {
  const header = Buffer.from(JSON.stringify({ nMels: lm.nMels, lengths: lm.segments.map((s) => s.length) }));
  const values = lm.segments.reduce((n, s) => n + s.length, 0);
  const buf = Buffer.alloc(MAGIC.length + 4 + header.length + values * 2);
  buf.write(MAGIC, 0, 'ascii');
  buf.writeUInt32LE(header.length, MAGIC.length);
  header.copy(buf, MAGIC.length + 4);
  let at = MAGIC.length + 4 + header.length;
  for (const s of lm.segments) {
    for (let i = 0; i < s.length; i++, at += 2) buf.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(s[i] * SCALE))), at);
  }
  return buf;
}

function decode(buf: Buffer, spec: PatchSpec): LogMel | null {
  try {
    if (buf.toString('ascii', 0, MAGIC.length) !== MAGIC) return null;
    const hl = buf.readUInt32LE(MAGIC.length);
    const header = JSON.parse(buf.toString('utf8', MAGIC.length + 4, MAGIC.length + 4 + hl)) as { nMels: number; lengths: number[] };
    if (header.nMels !== spec.nMels) return null;
    let at = MAGIC.length + 4 + hl;
    const segments = header.lengths.map((len) => {
      const s = new Float32Array(len);
      for (let i = 0; i < len; i++, at += 2) s[i] = buf.readInt16LE(at) / SCALE;
      return s;
    });
    if (at !== buf.length) return null;
    return { nMels: header.nMels, segments };
  } catch {
    return null;
  }
}

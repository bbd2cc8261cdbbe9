import { createHash } from 'node:crypto';
import { createDelta } from 'fossil-delta';

/**
 * Binary deltas between a file before and after a tag write, so undo can give back the original bytes. The
 * delta format and its encoder are Fossil SCM's (`fossil-delta`, D. Richard Hipp's algorithm, ported by
 * Dmitry Chestnykh): copy runs from the source and literal inserts, with base-64 integers. A tag write keeps
 * the audio bytes and rewrites the tag region, so the delta holds that region plus a few bytes per copied run.
 *
 * The decoder here writes into one buffer of the target's size: `fossil-delta`'s own `applyDelta` appends
 * byte by byte to a JavaScript array (about 28 bytes of memory per byte of a 30 MB file).
 */

/** Files larger than this keep no delta (undo restores their values instead). */
export const DELTA_MAX_FILE = 512 * 1024 * 1024;
/** A delta larger than this is not kept (undo restores values): the journal holds at most this per file. */
export const DELTA_MAX_BYTES = 16 * 1024 * 1024;

/** SHA-256 (hex) of a whole buffer: what undo checks before and after restoring bytes. */
export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The delta that turns `from` into `to` (Fossil format). */
export function byteDelta(from: Uint8Array, to: Uint8Array): Uint8Array {
  return createDelta(from, to);
}

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~';
const VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < DIGITS.length; i++) VALUE[DIGITS.charCodeAt(i)] = i;

/**
 * Apply a Fossil delta to `from`, returning the target bytes. Throws on a malformed delta, a copy outside `from`,
 * or a target whose size is not the one the delta states. Check the result's `sha256` against the one recorded.
 */
export function applyByteDelta(from: Uint8Array, delta: Uint8Array): Buffer {
  let pos = 0;
  const getInt = (): number => {
    let v = 0;
    let n = 0;
    while (pos < delta.length) {
      const c = delta[pos];
      const d = c < 128 ? VALUE[c] : -1;
      if (d < 0) break;
      v = v * 64 + d;
      pos++;
      n++;
    }
    if (n === 0) throw new Error('malformed delta: number expected');
    return v;
  };
  const char = (): string => (pos < delta.length ? String.fromCharCode(delta[pos++]) : '');
  const size = getInt();
  if (char() !== '\n') throw new Error('malformed delta: size not terminated');
  const out = Buffer.alloc(size);
  let at = 0;
  while (pos < delta.length) {
    const cnt = getInt();
    const op = char();
    if (op === '@') {
      const ofs = getInt();
      if (char() !== ',') throw new Error('malformed delta: copy not terminated');
      if (at + cnt > size) throw new Error('malformed delta: copy past the end of the target');
      if (ofs + cnt > from.length) throw new Error('delta does not fit this file: copy past the end of the source');
      out.set(from.subarray(ofs, ofs + cnt), at);
      at += cnt;
    } else if (op === ':') {
      if (at + cnt > size || pos + cnt > delta.length) throw new Error('malformed delta: insert past the end');
      out.set(delta.subarray(pos, pos + cnt), at);
      at += cnt;
      pos += cnt;
    } else if (op === ';') {
      // The trailing number is Fossil's checksum of the target; callers compare the target's SHA-256 instead.
      if (at !== size) throw new Error(`delta target is ${at} bytes, ${size} expected`);
      return out;
    } else throw new Error(`malformed delta: unknown operator ${JSON.stringify(op)}`);
  }
  throw new Error('malformed delta: not terminated');
}

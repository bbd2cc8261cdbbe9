import { randomBytes } from 'node:crypto';
import { applyDelta } from 'fossil-delta';
import { describe, expect, it } from 'vitest';
import { applyByteDelta, byteDelta, sha256 } from './byte-delta.js';

describe('byte deltas for exact undo', () => {
  it('gives back the original bytes of a file whose tag region grew, shrank or moved, as fossil-delta does', () => {
    const audio = randomBytes(300_000);
    const original = Buffer.concat([Buffer.from('ID3 old tag'), Buffer.alloc(200), audio, Buffer.from('TAG old v1')]);
    for (const written of [
      Buffer.concat([Buffer.from('ID3 a much longer new tag with more frames'), Buffer.alloc(900), audio, Buffer.from('TAG new v1')]),
      Buffer.concat([Buffer.from('ID3'), audio]),
      Buffer.concat([audio, Buffer.from('moov moved to the end')]),
      Buffer.alloc(0),
    ]) {
      const d = byteDelta(written, original);
      const back = applyByteDelta(written, d);
      expect(sha256(back)).toBe(sha256(original));
      expect(Buffer.from(applyDelta(written, d)).equals(back)).toBe(true);
      if (written.length > 1000) expect(d.length).toBeLessThan(2000);
    }
  });
  it('refuses a delta that does not fit the file', () => {
    const a = randomBytes(10_000);
    const b = Buffer.concat([Buffer.from('x'), a]);
    const d = byteDelta(b, a);
    expect(() => applyByteDelta(b.subarray(0, 5000), d)).toThrow(/does not fit|past the end/);
    expect(() => applyByteDelta(b, Buffer.from('garbage'))).toThrow(/malformed/);
  });
});

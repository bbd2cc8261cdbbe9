import { closeSync, openSync, readSync } from 'node:fs';

/**
 * The logical streams of an Ogg file, from its page headers (RFC 3533): a chained file (streams one after another,
 * as internet-radio recordings and some rips are) has several, each with its own beginning-of-stream page. Tag
 * readers report the first stream's length and tag writers rewrite the first stream only, so Earmark needs to know.
 */
export interface OggStream {
  serial: number;
  codec: 'vorbis' | 'opus' | 'flac' | 'other';
  /** Sample rate of the granule positions (48 kHz for Opus). */
  rate: number | null;
  /** Length in seconds from the last granule position (Opus pre-skip taken off), or null. */
  seconds: number | null;
}

const PAGE_HEADER = 27;

/**
 * Walk the pages of an Ogg file (reading headers only) and return its logical streams in order. Returns [] for
 * a file that does not start with an Ogg page. Stops quietly at a damaged page (the streams before stand).
 */
export function oggStreams(path: string): OggStream[] {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(PAGE_HEADER + 255);
    type Open = OggStream & { preSkip: number; granule: bigint };
    // The stream a serial number belongs to now (a chained file may reuse a serial after its stream ended).
    const current = new Map<number, Open>();
    const order: Open[] = [];
    let pos = 0;
    for (;;) {
      const n = readSync(fd, head, 0, head.length, pos);
      if (n < PAGE_HEADER || head.toString('latin1', 0, 4) !== 'OggS') break;
      const type = head[5];
      const granule = head.readBigInt64LE(6);
      const serial = head.readUInt32LE(14);
      const segments = head[26];
      if (n < PAGE_HEADER + segments) break;
      let body = 0;
      for (let i = 0; i < segments; i++) body += head[PAGE_HEADER + i];
      const bodyAt = pos + PAGE_HEADER + segments;
      if (type & 0x02) {
        const first = Buffer.alloc(Math.min(body, 64));
        readSync(fd, first, 0, first.length, bodyAt);
        const s = { serial, codec: 'other' as OggStream['codec'], rate: null as number | null, seconds: null, preSkip: 0, granule: -1n };
        if (first.length >= 16 && first[0] === 1 && first.toString('latin1', 1, 7) === 'vorbis') {
          s.codec = 'vorbis';
          s.rate = first.readUInt32LE(12);
        } else if (first.length >= 12 && first.toString('latin1', 0, 8) === 'OpusHead') {
          s.codec = 'opus';
          s.rate = 48000;
          s.preSkip = first.readUInt16LE(10);
        } else if (first.length >= 30 && first.toString('latin1', 1, 5) === 'FLAC') {
          s.codec = 'flac';
          // The STREAMINFO block follows the 13-byte Ogg FLAC header: its sample rate is 20 bits at byte 10.
          s.rate = (first[27] << 12) | (first[28] << 4) | (first[29] >> 4);
        }
        current.set(serial, s);
        order.push(s);
      }
      const s = current.get(serial);
      if (s && granule >= 0n) s.granule = granule;
      pos = bodyAt + body;
    }
    return order.map((s) => {
      const seconds = s.rate && s.granule >= 0n ? Math.max(0, Number(s.granule) - s.preSkip) / s.rate : null;
      return { serial: s.serial, codec: s.codec, rate: s.rate, seconds };
    });
  } finally {
    closeSync(fd);
  }
}

/**
 * Hand-built tag bytes for test files, the way other taggers (and old ones) leave them: ID3v2.2/2.3/2.4 frames,
 * ID3v1, APEv2, MP4 atoms, RIFF chunks. A TypeScript port of `shared/cases/lib` (id3lib.py, mp4lib.py), so the
 * real-world file cases are generated inside the tests.
 */

export const syncsafe = (n: number) => Buffer.from([(n >> 21) & 0x7f, (n >> 14) & 0x7f, (n >> 7) & 0x7f, n & 0x7f]);

/** Text in an ID3 encoding: 0 ISO-8859-1, 1 UTF-16 with BOM, 2 UTF-16BE, 3 UTF-8. */
export function encText(s: string, enc: 0 | 1 | 2 | 3): Buffer {
  if (enc === 0) return Buffer.from(s, 'latin1');
  if (enc === 1) return Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(s, 'utf16le')]);
  if (enc === 2) return Buffer.from(s, 'utf16le').swap16();
  return Buffer.from(s, 'utf8');
}

const nul = (enc: number) => Buffer.alloc(enc === 1 || enc === 2 ? 2 : 1);

/** A text frame body: encoding byte, then the values separated by NUL. */
export function textBody(values: string | string[], enc: 0 | 1 | 2 | 3 = 3): Buffer {
  const list = typeof values === 'string' ? [values] : values;
  const parts: Buffer[] = [Buffer.from([enc])];
  list.forEach((v, i) => {
    if (i) parts.push(nul(enc));
    parts.push(encText(v, enc));
  });
  return Buffer.concat(parts);
}

export function txxxBody(description: string, values: string | string[], enc: 0 | 1 | 2 | 3 = 3): Buffer {
  const list = typeof values === 'string' ? [values] : values;
  return Buffer.concat([Buffer.from([enc]), encText(description, enc), nul(enc), ...list.flatMap((v, i) => (i ? [nul(enc), encText(v, enc)] : [encText(v, enc)]))]);
}

export function frame(id: string, body: Buffer, version: 2 | 3 | 4): Buffer {
  if (version === 2) {
    const size = Buffer.alloc(4);
    size.writeUInt32BE(body.length);
    return Buffer.concat([Buffer.from(id, 'latin1'), size.subarray(1), body]);
  }
  const size = version === 4 ? syncsafe(body.length) : Buffer.alloc(4);
  if (version === 3) size.writeUInt32BE(body.length);
  return Buffer.concat([Buffer.from(id, 'latin1'), size, Buffer.from([0, 0]), body]);
}

/** A whole ID3v2 tag. `unsync` applies tag-level unsynchronisation (and sets its flag). */
export function id3Tag(version: 2 | 3 | 4, frames: Buffer[], o: { padding?: number; unsync?: boolean; extHeader?: Buffer } = {}): Buffer {
  let body = Buffer.concat([o.extHeader ?? Buffer.alloc(0), ...frames, Buffer.alloc(o.padding ?? 0)]);
  let flags = o.extHeader ? 0x40 : 0;
  if (o.unsync) {
    const out: number[] = [];
    for (let i = 0; i < body.length; i++) {
      out.push(body[i]);
      if (body[i] === 0xff && (i + 1 === body.length || body[i + 1] === 0 || body[i + 1] >= 0xe0)) out.push(0);
    }
    body = Buffer.from(out);
    flags |= 0x80;
  }
  return Buffer.concat([Buffer.from('ID3', 'latin1'), Buffer.from([version, 0, flags]), syncsafe(body.length), body]);
}

/** A 128-byte ID3v1.1 tag. */
export function id3v1(o: { title?: string; artist?: string; album?: string; year?: string; track?: number; genre?: number }): Buffer {
  const f = (s: string | undefined, n: number) => {
    const b = Buffer.alloc(n);
    Buffer.from(s ?? '', 'latin1').copy(b, 0, 0, n);
    return b;
  };
  const comment = o.track ? Buffer.concat([f('', 28), Buffer.from([0, o.track])]) : f('', 30);
  return Buffer.concat([Buffer.from('TAG', 'latin1'), f(o.title, 30), f(o.artist, 30), f(o.album, 30), f(o.year, 4), comment, Buffer.from([o.genre ?? 255])]);
}

/** An APEv2 tag with header and footer; items are UTF-8 text. */
export function apev2(items: Array<[string, string]>): Buffer {
  const body = Buffer.concat(
    items.map(([k, v]) => {
      const vb = Buffer.from(v, 'utf8');
      const head = Buffer.alloc(8);
      head.writeUInt32LE(vb.length, 0);
      return Buffer.concat([head, Buffer.from(k, 'ascii'), Buffer.from([0]), vb]);
    }),
  );
  const size = body.length + 32;
  const hf = (header: boolean) => {
    const b = Buffer.alloc(32);
    b.write('APETAGEX', 0, 'latin1');
    b.writeUInt32LE(2000, 8);
    b.writeUInt32LE(size, 12);
    b.writeUInt32LE(items.length, 16);
    b.writeUInt32LE(header ? 0xa0000000 : 0x80000000, 20);
    return b;
  };
  return Buffer.concat([hf(true), body, hf(false)]);
}

// ── MP4 ──

export interface Atom {
  type: string;
  pos: number;
  size: number;
  header: number;
}

export function atoms(buf: Buffer, start = 0, end = buf.length): Atom[] {
  const out: Atom[] = [];
  let pos = start;
  while (pos + 8 <= end) {
    let size = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    let header = 8;
    if (size === 1) {
      size = Number(buf.readBigUInt64BE(pos + 8));
      header = 16;
    } else if (size === 0) size = end - pos;
    out.push({ type, pos, size, header });
    pos += size;
  }
  return out;
}

export function box(type: string, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(8 + payload.length);
  h.write(type, 4, 'latin1');
  return Buffer.concat([h, payload]);
}

export function dataBox(typeCode: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(typeCode);
  return box('data', Buffer.concat([h, payload]));
}

export function freeform(mean: string, name: string, value: string): Buffer {
  return box('----', Buffer.concat([box('mean', Buffer.concat([Buffer.alloc(4), Buffer.from(mean)])), box('name', Buffer.concat([Buffer.alloc(4), Buffer.from(name)])), dataBox(1, Buffer.from(value, 'utf8'))]));
}

/**
 * Rebuild moov/udta/meta/ilst with `fn(children)`; when moov comes before mdat, every chunk offset (stco/co64)
 * moves by the size change, as a careful tagger does.
 */
export function rewriteIlst(buf: Buffer, fn: (kids: Array<{ type: string; raw: Buffer }>) => Buffer[]): Buffer {
  const top = atoms(buf);
  const moov = top.find((a) => a.type === 'moov');
  const mdat = top.find((a) => a.type === 'mdat');
  if (!moov || !mdat) throw new Error('no moov/mdat');
  const rebuild = (a: Atom): Buffer => {
    const start = a.pos + a.header;
    const end = a.pos + a.size;
    if (a.type === 'meta') return box('meta', Buffer.concat([buf.subarray(start, start + 4), ...atoms(buf, start + 4, end).map(rebuild)]));
    if (a.type === 'ilst') return box('ilst', Buffer.concat(fn(atoms(buf, start, end).map((k) => ({ type: k.type, raw: buf.subarray(k.pos, k.pos + k.size) })))));
    if (a.type === 'moov' || a.type === 'udta') return box(a.type, Buffer.concat(atoms(buf, start, end).map(rebuild)));
    return buf.subarray(a.pos, a.pos + a.size);
  };
  const fresh = Buffer.from(rebuild(moov));
  const delta = fresh.length - moov.size;
  if (delta && moov.pos < mdat.pos) {
    const patch = (start: number, end: number) => {
      for (const a of atoms(fresh, start, end)) {
        if (['trak', 'mdia', 'minf', 'stbl'].includes(a.type)) patch(a.pos + a.header, a.pos + a.size);
        else if (a.type === 'stco') {
          const n = fresh.readUInt32BE(a.pos + 12);
          for (let i = 0; i < n; i++) fresh.writeUInt32BE(fresh.readUInt32BE(a.pos + 16 + 4 * i) + delta, a.pos + 16 + 4 * i);
        } else if (a.type === 'co64') {
          const n = fresh.readUInt32BE(a.pos + 12);
          for (let i = 0; i < n; i++) fresh.writeBigUInt64BE(fresh.readBigUInt64BE(a.pos + 16 + 8 * i) + BigInt(delta), a.pos + 16 + 8 * i);
        }
      }
    };
    patch(8, fresh.length);
  }
  return Buffer.concat([buf.subarray(0, moov.pos), fresh, buf.subarray(moov.pos + moov.size)]);
}

/** The ilst children of an MP4 file, wherever its moov is. */
export function ilstItems(buf: Buffer): string[] {
  const find = (start: number, end: number, path: string[]): Atom | null => {
    for (const a of atoms(buf, start, end)) {
      if (a.type !== path[0]) continue;
      if (path.length === 1) return a;
      return find(a.pos + a.header + (a.type === 'meta' ? 4 : 0), a.pos + a.size, path.slice(1));
    }
    return null;
  };
  const ilst = find(0, buf.length, ['moov', 'udta', 'meta', 'ilst']);
  return ilst ? atoms(buf, ilst.pos + ilst.header, ilst.pos + ilst.size).map((a) => a.type) : [];
}

// ── RIFF ──

export function chunk(id: string, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.write(id, 0, 'latin1');
  h.writeUInt32LE(payload.length, 4);
  return Buffer.concat([h, payload, payload.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
}

/** A LIST/INFO chunk from [id, text] pairs (NUL-terminated, as Windows writes them). */
export function infoList(items: Array<[string, string]>): Buffer {
  return chunk('LIST', Buffer.concat([Buffer.from('INFO', 'latin1'), ...items.map(([id, v]) => chunk(id, Buffer.concat([Buffer.from(v, 'latin1'), Buffer.alloc(1)])))]));
}

/** The chunks of a RIFF file, in order. */
export function riffChunks(buf: Buffer): Array<{ id: string; size: number }> {
  const out: Array<{ id: string; size: number }> = [];
  let pos = 12;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('latin1', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    out.push({ id, size });
    pos += 8 + size + (size & 1);
  }
  return out;
}

/** Rebuild a RIFF/WAVE file from its `fmt ` and `data` chunks plus `extra` chunks (before or after data). */
export function wavWith(buf: Buffer, o: { before?: Buffer[]; after?: Buffer[] }): Buffer {
  const kept: Buffer[] = [];
  let pos = 12;
  let fmt: Buffer | null = null;
  let data: Buffer | null = null;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('latin1', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    const whole = buf.subarray(pos, pos + 8 + size + (size & 1));
    if (id === 'fmt ') fmt = whole;
    else if (id === 'data') data = whole;
    pos += 8 + size + (size & 1);
  }
  if (!fmt || !data) throw new Error('not a WAV with fmt and data');
  kept.push(fmt, ...(o.before ?? []), data, ...(o.after ?? []));
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...kept]);
  const h = Buffer.alloc(8);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(body.length, 4);
  return Buffer.concat([h, body]);
}

/** The items of the APEv2 tag before a file's end (or before its ID3v1 tag): key → NUL-separated values. */
export function apeItems(buf: Buffer): Record<string, string[]> {
  let end = buf.length;
  if (end >= 128 && buf.toString('latin1', end - 128, end - 125) === 'TAG') end -= 128;
  const footer = end - 32;
  if (footer < 0 || buf.toString('latin1', footer, footer + 8) !== 'APETAGEX') return {};
  const size = buf.readUInt32LE(footer + 12);
  const count = buf.readUInt32LE(footer + 16);
  let pos = end - size;
  const items: Record<string, string[]> = {};
  for (let i = 0; i < count; i++) {
    const len = buf.readUInt32LE(pos);
    const keyEnd = buf.indexOf(0, pos + 8);
    const key = buf.toString('latin1', pos + 8, keyEnd);
    items[key.toUpperCase()] = buf.toString('utf8', keyEnd + 1, keyEnd + 1 + len).split('\0');
    pos = keyEnd + 1 + len;
  }
  return items;
}

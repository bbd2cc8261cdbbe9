import { readFileSync } from 'node:fs';
import { crc32, inflateRawSync } from 'node:zlib';

/** One file of a zip archive, read. */
export interface ZipFile {
  name: string;
  data: Buffer;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/**
 * Read every file of a zip archive (PKWARE APPNOTE 4.3) by its central directory, stored (method 0) or deflated
 * (8), each checked against the CRC-32 the directory records.
 *
 * Published model zips can carry a wrong extra-field length in their local headers, which makes readers that
 * trust the local header (yauzl, adm-zip, fflate) start the data at the wrong byte. Here the data's start is
 * taken from the local header and, when that does not give data with the directory's CRC-32, from the central
 * directory's extra-field length, then the nearest offset within 64 bytes whose data does: the directory's
 * sizes and CRC decide. Throws an Error naming the archive and the entry when neither is readable.
 */
export function readZip(path: string, o: { maxBytes?: number } = {}): ZipFile[] {
  const buf = readFileSync(path);
  const maxBytes = o.maxBytes ?? 2 * 1024 ** 3;
  // The end-of-central-directory record is within the last 64 KiB + 22 bytes (its comment is at most 65535).
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${path} is not a zip archive (no end-of-central-directory record).`);
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  if (at === 0xffffffff) throw new Error(`${path} is a ZIP64 archive, which Earmark does not read: unzip it and import the folder.`);
  const out: ZipFile[] = [];
  let total = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > buf.length || buf.readUInt32LE(at) !== CENTRAL) throw new Error(`${path}: the central directory is damaged (entry ${n + 1} of ${count}).`);
    const method = buf.readUInt16LE(at + 10);
    const crc = buf.readUInt32LE(at + 16);
    const compressed = buf.readUInt32LE(at + 20);
    const size = buf.readUInt32LE(at + 24);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const flags = buf.readUInt16LE(at + 8);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.toString(flags & 0x800 ? 'utf8' : 'latin1', at + 46, at + 46 + nameLen);
    at += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith('/')) continue;
    if (flags & 0x1) throw new Error(`${path}: "${name}" is encrypted.`);
    if (method !== 0 && method !== 8) throw new Error(`${path}: "${name}" uses compression method ${method}; only stored and deflated files are read.`);
    total += size;
    if (total > maxBytes) throw new Error(`${path} unpacks to more than ${Math.round(maxBytes / 1024 ** 2)} MB.`);
    if (local + 30 > buf.length || buf.readUInt32LE(local) !== LOCAL) throw new Error(`${path}: "${name}" has no local header where the directory says.`);
    const localName = buf.readUInt16LE(local + 26);
    const localExtra = buf.readUInt16LE(local + 28);
    const base = local + 30 + localName;
    const tryAt = (start: number): Buffer | null => {
      if (start < local + 30 || start + compressed > buf.length) return null;
      const raw = buf.subarray(start, start + compressed);
      let data: Buffer;
      try {
        data = method === 0 ? Buffer.from(raw) : inflateRawSync(raw);
      } catch {
        return null;
      }
      return data.length === size && crc32(data) === crc ? data : null;
    };
    const candidates = [base + localExtra, base + extraLen];
    for (let d = 0; d <= 64; d++) candidates.push(base + d);
    let data: Buffer | null = null;
    for (const c of new Set(candidates)) {
      data = tryAt(c);
      if (data) break;
    }
    if (!data) throw new Error(`${path}: "${name}" cannot be read (its data does not match the CRC-32 the archive records).`);
    out.push({ name, data });
  }
  return out;
}

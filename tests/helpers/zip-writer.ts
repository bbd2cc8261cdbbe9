import { crc32, deflateRawSync } from 'node:zlib';

/**
 * Write a zip archive (PKWARE APPNOTE 4.3: local headers, data, central directory, end record) of `files`, deflated
 * or stored; `localExtraSkew` adds that much to every local header's extra-field length without adding the bytes,
 * as some published model zips do.
 */
export function zipBytes(files: Array<{ name: string; data: Buffer }>, o: { deflate?: boolean; localExtraSkew?: number } = {}): Buffer {
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const f of files) {
    const name = Buffer.from(f.name, 'utf8');
    const body = o.deflate === false ? f.data : deflateRawSync(f.data);
    const method = o.deflate === false ? 0 : 8;
    const crc = crc32(f.data);
    // The fields local headers and central-directory entries share, from "version needed" on (offset 4 in a local
    // header, 6 in a central entry): version, flags (UTF-8 names), method, time, date, CRC-32, sizes, name length.
    const shared = (b: Buffer, at: number) => {
      b.writeUInt16LE(20, at);
      b.writeUInt16LE(0x800, at + 2);
      b.writeUInt16LE(method, at + 4);
      b.writeUInt32LE(crc, at + 10);
      b.writeUInt32LE(body.length, at + 14);
      b.writeUInt32LE(f.data.length, at + 18);
      b.writeUInt16LE(name.length, at + 22);
    };
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    shared(local, 4);
    local.writeUInt16LE(o.localExtraSkew ?? 0, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    shared(cd, 6);
    cd.writeUInt32LE(offset, 42);
    parts.push(local, name, body);
    central.push(cd, name);
    offset += local.length + name.length + body.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, cdBytes, end]);
}

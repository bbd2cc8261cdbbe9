import { closeSync, openSync, readSync } from 'node:fs';
import { inflateSync } from 'node:zlib';

/**
 * A small ID3v2 reader for the frames that carry facets (TCON, TMOO, TXXX), so Earmark reads genres the way
 * careful taggers do rather than the way music-metadata does: music-metadata drops a TCON that merely looks
 * numeric ("1990") and resolves ID3v1 references with its own rules. Reference: the ID3v2.2, 2.3 and 2.4
 * specifications (id3.org), TagLib's `TextIdentificationFrame` and `ID3v2::Tag::genre` for TCON.
 *
 * Covers ID3v2.2 (three-letter frames), 2.3 and 2.4: tag-level and frame-level unsynchronisation, extended
 * headers, zlib-compressed frames, the data-length indicator, and the four text encodings (ISO-8859-1, UTF-16
 * with BOM, UTF-16BE, UTF-8), with values separated by NUL in any version (ID3v2.4 specifies it; v2.3 files
 * written by many taggers have it too). Encrypted frames are skipped.
 */

export interface Id3v2Frame {
  /** Frame id as in the tag: "TCON", or "TCO" in ID3v2.2. */
  id: string;
  /** TXXX / TXX: the description (field name); otherwise "". */
  description: string;
  /** Text values, NUL-separated ones split, trailing empty ones dropped. */
  values: string[];
}

export interface Id3v2Tag {
  /** Major version: 2, 3 or 4. */
  version: 2 | 3 | 4;
  /** The text frames. */
  frames: Id3v2Frame[];
  /** Every frame's id, in order (text or not), to check a write kept them. */
  ids: string[];
}

/** The ID3v1 genre list with Winamp's extensions (0–191), as TagLib, ffmpeg and music-metadata resolve "(17)". */
export const ID3V1_GENRES: readonly string[] = [
  'Blues', 'Classic Rock', 'Country', 'Dance', 'Disco', 'Funk', 'Grunge', 'Hip-Hop', 'Jazz', 'Metal', 'New Age', 'Oldies', 'Other', 'Pop',
  'R&B', 'Rap', 'Reggae', 'Rock', 'Techno', 'Industrial', 'Alternative', 'Ska', 'Death Metal', 'Pranks', 'Soundtrack', 'Euro-Techno',
  'Ambient', 'Trip-Hop', 'Vocal', 'Jazz+Funk', 'Fusion', 'Trance', 'Classical', 'Instrumental', 'Acid', 'House', 'Game', 'Sound Clip',
  'Gospel', 'Noise', 'Alternative Rock', 'Bass', 'Soul', 'Punk', 'Space', 'Meditative', 'Instrumental Pop', 'Instrumental Rock', 'Ethnic',
  'Gothic', 'Darkwave', 'Techno-Industrial', 'Electronic', 'Pop-Folk', 'Eurodance', 'Dream', 'Southern Rock', 'Comedy', 'Cult', 'Gangsta',
  'Top 40', 'Christian Rap', 'Pop/Funk', 'Jungle', 'Native American', 'Cabaret', 'New Wave', 'Psychedelic', 'Rave', 'Showtunes', 'Trailer',
  'Lo-Fi', 'Tribal', 'Acid Punk', 'Acid Jazz', 'Polka', 'Retro', 'Musical', 'Rock & Roll', 'Hard Rock', 'Folk', 'Folk/Rock', 'National Folk',
  'Swing', 'Fast-Fusion', 'Bebop', 'Latin', 'Revival', 'Celtic', 'Bluegrass', 'Avantgarde', 'Gothic Rock', 'Progressive Rock',
  'Psychedelic Rock', 'Symphonic Rock', 'Slow Rock', 'Big Band', 'Chorus', 'Easy Listening', 'Acoustic', 'Humour', 'Speech', 'Chanson',
  'Opera', 'Chamber Music', 'Sonata', 'Symphony', 'Booty Bass', 'Primus', 'Porn Groove', 'Satire', 'Slow Jam', 'Club', 'Tango', 'Samba',
  'Folklore', 'Ballad', 'Power Ballad', 'Rhythmic Soul', 'Freestyle', 'Duet', 'Punk Rock', 'Drum Solo', 'A Cappella', 'Euro-House',
  'Dance Hall', 'Goa', 'Drum & Bass', 'Club-House', 'Hardcore', 'Terror', 'Indie', 'BritPop', 'Negerpunk', 'Polsk Punk', 'Beat',
  'Christian Gangsta Rap', 'Heavy Metal', 'Black Metal', 'Crossover', 'Contemporary Christian', 'Christian Rock', 'Merengue', 'Salsa',
  'Thrash Metal', 'Anime', 'JPop', 'Synthpop', 'Abstract', 'Art Rock', 'Baroque', 'Bhangra', 'Big Beat', 'Breakbeat', 'Chillout',
  'Downtempo', 'Dub', 'EBM', 'Eclectic', 'Electro', 'Electroclash', 'Emo', 'Experimental', 'Garage', 'Global', 'IDM', 'Illbient',
  'Industro-Goth', 'Jam Band', 'Krautrock', 'Leftfield', 'Lounge', 'Math Rock', 'New Romantic', 'Nu-Breakz', 'Post-Punk', 'Post-Rock',
  'Psytrance', 'Shoegaze', 'Space Rock', 'Trop Rock', 'World Music', 'Neoclassical', 'Audiobook', 'Audio Theatre', 'Neue Deutsche Welle',
  'Podcast', 'Indie Rock', 'G-Funk', 'Dubstep', 'Garage Rock', 'Psybient',
];

function reference(code: string): string | null {
  if (code === 'RX') return 'Remix';
  if (code === 'CR') return 'Cover';
  if (!/^\d{1,3}$/.test(code)) return null;
  return ID3V1_GENRES[Number(code)] ?? null;
}

/**
 * The genres one TCON value stands for. ID3v2.2/2.3 references come first in parentheses, optionally followed by
 * a refinement: "(17)" → Rock, "(9)(138)Viking Metal" → Metal, Black Metal, Viking Metal, "(52)(RX)" →
 * Electronic, Remix; in ID3v2.2/2.3 "((" escapes a literal "(" (anywhere: some writers escape every one). A whole value that is a number from the list is a reference too
 * (ID3v2.4's form, "13" → Pop, and what many v2.3 writers do). Anything else is text and stays text: "1990",
 * "80s", "20er Jahre". A reference out of the list is kept as written.
 */
export function parseTcon(value: string, version: 2 | 3 | 4 = 3): string[] {
  const out: string[] = [];
  let rest = value;
  for (;;) {
    if (version < 4 && rest.startsWith('((')) break;
    const m = /^\(([0-9]{1,3}|RX|CR)\)/.exec(rest);
    if (!m) break;
    const name = reference(m[1]);
    out.push(name ?? m[0]);
    rest = rest.slice(m[0].length);
  }
  // ID3v2.2/2.3 escape a leading "(" as "((" (TagLib#, Earmark's writer, and others escape every one: undo both);
  // ID3v2.4 has no escape.
  if (version < 4) rest = rest.replace(/\(\(/g, '(');
  rest = rest.trim();
  if (rest) {
    const whole = out.length === 0 ? reference(rest) : null;
    const v = whole ?? rest;
    if (!out.includes(v)) out.push(v);
  }
  return out;
}

const syncsafe = (b: Uint8Array, o: number) => ((b[o] & 0x7f) << 21) | ((b[o + 1] & 0x7f) << 14) | ((b[o + 2] & 0x7f) << 7) | (b[o + 3] & 0x7f);
const uint32 = (b: Uint8Array, o: number) => ((b[o] << 24) >>> 0) + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]);

/** Undo unsynchronisation: every 0xFF 0x00 becomes 0xFF. */
function resync(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  let n = 0;
  for (let i = 0; i < b.length; i++) {
    out[n++] = b[i];
    if (b[i] === 0xff && b[i + 1] === 0x00) i++;
  }
  return out.subarray(0, n);
}

const LATIN1 = new TextDecoder('latin1');
const UTF8 = new TextDecoder('utf-8');
const UTF16LE = new TextDecoder('utf-16le');
const UTF16BE = new TextDecoder('utf-16be');

/** Decode a text frame body (encoding byte first) into its NUL-separated values. */
export function decodeText(body: Uint8Array): string[] {
  if (body.length === 0) return [];
  const enc = body[0];
  const data = body.subarray(1);
  const parts: Uint8Array[] = [];
  if (enc === 1 || enc === 2) {
    let start = 0;
    for (let i = 0; i + 1 < data.length; i += 2) {
      if (data[i] === 0 && data[i + 1] === 0) {
        parts.push(data.subarray(start, i));
        start = i + 2;
      }
    }
    parts.push(data.subarray(start, data.length - ((data.length - start) % 2)));
  } else {
    let start = 0;
    for (let i = 0; i < data.length; i++) {
      if (data[i] === 0) {
        parts.push(data.subarray(start, i));
        start = i + 1;
      }
    }
    parts.push(data.subarray(start));
  }
  let bigEndian = enc === 2;
  const values = parts.map((p) => {
    if (enc === 0) return LATIN1.decode(p);
    if (enc === 3) return UTF8.decode(p).replace(/^\uFEFF/, '');
    // UTF-16: each value may carry its own BOM; without one, the previous value's byte order holds.
    if (p.length >= 2 && p[0] === 0xff && p[1] === 0xfe) {
      bigEndian = false;
      p = p.subarray(2);
    } else if (p.length >= 2 && p[0] === 0xfe && p[1] === 0xff) {
      bigEndian = true;
      p = p.subarray(2);
    }
    return (bigEndian ? UTF16BE : UTF16LE).decode(p);
  });
  while (values.length && !values[values.length - 1]) values.pop();
  return values;
}

/**
 * Parse a whole ID3v2 tag (from its "ID3" header). Returns the text frames (ids starting with T), or null when
 * the bytes are not an ID3v2.2–2.4 tag. Malformed frames end the walk; the frames before them stand.
 */
export function parseId3v2(tag: Uint8Array): Id3v2Tag | null {
  if (tag.length < 10 || tag[0] !== 0x49 || tag[1] !== 0x44 || tag[2] !== 0x33) return null;
  const version = tag[3];
  if (version !== 2 && version !== 3 && version !== 4) return null;
  const flags = tag[5];
  const size = syncsafe(tag, 6);
  let body = tag.subarray(10, Math.min(tag.length, 10 + size));
  if (flags & 0x80 && version < 4) body = resync(body);
  let pos = 0;
  if (flags & 0x40 && version === 3) pos = 4 + uint32(body, 0);
  else if (flags & 0x40 && version === 4) pos = syncsafe(body, 0);
  const frames: Id3v2Frame[] = [];
  const ids: string[] = [];
  const idLen = version === 2 ? 3 : 4;
  const headLen = version === 2 ? 6 : 10;
  while (pos + headLen <= body.length) {
    const id = String.fromCharCode(...body.subarray(pos, pos + idLen));
    if (!/^[A-Z0-9]+$/.test(id)) break; // padding or garbage
    let frameSize: number;
    if (version === 2) frameSize = (body[pos + 3] << 16) | (body[pos + 4] << 8) | body[pos + 5];
    else if (version === 3) frameSize = uint32(body, pos + 4);
    else {
      frameSize = syncsafe(body, pos + 4);
      // iTunes and others wrote v2.4 sizes as plain integers: use that reading when only it lands on a frame.
      const plain = uint32(body, pos + 4);
      if (plain !== frameSize && !frameAt(body, pos + headLen + frameSize) && frameAt(body, pos + headLen + plain)) frameSize = plain;
    }
    const fflags = version === 2 ? 0 : (body[pos + 8] << 8) | body[pos + 9];
    const start = pos + headLen;
    const end = start + frameSize;
    if (frameSize <= 0 || end > body.length) break;
    pos = end;
    ids.push(id);
    if (id[0] !== 'T') continue;
    let data = body.subarray(start, end);
    try {
      if (version === 3) {
        if (fflags & 0x0040) continue; // encrypted
        let skip = 0;
        const compressed = !!(fflags & 0x0080);
        if (compressed) skip += 4;
        if (fflags & 0x0020) skip += 1;
        data = data.subarray(skip);
        if (compressed) data = inflateSync(data);
      } else if (version === 4) {
        if (fflags & 0x0004) continue; // encrypted
        let skip = 0;
        if (fflags & 0x0040) skip += 1;
        if (fflags & 0x0001) skip += 4;
        data = data.subarray(skip);
        if (fflags & 0x0002 || flags & 0x80) data = resync(data);
        if (fflags & 0x0008) data = inflateSync(data);
      }
    } catch {
      continue; // a frame that does not inflate: skip it, keep the others
    }
    const values = decodeText(data);
    if (id === 'TXXX' || id === 'TXX') {
      const [description = '', ...rest] = values;
      frames.push({ id, description, values: rest });
    } else frames.push({ id, description: '', values });
  }
  return { version: version as 2 | 3 | 4, frames, ids };
}

function frameAt(b: Uint8Array, pos: number): boolean {
  if (pos === b.length) return true;
  if (pos + 4 > b.length) return false;
  if (b[pos] === 0) return true; // padding
  return /^[A-Z0-9]{4}$/.test(String.fromCharCode(b[pos], b[pos + 1], b[pos + 2], b[pos + 3]));
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const n = readSync(fd, buf, 0, length, position);
  return buf.subarray(0, n);
}

/** The largest ID3v2 tag read (a tag with large cover art is read only as far as this; text frames come first). */
const MAX_TAG = 16 * 1024 * 1024;

function tagAt(fd: number, position: number, limit = Infinity): Buffer | null {
  const head = readAt(fd, position, 10);
  if (head.length < 10 || head.toString('latin1', 0, 3) !== 'ID3') return null;
  const size = Math.min(10 + syncsafe(head, 6), limit, MAX_TAG);
  return readAt(fd, position, size);
}

/**
 * The ID3v2 tag of a file, wherever its container keeps it: at the start (MP3, and stale tags before a FLAC's
 * "fLaC"), in a WAV's `id3 `/`ID3 ` chunk, or in an AIFF's `ID3 ` chunk. Null when there is none.
 */
export function readId3v2(path: string): Id3v2Tag | null {
  const fd = openSync(path, 'r');
  try {
    const head = readAt(fd, 0, 12);
    if (head.length < 12) return null;
    const magic = head.toString('latin1', 0, 4);
    if (magic.startsWith('ID3')) {
      const t = tagAt(fd, 0);
      return t ? parseId3v2(t) : null;
    }
    const riff = magic === 'RIFF' || magic === 'RF64';
    const form = magic === 'FORM';
    if (!riff && !form) return null;
    // Walk the chunks (RIFF little-endian, IFF big-endian; both pad to even sizes).
    let pos = 12;
    for (let n = 0; n < 10_000; n++) {
      const ch = readAt(fd, pos, 8);
      if (ch.length < 8) return null;
      const id = ch.toString('latin1', 0, 4);
      const size = riff ? ch.readUInt32LE(4) : ch.readUInt32BE(4);
      if (id === 'id3 ' || id === 'ID3 ' || id === 'ID32') {
        const t = tagAt(fd, pos + 8, size);
        return t ? parseId3v2(t) : null;
      }
      // RF64's data chunk says 0xFFFFFFFF here (its real size is in ds64): nothing after it can be reached.
      if (size === 0xffffffff) return null;
      pos += 8 + size + (size & 1);
    }
    return null;
  } finally {
    closeSync(fd);
  }
}

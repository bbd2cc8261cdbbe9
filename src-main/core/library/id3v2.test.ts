import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { frame, id3Tag, syncsafe, textBody, txxxBody } from '../../../tests/helpers/tag-bytes.js';
import { decodeText, ID3V1_GENRES, parseId3v2, parseTcon } from './id3v2.js';
import { facetsFromTags, id3Facets } from './read-tags.js';

describe('parseTcon: TCON as careful taggers read it', () => {
  it('resolves ID3v1 references, several in a row, refinements, RX and CR', () => {
    expect(parseTcon('(17)')).toEqual(['Rock']);
    expect(parseTcon('(155)')).toEqual(['Downtempo']);
    expect(parseTcon('(9)(138)Viking Metal')).toEqual(['Metal', 'Black Metal', 'Viking Metal']);
    expect(parseTcon('(52)(RX)')).toEqual(['Electronic', 'Remix']);
    expect(parseTcon('(CR)')).toEqual(['Cover']);
    expect(parseTcon('(17)Rock')).toEqual(['Rock']);
  });
  it('keeps text that merely looks numeric, and escaped parentheses, as text', () => {
    expect(parseTcon('13')).toEqual(['Pop']);
    expect(parseTcon('1990')).toEqual(['1990']);
    expect(parseTcon('80s')).toEqual(['80s']);
    expect(parseTcon('20er Jahre')).toEqual(['20er Jahre']);
    expect(parseTcon('((Live) Bootleg')).toEqual(['(Live) Bootleg']);
    expect(parseTcon('(999)')).toEqual(['(999)']);
  });
  it('has the 192 genres of the Winamp list', () => {
    expect(ID3V1_GENRES).toHaveLength(192);
    expect(ID3V1_GENRES[191]).toBe('Psybient');
  });
});

describe('decodeText', () => {
  it('splits NUL-separated values in every encoding, with a BOM per value in UTF-16', () => {
    for (const enc of [0, 1, 2, 3] as const) expect(decodeText(textBody(['Rock', 'Pop', 'Café'], enc))).toEqual(['Rock', 'Pop', 'Café']);
    expect(decodeText(Buffer.from([3, 0x41, 0, 0]))).toEqual(['A']);
  });
});

describe('parseId3v2', () => {
  const frames = (v: 2 | 3 | 4) => [
    frame(v === 2 ? 'TCO' : 'TCON', textBody('(17)', 0), v),
    frame(v === 2 ? 'TXX' : 'TXXX', txxxBody('STYLE', ['Bebop', 'Cool Jazz'], 1), v),
    frame(v === 2 ? 'TT2' : 'TIT2', textBody('Title ÿ', 0), v),
  ];
  for (const v of [2, 3, 4] as const) {
    it(`reads ID3v2.${v} text frames${v < 4 ? ', with and without unsynchronisation' : ''}`, () => {
      // (ID3v2.4 unsynchronises frame by frame, sizes after it: tested below.)
      for (const unsync of v < 4 ? [false, true] : [false]) {
        const t = parseId3v2(id3Tag(v, frames(v), { padding: 32, unsync }));
        expect(t?.version).toBe(v);
        expect(id3Facets(t!)).toEqual({ genre: ['Rock'], style: ['Bebop', 'Cool Jazz'] });
        expect(t?.frames.find((f) => f.id.startsWith('TT') || f.id === 'TIT2')?.values).toEqual(['Title ÿ']);
      }
    });
  }
  it('undoes ID3v2.4 frame-level unsynchronisation', () => {
    const body = textBody('Ÿÿ Rock', 1); // UTF-16 with 0xFF bytes
    const un: number[] = [];
    for (let i = 0; i < body.length; i++) {
      un.push(body[i]);
      if (body[i] === 0xff && (i + 1 === body.length || body[i + 1] === 0 || body[i + 1] >= 0xe0)) un.push(0);
    }
    const f = Buffer.concat([Buffer.from('TCON'), syncsafe(un.length), Buffer.from([0, 0x02]), Buffer.from(un)]);
    expect(id3Facets(parseId3v2(id3Tag(4, [f]))!)).toEqual({ genre: ['Ÿÿ Rock'] });
  });
  it('skips an extended header and inflates compressed frames (v2.3 and v2.4)', () => {
    const ext3 = Buffer.concat([Buffer.from([0, 0, 0, 6]), Buffer.alloc(6)]);
    const body = deflateSync(textBody('Jazz', 3));
    const v3 = Buffer.concat([Buffer.from('TCON'), Buffer.alloc(4), Buffer.from([0, 0x80]), Buffer.alloc(4), body]);
    v3.writeUInt32BE(body.length + 4, 4);
    expect(id3Facets(parseId3v2(id3Tag(3, [v3], { extHeader: ext3 }))!)).toEqual({ genre: ['Jazz'] });
    const ext4 = Buffer.concat([syncsafe(6), Buffer.from([1, 0])]);
    const v4 = Buffer.concat([Buffer.from('TCON'), syncsafe(body.length + 4), Buffer.from([0, 0x09]), syncsafe(textBody('Jazz', 3).length), body]);
    expect(id3Facets(parseId3v2(id3Tag(4, [v4], { extHeader: ext4 }))!)).toEqual({ genre: ['Jazz'] });
  });
  it('splits ";"-joined values in v2.3 but not in v2.4, and keeps what precedes a broken frame', () => {
    expect(id3Facets(parseId3v2(id3Tag(3, [frame('TCON', textBody('Rock;Pop', 0), 3)]))!)).toEqual({ genre: ['Rock', 'Pop'] });
    expect(id3Facets(parseId3v2(id3Tag(4, [frame('TCON', textBody('Rock;Pop', 3), 4)]))!)).toEqual({ genre: ['Rock;Pop'] });
    const broken = Buffer.concat([frame('TCON', textBody('Rock', 0), 3), Buffer.from('TMOO'), Buffer.from([0, 0, 0x7f, 0xff, 0, 0])]);
    expect(id3Facets(parseId3v2(id3Tag(3, [broken]))!)).toEqual({ genre: ['Rock'] });
    expect(parseId3v2(Buffer.from('not a tag at all'))).toBeNull();
  });
});

describe('facetsFromTags: one view over several tag blocks', () => {
  const id3 = parseId3v2(id3Tag(3, [frame('TCON', textBody('Stale', 0), 3), frame('TXXX', txxxBody('MOOD', 'Old', 0), 3)]))!;
  it('ignores an ID3v2 block beside Vorbis comments (a FLAC tagged long ago), field by field too', () => {
    const vorbis = [{ id: 'GENRE', value: 'Fresh' }];
    expect(facetsFromTags({ vorbis }, id3)).toEqual({ genre: ['Fresh'] });
  });
  it('merges ID3v2, APEv2, RIFF INFO and ID3v1 per field by precedence', () => {
    const native = { APEv2: [{ id: 'Genre', value: 'Trip-Hop' }, { id: 'MOOD', value: 'Chill' }, { id: 'STYLE', value: 'Dub' }], ID3v1: [{ id: 'genre', value: 'Jazz' }] };
    expect(facetsFromTags(native, id3)).toEqual({ genre: ['Stale'], mood: ['Old'], style: ['Dub'] });
    expect(facetsFromTags({ exif: [{ id: 'IGNR', value: 'Ambient' }] }, parseId3v2(id3Tag(3, [frame('TXXX', txxxBody('MOOD', 'Calm', 0), 3)]))!)).toEqual({ mood: ['Calm'], genre: ['Ambient'] });
  });
});

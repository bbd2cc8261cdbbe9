import { parseFile, type IAudioMetadata } from 'music-metadata';

/** What scanning learns of a file from its headers and tags. */
export interface TrackFacts {
  container: string | null;
  codec: string | null;
  duration: number | null;
  sampleRate: number | null;
  channels: number | null;
  bitrate: number | null;
  lossless: boolean | null;
  artist: string | null;
  albumArtist: string | null;
  album: string | null;
  title: string | null;
  trackNo: number | null;
  year: number | null;
  /** Facet fields by lower-case name (genre, mood, style, theme, custom TXXX/Vorbis/MP4 fields), values as stored. */
  facets: Record<string, string[]>;
}

// The standard ID3v1 genre list (0–79), for TCON values such as "(17)" or "17".
const ID3V1_GENRES = 'Blues,Classic Rock,Country,Dance,Disco,Funk,Grunge,Hip-Hop,Jazz,Metal,New Age,Oldies,Other,Pop,R&B,Rap,Reggae,Rock,Techno,Industrial,Alternative,Ska,Death Metal,Pranks,Soundtrack,Euro-Techno,Ambient,Trip-Hop,Vocal,Jazz+Funk,Fusion,Trance,Classical,Instrumental,Acid,House,Game,Sound Clip,Gospel,Noise,AlternRock,Bass,Soul,Punk,Space,Meditative,Instrumental Pop,Instrumental Rock,Ethnic,Gothic,Darkwave,Techno-Industrial,Electronic,Pop-Folk,Eurodance,Dream,Southern Rock,Comedy,Cult,Gangsta,Top 40,Christian Rap,Pop/Funk,Jungle,Native American,Cabaret,New Wave,Psychadelic,Rave,Showtunes,Trailer,Lo-Fi,Tribal,Acid Punk,Acid Jazz,Polka,Retro,Musical,Rock & Roll,Hard Rock'.split(',');

function id3Genre(v: string): string {
  const m = /^\((\d+)\)(.*)$/.exec(v) ?? /^(\d+)()$/.exec(v);
  if (!m) return v;
  const name = ID3V1_GENRES[Number(m[1])];
  return m[2] ? m[2] : (name ?? v);
}

function text(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (v && typeof v === 'object' && 'text' in v && typeof (v as { text: unknown }).text === 'string') return (v as { text: string }).text;
  return null;
}

/** Fields that are not facets (they are columns, or technical). */
const NOT_FACETS = new Set([
  'artist', 'artists', 'albumartist', 'album artist', 'album', 'title', 'tracknumber', 'tracktotal', 'totaltracks', 'discnumber', 'disctotal',
  'totaldiscs', 'date', 'year', 'originaldate', 'originalyear', 'encoder', 'encoded_by', 'encodedby', 'comment', 'description', 'lyrics',
  'unsyncedlyrics', 'metadata_block_picture', 'coverart', 'replaygain_track_gain', 'replaygain_track_peak', 'replaygain_album_gain',
  'replaygain_album_peak', 'r128_track_gain', 'r128_album_gain', 'isrc', 'barcode', 'label', 'copyright', 'vendor', 'itunnorm', 'itunsmpb',
  'itunes_cddb_1', 'compilation', 'bpm', 'key', 'initialkey', 'composer', 'performer', 'conductor', 'lyricist', 'media', 'script', 'language',
  'asin', 'catalognumber', 'releasecountry', 'releasestatus', 'releasetype', 'totaltracks',
]);

// NUL separates values inside ID3v2.4 frames; RegExp built from a string to say so plainly.
const NUL = new RegExp(String.fromCharCode(0));
const NUL_OR_SEMICOLON = new RegExp(`${String.fromCharCode(0)}|;`);

function addFacet(facets: Record<string, string[]>, field: string, value: string | null, separator: RegExp = NUL): void {
  if (value === null) return;
  const name = field.trim().toLowerCase();
  if (!name || NOT_FACETS.has(name) || name.startsWith('musicbrainz') || name.startsWith('acoustid') || name.startsWith('replaygain')) return;
  // ID3v2.4 keeps several values in one frame separated by NUL; older taggers leave the NUL in.
  for (const part of value.split(separator)) {
    const v = part.trim();
    if (!v) continue;
    const list = (facets[name] ??= []);
    if (!list.includes(v)) list.push(v);
  }
}

/** Facets from the native tag frames (music-metadata's `common` folds style into genre and keeps one mood). */
export function facetsFromNative(native: IAudioMetadata['native']): Record<string, string[]> {
  const facets: Record<string, string[]> = {};
  // Prefer the richest tag format present: ID3v2.4 > ID3v2.3 > the rest; ID3v1 only if nothing else has a genre.
  const order = Object.keys(native).sort((a, b) => rank(a) - rank(b));
  for (const format of order) {
    const before = JSON.stringify(facets);
    for (const tag of native[format]) {
      const id = tag.id;
      const value = text(tag.value);
      if (format.startsWith('ID3v2')) {
        // ID3v2.3 has no multi-value frames: taggers join values with ";" (TagLib) — split them again.
        const sep = format === 'ID3v2.4' ? NUL : NUL_OR_SEMICOLON;
        if (id === 'TCON' || id === 'TCO') addFacet(facets, 'genre', value === null ? null : id3Genre(value), sep);
        else if (id === 'TMOO') addFacet(facets, 'mood', value, sep);
        else if (id.startsWith('TXXX:')) addFacet(facets, id.slice(5), value, sep);
      } else if (format === 'vorbis' || format === 'APEv2' || format === 'asf') {
        const key = format === 'asf' ? id.replace(/^WM\//, '') : id;
        addFacet(facets, key.toLowerCase() === 'genre' ? 'genre' : key, value);
      } else if (format === 'iTunes') {
        if (id === '©gen') addFacet(facets, 'genre', value);
        else if (id === 'gnre') addFacet(facets, 'genre', value === null ? null : id3Genre(value));
        else if (id.startsWith('----:com.apple.iTunes:')) addFacet(facets, id.slice('----:com.apple.iTunes:'.length), value);
      } else if (format === 'exif' || format === 'RIFF' || format === 'riff') {
        if (id === 'IGNR') addFacet(facets, 'genre', value);
      } else if (format === 'ID3v1') {
        if (id === 'genre' && !facets.genre) addFacet(facets, 'genre', value);
      }
    }
    // The first tag format that carried facets wins: a file with ID3v2 and APE keeps ID3v2's view.
    if (JSON.stringify(facets) !== before && format !== 'ID3v1') break;
  }
  return facets;
}

function rank(format: string): number {
  if (format === 'ID3v2.4') return 0;
  if (format === 'ID3v2.3') return 1;
  if (format.startsWith('ID3v2')) return 2;
  if (format === 'ID3v1') return 9;
  return 3;
}

/** Read headers and tags. Throws for files music-metadata cannot parse (the scanner records that per file). */
export async function readTrackFacts(path: string): Promise<TrackFacts> {
  const m = await parseFile(path, { duration: true, skipCovers: true });
  const f = m.format;
  if (!f.container && !f.codec) throw new Error('not a recognised audio file (no container or codec found)');
  const c = m.common;
  const nonEmpty = (s: string | undefined | null) => (s && s.trim() ? s.trim() : null);
  return {
    container: f.container ?? null,
    codec: f.codec ?? null,
    duration: f.duration && Number.isFinite(f.duration) ? f.duration : null,
    sampleRate: f.sampleRate ?? null,
    channels: f.numberOfChannels ?? null,
    bitrate: f.bitrate && Number.isFinite(f.bitrate) ? f.bitrate : null,
    lossless: f.lossless ?? null,
    artist: nonEmpty(c.artist),
    albumArtist: nonEmpty(c.albumartist),
    album: nonEmpty(c.album),
    title: nonEmpty(c.title),
    trackNo: c.track?.no ?? null,
    year: c.year ?? null,
    facets: facetsFromNative(m.native),
  };
}

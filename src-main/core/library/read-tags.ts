import { fileTypeFromFile } from 'file-type';
import { parseFile, parseStream, type IAudioMetadata } from 'music-metadata';
import { createReadStream, statSync } from 'node:fs';
import { extname } from 'node:path';
import { parseTcon, readId3v2, type Id3v2Tag } from './id3v2.js';
import { oggStreams } from './ogg.js';

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
  /** When the file's content is another format than its extension names ("flac" for a FLAC named .mp3): its tags were read by content. */
  contentFormat?: string;
}

// Extensions (and file-type's names) by the container family they stand for.
const FAMILY: Record<string, string> = {
  mp3: 'mpeg', mp2: 'mpeg', flac: 'flac', ogg: 'ogg', oga: 'ogg', opus: 'ogg', spx: 'ogg', m4a: 'mp4', mp4: 'mp4', m4b: 'mp4', m4p: 'mp4',
  aac: 'aac', wav: 'wav', wave: 'wav', aif: 'aiff', aiff: 'aiff', aifc: 'aiff', wma: 'asf', asf: 'asf', ape: 'ape', wv: 'wv', mpc: 'mpc',
  webm: 'mkv', mka: 'mkv', mkv: 'mkv', dsf: 'dsf', dff: 'dff',
};

/**
 * The file's format by its content (magic bytes, the `file-type` package), when that is a different audio format
 * than its extension names; null when they agree or either is unknown. music-metadata picks its parser by the
 * extension, so a FLAC named .mp3 would otherwise read as no tags at all.
 */
async function formatByContent(path: string): Promise<{ ext: string; mime: string } | null> {
  const named = FAMILY[extname(path).slice(1).toLowerCase()];
  if (!named) return null;
  try {
    const t = await fileTypeFromFile(path);
    if (!t || !FAMILY[t.ext] || FAMILY[t.ext] === named) return null;
    return { ext: t.ext, mime: t.mime };
  } catch {
    return null;
  }
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

/** Whether a tag field is a facet Earmark reads and writes (not a column such as title, nor a technical field). */
export function isFacetField(field: string): boolean {
  const name = field.trim().toLowerCase();
  return !!name && !NOT_FACETS.has(name) && !/^(musicbrainz|acoustid|replaygain|mp3gain|r128)/.test(name);
}

function addFacet(facets: Record<string, string[]>, field: string, value: string | null, separator: RegExp = NUL): void {
  if (value === null) return;
  const name = field.trim().toLowerCase();
  if (!isFacetField(name)) return;
  // ID3v2.4 keeps several values in one frame separated by NUL; older taggers leave the NUL in.
  for (const part of value.split(separator)) {
    const v = part.trim();
    if (!v) continue;
    const list = (facets[name] ??= []);
    if (!list.includes(v)) list.push(v);
  }
}

/**
 * Facets from a file's tags, one view for scanning, showing, writing and verifying. Each tag block is read by
 * itself; a field comes from the most authoritative block that has it, as TagLib's `File::properties()` and
 * foobar2000 do: Vorbis comments / MP4 / ASF items first (a FLAC's Vorbis comments over a stale ID3v2 block),
 * then ID3v2 (read by `id3v2.ts`, not music-metadata, for TCON's references and numeric-looking text), then
 * APEv2, then RIFF INFO, then ID3v1. So a WAV whose INFO chunk has the genre and whose `id3 ` chunk has the mood
 * shows both. Beside Vorbis comments or MP4 items, ID3 and APE blocks are stale leftovers and ignored.
 * music-metadata's `common` is not used: it folds style into genre and keeps one mood.
 */
export function facetsFromTags(native: IAudioMetadata['native'], id3: Id3v2Tag | null): Record<string, string[]> {
  const blocks: Array<{ rank: number; facets: Record<string, string[]> }> = [];
  // A format's own tags (Vorbis comments in FLAC and Ogg, MP4 items, ASF) make any ID3 or APE block beside them a
  // leftover of an old tagger: stale, and ignored, as TagLib ignores an ID3v2 block in a FLAC.
  const own = Object.keys(native).some((f) => f === 'vorbis' || f === 'iTunes' || f === 'asf');
  if (id3 && !own) blocks.push({ rank: 1, facets: id3Facets(id3) });
  for (const [format, tags] of Object.entries(native)) {
    if (own && rank(format) !== 0) continue;
    if (format.startsWith('ID3v2') && id3) continue; // read above, from the bytes
    const facets: Record<string, string[]> = {};
    for (const tag of tags) {
      const id = tag.id;
      const value = text(tag.value);
      if (format.startsWith('ID3v2')) {
        // Only when id3v2.ts found no tag (e.g. one appended at the end): music-metadata's reading.
        const sep = format === 'ID3v2.4' ? NUL : NUL_OR_SEMICOLON;
        if (id === 'TCON' || id === 'TCO') addFacet(facets, 'genre', value, sep);
        else if (id === 'TMOO') addFacet(facets, 'mood', value, sep);
        else if (id.startsWith('TXXX:')) addFacet(facets, id.slice(5), value, sep);
      } else if (format === 'vorbis' || format === 'APEv2' || format === 'asf') {
        const key = format === 'asf' ? id.replace(/^WM\//, '') : id;
        addFacet(facets, key.toLowerCase() === 'genre' ? 'genre' : key, value);
      } else if (format === 'iTunes') {
        if (id === '©gen') addFacet(facets, 'genre', value);
        else if (id === 'gnre') addFacet(facets, 'genre', value);
        else if (id.startsWith('----:com.apple.iTunes:')) addFacet(facets, id.slice('----:com.apple.iTunes:'.length), value);
      } else if (format === 'exif' || format === 'RIFF' || format === 'riff') {
        if (id === 'IGNR') addFacet(facets, 'genre', value);
      } else if (format === 'ID3v1') {
        if (id === 'genre') addFacet(facets, 'genre', value);
      }
    }
    blocks.push({ rank: rank(format), facets });
  }
  blocks.sort((a, b) => a.rank - b.rank);
  const merged: Record<string, string[]> = {};
  for (const b of blocks) for (const [field, values] of Object.entries(b.facets)) if (!(field in merged) && values.length) merged[field] = values;
  return merged;
}

/** The facets of an ID3v2 tag: TCON (references resolved by `parseTcon`), TMOO, and TXXX fields. */
export function id3Facets(tag: Id3v2Tag): Record<string, string[]> {
  const facets: Record<string, string[]> = {};
  // ID3v2.2/2.3 have no multi-value frames: taggers join values with ";" (TagLib) or NUL — split both.
  const sep = tag.version === 4 ? NUL : NUL_OR_SEMICOLON;
  for (const f of tag.frames) {
    const values = f.values.flatMap((v) => v.split(sep));
    if (f.id === 'TCON' || f.id === 'TCO') for (const v of values) for (const g of parseTcon(v.trim(), tag.version)) addFacet(facets, 'genre', g);
    else if (f.id === 'TMOO') for (const v of values) addFacet(facets, 'mood', v);
    else if ((f.id === 'TXXX' || f.id === 'TXX') && f.description) for (const v of values) addFacet(facets, f.description, v);
  }
  return facets;
}

function rank(format: string): number {
  if (format === 'vorbis' || format === 'iTunes' || format === 'asf') return 0;
  if (format === 'ID3v2.4') return 1;
  if (format === 'ID3v2.3') return 1.1;
  if (format.startsWith('ID3v2')) return 1.2;
  if (format === 'APEv2') return 4;
  if (format === 'exif' || format === 'RIFF' || format === 'riff') return 5;
  if (format === 'ID3v1') return 9;
  return 3;
}

/** Read headers and tags. Throws for files music-metadata cannot parse (the scanner records that per file). */
export async function readTrackFacts(path: string): Promise<TrackFacts> {
  const byContent = await formatByContent(path);
  const m = byContent
    ? await parseStream(createReadStream(path), { mimeType: byContent.mime, size: statSync(path).size }, { duration: true, skipCovers: true })
    : await parseFile(path, { duration: true, skipCovers: true });
  let id3: Id3v2Tag | null = null;
  try {
    id3 = readId3v2(path);
  } catch {
    id3 = null; // unreadable tag bytes: music-metadata's reading of it stands
  }
  const f = m.format;
  if (!f.container && !f.codec) throw new Error('not a recognised audio file (no container or codec found)');
  const c = m.common;
  const nonEmpty = (s: string | undefined | null) => (s && s.trim() ? s.trim() : null);
  // In MP3, WAV and AIFF files the ID3v2 tag is the main one: its text frames as id3v2.ts reads them (music-metadata
  // misreads unsynchronised ID3v2.3 tags and ID3v2.4 extended headers), else music-metadata's.
  const main = id3 && !Object.keys(m.native).some((x) => x === 'vorbis' || x === 'iTunes' || x === 'asf') ? id3Text(id3) : null;
  return {
    container: f.container ?? null,
    codec: f.codec ?? null,
    duration: chainedDuration(path, f.container) ?? (f.duration && Number.isFinite(f.duration) ? f.duration : null),
    sampleRate: f.sampleRate ?? null,
    channels: f.numberOfChannels ?? null,
    bitrate: f.bitrate && Number.isFinite(f.bitrate) ? f.bitrate : null,
    lossless: f.lossless ?? null,
    artist: main?.artist ?? nonEmpty(c.artist),
    albumArtist: main?.albumArtist ?? nonEmpty(c.albumartist),
    album: main?.album ?? nonEmpty(c.album),
    title: main?.title ?? nonEmpty(c.title),
    trackNo: main?.trackNo ?? c.track?.no ?? null,
    year: main?.year ?? c.year ?? null,
    facets: facetsFromTags(m.native, id3),
    ...(byContent ? { contentFormat: byContent.ext } : {}),
  };
}

/** A chained Ogg file lasts as long as all its streams (music-metadata reports the first); null otherwise. */
function chainedDuration(path: string, container: string | undefined): number | null {
  if (!container || !/ogg/i.test(container)) return null;
  try {
    const streams = oggStreams(path);
    if (streams.length < 2) return null;
    const total = streams.reduce((a, s) => a + (s.seconds ?? 0), 0);
    return total > 0 ? total : null;
  } catch {
    return null;
  }
}

/** Title, artists, album, track number and year from an ID3v2 tag's text frames (v2.2 ids too); absent ones undefined. */
function id3Text(tag: Id3v2Tag): { artist?: string; albumArtist?: string; album?: string; title?: string; trackNo?: number; year?: number } {
  const first = (...ids: string[]) => {
    for (const id of ids) {
      const v = tag.frames.find((f) => f.id === id)?.values.find((x) => x.trim());
      if (v) return v.trim();
    }
    return undefined;
  };
  const track = first('TRCK', 'TRK');
  const year = first('TDRC', 'TYER', 'TYE', 'TDOR', 'TORY');
  const n = track ? Number.parseInt(track, 10) : Number.NaN;
  const y = year ? Number.parseInt(year.slice(0, 4), 10) : Number.NaN;
  return {
    title: first('TIT2', 'TT2'),
    artist: first('TPE1', 'TP1'),
    albumArtist: first('TPE2', 'TP2'),
    album: first('TALB', 'TAL'),
    ...(Number.isFinite(n) && n > 0 ? { trackNo: n } : {}),
    ...(Number.isFinite(y) && y > 0 ? { year: y } : {}),
  };
}

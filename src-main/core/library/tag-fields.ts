import {
  ApeTag,
  ByteVector,
  File,
  Id3v2FrameClassType,
  Id3v2FrameIdentifiers,
  Id3v2Settings,
  Id3v2Tag,
  Id3v2UserTextInformationFrame,
  Mpeg4AppleDataBoxFlagType,
  Mpeg4AppleTag,
  Mpeg4BoxType,
  StringType,
  TagTypes,
  XiphComment,
  type Id3v1Tag,
} from 'node-taglib-sharp';
import { readId3v2 } from './id3v2.js';
import { id3Facets } from './read-tags.js';

/** The tag fields Earmark reads and writes. Facet fields are multi-valued lists, never joined strings. */
export interface TagSet {
  artist?: string;
  album?: string;
  title?: string;
  trackNumber?: number;
  year?: number;
  /** Facet fields by lower-case name: `genre`, `mood`, `style`, `theme`, or any custom field. */
  facets?: Record<string, string[]>;
}

export interface WriteOptions {
  /** ID3v2 version for MP3/WAV/AIFF: 3 or 4 (MusicBrainz Picard's convention decides where mood goes). */
  id3Version?: 3 | 4;
}

const ITUNES = 'com.apple.iTunes';

// Genres are written as text ("Bebop"), never as ID3v1 numeric references ("(85)"), which lose values
// that are not in the 1990s list and mangle the ones that are (ID3v1's list spells it "Bebob").
Id3v2Settings.useNumericGenres = false;

function setUserText(id3: Id3v2Tag, description: string, values: string[]): void {
  const frames = id3.getFramesByClassType<Id3v2UserTextInformationFrame>(Id3v2FrameClassType.UserTextInformationFrame);
  for (const f of frames) if (f.description.toUpperCase() === description.toUpperCase()) id3.removeFrame(f);
  if (values.length === 0) return;
  const frame = Id3v2UserTextInformationFrame.fromDescription(description);
  frame.text = values;
  id3.addFrame(frame);
}

/**
 * Write tags in place with MusicBrainz Picard's field conventions: genre → ID3 TCON / Vorbis GENRE / MP4 ©gen;
 * mood → ID3v2.4 TMOO (TXXX:MOOD in v2.3) / Vorbis MOOD / MP4 freeform MOOD; other facets → TXXX / Vorbis /
 * MP4 freeform fields named in upper case. A field is written into every tag block of the file that can hold it,
 * so no stale value shows through: an APEv2 tag (an MP3 with APEv2 and no ID3v2 gets no ID3v2 added), a WAV's
 * RIFF INFO genre beside its `id3 ` chunk, an ID3v1 genre; an MP4 genre replaces a numeric `gnre` atom.
 *
 * node-taglib-sharp re-renders every ID3v2 frame it parsed and its TCON and v2.3 text parsing loses values
 * (unknown references such as "(155)" come back escaped, "(9)(138)Viking Metal" joined, NUL-separated v2.3
 * lists cut to their first value), so the ID3v2 facet frames not being written are set again from Earmark's own
 * reading (`id3v2.ts`): the file's values survive, in the form the version being written uses.
 *
 * This is the raw writer (used to build demo libraries). Writing into a user's files goes through the journaled,
 * verified writer, which calls this on a temporary copy.
 */
export function writeTags(path: string, tags: TagSet, { id3Version = 4 }: WriteOptions = {}): void {
  // Earmark's reading of the ID3v2 frames, before node-taglib-sharp parses them.
  let ownId3: Record<string, string[]> = {};
  try {
    const parsed = readId3v2(path);
    if (parsed) ownId3 = id3Facets(parsed);
  } catch {
    ownId3 = {};
  }
  const file = File.createFromPath(path);
  try {
    const types = file.tagTypes;
    const onDisk = file.tagTypesOnDisk;
    const isMp3 = /\.mp3$/i.test(path);
    const hadId3 = !!(onDisk & TagTypes.Id3v2);
    const hadApe = !!(onDisk & TagTypes.Ape);
    // For formats that carry ID3v2 (MP3, WAV, AIFF) make sure the tag exists and has the version asked for;
    // not for an MP3 tagged with APEv2 alone, which keeps its one tag.
    const wantsId3 = /\.(mp3|wav|aiff?)$/i.test(path) && !(isMp3 && hadApe && !hadId3);
    const id3 = wantsId3 ? (file.getTag(TagTypes.Id3v2, true) as Id3v2Tag | undefined) : undefined;
    if (id3) {
      // A RIFF or AIFF file without an ID3 chunk gets a new one seeded from its other tags (taglib copies e.g. the
      // artist into TPE2, album artist); start it empty so it holds only what is written now.
      if (!hadId3 && /\.(wav|aiff?)$/i.test(path)) id3.clear();
      id3.version = id3Version;
    }
    const xiph = types & TagTypes.Xiph || /\.(flac|ogg|oga|opus)$/i.test(path) ? (file.getTag(TagTypes.Xiph, true) as XiphComment | undefined) : undefined;
    const apple = /\.(m4a|mp4|m4b|aac)$/i.test(path) ? (file.getTag(TagTypes.Apple, true) as Mpeg4AppleTag | undefined) : undefined;
    const ape = hadApe ? (file.getTag(TagTypes.Ape, false) as ApeTag | undefined) : undefined;
    const id3v1 = onDisk & TagTypes.Id3v1 ? (file.getTag(TagTypes.Id3v1, false) as Id3v1Tag | undefined) : undefined;

    const t = file.tag;
    if (tags.artist !== undefined) t.performers = tags.artist ? [tags.artist] : [];
    if (tags.album !== undefined) t.album = tags.album;
    if (tags.title !== undefined) t.title = tags.title;
    if (tags.trackNumber !== undefined) t.track = tags.trackNumber;
    if (tags.year !== undefined) t.year = tags.year;

    const setId3 = (name: string, values: string[]) => {
      if (!id3) return;
      if (name === 'genre') id3.genres = values;
      else if (name === 'mood' && id3Version === 4) {
        id3.setTextFrame(Id3v2FrameIdentifiers.TMOO, ...values);
        setUserText(id3, 'MOOD', []);
      } else {
        if (name === 'mood') id3.setTextFrame(Id3v2FrameIdentifiers.TMOO);
        setUserText(id3, name.toUpperCase(), values);
      }
    };
    const written = new Set(Object.keys(tags.facets ?? {}).map((k) => k.toLowerCase()));
    if (hadId3) for (const [name, values] of Object.entries(ownId3)) if (!written.has(name)) setId3(name, values);

    for (const [rawName, values] of Object.entries(tags.facets ?? {})) {
      const name = rawName.toLowerCase();
      const upper = name.toUpperCase();
      setId3(name, values);
      if (ape) ape.setStringValues(apeKey(ape, upper, name === 'genre' ? 'Genre' : upper), values);
      if (name === 'genre') {
        // Each tag by itself: the combined tag of RIFF files would also rewrite fields that were not asked for.
        if (xiph) xiph.genres = values;
        const info = /\.wave?$/i.test(path) ? (file.getTag(TagTypes.RiffInfo, false) as { genres: string[] } | undefined) : undefined;
        if (info) info.genres = values;
        if (id3v1) id3v1.genres = values;
        if (!id3 && !xiph && !apple && !ape) t.genres = values;
        // MP4: one data box per value in ©gen, as MusicBrainz Picard writes it (the library joins them with "; "),
        // and no numeric gnre atom left beside it.
        if (apple) {
          apple.setQuickTimeData(Mpeg4BoxType.GNRE, []);
          apple.setQuickTimeData(Mpeg4BoxType.GEN, values.map((v) => ByteVector.fromString(v, StringType.UTF8)), Mpeg4AppleDataBoxFlagType.ContainsText);
        }
        continue;
      }
      if (xiph) {
        if (values.length) xiph.setFieldAsStrings(upper, ...values);
        else xiph.removeField(upper);
      }
      if (apple) apple.setItunesStrings(ITUNES, upper, ...values);
    }
    // No tag block where there was none but the one the format's fields go to: node-taglib-sharp adds an ID3v1 tag
    // to MP3s (its empty year reads back as 0) and a DivX (IDVX) chunk to WAVs.
    const intended = (id3 ? TagTypes.Id3v2 : 0) | (xiph ? TagTypes.Xiph : 0) | (apple ? TagTypes.Apple : 0);
    const added = file.tagTypes & ~onDisk & ~intended;
    if (added) file.removeTags(added);
    file.save();
  } finally {
    file.dispose();
  }
}

/** The key an APEv2 tag already uses for a field, whatever its case (APE keys are case-insensitive), else `fresh`. */
function apeKey(ape: ApeTag, upper: string, fresh: string): string {
  return ape.items.find((i) => i.key.toUpperCase() === upper)?.key ?? fresh;
}

import {
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
} from 'node-taglib-sharp';

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
 * MP4 freeform fields named in upper case.
 *
 * This is the raw writer (used to build demo libraries). Writing into a user's files goes through the journaled,
 * verified writer, which calls this on a temporary copy.
 */
export function writeTags(path: string, tags: TagSet, { id3Version = 4 }: WriteOptions = {}): void {
  const file = File.createFromPath(path);
  try {
    const types = file.tagTypes;
    // For formats that carry ID3v2 (MP3, WAV, AIFF) make sure the tag exists and has the version asked for.
    const wantsId3 = /\.(mp3|wav|aiff?)$/i.test(path);
    const hadId3 = !!(file.tagTypesOnDisk & TagTypes.Id3v2);
    const id3 = wantsId3 ? (file.getTag(TagTypes.Id3v2, true) as Id3v2Tag | undefined) : undefined;
    if (id3) {
      // A RIFF or AIFF file without an ID3 chunk gets a new one seeded from its other tags (taglib copies e.g. the
      // artist into TPE2, album artist); start it empty so it holds only what is written now.
      if (!hadId3 && /\.(wav|aiff?)$/i.test(path)) id3.clear();
      id3.version = id3Version;
    }
    const xiph = types & TagTypes.Xiph || /\.(flac|ogg|oga|opus)$/i.test(path) ? (file.getTag(TagTypes.Xiph, true) as XiphComment | undefined) : undefined;
    const apple = /\.(m4a|mp4|m4b|aac)$/i.test(path) ? (file.getTag(TagTypes.Apple, true) as Mpeg4AppleTag | undefined) : undefined;

    const t = file.tag;
    if (tags.artist !== undefined) t.performers = tags.artist ? [tags.artist] : [];
    if (tags.album !== undefined) t.album = tags.album;
    if (tags.title !== undefined) t.title = tags.title;
    if (tags.trackNumber !== undefined) t.track = tags.trackNumber;
    if (tags.year !== undefined) t.year = tags.year;

    for (const [rawName, values] of Object.entries(tags.facets ?? {})) {
      const name = rawName.toLowerCase();
      const upper = name.toUpperCase();
      if (name === 'genre') {
        // Each tag by itself: the combined tag of RIFF files would also rewrite fields that were not asked for.
        if (id3) id3.genres = values;
        if (xiph) xiph.genres = values;
        const info = /\.wave?$/i.test(path) ? (file.getTag(TagTypes.RiffInfo, false) as { genres: string[] } | undefined) : undefined;
        if (info) info.genres = values;
        if (!id3 && !xiph && !apple) t.genres = values;
        // MP4: one data box per value in ©gen, as MusicBrainz Picard writes it (the library joins them with "; ").
        if (apple) apple.setQuickTimeData(Mpeg4BoxType.GEN, values.map((v) => ByteVector.fromString(v, StringType.UTF8)), Mpeg4AppleDataBoxFlagType.ContainsText);
        continue;
      }
      if (id3) {
        if (name === 'mood' && id3Version === 4) {
          id3.setTextFrame(Id3v2FrameIdentifiers.TMOO, ...values);
          setUserText(id3, 'MOOD', []);
        } else {
          if (name === 'mood') id3.setTextFrame(Id3v2FrameIdentifiers.TMOO);
          setUserText(id3, upper, values);
        }
      }
      if (xiph) {
        if (values.length) xiph.setFieldAsStrings(upper, ...values);
        else xiph.removeField(upper);
      }
      if (apple) apple.setItunesStrings(ITUNES, upper, ...values);
    }
    // No ID3v1 tag where there was none (taglib adds one to MP3s; its empty year reads back as 0).
    if (!(file.tagTypesOnDisk & TagTypes.Id3v1)) file.removeTags(TagTypes.Id3v1);
    file.save();
  } finally {
    file.dispose();
  }
}

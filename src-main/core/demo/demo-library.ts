import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { Ffmpeg } from '../audio/decode.js';
import { writeTags, type TagSet } from '../library/tag-fields.js';
import { Random } from '../util/random.js';
import { GENRE_IDS, GENRES, makePalette, moodsOf, planTrack, renderTrack, type Palette, type TrackPlan } from './synth.js';

export type DemoFormat = 'mp3' | 'flac' | 'ogg' | 'opus' | 'm4a' | 'wav';

/** How often each format appears, as in a typical mixed collection. */
const FORMAT_CYCLE: DemoFormat[] = ['mp3', 'flac', 'm4a', 'ogg', 'mp3', 'opus', 'flac', 'wav', 'mp3', 'm4a'];

const ENCODERS: Record<DemoFormat, string[]> = {
  mp3: ['-c:a', 'libmp3lame', '-q:a', '4', '-ar', '44100'],
  flac: ['-c:a', 'flac', '-ar', '44100', '-sample_fmt', 's16'],
  ogg: ['-c:a', 'libvorbis', '-q:a', '4', '-ar', '44100'],
  opus: ['-c:a', 'libopus', '-b:a', '96k', '-ar', '48000'],
  m4a: ['-c:a', 'aac', '-b:a', '160k', '-ar', '44100'],
  wav: ['-c:a', 'pcm_s16le', '-ar', '44100'],
};

const ADJECTIVES = ['Velvet', 'Hollow', 'Neon', 'Quiet', 'Electric', 'Paper', 'Silver', 'Northern', 'Broken', 'Golden', 'Low', 'Distant', 'Crimson', 'Wandering', 'Static', 'Glass', 'Midnight', 'Wild', 'Lunar', 'Rusty'];
const NOUNS = ['Orbit', 'Harbor', 'Foxes', 'Machines', 'Garden', 'Signals', 'Tides', 'Owls', 'Circuit', 'Rivers', 'Lanterns', 'Engines', 'Meadow', 'Satellites', 'Choir', 'Shadows', 'Ferns', 'Pilots', 'Embers', 'Atlas'];
const GIVEN = ['Mira', 'Jonas', 'Aiko', 'Søren', 'Lucía', 'Émile', 'Nadia', 'Kofi', 'Björk', 'Zoë', 'Tomás', 'Ingrid', 'Raúl', 'Yuki', 'Chloé', 'Dmitri'];
const FAMILY = ['Haldane', 'Okafor', 'Lindqvist', 'Moreau', 'Tanaka', 'Ferreira', 'Novák', 'Ólafsdóttir', 'Brennan', 'Castillo', 'Weiß', 'Kowalski', '東', 'Ивanova'];
const TITLE_WORDS = ['Morning', 'Echo', 'Static', 'Run', 'Heat', 'Rain', 'Bloom', 'Drift', 'Pulse', 'Wire', 'Glow', 'Fall', 'Night', 'Home', 'Signal', 'Smoke', 'Salt', 'Stone', 'Water', 'Light', 'Fever', 'Dust', 'Parade', 'Season'];
const ALBUM_WORDS = ['Sessions', 'Tapes', 'Years', 'Rooms', 'Frequencies', 'Stories', 'Variations', 'Nights', 'Songs', 'Dreams'];

export interface DemoArtist {
  name: string;
  genre: string;
  palette: Palette;
  era: number;
}

export interface DemoTrack {
  path: string;
  relativePath: string;
  format: DemoFormat;
  artist: string;
  album: string;
  title: string;
  trackNumber: number;
  year: number;
  /** The genre the music really has (the artist's). */
  trueGenre: string;
  /** The genre written into the file, `null` when left untagged. Differs from `trueGenre` for planted mislabels. */
  taggedGenre: string | null;
  moods: string[];
  style: string;
  bpm: number;
  key: number;
  mode: 'major' | 'minor';
  seconds: number;
  tagging: 'full' | 'untagged' | 'no-tags' | 'mislabeled';
}

export interface DemoManifest {
  seed: number;
  tracks: DemoTrack[];
  artists: Array<{ name: string; genre: string; style: string }>;
}

export interface DemoOptions {
  tracks?: number;
  seed?: number;
  /** Mean track length in seconds (±15 %). */
  seconds?: number;
  /** Share of tracks whose facet tags (genre, mood, style) are left empty. */
  untaggedShare?: number;
  /** Share of tracks with no tags at all. */
  noTagsShare?: number;
  /** Share of tagged tracks whose genre tag is wrong on purpose. */
  mislabelShare?: number;
  /** Also write a few broken files (empty, truncated, not audio) to exercise error handling. */
  broken?: number;
  formats?: DemoFormat[];
  jobs?: number;
  onProgress?: (done: number, total: number) => void;
}

function artistName(rng: Random, used: Set<string>): string {
  for (let attempt = 0; ; attempt++) {
    const name =
      rng.chance(0.55)
        ? `${rng.chance(0.5) ? 'The ' : ''}${rng.pick(ADJECTIVES)} ${rng.pick(NOUNS)}`
        : `${rng.pick(GIVEN)} ${rng.pick(FAMILY)}`;
    const unique = attempt > 20 ? `${name} ${attempt}` : name;
    if (!used.has(unique)) {
      used.add(unique);
      return unique;
    }
  }
}

function titleOf(rng: Random): string {
  const a = rng.pick(TITLE_WORDS);
  const b = rng.pick(TITLE_WORDS);
  return rng.chance(0.5) ? `${a} ${b}` : rng.chance(0.5) ? `${a} of ${b}` : a;
}

/** Characters that are not safe in file names on common file systems. */
export function safeFileName(s: string): string {
  let out = '';
  for (const ch of s) out += ch.charCodeAt(0) < 32 || '/\\:*?"<>|'.includes(ch) ? '_' : ch;
  return out.replace(/\.+$/, '').trim() || '_';
}

function encode(ff: Ffmpeg, left: Float32Array, right: Float32Array, sr: number, format: DemoFormat, out: string): Promise<void> {
  const interleaved = new Float32Array(left.length * 2);
  for (let i = 0; i < left.length; i++) {
    interleaved[2 * i] = left[i];
    interleaved[2 * i + 1] = right[i];
  }
  const args = ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-f', 'f32le', '-ar', String(sr), '-ac', '2', '-i', 'pipe:0', '-map_metadata', '-1', ...ENCODERS[format], out];
  return new Promise((resolve, reject) => {
    const child = spawn(ff.path, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg could not encode ${out}: ${err.trim()}`))));
    child.stdin.on('error', () => {
      /* reported through 'close' */
    });
    child.stdin.end(Buffer.from(interleaved.buffer, interleaved.byteOffset, interleaved.byteLength));
  });
}

/**
 * Write a deterministic synthetic music library into `dir`: real encoded files in mixed formats with real tags,
 * music with structure (genre rhythms and instruments, artist palettes, moods from mode/tempo/brightness/dynamics),
 * some tracks untagged and a few deliberately mislabeled. Writes `earmark-demo.json` with the ground truth.
 */
export async function generateDemoLibrary(ff: Ffmpeg, dir: string, o: DemoOptions = {}): Promise<DemoManifest> {
  const total = o.tracks ?? 60;
  if (!Number.isInteger(total) || total < 1) throw new Error(`--tracks must be a positive integer, got ${o.tracks}`);
  const seed = o.seed ?? 1;
  const rng = new Random(seed);
  const meanSeconds = o.seconds ?? 30;
  const formats = o.formats ?? FORMAT_CYCLE;
  const jobs = Math.max(1, o.jobs ?? cpus().length);
  mkdirSync(dir, { recursive: true });

  // Artists: about six tracks each (so "same artist" is a real retrieval task), at least one per genre,
  // genres round-robin.
  const nArtists = Math.max(Math.min(GENRE_IDS.length, total), Math.round(total / 6));
  const usedNames = new Set<string>();
  const artists: DemoArtist[] = [];
  for (let i = 0; i < nArtists; i++) {
    const genre = GENRE_IDS[i % GENRE_IDS.length];
    const ar = rng.fork(`artist${i}`);
    artists.push({ name: artistName(ar, usedNames), genre, palette: makePalette(genre, ar), era: ar.int(1968, 2024) });
  }

  // Tracks: assign round-robin so every artist gets tracks, then albums of up to 6 tracks per artist.
  interface Pending {
    artist: DemoArtist;
    plan: TrackPlan;
    track: DemoTrack;
  }
  const pending: Pending[] = [];
  const perArtist = new Map<DemoArtist, number>();
  const albumNames = new Map<string, string>();
  const untagged = o.untaggedShare ?? 0.1;
  const noTags = o.noTagsShare ?? 0.05;
  const mislabel = o.mislabelShare ?? 0.06;
  for (let i = 0; i < total; i++) {
    const artist = artists[i % artists.length];
    const k = perArtist.get(artist) ?? 0;
    perArtist.set(artist, k + 1);
    const tr = rng.fork(`track${i}`);
    const albumIndex = Math.floor(k / 6);
    const albumKey = `${artist.name}#${albumIndex}`;
    if (!albumNames.has(albumKey)) albumNames.set(albumKey, `${tr.pick(TITLE_WORDS)} ${tr.pick(ALBUM_WORDS)}`);
    const album = albumNames.get(albumKey) as string;
    const seconds = Math.round(meanSeconds * tr.uniform(0.85, 1.15) * 10) / 10;
    const plan = planTrack(artist.palette, tr, seconds);
    const format = formats[i % formats.length];
    const title = titleOf(tr);
    const trackNumber = (k % 6) + 1;
    const year = artist.era + albumIndex * 2;
    const roll = tr.next();
    const tagging: DemoTrack['tagging'] = roll < noTags ? 'no-tags' : roll < noTags + untagged ? 'untagged' : roll < noTags + untagged + mislabel ? 'mislabeled' : 'full';
    const trueGenre = GENRES[artist.genre].name;
    let taggedGenre: string | null = trueGenre;
    if (tagging === 'untagged' || tagging === 'no-tags') taggedGenre = null;
    if (tagging === 'mislabeled') taggedGenre = GENRES[tr.pick(GENRE_IDS.filter((g) => g !== artist.genre))].name;
    const relativePath = join(safeFileName(artist.name), safeFileName(album), `${String(trackNumber).padStart(2, '0')} - ${safeFileName(title)}.${format}`);
    pending.push({
      artist,
      plan,
      track: {
        path: join(dir, relativePath),
        relativePath,
        format,
        artist: artist.name,
        album,
        title,
        trackNumber,
        year,
        trueGenre,
        taggedGenre,
        moods: moodsOf(plan),
        style: artist.palette.style,
        bpm: Math.round(plan.bpm * 10) / 10,
        key: plan.root,
        mode: plan.major ? 'major' : 'minor',
        seconds,
        tagging,
      },
    });
  }

  let done = 0;
  let next = 0;
  const worker = async () => {
    while (next < pending.length) {
      const p = pending[next++];
      const t = p.track;
      const audio = renderTrack(p.plan);
      mkdirSync(join(t.path, '..'), { recursive: true });
      await encode(ff, audio.left, audio.right, audio.sr, t.format, t.path);
      if (t.tagging !== 'no-tags') {
        const tags: TagSet = { artist: t.artist, album: t.album, title: t.title, trackNumber: t.trackNumber, year: t.year };
        if (t.tagging !== 'untagged') tags.facets = { genre: [t.taggedGenre as string], mood: t.moods, style: [t.style] };
        // Alternate ID3v2.3 and v2.4 so both conventions are exercised.
        writeTags(t.path, tags, { id3Version: t.trackNumber % 2 === 0 ? 3 : 4 });
      }
      done++;
      o.onProgress?.(done, pending.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, pending.length) }, worker));

  const broken = o.broken ?? 0;
  for (let i = 0; i < broken; i++) writeBrokenFile(dir, i, pending[i % pending.length]?.track.path);

  const manifest: DemoManifest = {
    seed,
    tracks: pending.map((p) => p.track),
    artists: artists.map((a) => ({ name: a.name, genre: GENRES[a.genre].name, style: a.palette.style })),
  };
  writeFileSync(join(dir, 'earmark-demo.json'), JSON.stringify(manifest, null, 1));
  return manifest;
}

/** Broken files of the kinds real libraries contain: empty, truncated, and text with an audio extension. */
function writeBrokenFile(dir: string, i: number, source?: string): void {
  const brokenDir = join(dir, 'Broken Files');
  mkdirSync(brokenDir, { recursive: true });
  const kind = i % 3;
  if (kind === 0) writeFileSync(join(brokenDir, `empty-${i}.mp3`), '');
  else if (kind === 1) writeFileSync(join(brokenDir, `not-audio-${i}.flac`), 'This is a text file, not FLAC audio.\n'.repeat(50));
  else {
    // The first 2 KiB of a real file: headers intact, audio cut off.
    const bytes = source ? readHead(source, 2048) : Buffer.alloc(0);
    writeFileSync(join(brokenDir, `truncated-${i}.m4a`), bytes);
  }
}

function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

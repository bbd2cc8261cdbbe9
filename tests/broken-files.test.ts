import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFile } from 'music-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTrackFacts } from '../src-main/core/library/read-tags.js';
import { cli, cliJson, ffmpeg, tempDir } from './helpers/fixtures.js';

/**
 * The files a scanner meets while an album is still being copied or after a bad copy (shared/cases 13), chained
 * Ogg and Opus with a header gain (10), and a file whose extension lies: each is analysed on what decodes and
 * reported in words, or refused with a reason; the rest of the library goes on; a completed copy is picked up.
 */

const t = tempDir();
const music = join(t.dir, 'music');
const full = join(t.dir, 'full');
const home = join(t.dir, 'home');
afterAll(() => t.cleanup());

function run(args: string[]): void {
  const r = spawnSync(ffmpeg().path, ['-nostdin', '-v', 'error', '-y', ...args]);
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr.toString()}`);
}

const tone = (out: string, freq: number, secs: number, codec: string[], meta: string[]) =>
  run(['-f', 'lavfi', '-i', `sine=frequency=${freq}:duration=${secs}`, '-f', 'lavfi', '-i', `anoisesrc=color=pink:duration=${secs}:amplitude=0.05`, '-filter_complex', 'amix=inputs=2', '-ac', '2', ...codec, ...meta, out]);

/** Ogg's page CRC (RFC 3533: CRC-32, polynomial 0x04c11db7, not reflected, over the page with its CRC zeroed). */
function oggCrc(page: Buffer): number {
  let crc = 0;
  for (const byte of page) {
    crc ^= byte << 24;
    for (let k = 0; k < 8; k++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

/** The granule positions of every page of an Ogg file (its timing). */
function granules(b: Buffer): bigint[] {
  const out: bigint[] = [];
  let pos = 0;
  while (pos + 27 <= b.length && b.toString('latin1', pos, pos + 4) === 'OggS') {
    out.push(b.readBigInt64LE(pos + 6));
    const n = b[pos + 26];
    let body = 0;
    for (let i = 0; i < n; i++) body += b[pos + 27 + i];
    pos += 27 + n + body;
  }
  return out;
}

type Report = { written: unknown[]; refused: Array<{ path: string; code: string; message: string }> };
type Errors = { errors: Array<{ path: string; stage: string; code: string; message: string }>; scanProblems: Array<{ path: string; code: string; message: string }> };

beforeAll(() => {
  mkdirSync(music, { recursive: true });
  mkdirSync(full, { recursive: true });
  // 13: a FLAC cut at 40 % while copying; a 120 s FLAC cut at 30 %; an empty .mp3; text named .mp3; an MP3 with
  // garbage over its middle; an M4A cut before its index.
  const flac = ['-c:a', 'flac'];
  tone(join(full, 'a-growing.flac'), 600, 30, flac, ['-metadata', 'GENRE=Post-Rock']);
  tone(join(full, 'f-long-cut.flac'), 450, 120, flac, ['-metadata', 'GENRE=Post-Rock']);
  const cut = (name: string, share: number) => {
    const b = readFileSync(join(full, name));
    writeFileSync(join(music, name), b.subarray(0, Math.floor(b.length * share)));
  };
  cut('a-growing.flac', 0.4);
  cut('f-long-cut.flac', 0.3);
  writeFileSync(join(music, 'b-empty.mp3'), Buffer.alloc(0));
  writeFileSync(join(music, 'c-not-audio.mp3'), 'This is a text file with an .mp3 extension.\n'.repeat(50));
  tone(join(full, 'd-garbled.mp3'), 700, 30, ['-c:a', 'libmp3lame', '-b:a', '192k'], ['-metadata', 'genre=Post-Rock']);
  const g = readFileSync(join(full, 'd-garbled.mp3'));
  let x = 13;
  for (let i = g.length >> 1; i < (g.length >> 1) + 65536; i++) g[i] = x = (x * 1103515245 + 12345) & 0xff;
  writeFileSync(join(music, 'd-garbled.mp3'), g);
  tone(join(full, 'e-no-moov.m4a'), 800, 20, ['-c:a', 'aac'], ['-metadata', 'title=No Moov']);
  const m = readFileSync(join(full, 'e-no-moov.m4a'));
  writeFileSync(join(music, 'e-no-moov.m4a'), m.subarray(0, m.lastIndexOf('moov') - 4));
  // 10: two Ogg Vorbis streams back to back (each ffmpeg run picks its own serial number); Opus with a -5 dB header
  // gain and R128 tags.
  tone(join(t.dir, 'c1.ogg'), 440, 6, ['-c:a', 'libvorbis'], ['-metadata', 'GENRE=Ambient']);
  tone(join(t.dir, 'c2.ogg'), 660, 6, ['-c:a', 'libvorbis'], ['-metadata', 'GENRE=Drone']);
  writeFileSync(join(music, 'g-chained.ogg'), Buffer.concat([readFileSync(join(t.dir, 'c1.ogg')), readFileSync(join(t.dir, 'c2.ogg'))]));
  tone(join(t.dir, 'o.opus'), 523, 10, ['-c:a', 'libopus'], ['-metadata', 'GENRE=Chamber', '-metadata', 'R128_TRACK_GAIN=-1234', '-metadata', 'R128_ALBUM_GAIN=-1000']);
  const o = readFileSync(join(t.dir, 'o.opus'));
  const headAt = o.indexOf('OpusHead');
  o.writeInt16LE(-1280, headAt + 16);
  const pageLen = 27 + o[26] + o.subarray(27, 27 + o[26]).reduce((a, v) => a + v, 0);
  o.writeUInt32LE(0, 22);
  o.writeUInt32LE(oggCrc(o.subarray(0, pageLen)), 22);
  writeFileSync(join(music, 'h-opus-gain.opus'), o);
  // A FLAC named .mp3, and one good file so the library has something whole.
  copyFileSync(join(full, 'a-growing.flac'), join(music, 'i-flac-named.mp3'));
  tone(join(music, 'j-good.flac'), 300, 8, flac, ['-metadata', 'GENRE=Folk']);
}, 120_000);

describe('broken and odd files: analysed on what decodes, reported in words, the rest goes on', () => {
  it('scans and analyses everything it can, reporting cut files as truncated and the rest with reasons', async () => {
    const scan = cliJson<{ files: number; tagErrors: number }>(['scan', music], { home });
    expect(scan.files).toBe(10);
    const a = cli(['analyze', '--representation', 'dsp', '--json'], { home });
    expect(a.status).toBe(0);
    const r = JSON.parse(a.stdout) as { analyzed: number; failed: number; truncated: Array<{ path: string; message: string }>; failures: Array<{ path: string; code: string }> };
    const name = (p: string) => p.split('/').pop();
    expect(r.truncated.map((x) => name(x.path)).sort()).toEqual(['a-growing.flac', 'f-long-cut.flac']);
    const long = r.truncated.find((x) => x.path.endsWith('f-long-cut.flac'))!;
    expect(long.message).toMatch(/Truncated: the header says 120\.0 s but only 3\d\.\d s decode .*analysed on what decodes/);
    // Empty, text and index-less files fail with a reason; the garbled MP3 is analysed; everything else too.
    expect(r.failures.map((x) => name(x.path)).sort()).toEqual(['b-empty.mp3', 'c-not-audio.mp3', 'e-no-moov.m4a']);
    expect(r.analyzed).toBe(7);
    const errors = cliJson<Errors>(['errors'], { home });
    expect(errors.errors.filter((e) => e.code === 'truncated').map((e) => name(e.path)).sort()).toEqual(['a-growing.flac', 'f-long-cut.flac']);
    expect(cli(['info'], { home }).stdout).toMatch(/truncated 2/);
  }, 300_000);

  it('reads a chained Ogg file over its whole length and refuses to write it with a reason; keeps an Opus header gain, R128 tags and page timing', async () => {
    expect((await readTrackFacts(join(music, 'g-chained.ogg'))).duration).toBeCloseTo(12, 0);
    const refusedRun = (args: string[]) => {
      const r = cli([...args, '--json'], { home });
      expect(r.status).toBe(3);
      return JSON.parse(r.stdout) as Report;
    };
    const chained = refusedRun(['tag', '--track', join(music, 'g-chained.ogg'), '--set', 'mood=Calm']).refused[0];
    expect(chained.message).toMatch(/chained Ogg file \(2 streams one after another.*no mood written.*Split it/);
    const opus = join(music, 'h-opus-gain.opus');
    const before = readFileSync(opus);
    const r = cliJson<Report>(['tag', '--track', opus, '--set', 'mood=Calm'], { home });
    expect(r.refused).toEqual([]);
    const after = readFileSync(opus);
    expect(after.readInt16LE(after.indexOf('OpusHead') + 16)).toBe(-1280);
    expect(granules(after).filter((g) => g > 0n)).toEqual(granules(before).filter((g) => g > 0n));
    const native = (await parseFile(opus)).native.vorbis.map((x) => [x.id, x.value]);
    expect(native).toEqual(expect.arrayContaining([['R128_TRACK_GAIN', '-1234'], ['R128_ALBUM_GAIN', '-1000'], ['MOOD', 'Calm']]));
  }, 120_000);

  it('reads tags by content when the extension lies, refuses to write there with what to do, and never writes a text file', async () => {
    const liar = join(music, 'i-flac-named.mp3');
    expect((await readTrackFacts(liar)).facets.genre).toEqual(['Post-Rock']);
    const out = cli(['tag', '--track', liar, '--track', join(music, 'd-garbled.mp3'), '--set', 'mood=Calm', '--json'], { home });
    expect(out.status).toBe(3);
    const r = JSON.parse(out.stdout) as Report;
    expect(r.written).toHaveLength(1);
    expect(r.refused[0].message).toMatch(/is a FLAC file named \.mp3.*no mood written\. Rename it to \.flac/);
    const text = readFileSync(join(music, 'c-not-audio.mp3'));
    const t2 = cli(['tag', '--track', join(music, 'c-not-audio.mp3'), '--set', 'mood=Calm'], { home });
    expect(t2.status).not.toBe(0);
    expect(readFileSync(join(music, 'c-not-audio.mp3')).equals(text)).toBe(true);
  }, 120_000);

  it('refuses to write into a file flagged truncated (it may still be copying)', () => {
    const out = cli(['tag', '--track', join(music, 'a-growing.flac'), '--set', 'mood=Calm', '--json'], { home });
    expect(out.status).toBe(3);
    expect((JSON.parse(out.stdout) as Report).refused[0].message).toMatch(/holds less audio than its header says .*no mood written\. Let the copy finish/);
  });

  it('picks up the completed copies: the next scan and analysis clear the errors', async () => {
    for (const n of ['a-growing.flac', 'f-long-cut.flac', 'e-no-moov.m4a']) copyFileSync(join(full, n), join(music, n));
    const scan = cliJson<{ changed: number }>(['scan', music], { home });
    expect(scan.changed).toBe(3);
    const a = JSON.parse(cli(['analyze', '--representation', 'dsp', '--json'], { home }).stdout) as { analyzed: number; truncated: unknown[] };
    expect(a.analyzed).toBe(3);
    expect(a.truncated).toEqual([]);
    const errors = cliJson<Errors>(['errors'], { home });
    expect([...new Set(errors.errors.map((e) => e.path.split('/').pop()))].sort()).toEqual(['b-empty.mp3', 'c-not-audio.mp3']);
  }, 300_000);
});

import { parseFile } from 'music-metadata';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, linkSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readId3v2 } from '../src-main/core/library/id3v2.js';
import { readTrackFacts } from '../src-main/core/library/read-tags.js';
import { audioDigest } from '../src-main/core/library/tag-writer.js';
import { cli, cliJson, ffmpeg, tempDir } from './helpers/fixtures.js';
import { apeItems, apev2, box, chunk, dataBox, frame, freeform, id3Tag, id3v1, ilstItems, infoList, riffChunks, rewriteIlst, syncsafe, textBody, txxxBody, wavWith } from './helpers/tag-bytes.js';

/**
 * The real-world file cases of `shared/cases` (01–04, 07–09), generated here byte by byte: what Earmark reads,
 * that a facet write succeeds on every one and reads back in Earmark and in ffmpeg, that the audio stays the same,
 * and that undo gives back the original bytes.
 */

const t = tempDir();
const music = join(t.dir, 'music');
const home = join(t.dir, 'home');
afterAll(() => t.cleanup());

function run(args: string[]): Buffer {
  const r = spawnSync(ffmpeg().path, ['-nostdin', '-v', 'error', '-y', ...args], { maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout;
}

/** Raw MP3 frames with no tag at all (LAME header kept), as the case generators start from. */
function bareMp3(freq: number): Buffer {
  const p = join(t.dir, `bare-${freq}.mp3`);
  run(['-f', 'lavfi', '-i', `sine=frequency=${freq}:duration=4`, '-ac', '2', '-c:a', 'libmp3lame', '-b:a', '128k', '-map_metadata', '-1', '-id3v2_version', '0', '-write_id3v1', '0', p]);
  return readFileSync(p);
}

/** Tags as ffmpeg (libavformat, an independent reader) reports them: lower-case key → value. */
function ffmpegTags(path: string): Record<string, string> {
  const out = run(['-i', path, '-f', 'ffmetadata', '-']).toString('utf8');
  const tags: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const m = /^([^=;#]+)=(.*)$/.exec(line);
    if (m) tags[m[1].toLowerCase()] = m[2];
  }
  return tags;
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

interface Case {
  file: string;
  /** What Earmark must read from the file as made. */
  reads: Record<string, string[]>;
}
const cases: Case[] = [];
const put = (name: string, bytes: Buffer, reads: Record<string, string[]>) => {
  writeFileSync(join(music, name), bytes);
  cases.push({ file: join(music, name), reads });
};

beforeAll(() => {
  mkdirSync(music, { recursive: true });
  const mp3 = bareMp3(330);
  const f3 = (id: string, v: string | string[], enc: 0 | 1 | 3 = 0) => frame(id, textBody(v, enc), 3);
  const f4 = (id: string, v: string | string[], enc: 0 | 1 | 3 = 3) => frame(id, textBody(v, enc), 4);
  // 01: ID3v2.3 genres as ID3v1 references.
  for (const [name, tcon, genres] of [
    ['01a-paren17.mp3', '(17)', ['Rock']],
    ['01b-paren155.mp3', '(155)', ['Downtempo']],
    ['01c-multi-ref.mp3', '(9)(138)Viking Metal', ['Metal', 'Black Metal', 'Viking Metal']],
    ['01d-52-RX.mp3', '(52)(RX)', ['Electronic', 'Remix']],
  ] as const) {
    put(name, Buffer.concat([id3Tag(3, [f3('TIT2', `Numeric ${name}`), f3('TPE1', 'Test Artist One'), f3('TALB', 'Genre Refs'), f3('TCON', tcon)], { padding: 256 }), mp3]), { genre: [...genres] });
  }
  // 02: ID3v2.3 "Rock;Pop" in UTF-16.
  put('02-v23-rock-pop.mp3', Buffer.concat([id3Tag(3, [f3('TIT2', 'Semicolons', 1), f3('TPE1', 'Test Artist Two', 1), f3('TCON', 'Rock;Pop', 1)], { padding: 512 }), mp3]), { genre: ['Rock', 'Pop'] });
  // 03: genres that start with digits; text that is not a reference stays text.
  put('03a-20er-jahre-v23.mp3', Buffer.concat([id3Tag(3, [f3('TIT2', 'Digits a'), f3('TCON', '20er Jahre')], { padding: 256 }), mp3]), { genre: ['20er Jahre'] });
  put('03b-80s-v23.mp3', Buffer.concat([id3Tag(3, [f3('TIT2', 'Digits b'), f3('TCON', '80s')], { padding: 256 }), mp3]), { genre: ['80s'] });
  put('03c-13-v24.mp3', Buffer.concat([id3Tag(4, [f4('TIT2', 'Digits c'), f4('TCON', '13')], { padding: 256 }), mp3]), { genre: ['Pop'] });
  put('03d-1990-v24.mp3', Buffer.concat([id3Tag(4, [f4('TIT2', 'Digits d'), f4('TCON', '1990')], { padding: 256 }), mp3]), { genre: ['1990'] });
  // 04: NUL-separated lists in every version and encoding.
  for (const [name, ver, enc] of [
    ['04a-v24-utf8.mp3', 4, 3],
    ['04b-v24-utf16.mp3', 4, 1],
    ['04c-v23-nul-utf16.mp3', 3, 1],
    ['04d-v23-nul-latin1.mp3', 3, 0],
  ] as const) {
    const frames = [
      frame('TIT2', textBody(`NUL ${name}`, enc), ver),
      frame('TCON', textBody(['Rock', 'Pop', 'Jazz'], enc), ver),
      frame('TXXX', txxxBody('STYLE', ['Bebop', 'Cool Jazz'], enc), ver),
      ver === 4 ? frame('TMOO', textBody(['Calm', 'Dreamy'], enc), ver) : frame('TXXX', txxxBody('MOOD', ['Calm', 'Dreamy'], enc), ver),
    ];
    put(name, Buffer.concat([id3Tag(ver, frames, { padding: 256 }), mp3]), { genre: ['Rock', 'Pop', 'Jazz'], mood: ['Calm', 'Dreamy'], style: ['Bebop', 'Cool Jazz'] });
  }
  // 07: ID3v1 only; APEv2 + ID3v1; ID3v2.4 + APEv2 + ID3v1 that disagree.
  const v1 = id3v1({ title: 'V1 Title', artist: 'Test Artist Seven', album: 'V1 Album', year: '1999', track: 2, genre: 8 });
  const ape = apev2([['Title', 'APE Title'], ['Artist', 'Test Artist Seven'], ['Genre', 'Trip-Hop'], ['MOOD', 'Chill'], ['REPLAYGAIN_TRACK_GAIN', '-3.20 dB'], ['MP3GAIN_MINMAX', '108,181']]);
  put('07a-id3v1-only.mp3', Buffer.concat([mp3, v1]), { genre: ['Jazz'] });
  put('07b-apev2-id3v1.mp3', Buffer.concat([mp3, ape, v1]), { genre: ['Trip-Hop'], mood: ['Chill'] });
  put('07c-id3v24-apev2-id3v1.mp3', Buffer.concat([id3Tag(4, [f4('TIT2', 'V24 Title'), f4('TPE1', 'Test Artist Seven'), f4('TCON', 'Electronic')], { padding: 256 }), mp3, ape, v1]), { genre: ['Electronic'], mood: ['Chill'] });
  // 08: M4A with the numeric gnre atom and a freeform MOOD, moov last; ©gen with moov first.
  const m4aPath = join(t.dir, 'src.m4a');
  run(['-f', 'lavfi', '-i', 'sine=frequency=440:duration=4', '-ac', '2', '-c:a', 'aac', '-b:a', '128k', '-map_metadata', '-1', '-metadata', 'title=Gnre Title', '-metadata', 'artist=Test Artist Eight', '-metadata', 'genre=Swapped For Gnre', m4aPath]); // its ©gen is replaced by a gnre atom below
  const m4a = readFileSync(m4aPath);
  const gnre = Buffer.alloc(2);
  gnre.writeUInt16BE(18); // ID3v1 17 (Rock) + 1
  put('08a-gnre-moov-last.m4a', rewriteIlst(m4a, (kids) => [...kids.map((k) => (k.type === '©gen' ? box('gnre', dataBox(0, gnre)) : k.raw)), freeform('com.apple.iTunes', 'MOOD', 'Mellow')]), { genre: ['Rock'], mood: ['Mellow'] });
  const faststartSrc = join(t.dir, 'fs-src.m4a');
  writeFileSync(faststartSrc, rewriteIlst(m4a, (kids) => kids.map((k) => (k.type === '©gen' ? box('©gen', dataBox(1, Buffer.from('Jazz'))) : k.raw))));
  const faststart = join(t.dir, 'fs.m4a');
  run(['-i', faststartSrc, '-c', 'copy', '-map_metadata', '0', '-movflags', '+faststart', faststart]);
  put('08b-faststart.m4a', rewriteIlst(readFileSync(faststart), (kids) => [...kids.map((k) => k.raw), freeform('com.apple.iTunes', 'MOOD', 'Mellow')]), { genre: ['Jazz'], mood: ['Mellow'] });
  // 09: WAV with LIST/INFO and an id3 chunk; 32-bit float with INFO only; a cue label before INFO; INFO only.
  const wav = (sr: number, codec: string) => {
    const p = join(t.dir, `w-${sr}-${codec}.wav`);
    run(['-f', 'lavfi', '-i', `sine=frequency=660:duration=3:sample_rate=${sr}`, '-ac', '2', '-c:a', codec, '-map_metadata', '-1', '-fflags', '+bitexact', p]);
    return readFileSync(p);
  };
  const id3chunk = id3Tag(3, [f3('TIT2', 'Wave ID3 Title'), f3('TPE1', 'Test Artist Nine'), f3('TCON', 'Downtempo')], { padding: 64 });
  put('09a-24bit-info-id3.wav', wavWith(wav(96000, 'pcm_s24le'), { after: [infoList([['INAM', 'Wave Info Title'], ['IART', 'Test Artist Nine'], ['IGNR', 'Ambient']]), chunk('id3 ', id3chunk)] }), { genre: ['Downtempo'] });
  put('09b-float32-info.wav', wavWith(wav(176400, 'pcm_f32le'), { after: [infoList([['INAM', 'Float Title'], ['IGNR', 'Electroacoustic']])] }), { genre: ['Electroacoustic'] });
  const cue = Buffer.alloc(4 + 24);
  cue.writeUInt32LE(1, 0);
  cue.writeUInt32LE(1, 4);
  cue.write('data', 12, 'latin1');
  cue.writeUInt32LE(44100, 24);
  const labl = Buffer.concat([Buffer.from([1, 0, 0, 0]), Buffer.from('Marker one\0', 'latin1')]);
  const adtl = chunk('LIST', Buffer.concat([Buffer.from('adtl', 'latin1'), chunk('labl', labl)]));
  put('09c-adtl-before-info.wav', wavWith(wav(44100, 'pcm_s16le'), { before: [chunk('cue ', cue), adtl, infoList([['INAM', 'Adtl Title'], ['IGNR', 'Field Recording']])] }), { genre: ['Field Recording'] });
  put('09d-16bit-info-only.wav', wavWith(wav(44100, 'pcm_s16le'), { after: [infoList([['INAM', 'Info Only Title'], ['IGNR', 'Ambient']])] }), { genre: ['Ambient'] });
  // A FLAC with a stale ID3v2 block before "fLaC" (left by an old tagger): its Vorbis comments say what it is.
  const flacPath = join(t.dir, 'fresh.flac');
  run(['-f', 'lavfi', '-i', 'sine=frequency=520:duration=3', '-c:a', 'flac', '-metadata', 'GENRE=Fresh', '-metadata', 'MOOD=Bright', flacPath]);
  put('05-flac-stale-id3.flac', Buffer.concat([id3Tag(3, [f3('TCON', 'Stale'), frame('TXXX', txxxBody('MOOD', 'Old', 0), 3)], { padding: 64 }), readFileSync(flacPath)]), { genre: ['Fresh'], mood: ['Bright'] });
  expect(cli(['scan', music], { home }).status).toBe(0);
}, 120_000);

type Report = { batch: string; written: Array<{ path: string; restored?: string }>; refused: Array<{ path: string; message: string }> };

describe('real-world files: one view of what a file says', () => {
  it('reads references, lists, APEv2 over ID3v1, gnre, and RIFF INFO as careful taggers do', async () => {
    for (const c of cases) {
      const facts = await readTrackFacts(c.file);
      expect({ file: c.file, ...facts.facets }, c.file).toMatchObject({ file: c.file, ...c.reads });
    }
  });

  it('stores and shows a genre that merely looks numeric as text', () => {
    const v = cliJson<{ values: Array<{ value: string }>; rare: Array<{ value: string }> }>(['facets', '--field', 'genre', '--min-support', '1'], { home });
    const all = [...v.values, ...v.rare].map((x) => x.value);
    expect(all).toEqual(expect.arrayContaining(['1990', '80s', '20er Jahre', 'Downtempo', 'Viking Metal', 'Black Metal']));
  });
});

describe('real-world files: every case writes, and undo gives back the bytes', () => {
  it('writes a mood into every file as ID3v2.3, reads it back in Earmark and ffmpeg, keeps the audio and the other facets; undo restores every byte', async () => {
    const before = new Map(cases.map((c) => [c.file, sha(c.file)]));
    const audio = new Map(await Promise.all(cases.map(async (c) => [c.file, await audioDigest(ffmpeg(), c.file)] as const)));
    const r = cliJson<Report>(['tag', ...cases.flatMap((c) => ['--track', c.file]), '--set', 'mood=Probe;Night Drive', '--id3', '3'], { home });
    expect(r.refused).toEqual([]);
    expect(r.written).toHaveLength(cases.length);
    for (const c of cases) {
      const facts = await readTrackFacts(c.file);
      expect(facts.facets.mood, c.file).toEqual(['Probe', 'Night Drive']);
      const { mood: _mood, ...others } = c.reads;
      expect(facts.facets, c.file).toMatchObject(others);
      expect(await audioDigest(ffmpeg(), c.file), c.file).toBe(audio.get(c.file));
      // Independent readings: music-metadata's frames (not the writer's library), the APEv2 items themselves, and
      // ffmpeg where it reads that tag block (not APEv2 items beyond the basic ones, nor a WAV's id3 chunk).
      const native = Object.values((await parseFile(c.file)).native)
        .flat()
        .filter((x) => /^(TMOO|TXXX:MOOD|MOOD|----:com\.apple\.iTunes:MOOD)$/i.test(x.id))
        .map((x) => String(x.value));
      expect(native, c.file).toEqual(expect.arrayContaining(['Probe', 'Night Drive']));
      const ape = apeItems(readFileSync(c.file));
      if (ape.MOOD) expect(ape.MOOD, c.file).toEqual(['Probe', 'Night Drive']);
      else if (!c.file.endsWith('.wav')) {
        const ff = ffmpegTags(c.file);
        // ffmpeg keeps one value of a multi-valued field (the first or the last, by format).
        expect(ff.mood ?? ff.tmoo ?? '', `${c.file}: ffmpeg sees ${JSON.stringify(ff)}`).toMatch(/Probe|Night Drive/);
      }
    }
    // ID3v2 files stay ID3v2.3 (as asked), WAV chunks are only INFO, id3 and padding besides fmt and data.
    expect(readId3v2(join(music, '01a-paren17.mp3'))?.version).toBe(3);
    for (const c of cases.filter((x) => x.file.endsWith('.wav'))) {
      const ids = riffChunks(readFileSync(c.file)).map((x) => x.id);
      expect(ids.filter((id) => !['fmt ', 'data', 'LIST', 'id3 ', 'ID3 ', 'cue ', 'PAD ', 'JUNK'].includes(id)), c.file).toEqual([]);
    }
    // The APEv2-only MP3 keeps one tag: no ID3v2 added.
    expect(readId3v2(join(music, '07b-apev2-id3v1.mp3'))).toBeNull();
    const u = cliJson<Report>(['tag', '--undo', 'last'], { home });
    expect(u.refused).toEqual([]);
    expect(u.written.map((w) => w.restored)).toEqual(cases.map(() => 'bytes'));
    for (const c of cases) expect(sha(c.file), c.file).toBe(before.get(c.file));
  }, 300_000);

  it('writes genres: a numeric-looking genre, an M4A genre over gnre, WAV INFO and id3 together; the default ID3v2.4 write undoes to ID3v2.3', async () => {
    const files = ['03d-1990-v24.mp3', '08a-gnre-moov-last.m4a', '09a-24bit-info-id3.wav', '09d-16bit-info-only.wav', '02-v23-rock-pop.mp3', '07b-apev2-id3v1.mp3', '07a-id3v1-only.mp3'].map((f) => join(music, f));
    const before = new Map(files.map((f) => [f, sha(f)]));
    const r = cliJson<Report>(['tag', ...files.flatMap((f) => ['--track', f]), '--set', 'genre=1990;Blues'], { home });
    expect(r.refused).toEqual([]);
    for (const f of files) {
      expect((await readTrackFacts(f)).facets.genre, f).toEqual(['1990', 'Blues']);
      // ffmpeg keeps one value of a multi-valued field (and skips a multi-valued APEv2 item): the items themselves.
      const ape = apeItems(readFileSync(f));
      if (ape.GENRE) expect(ape.GENRE).toEqual(['1990', 'Blues']);
      else expect(ffmpegTags(f).genre ?? '', f).toMatch(/1990|Blues/);
    }
    expect(ilstItems(readFileSync(join(music, '08a-gnre-moov-last.m4a')))).not.toContain('gnre');
    expect(readId3v2(join(music, '02-v23-rock-pop.mp3'))?.version).toBe(4);
    const u = cliJson<Report>(['tag', '--undo', r.batch], { home });
    expect(u.refused).toEqual([]);
    for (const f of files) expect(sha(f), f).toBe(before.get(f));
    expect(readId3v2(join(music, '02-v23-rock-pop.mp3'))?.version).toBe(3);
    expect((await readTrackFacts(join(music, '09d-16bit-info-only.wav'))).facets.genre).toEqual(['Ambient']);
  }, 300_000);

  it('a file changed after the write gets its values back, in the ID3 version it had, and is told so', async () => {
    const f = join(music, '04c-v23-nul-utf16.mp3');
    const r = cliJson<Report>(['tag', '--track', f, '--set', 'style=Hard Bop', '--id3', '4'], { home });
    expect(r.written).toHaveLength(1);
    expect(readId3v2(f)?.version).toBe(4);
    // Another program appends an ID3v1 tag; Earmark rescans.
    writeFileSync(f, Buffer.concat([readFileSync(f), id3v1({ title: 'Other', genre: 17 })]));
    expect(cli(['scan', music], { home }).status).toBe(0);
    const u = cliJson<Report>(['tag', '--undo', r.batch], { home });
    expect(u.refused).toEqual([]);
    expect(u.written[0].restored).toBe('values');
    const facts = await readTrackFacts(f);
    expect(facts.facets).toMatchObject({ style: ['Bebop', 'Cool Jazz'], genre: ['Rock', 'Pop', 'Jazz'], mood: ['Calm', 'Dreamy'] });
    expect(readId3v2(f)?.version).toBe(3);
    // `--undo last` steps back through writes, never toggling: everything here is undone already.
    expect(cli(['tag', '--undo', 'last'], { home }).stderr).toMatch(/Every batch written has been undone already/);
    expect(cli(['tag', '--batches'], { home }).stdout).toContain(`undo of ${r.batch}`);
    // An undo can itself be undone by naming it: the file untouched since, its bytes come back.
    const text = cli(['tag', '--undo', u.batch], { home });
    expect(text.stdout).toMatch(/restored the original bytes of/);
    expect((await readTrackFacts(f)).facets.style).toEqual(['Hard Bop']);
    expect(cli(['tag', '--undo', 'last', '--dry-run'], { home }).stderr).toMatch(/--undo takes a batch .* and nothing else/);
  }, 120_000);

  it('no dead end: a file edited in place with its time put back is refused, re-read by the next scan, then written; scan --verify finds such edits', async () => {
    const f = join(music, '20-edited.flac');
    run(['-f', 'lavfi', '-i', 'sine=frequency=349:duration=3', '-ac', '2', '-c:a', 'flac', '-map_metadata', '-1', '-metadata', 'TITLE=Edited Elsewhere', '-metadata', 'GENRE=Folk', f]);
    expect(cli(['scan', music], { home }).status).toBe(0);
    // Another tagger: GENRE Folk -> Rock in place, same size, modification time put back.
    // The time is put back as `touch -r` does it, to the nanosecond (Node's utimes rounds through a float).
    const editInPlace = (from: string, to: string) => {
      const ref = join(t.dir, 'time-ref');
      expect(spawnSync('touch', ['-r', f, ref]).status).toBe(0);
      const b = readFileSync(f);
      const at = b.indexOf(`GENRE=${from}`);
      expect(at).toBeGreaterThan(0);
      b.write(`GENRE=${to}`, at, 'latin1');
      writeFileSync(f, b);
      expect(spawnSync('touch', ['-r', ref, f]).status).toBe(0);
      expect(statSync(f).size).toBe(b.length);
    };
    editInPlace('Folk', 'Rock');
    const refused = cli(['tag', '--track', f, '--set', 'mood=Calm'], { home });
    expect(refused.status).toBe(3);
    expect(refused.stdout).toMatch(/20-edited\.flac changed since it was scanned.*no mood written.*Scan again/);
    expect(cli(['scan', music], { home }).status).toBe(0);
    const r = cliJson<Report>(['tag', '--track', f, '--set', 'mood=Calm'], { home });
    expect(r.written).toHaveLength(1);
    expect((await readTrackFacts(f)).facets).toMatchObject({ genre: ['Rock'], mood: ['Calm'] });
    // An edit nobody reported: the plain scan does not see it, scan --verify does.
    editInPlace('Rock', 'Jazz');
    const plain = cliJson<{ changed: number; added: number }>(['scan', music], { home });
    expect(plain, JSON.stringify(plain)).toMatchObject({ changed: 0 });
    expect(cliJson<{ changed: number }>(['scan', music, '--verify'], { home }).changed).toBe(1);
    const v = cliJson<{ values: Array<{ value: string }>; rare: Array<{ value: string }> }>(['facets', '--field', 'genre', '--min-support', '1'], { home });
    expect([...v.values, ...v.rare].map((x) => x.value)).toContain('Jazz');
  }, 120_000);

  it('names in NFC and NFD, in an NFD folder, are scanned and written; a name that is not UTF-8 is reported in words, not as vanished', async () => {
    const names = ['12-Cafe\u0301 De\u0301ja\u0300 Vu (nfd).flac', '12-Caf\u00e9 D\u00e9j\u00e0 Vu (nfc).flac', join('\u00dcn\u00efc\u00f6d\u00e9 Ordner'.normalize('NFD'), 'inside nfd folder.flac')];
    mkdirSync(join(music, '\u00dcn\u00efc\u00f6d\u00e9 Ordner'.normalize('NFD')), { recursive: true });
    for (const n of names) run(['-f', 'lavfi', '-i', 'sine=frequency=500:duration=2', '-c:a', 'flac', '-metadata', 'GENRE=Chanson', join(music, n)]);
    const latin1 = Buffer.concat([Buffer.from(`${music}/12-caf`), Buffer.from([0xe9]), Buffer.from(' latin1.flac')]);
    copyFileSync(join(music, names[0]), latin1);
    const scan = cliJson<{ problems: Array<{ path: string; code: string; message: string }> }>(['scan', music], { home });
    const bad = scan.problems.filter((p) => p.code === 'invalid-name');
    expect(bad).toHaveLength(1);
    expect(bad[0].message).toMatch(/not valid UTF-8 \(read as Latin-1 it is "12-café latin1\.flac"\).*rename it/);
    expect(scan.problems.filter((p) => /vanished/.test(p.message))).toEqual([]);
    const r = cliJson<Report>(['tag', ...names.flatMap((n) => ['--track', join(music, n)]), '--set', 'mood=Wistful'], { home });
    expect(r.refused).toEqual([]);
    expect(r.written).toHaveLength(3);
    for (const n of names) expect((await readTrackFacts(join(music, n))).facets).toMatchObject({ genre: ['Chanson'], mood: ['Wistful'] });
  }, 120_000);

  it('keeps links, owners and permissions: a symlink stays a link to the written file, hard links and read-only files are refused even for root', async () => {
    const real = join(t.dir, 'outside-real.flac');
    run(['-f', 'lavfi', '-i', 'sine=frequency=610:duration=2', '-c:a', 'flac', '-metadata', 'GENRE=Jazz', real]);
    const link = join(music, '30-link.flac');
    symlinkSync(real, link);
    const hard = join(music, '31-hard.flac');
    run(['-f', 'lavfi', '-i', 'sine=frequency=620:duration=2', '-c:a', 'flac', hard]);
    linkSync(hard, join(t.dir, 'hard-twin.flac'));
    const ro = join(music, '32-read-only.flac');
    run(['-f', 'lavfi', '-i', 'sine=frequency=630:duration=2', '-c:a', 'flac', ro]);
    chmodSync(ro, 0o444);
    if (process.getuid?.() === 0) chownSync(real, 1234, 1234);
    expect(cli(['scan', music], { home }).status).toBe(0);
    const out = cli(['tag', '--track', link, '--track', hard, '--track', ro, '--set', 'mood=Linked', '--json'], { home });
    const r = JSON.parse(out.stdout) as Report;
    expect(r.written.map((w) => w.path)).toEqual([link]);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect((await readTrackFacts(real)).facets.mood).toEqual(['Linked']);
    if (process.getuid?.() === 0) expect([statSync(real).uid, statSync(real).gid]).toEqual([1234, 1234]);
    expect(r.refused.find((x) => x.path === hard)?.message).toMatch(/has 2 hard links .*no mood written/);
    expect(r.refused.find((x) => x.path === ro)?.message).toMatch(/is read-only .*Make it writable/);
    expect(statSync(ro).mode & 0o777).toBe(0o444);
  }, 120_000);

  it('refuses up front what is not a facet, refuses a write that would drop another ID3 frame, and leaves no phantom batch to undo', async () => {
    expect(cli(['tag', '--track', join(music, '01a-paren17.mp3'), '--set', 'title=New'], { home }).stderr).toMatch(/title is not a facet field/);
    const mp3 = readFileSync(join(music, '03b-80s-v23.mp3'));
    // An ID3v2.4 tag with a musician-credits frame (TMCL) node-taglib-sharp does not keep, after an unsynchronised v2.3 title.
    const tmcl = frame('TMCL', textBody(['guitar', 'Ann', 'drums', 'Bob'], 3), 4);
    const tagged = Buffer.concat([id3Tag(4, [frame('TIT2', textBody('Credits', 3), 4), tmcl, frame('TCON', textBody('Rock', 3), 4)], { padding: 128 }), mp3.subarray(mp3.indexOf(Buffer.from([0xff, 0xfb])))]);
    const f = join(music, '33-tmcl.mp3');
    writeFileSync(f, tagged);
    expect(cli(['scan', music], { home }).status).toBe(0);
    const batches = cliJson<Array<{ batch: string }>>(['tag', '--batches'], { home }).length;
    const out = cli(['tag', '--track', f, '--set', 'mood=Calm', '--json'], { home });
    const r = JSON.parse(out.stdout) as Report;
    // node-taglib-sharp 6 drops TMCL when it re-renders the tag: the write is refused and the file left alone.
    expect(r.written).toEqual([]);
    expect(r.refused[0].message).toMatch(/would drop its TMCL frame/);
    expect(readFileSync(f).equals(tagged)).toBe(true);
    expect(cliJson<Array<{ batch: string }>>(['tag', '--batches'], { home })).toHaveLength(batches);
  }, 120_000);

  it('reads title and artist from unsynchronised ID3v2.3 tags and ID3v2.4 extended headers, and writes them', async () => {
    const mp3 = readFileSync(join(music, '03b-80s-v23.mp3'));
    const audio = mp3.subarray(mp3.indexOf(Buffer.from([0xff, 0xfb])));
    const f3 = join(music, '34-v23-unsync.mp3');
    writeFileSync(f3, Buffer.concat([id3Tag(3, [frame('TIT2', textBody('Ünsync ÿ title', 1), 3), frame('TPE1', textBody('Artist ÿ', 1), 3), frame('TCON', textBody('Rock', 0), 3)], { unsync: true, padding: 64 }), audio]));
    const f4 = join(music, '35-v24-ext.mp3');
    writeFileSync(f4, Buffer.concat([id3Tag(4, [frame('TIT2', textBody('Extended', 3), 4), frame('TPE1', textBody('Ext Artist', 3), 4)], { extHeader: Buffer.concat([syncsafe(6), Buffer.from([1, 0])]), padding: 64 }), audio]));
    for (const [f, title, artist] of [[f3, 'Ünsync ÿ title', 'Artist ÿ'], [f4, 'Extended', 'Ext Artist']]) {
      const facts = await readTrackFacts(f);
      expect([facts.title, facts.artist]).toEqual([title, artist]);
    }
    expect(cli(['scan', music], { home }).status).toBe(0);
    const r = cliJson<Report>(['tag', '--track', f3, '--track', f4, '--set', 'mood=Calm'], { home });
    expect(r.refused).toEqual([]);
    expect((await readTrackFacts(f3)).title).toBe('Ünsync ÿ title');
  }, 120_000);
});

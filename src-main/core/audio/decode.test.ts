import { spawnSync } from 'node:child_process';
import { MessageChannel } from 'node:worker_threads';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ffmpeg, lavfi, tempDir } from '../../../tests/helpers/fixtures.js';
import { decodeExcerpt, decodeExcerpts, DecodeError, probe, resolveFfmpeg, SR } from './decode.js';
import { spectrogram } from './stft.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

function dominantHz(y: Float32Array): number {
  const S = spectrogram(y.subarray(0, 8192), { nFft: 8192, hopLength: 8192, center: false });
  let best = 0;
  for (let k = 1; k < S.rows; k++) if (S.data[k] > S.data[best]) best = k;
  return (best * SR) / 8192;
}

async function failure(file: string): Promise<DecodeError> {
  try {
    await decodeExcerpt(ffmpeg(), file);
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
  throw new Error(`decoding ${file} did not fail`);
}

describe('ffmpeg resolution', () => {
  it('prefers the bundled binary and reports its version', () => {
    const ff = resolveFfmpeg();
    expect(['bundled', 'path']).toContain(ff.source);
    expect(ff.version).toBeTruthy();
  });
  const onPath = spawnSync('ffmpeg', ['-version']).status === 0;
  it.runIf(onPath)('falls back to ffmpeg on PATH when the bundled binary is absent, and decodes with it', async () => {
    const ff = resolveFfmpeg(null, { skipBundled: true });
    expect(ff).toMatchObject({ path: 'ffmpeg', source: 'path' });
    const f = join(dir, 'path-ffmpeg.wav');
    lavfi(f, 'sine=f=440:d=1');
    expect((await decodeExcerpt(ff, f)).length).toBe(SR);
  });
  it('uses a user setting first', () => {
    expect(resolveFfmpeg(resolveFfmpeg().path).source).toBe('setting');
  });
  it('refuses a user setting that does not run, rather than silently using another', () => {
    expect(() => resolveFfmpeg('/nonexistent/ffmpeg')).toThrow(/does not run/);
  });
});

describe('decodeExcerpt', () => {
  const formats = ['mp3', 'flac', 'ogg', 'opus', 'm4a', 'wav'];
  for (const fmt of formats) {
    it(`decodes ${fmt} to float32 mono at 22050 Hz`, async () => {
      const f = join(dir, `tone.${fmt}`);
      lavfi(f, 'sine=f=440:d=4:sample_rate=44100', ['-ac', '2']);
      const y = await decodeExcerpt(ffmpeg(), f);
      expect(y).toBeInstanceOf(Float32Array);
      expect(Math.abs(y.length - 4 * SR)).toBeLessThan(0.1 * SR); // codec padding differs a little
      expect(Math.abs(dominantHz(y.subarray(SR)) - 440)).toBeLessThan(4);
    });
  }

  it('decodes only the excerpt asked for', async () => {
    const f = join(dir, 'chirp.flac');
    // 2 s at 300 Hz then 2 s at 1200 Hz.
    lavfi(f, 'aevalsrc=sin(2*PI*(300+900*gte(t\\,2))*t):d=4:s=44100');
    const y = await decodeExcerpt(ffmpeg(), f, { offset: 2.5, duration: 1 });
    expect(Math.abs(y.length - SR)).toBeLessThan(50);
    expect(Math.abs(dominantHz(y) - 1200)).toBeLessThan(4);
  });

  it('puts the samples in a SharedArrayBuffer when asked, the same samples, so a worker can read them with nothing detached', async () => {
    const f = join(dir, 'shared.ogg');
    lavfi(f, 'sine=f=660:d=2:sample_rate=44100');
    const plain = await decodeExcerpt(ffmpeg(), f, { offset: 0.5, duration: 1 });
    const shared = await decodeExcerpt(ffmpeg(), f, { offset: 0.5, duration: 1, shared: true });
    expect(plain.buffer).toBeInstanceOf(ArrayBuffer);
    expect(shared.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(shared.length).toBe(plain.length);
    expect(Array.from(shared)).toEqual(Array.from(plain));
    // Posting it shares it: the sender's array stays whole (a transfer would have emptied it).
    const { port1, port2 } = new MessageChannel();
    const got = new Promise<Float32Array>((res) => port2.once('message', (m: Float32Array) => res(m)));
    port1.postMessage(shared);
    const received = await got;
    port1.close();
    expect(shared.length).toBe(plain.length);
    received[0] = 42;
    expect(shared[0]).toBe(42);
  });

  for (const fmt of ['mp3', 'flac', 'm4a']) {
    it(`decodes several excerpts of a ${fmt} file with one ffmpeg process, the same samples as one process each`, async () => {
      const f = join(dir, `sweep.${fmt}`);
      // A rising tone, so every excerpt differs from the others.
      lavfi(f, 'aevalsrc=0.5*sin(2*PI*(200+100*t)*t):d=12:s=44100', ['-ac', '2']);
      const spans = [{ offset: 0, duration: 2 }, { offset: 4.5, duration: 3 }, { offset: 9.25, duration: 2 }];
      const together = await decodeExcerpts(ffmpeg(), f, spans, { sr: SR });
      const apart = await Promise.all(spans.map((s) => decodeExcerpt(ffmpeg(), f, { ...s, sr: SR })));
      expect(together).toHaveLength(3);
      for (let i = 0; i < 3; i++) {
        expect(together[i].length).toBe(apart[i].length);
        expect(Math.abs(together[i].length - spans[i].duration * SR)).toBeLessThan(0.05 * SR);
        expect(Buffer.from(together[i].buffer).equals(Buffer.from(apart[i].buffer))).toBe(true);
      }
      expect(Math.abs(dominantHz(together[2]) - dominantHz(together[0]))).toBeGreaterThan(100);
    });
  }

  it('reports a bad file once for all its excerpts', async () => {
    const f = join(dir, 'text-many.mp3');
    writeFileSync(f, 'not audio at all\n'.repeat(200));
    const spans = [{ offset: 0, duration: 1 }, { offset: 2, duration: 1 }];
    await expect(decodeExcerpts(ffmpeg(), f, spans)).rejects.toBeInstanceOf(DecodeError);
    await expect(decodeExcerpts(ffmpeg(), join(dir, 'gone.flac'), spans)).rejects.toMatchObject({ code: 'missing' });
  });

  it('reports a missing file', async () => {
    expect((await failure(join(dir, 'nope.mp3'))).code).toBe('missing');
  });
  it('reports an empty file', async () => {
    const f = join(dir, 'empty.mp3');
    writeFileSync(f, '');
    expect((await failure(f)).code).toBe('empty');
  });
  it('reports a text file with an audio extension as not audio or corrupt', async () => {
    const f = join(dir, 'text.flac');
    writeFileSync(f, 'hello, not audio\n'.repeat(100));
    expect(['not-audio', 'corrupt']).toContain((await failure(f)).code);
  });
  it('reports a truncated file whose header promises more', async () => {
    const src = join(dir, 'whole.m4a');
    lavfi(src, 'sine=f=440:d=3');
    const f = join(dir, 'truncated.m4a');
    writeFileSync(f, readFileSync(src).subarray(0, 1500));
    expect((await failure(f)).code).toBe('corrupt');
  });
  it('reports DRM-protected (CENC-encrypted) audio', async () => {
    const f = join(dir, 'drm.m4a');
    lavfi(f, 'sine=f=440:d=2', ['-c:a', 'aac', '-encryption_scheme', 'cenc-aes-ctr', '-encryption_key', '76a6c65c5ea762046bd749a2e632ccbb', '-encryption_kid', 'a7e61c373e219033c21091fa607bf3b8']);
    const e = await failure(f);
    expect(e.code).toBe('drm');
    expect(e.message).toMatch(/DRM/);
  });
  it('reports a video file without audio as not audio', async () => {
    const f = join(dir, 'silent-video.mp4');
    lavfi(f, 'color=c=black:s=32x32:d=1', ['-c:v', 'mpeg4']);
    const g = join(dir, 'silent-video.m4a');
    copyFileSync(f, g);
    expect((await failure(g)).code).toBe('not-audio');
  });
  it.runIf(process.getuid?.() !== 0)('reports an unreadable file', async () => {
    const f = join(dir, 'locked.wav');
    lavfi(f, 'sine=f=440:d=1');
    chmodSync(f, 0o000);
    expect((await failure(f)).code).toBe('unreadable');
    chmodSync(f, 0o644);
  });
});

describe('probe', () => {
  it('reads duration, codec, rate and channels', async () => {
    const f = join(dir, 'probe.ogg');
    lavfi(f, 'sine=f=440:d=3:sample_rate=44100', ['-ac', '2']);
    const p = await probe(ffmpeg(), f);
    expect(p.duration).toBeCloseTo(3, 0);
    expect(p.codec).toBe('vorbis');
    expect(p.sampleRate).toBe(44100);
    expect(p.channels).toBe(2);
  });
});

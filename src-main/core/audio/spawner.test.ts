import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpeg, lavfi, tempDir } from '../../../tests/helpers/fixtures.js';
import { decodeExcerpts, DecodeError } from './decode.js';
import { ProcessSpawner, SpawnerGone } from './spawner.js';

const { dir, cleanup } = tempDir();
afterAll(cleanup);

describe.runIf(ProcessSpawner.supported)('ProcessSpawner (ffmpeg started from a small helper process)', () => {
  let spawner: ProcessSpawner;
  beforeAll(async () => {
    spawner = await ProcessSpawner.start();
  });
  afterAll(async () => {
    await spawner?.close();
  });

  it('gives each output, stderr and the exit code of the process it ran', async () => {
    const r = await spawner.run('/bin/sh', ['-c', 'printf abc; printf defgh >&3; printf x >&4; echo oops >&2; exit 3'], 3);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('oops\n');
    expect(r.chunks.map((c) => Buffer.concat(c).toString())).toEqual(['abc', 'defgh', 'x']);
    expect(r.bytes).toEqual([3, 5, 1]);
  });

  it('carries megabytes unchanged, on several runs at once', async () => {
    const runs = await Promise.all(
      [1, 2, 3, 4].map((n) => spawner.run('/bin/sh', ['-c', `head -c ${n * 1_000_000} /dev/zero | tr '\\0' '${n}'`], 1)),
    );
    runs.forEach((r, i) => {
      const b = Buffer.concat(r.chunks[0]);
      expect(b.length).toBe((i + 1) * 1_000_000);
      expect(b.every((x) => x === 0x31 + i)).toBe(true);
    });
  });

  it('decodes exactly what ffmpeg started here decodes, excerpt by excerpt', async () => {
    const f = join(dir, 'chirp.flac');
    lavfi(f, 'aevalsrc=sin(2*PI*(200+40*t)*t)|sin(2*PI*300*t):s=44100:d=12');
    const spans = [{ offset: 0.5, duration: 3 }, { offset: 5, duration: 4 }, { offset: 10 }];
    const direct = await decodeExcerpts(ffmpeg(), f, spans);
    const helped = await decodeExcerpts(ffmpeg(), f, spans, { spawner });
    expect(helped.map((a) => a.length)).toEqual(direct.map((a) => a.length));
    helped.forEach((a, i) => expect(Buffer.from(a.buffer).equals(Buffer.from(direct[i].buffer))).toBe(true));
  });

  it('reports a corrupt file as decoding would without it', async () => {
    const f = join(dir, 'noise.mp3');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(f, Buffer.alloc(4096, 7));
    const e = await decodeExcerpts(ffmpeg(), f, [{ duration: 2 }], { spawner }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(DecodeError);
    expect((e as DecodeError).code).toBe('corrupt');
  });

  it('says a command that does not exist cannot start', async () => {
    const e = await spawner.run('/nonexistent/ffmpeg', [], 1).catch((x: unknown) => x);
    expect((e as NodeJS.ErrnoException).code).toBe('ENOENT');
    // The helper carries on.
    expect((await spawner.run('/bin/sh', ['-c', 'printf ok'], 1)).bytes).toEqual([2]);
  });

  it('kills the process when the signal aborts', async () => {
    const ac = new AbortController();
    const t0 = performance.now();
    const p = spawner.run('/bin/sh', ['-c', 'sleep 20'], 1, ac.signal);
    setTimeout(() => ac.abort(), 100);
    const e = await p.catch((x: unknown) => x);
    expect((e as NodeJS.ErrnoException).code).toBe('ABORT_ERR');
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it('when the helper dies, runs fail with SpawnerGone and decoding falls back to starting ffmpeg here', async () => {
    const s = await ProcessSpawner.start();
    const f = join(dir, 'tone.wav');
    lavfi(f, 'sine=f=440:d=2');
    const p = s.run('/bin/sh', ['-c', 'sleep 20'], 1);
    // Kill the helper as a crash would (its process is private to the class).
    (s as unknown as { child: { kill: (sig: string) => void } }).child.kill('SIGKILL');
    await expect(p).rejects.toBeInstanceOf(SpawnerGone);
    expect(s.alive).toBe(false);
    const audio = await decodeExcerpts(ffmpeg(), f, [{ duration: 1 }], { spawner: s });
    expect(audio[0].length).toBe(22050);
    await s.close();
  });
});

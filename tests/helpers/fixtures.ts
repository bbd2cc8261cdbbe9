import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { resolveFfmpeg, type Ffmpeg } from '../../src-main/core/audio/decode.js';

export const REPO = resolve(import.meta.dirname, '..', '..');

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = 'earmark-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function ffmpeg(): Ffmpeg {
  return resolveFfmpeg();
}

/** Write an audio file with ffmpeg's lavfi sources (e.g. `sine=f=440:d=3`), in the format the extension names. */
export function lavfi(out: string, source: string, extra: string[] = []): void {
  const r = spawnSync(ffmpeg().path, ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', source, ...extra, out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg failed for ${out}: ${r.stderr}`);
}

/** Run the built CLI (`npm run build:cli` comes first in `npm test`). */
export function cli(args: string[], o: { home?: string; input?: string; timeout?: number } = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO, 'bin', 'earmark.js'), ...(o.home ? ['--home', o.home] : []), ...args], {
    encoding: 'utf8',
    input: o.input,
    timeout: o.timeout ?? 600_000,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, EARMARK_HOME: '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function cliJson<T>(args: string[], o: { home?: string } = {}): T {
  const r = cli([...args, '--json'], o);
  if (r.status !== 0) throw new Error(`earmark ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

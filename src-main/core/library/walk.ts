import { opendir, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** File extensions Earmark treats as audio. */
export const AUDIO_EXTENSIONS = new Set([
  '.mp3', '.flac', '.ogg', '.oga', '.opus', '.m4a', '.m4b', '.mp4', '.aac', '.wav', '.wave', '.aif', '.aiff', '.aifc',
  '.wma', '.ape', '.wv', '.mpc', '.webm', '.mka', '.dsf', '.dff', '.m4p',
]);

export function isAudioPath(path: string): boolean {
  return AUDIO_EXTENSIONS.has(extname(path).toLowerCase());
}

export interface FoundFile {
  path: string;
  size: number;
  mtimeMs: number;
}

export interface WalkProblem {
  path: string;
  code: string;
  message: string;
}

function describe(e: unknown): { code: string; message: string } {
  const code = (e as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
  const words: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    ENOENT: 'vanished while scanning',
    ENAMETOOLONG: 'name too long for this system',
    ELOOP: 'too many levels of symbolic links',
    EIO: 'input/output error (disk or network problem)',
  };
  return { code, message: words[code] ?? (e as Error).message ?? String(e) };
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });
const LATIN1 = new TextDecoder('latin1');

/**
 * A file name as text, or, when its bytes are not valid UTF-8 (a name written on a system using Latin-1 or
 * another legacy encoding), how to show it and what to do. Such a file cannot be handed to ffmpeg or stored by its
 * name, so it is reported rather than scanned.
 */
export function utf8Name(bytes: Buffer): string | { shown: string; message: string } {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    const shown = bytes.toString('utf8');
    const latin1 = LATIN1.decode(bytes);
    return {
      shown,
      message: `its name is not valid UTF-8 (read as Latin-1 it is "${latin1}"), so Earmark cannot open it by name; rename it to UTF-8 (for example: convmv -f latin1 -t utf-8 --notest FILE) and scan again`,
    };
  }
}

/**
 * Every audio file below `roots`, following symbolic links but never visiting a directory or a file twice
 * (so symlink loops end and a file linked from two places is one track). Problems (unreadable folders,
 * vanished files, over-long names, names that are not valid UTF-8) are reported and the walk goes on.
 */
export async function walkAudio(roots: readonly string[], onProblem: (p: WalkProblem) => void, signal?: AbortSignal): Promise<FoundFile[]> {
  const seenDirs = new Set<string>();
  // One entry per file (device:inode); a file reached both directly and through a link keeps its own path.
  const files = new Map<string, FoundFile & { viaLink: boolean }>();
  const stack: string[] = [];
  for (const r of roots) stack.push(r);
  while (stack.length) {
    signal?.throwIfAborted();
    const dir = stack.pop() as string;
    let real: string;
    try {
      real = await realpath(dir);
    } catch (e) {
      onProblem({ path: dir, ...describe(e) });
      continue;
    }
    if (seenDirs.has(real)) continue;
    seenDirs.add(real);
    let handle;
    try {
      // Names as bytes: one that is not valid UTF-8 would come back with U+FFFD in place of its bytes, a path
      // that does not exist ("vanished while scanning").
      // (Node accepts 'buffer' here and gives Buffer names; its type declarations list text encodings only.)
      handle = await opendir(dir, { encoding: 'buffer' as BufferEncoding });
    } catch (e) {
      const d = describe(e);
      if (d.code === 'ENOTDIR') {
        // A root that is a single file: scanned if it is audio by its name, reported otherwise.
        if (isAudioPath(dir)) await consider(dir, false);
        else onProblem({ path: dir, code: 'not-audio', message: 'is a file without an audio extension, not a music folder: name its folder instead' });
        continue;
      }
      onProblem({ path: dir, ...d });
      continue;
    }
    const subdirs: string[] = [];
    try {
      for await (const entry of handle) {
        const name = utf8Name(entry.name as unknown as Buffer);
        if (typeof name !== 'string') {
          if (entry.isDirectory() || isAudioPath(name.shown)) onProblem({ path: join(dir, name.shown), code: 'invalid-name', message: name.message });
          continue;
        }
        // Earmark's own temporary copies (a tag write interrupted by a crash) are never music.
        if (name.startsWith('.earmark-tmp-')) continue;
        const p = join(dir, name);
        if (entry.isDirectory()) subdirs.push(p);
        else if (entry.isFile()) {
          if (isAudioPath(p)) await consider(p, false);
        } else if (entry.isSymbolicLink()) {
          try {
            const st = await stat(p);
            if (st.isDirectory()) subdirs.push(p);
            else if (st.isFile() && isAudioPath(p)) await consider(p, true);
          } catch (e) {
            onProblem({ path: p, ...describe(e) });
          }
        }
      }
    } catch (e) {
      onProblem({ path: dir, ...describe(e) });
    }
    // Depth-first in name order, so scans list files in a stable order.
    subdirs.sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
    stack.push(...subdirs);
  }
  const found: FoundFile[] = [...files.values()].map(({ path, size, mtimeMs }) => ({ path, size, mtimeMs }));
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return found;

  async function consider(p: string, viaLink: boolean): Promise<void> {
    try {
      const st = await stat(p, { bigint: true });
      const key = `${st.dev}:${st.ino}`;
      const prev = files.get(key);
      if (prev && (prev.viaLink === viaLink ? prev.path <= p : !prev.viaLink)) return;
      files.set(key, { path: p, size: Number(st.size), mtimeMs: Math.floor(Number(st.mtimeMs)), viaLink });
    } catch (e) {
      onProblem({ path: p, ...describe(e) });
    }
  }
}

import { createReadStream, realpathSync, statSync, type ReadStream } from 'node:fs';
import { extname, isAbsolute, relative, resolve, sep } from 'node:path';

/** Why a media request was refused. */
export class MediaRefused extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 416,
    message: string,
  ) {
    super(message);
  }
}

const MIME: Record<string, string> = {
  '.mp3': 'audio/mpeg',
  '.flac': 'audio/flac',
  '.ogg': 'audio/ogg',
  '.oga': 'audio/ogg',
  '.opus': 'audio/ogg; codecs=opus',
  '.m4a': 'audio/mp4',
  '.mp4': 'audio/mp4',
  '.aac': 'audio/aac',
  '.wav': 'audio/wav',
  '.aif': 'audio/aiff',
  '.aiff': 'audio/aiff',
  '.wma': 'audio/x-ms-wma',
  '.webm': 'audio/webm',
};

export function mimeOf(path: string): string {
  return MIME[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && !rel.split(sep).includes('..'));
}

/** A percent-encoded path from a URL, decoded exactly once. */
export function decodeMediaPath(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new MediaRefused(400, 'The file name is not valid percent-encoding.');
  }
}

/**
 * The real file behind a media request, only if it lies inside one of the library roots. The path (already
 * decoded) must be absolute, may not contain `..` segments or NUL bytes, and is resolved through symlinks before
 * the check, so a link inside a root pointing outside it is refused as well.
 */
export function resolveLibraryFile(roots: readonly string[], p: string): string {
  if (p.includes('\0')) throw new MediaRefused(400, 'The file name contains a NUL byte.');
  if (!isAbsolute(p)) throw new MediaRefused(400, 'Media paths are absolute.');
  if (p.split(/[\\/]+/).includes('..')) throw new MediaRefused(403, 'Paths with ".." are refused.');
  let real: string;
  try {
    real = realpathSync(resolve(p));
  } catch {
    throw new MediaRefused(404, 'No such file.');
  }
  const realRoots = roots.flatMap((r) => {
    try {
      return [realpathSync(r)];
    } catch {
      return [];
    }
  });
  if (!realRoots.some((r) => inside(r, real))) throw new MediaRefused(403, 'Only files inside the library folders are served.');
  const st = statSync(real);
  if (!st.isFile()) throw new MediaRefused(404, 'Not a file.');
  return real;
}

export interface MediaResponse {
  status: 200 | 206;
  headers: Record<string, string>;
  body: ReadStream;
}

/** Serve a file with HTTP range support (`bytes=a-b`, `bytes=a-`, `bytes=-n`), as media elements need to seek. */
export function serveFile(file: string, range: string | null | undefined): MediaResponse {
  const size = statSync(file).size;
  const base = { 'Content-Type': mimeOf(file), 'Accept-Ranges': 'bytes', 'Cache-Control': 'no-store' };
  if (!range) return { status: 200, headers: { ...base, 'Content-Length': String(size) }, body: createReadStream(file) };
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  if (!m || (m[1] === '' && m[2] === '')) throw new MediaRefused(416, `Unsupported range "${range}".`);
  let start: number;
  let end: number;
  if (m[1] === '') {
    const n = Number(m[2]);
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) throw new MediaRefused(416, `Range "${range}" is outside the file (${size} bytes).`);
  return {
    status: 206,
    headers: { ...base, 'Content-Length': String(end - start + 1), 'Content-Range': `bytes ${start}-${end}/${size}` },
    body: createReadStream(file, { start, end }),
  };
}

import { Readable } from 'node:stream';
import { MEDIA_SCHEME } from '../core/contract.js';
import { decodeMediaPath, MediaRefused, resolveLibraryFile, serveFile } from '../core/media.js';

/** Registered before the app is ready: a standard, secure scheme the media element can stream and seek. */
export const MEDIA_SCHEME_PRIVILEGES = {
  scheme: MEDIA_SCHEME,
  privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true, bypassCSP: false },
};

/** `earmark-media://media/<percent-encoded absolute path>` */
export function mediaUrlOf(path: string): string {
  return `${MEDIA_SCHEME}://media/${encodeURIComponent(path)}`;
}

/**
 * Answer one request of the media protocol: only files inside the library roots (after resolving symlinks;
 * `..`, NUL and malformed encodings refused), with range support so the player can seek.
 */
export async function handleMediaRequest(request: Request, roots: () => Promise<string[]> | string[]): Promise<Response> {
  try {
    if (request.method !== 'GET' && request.method !== 'HEAD') throw new MediaRefused(400, 'Only GET and HEAD are served.');
    const url = new URL(request.url);
    if (url.protocol !== `${MEDIA_SCHEME}:` || url.host !== 'media') throw new MediaRefused(400, 'Not a media address.');
    const encoded = url.pathname.replace(/^\//, '');
    const file = resolveLibraryFile(await roots(), decodeMediaPath(encoded));
    const m = serveFile(file, request.headers.get('range'));
    if (request.method === 'HEAD') {
      m.body.destroy();
      return new Response(null, { status: m.status, headers: m.headers });
    }
    return new Response(Readable.toWeb(m.body) as ReadableStream, { status: m.status, headers: m.headers });
  } catch (e) {
    if (e instanceof MediaRefused) return new Response(e.message, { status: e.status, headers: { 'Content-Type': 'text/plain' } });
    return new Response('The file could not be read.', { status: 500, headers: { 'Content-Type': 'text/plain' } });
  }
}

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { ApiEvent } from '../core/contract.js';
import { MediaRefused, serveFile } from '../core/media.js';
import { errorBody, type EarmarkService } from '../core/service.js';

/** The page's Content-Security-Policy in web mode (the Electron shell sets its own, equally strict). */
export const WEB_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "media-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const STATIC_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

export interface ServeOptions {
  service: EarmarkService;
  /** The built renderer (index.html and assets). */
  staticDir: string;
  port?: number;
  token?: string;
}

export interface RunningServer {
  url: string;
  /** The address to open, with the access token. */
  openUrl: string;
  token: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': data.length, 'Cache-Control': 'no-store' });
  res.end(data);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req) {
    n += (c as Buffer).length;
    if (n > limit) throw Object.assign(new Error(`The request is larger than ${limit} bytes.`), { status: 413 });
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Web mode: the built renderer and the API over HTTP on 127.0.0.1 only. Every API, event and media request
 * carries the access token (header `Authorization: Bearer …`, or `?token=` where a browser cannot send headers:
 * EventSource and media elements); the Host header must name the loopback address (no DNS rebinding).
 */
export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const token = o.token ?? randomBytes(18).toString('base64url');
  const staticRoot = resolve(o.staticDir);
  if (!existsSync(join(staticRoot, 'index.html'))) {
    throw new Error(`The interface is not built (no ${join(staticRoot, 'index.html')}). Run \`npm run build\` first.`);
  }
  const clients = new Set<ServerResponse>();
  const unsubscribe = o.service.onEvent((e: ApiEvent) => {
    const line = `data: ${JSON.stringify(e)}\n\n`;
    for (const c of clients) c.write(line);
  });
  let port = 0;

  const authorised = (req: IncomingMessage, url: URL): boolean => {
    const h = req.headers.authorization;
    const given = h?.startsWith('Bearer ') ? h.slice(7) : url.searchParams.get('token');
    return !!given && sameToken(given, token);
  };

  const server = createServer(async (req, res) => {
    try {
      const host = (req.headers.host ?? '').toLowerCase();
      if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
        sendJson(res, 421, { error: { code: 'bad-request', message: 'Earmark answers on 127.0.0.1 only.' } });
        return;
      }
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
      const p = url.pathname;
      if (p.startsWith('/api/') || p === '/media') {
        if (!authorised(req, url)) {
          sendJson(res, 401, { error: { code: 'unauthorized', message: 'Missing or wrong access token: open the address `earmark serve` printed.' } });
          return;
        }
      }
      if (p === '/api/events' && req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
        res.write(': connected\n\n');
        clients.add(res);
        const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
        req.on('close', () => {
          clearInterval(ping);
          clients.delete(res);
        });
        return;
      }
      if (p === '/api/upload' && req.method === 'POST') {
        const name = url.searchParams.get('name') ?? 'upload';
        const body = await readBody(req, 512 * 1024 * 1024);
        try {
          sendJson(res, 200, { uploadId: o.service.saveUpload(name, body) });
        } catch (err) {
          const { status, body: eb } = errorBody(err);
          sendJson(res, status, eb);
        }
        return;
      }
      if (p.startsWith('/api/')) {
        if (req.method !== 'POST') {
          sendJson(res, 405, { error: { code: 'bad-request', message: 'API calls are POST requests.' } });
          return;
        }
        const method = decodeURIComponent(p.slice(5));
        const raw = await readBody(req, 1024 * 1024);
        let body: unknown;
        try {
          body = raw.length ? JSON.parse(raw.toString('utf8')) : {};
        } catch {
          sendJson(res, 400, { error: { code: 'bad-request', message: 'The request body is not JSON.' } });
          return;
        }
        try {
          sendJson(res, 200, await o.service.call(method, body));
        } catch (err) {
          const { status, body: eb } = errorBody(err);
          sendJson(res, status, eb);
        }
        return;
      }
      if (p === '/media' && (req.method === 'GET' || req.method === 'HEAD')) {
        try {
          const file = o.service.mediaFile(url.searchParams.get('path') ?? '');
          const m = serveFile(file, req.headers.range);
          res.writeHead(m.status, m.headers);
          if (req.method === 'HEAD') {
            m.body.destroy();
            res.end();
          } else m.body.pipe(res);
        } catch (err) {
          if (err instanceof MediaRefused) sendJson(res, err.status, { error: { code: err.status === 404 ? 'not-found' : 'bad-request', message: err.message } });
          else throw err;
        }
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendJson(res, 405, { error: { code: 'bad-request', message: 'Method not allowed.' } });
        return;
      }
      // The renderer: its files, and index.html for every other path (client-side routes).
      let rel = normalize(decodeURIComponent(p)).replace(/^([/\\])+/, '');
      let file = resolve(staticRoot, rel);
      if (!file.startsWith(staticRoot + sep) || !existsSync(file) || !statSync(file).isFile()) {
        rel = 'index.html';
        file = join(staticRoot, rel);
      }
      const type = STATIC_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
      res.writeHead(200, {
        'Content-Type': type,
        'Content-Length': statSync(file).size,
        'Content-Security-Policy': WEB_CSP,
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
        'Cache-Control': rel === 'index.html' ? 'no-store' : 'max-age=3600',
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    } catch (err) {
      const status = (err as { status?: number }).status ?? 500;
      if (!res.headersSent) sendJson(res, status, { error: { code: 'failed', message: err instanceof Error ? err.message : String(err) } });
      else res.destroy();
    }
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 0, '127.0.0.1', () => ok());
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}/`;
  return {
    url,
    openUrl: `${url}?token=${token}`,
    token,
    port,
    server,
    close: async () => {
      unsubscribe();
      for (const c of clients) c.end();
      clients.clear();
      await new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections?.();
    },
  };
}

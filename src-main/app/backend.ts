/**
 * The desktop app's backend: runs in an Electron utility process (plain Node, off the main thread), owns the
 * EarmarkService — SQLite, the indexes, the analysis worker pool — and answers the main process over its port.
 */
import { errorBody, EarmarkService } from '../core/service.js';
import type { FromBackend, ToBackend } from './backend-protocol.js';

interface ParentPort {
  on(event: 'message', listener: (e: { data: ToBackend }) => void): void;
  postMessage(message: FromBackend): void;
}

const port = (process as unknown as { parentPort?: ParentPort }).parentPort;
if (!port) throw new Error('backend.js runs inside an Electron utility process');

let service: EarmarkService;
try {
  service = new EarmarkService({ home: process.env.EARMARK_HOME });
  service.onEvent((event) => port.postMessage({ event }));
  port.postMessage({ ready: true, home: service.earmark.paths.home });
} catch (e) {
  port.postMessage({ fatal: e instanceof Error ? e.message : String(e) });
  process.exit(1);
}

port.on('message', async ({ data: m }) => {
  if (m.kind === 'shutdown') {
    await service.close();
    port.postMessage({ id: m.id, ok: true, res: null });
    process.exit(0);
  }
  if (m.kind === 'roots') {
    port.postMessage({ id: m.id, ok: true, res: service.roots() });
    return;
  }
  try {
    port.postMessage({ id: m.id, ok: true, res: await service.call(m.method, m.req) });
  } catch (e) {
    port.postMessage({ id: m.id, ok: false, error: errorBody(e).body.error });
  }
});

import type { ApiEvent } from '../core/contract.js';

/** Messages between the Electron main process and the backend utility process. */
export type ToBackend = { id: number; kind: 'call'; method: string; req: unknown } | { id: number; kind: 'roots' } | { id: number; kind: 'shutdown' };

export type FromBackend =
  | { id: number; ok: true; res: unknown }
  | { id: number; ok: false; error: { code: string; message: string } }
  | { event: ApiEvent }
  | { ready: true; home: string }
  | { fatal: string };

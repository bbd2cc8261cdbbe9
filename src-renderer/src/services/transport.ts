import type { ApiErrorBody, ApiEvent, ApiMethod, ApiRequest, ApiResponse, EarmarkBridge } from '../../../src-main/core/contract';

/** A failed call, with the backend's code and sentence. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** How the renderer reaches the backend. Chosen once at start; nothing else knows which one it is. */
export interface Transport {
  kind: 'ipc' | 'http';
  call<M extends ApiMethod>(method: M, req: ApiRequest<M>): Promise<ApiResponse<M>>;
  onEvent(listener: (e: ApiEvent) => void): () => void;
  mediaUrl(path: string): string;
  /** Make a dropped file searchable: its path (desktop) or an upload (web). */
  fileQuery(file: File): Promise<{ path: string } | { uploadId: string }>;
  /** The native folder picker, when there is one. */
  pickFolder: (() => Promise<string | null>) | null;
}

function ipcTransport(bridge: EarmarkBridge): Transport {
  return {
    kind: 'ipc',
    async call(method, req) {
      try {
        return await bridge.call(method, req);
      } catch (e) {
        // Electron prefixes errors from main with "Error invoking remote method '…': Error: ".
        const msg = e instanceof Error ? e.message.replace(/^Error invoking remote method '[^']+': (\w*Error: )?/, '') : String(e);
        const m = /^\[(bad-request|not-found|failed)\] (.*)$/s.exec(msg);
        throw m ? new ApiError(m[1], m[2]) : new ApiError('failed', msg);
      }
    },
    onEvent: (l) => bridge.onEvent(l),
    mediaUrl: (p) => bridge.mediaUrl(p),
    fileQuery: async (file) => ({ path: bridge.pathForFile(file) }),
    pickFolder: () => bridge.pickFolder(),
  };
}

function httpTransport(): Transport {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem('earmark.token', fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.toString());
  }
  const token = sessionStorage.getItem('earmark.token') ?? '';
  const listeners = new Set<(e: ApiEvent) => void>();
  let source: EventSource | null = null;
  const connect = () => {
    source = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
    let opened = 0;
    // After a reconnect, events may have been missed: ask every listener to resynchronise.
    source.onopen = () => {
      if (opened++ > 0) for (const l of listeners) l({ type: 'library-changed' });
    };
    source.onmessage = (m) => {
      const e = JSON.parse(m.data) as ApiEvent;
      for (const l of listeners) l(e);
    };
  };
  const failed = async (res: Response): Promise<never> => {
    let body: ApiErrorBody | null = null;
    try {
      body = (await res.json()) as ApiErrorBody;
    } catch {
      body = null;
    }
    throw new ApiError(body?.error.code ?? 'failed', body?.error.message ?? `The server answered ${res.status}.`);
  };
  return {
    kind: 'http',
    async call(method, req) {
      let res: Response;
      try {
        res = await fetch(`/api/${method}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body: JSON.stringify(req ?? {}),
        });
      } catch {
        throw new ApiError('failed', 'Earmark is not answering: is `earmark serve` still running?');
      }
      if (!res.ok) return failed(res);
      return (await res.json()) as ApiResponse<typeof method>;
    },
    onEvent(l) {
      listeners.add(l);
      if (!source) connect();
      return () => listeners.delete(l);
    },
    mediaUrl: (p) => `/media?path=${encodeURIComponent(p)}&token=${encodeURIComponent(token)}`,
    async fileQuery(file) {
      const res = await fetch(`/api/upload?name=${encodeURIComponent(file.name)}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream' },
        body: file,
      });
      if (!res.ok) return failed(res);
      return (await res.json()) as { uploadId: string };
    },
    pickFolder: null,
  };
}

export function createTransport(): Transport {
  return window.earmark ? ipcTransport(window.earmark) : httpTransport();
}

/**
 * The preload bridge: exposes exactly one object, `window.earmark`, with the typed contract's calls and events.
 * No Node or Electron object crosses into the page; main validates every call again.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import type { ApiEvent, ApiMethod, ApiRequest, ApiResponse, EarmarkBridge } from '../src-main/core/contract';

const CALL = 'earmark:call';
const PICK = 'earmark:pick-folder';
const EVENT = 'earmark:event';

export const bridge: EarmarkBridge = {
  call<M extends ApiMethod>(method: M, req: ApiRequest<M>): Promise<ApiResponse<M>> {
    return ipcRenderer.invoke(CALL, method, req) as Promise<ApiResponse<M>>;
  },
  onEvent(listener: (e: ApiEvent) => void): () => void {
    const h = (_e: IpcRendererEvent, payload: ApiEvent) => listener(payload);
    ipcRenderer.on(EVENT, h);
    return () => {
      ipcRenderer.removeListener(EVENT, h);
    };
  },
  mediaUrl(path: string): string {
    return `earmark-media://media/${encodeURIComponent(path)}`;
  },
  pathForFile(file: File): string {
    return webUtils.getPathForFile(file);
  },
  pickFolder(): Promise<string | null> {
    return ipcRenderer.invoke(PICK) as Promise<string | null>;
  },
};

contextBridge.exposeInMainWorld('earmark', bridge);

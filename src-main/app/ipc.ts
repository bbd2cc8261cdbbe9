import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { BadRequestError, validateRequest } from '../core/contract-schema.js';

export const IPC = { call: 'earmark:call', pickFolder: 'earmark:pick-folder', event: 'earmark:event' } as const;

export interface IpcDeps {
  call(method: string, req: unknown): Promise<unknown>;
  pickFolder(): Promise<string | null>;
  /** Is the sender the app's own page? */
  trusted(event: IpcMainInvokeEvent): boolean;
}

/**
 * The main side of the bridge: every call is checked (sender, method name, request shape) before the backend
 * sees it; a refusal is an Error whose message starts with the code, as the renderer's transport expects.
 */
export function registerIpc(ipcMain: Pick<IpcMain, 'handle'>, deps: IpcDeps): void {
  ipcMain.handle(IPC.call, async (event, method: unknown, req: unknown) => {
    if (!deps.trusted(event)) throw new Error('[bad-request] Calls are accepted from the Earmark window only.');
    let v;
    try {
      v = validateRequest(method, req);
    } catch (e) {
      if (e instanceof BadRequestError) throw new Error(`[bad-request] ${e.message}`);
      throw e;
    }
    return deps.call(v.method, v.req);
  });
  ipcMain.handle(IPC.pickFolder, async (event) => {
    if (!deps.trusted(event)) throw new Error('[bad-request] Calls are accepted from the Earmark window only.');
    return deps.pickFolder();
  });
}

import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tempDir } from '../../tests/helpers/fixtures.js';
import { IPC, registerIpc } from './ipc.js';
import { menuTemplate } from './menu.js';
import { handleMediaRequest, mediaUrlOf } from './protocol.js';
import { isAppUrl, lockDown, windowOptions } from './window.js';
import { DEFAULT_WINDOW_STATE, loadWindowState, saveWindowState } from './window-state.js';

// The shell's modules take Electron objects as arguments; `electron` itself is mocked for the preload.
const exposed: Record<string, unknown> = {};
const invoke = vi.fn(async (..._args: unknown[]) => 'ok');
const on = vi.fn();
const removeListener = vi.fn();
vi.mock('electron', () => ({
  contextBridge: { exposeInMainWorld: (k: string, v: unknown) => (exposed[k] = v) },
  ipcRenderer: { invoke: (...a: unknown[]) => invoke(...a), on: (...a: unknown[]) => on(...a), removeListener: (...a: unknown[]) => removeListener(...a) },
  webUtils: { getPathForFile: () => '/music/dropped.flac' },
}));

describe('main window', () => {
  it('is isolated and sandboxed, with no Node in the page and only the preload bridge', () => {
    const o = windowOptions({ width: 1200, height: 800, maximized: false, x: 10, y: 20 }, '/app/out/preload/index.cjs');
    expect(o.webPreferences).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      preload: '/app/out/preload/index.cjs',
    });
    expect(o).toMatchObject({ x: 10, y: 20, width: 1200, height: 800, show: false });
  });

  it('blocks navigation away from the app and every new window', () => {
    const handlers: Record<string, (...a: unknown[]) => void> = {};
    let openHandler: ((d: { url: string }) => { action: string }) | null = null;
    const win = {
      webContents: {
        setWindowOpenHandler: (h: (d: { url: string }) => { action: string }) => (openHandler = h),
        on: (ev: string, h: (...a: unknown[]) => void) => (handlers[ev] = h),
      },
    };
    const opened: string[] = [];
    const app = 'file:///app/out/renderer/index.html';
    lockDown(win as never, app, (u) => opened.push(u));
    expect(openHandler!({ url: 'https://example.org/' })).toEqual({ action: 'deny' });
    expect(openHandler!({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(opened).toEqual(['https://example.org/']);
    const prevent = vi.fn();
    handlers['will-navigate']({ preventDefault: prevent }, 'https://evil.example/');
    handlers['will-navigate']({ preventDefault: prevent }, 'file:///home/u/other.html');
    expect(prevent).toHaveBeenCalledTimes(2);
    const allow = vi.fn();
    handlers['will-navigate']({ preventDefault: allow }, `${app}#/map`);
    expect(allow).not.toHaveBeenCalled();
    expect(isAppUrl('not a url', app)).toBe(false);
  });

  it('remembers its bounds, and falls back to the default on a bad state file', () => {
    const t = tempDir();
    const f = join(t.dir, 'state.json');
    expect(loadWindowState(f)).toEqual(DEFAULT_WINDOW_STATE);
    saveWindowState(f, { x: 5, y: 6, width: 1000, height: 700, maximized: true });
    expect(loadWindowState(f)).toEqual({ x: 5, y: 6, width: 1000, height: 700, maximized: true });
    writeFileSync(f, '{"width": "huge"');
    expect(loadWindowState(f)).toEqual(DEFAULT_WINDOW_STATE);
    writeFileSync(f, JSON.stringify({ width: 50, height: 50 }));
    expect(loadWindowState(f)).toEqual(DEFAULT_WINDOW_STATE);
    t.cleanup();
  });

  it('has native menus that reach the renderer', () => {
    const sent: Array<[string, string | undefined]> = [];
    const tpl = menuTemplate((a, to) => sent.push([a, to]), false);
    const items = tpl.flatMap((m) => (Array.isArray(m.submenu) ? m.submenu : []));
    const click = (label: string) => (items.find((i) => i.label === label)?.click as () => void)();
    click('Add Music Folder…');
    click('Scan Library');
    click('Map');
    expect(sent).toEqual([['add-folder', undefined], ['scan', undefined], ['navigate', '/map']]);
  });
});

describe('IPC validation in main', () => {
  const handlers: Record<string, (event: unknown, ...args: unknown[]) => Promise<unknown>> = {};
  const call = vi.fn(async (m: string, r: unknown) => ({ m, r }));
  const trustedSender = { id: 'window' };
  registerIpc({ handle: (ch: string, h: never) => (handlers[ch] = h) } as never, {
    call,
    pickFolder: async () => '/music',
    trusted: (e) => (e as { sender: unknown }).sender === trustedSender,
  });
  const ok = { sender: trustedSender };

  it('forwards a valid call', async () => {
    await expect(handlers[IPC.call](ok, 'queryTracks', { offset: 0, limit: 50, search: 'rain' })).resolves.toEqual({
      m: 'queryTracks',
      r: { offset: 0, limit: 50, search: 'rain' },
    });
  });

  it.each([
    ['an unknown method', 'deleteEverything', {}, /Unknown method/],
    ['a method that is not a string', 42, {}, /Unknown method/],
    ['a prototype name', '__proto__', {}, /Unknown method/],
    ['a negative offset', 'queryTracks', { offset: -1, limit: 10 }, /offset/],
    ['a huge page', 'queryTracks', { offset: 0, limit: 1e6 }, /limit/],
    ['an unknown sort column', 'queryTracks', { offset: 0, limit: 10, sort: { column: 'rowid; DROP TABLE tracks', direction: 'asc' } }, /sort\.column/],
    ['extra fields', 'info', { sneaky: true }, /Unrecognized key|sneaky/],
    ['a track id that is not a whole number', 'track', { id: 1.5 }, /id/],
    ['a path with a NUL byte', 'addFolder', { path: '/music\0/x' }, /NUL/],
    ['two query kinds at once', 'similar', { trackIds: [1], path: '/x.mp3' }, /exactly one/],
    ['no query at all', 'similar', {}, /exactly one/],
    ['a bad representation name', 'similar', { trackIds: [1], representation: '../../etc' }, /representation/],
    ['a non-object request', 'jobs', 'hello', /request/],
  ])('refuses %s', async (_name, method, req, message) => {
    call.mockClear();
    await expect(handlers[IPC.call](ok, method, req)).rejects.toThrow(/^\[bad-request\]/);
    await expect(handlers[IPC.call](ok, method, req)).rejects.toThrow(message);
    expect(call).not.toHaveBeenCalled();
  });

  it('refuses calls from any other sender', async () => {
    await expect(handlers[IPC.call]({ sender: { id: 'other' } }, 'info', {})).rejects.toThrow(/Earmark window only/);
    await expect(handlers[IPC.pickFolder]({ sender: { id: 'other' } })).rejects.toThrow(/Earmark window only/);
    await expect(handlers[IPC.pickFolder](ok)).resolves.toBe('/music');
  });
});

describe('media protocol', () => {
  const t = tempDir();
  const root = join(t.dir, 'Music Library');
  const outside = join(t.dir, 'private');
  beforeAll(() => {
    mkdirSync(join(root, 'Ünïcode & Co'), { recursive: true });
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(root, 'Ünïcode & Co', 'a b#1.mp3'), Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 256)));
    writeFileSync(join(outside, 'secret.mp3'), 'secret');
    writeFileSync(join(root, '100% Hits %41.mp3'), 'percent');
    symlinkSync(join(outside, 'secret.mp3'), join(root, 'link.mp3'));
    symlinkSync(outside, join(root, 'linked-dir'));
  });
  afterAll(() => t.cleanup());
  const roots = () => [root];
  const get = (url: string, headers: Record<string, string> = {}) => handleMediaRequest(new Request(url, { headers }), roots);

  it('serves a file inside the library, whole and by range', async () => {
    const file = join(root, 'Ünïcode & Co', 'a b#1.mp3');
    const whole = await get(mediaUrlOf(file));
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('audio/mpeg');
    expect((await whole.arrayBuffer()).byteLength).toBe(1000);
    const part = await get(mediaUrlOf(file), { Range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 100-199/1000');
    const bytes = new Uint8Array(await part.arrayBuffer());
    expect(bytes.length).toBe(100);
    expect(bytes[0]).toBe(100);
    const tail = await get(mediaUrlOf(file), { Range: 'bytes=-10' });
    expect(tail.headers.get('content-range')).toBe('bytes 990-999/1000');
    expect((await get(mediaUrlOf(file), { Range: 'bytes=5000-' })).status).toBe(416);
    // A literal "%" in a file name survives: the path is decoded exactly once.
    const pct = await get(mediaUrlOf(join(root, '100% Hits %41.mp3')));
    expect(pct.status).toBe(200);
    expect(await pct.text()).toBe('percent');
  });

  it('refuses files outside the roots, whatever the spelling', async () => {
    const secret = join(outside, 'secret.mp3');
    expect((await get(mediaUrlOf(secret))).status).toBe(403);
    // `..` segments, raw and percent-encoded, and double-encoded.
    expect((await get(mediaUrlOf(`${root}/../private/secret.mp3`))).status).toBe(403);
    expect((await get(`earmark-media://media/${encodeURIComponent(root)}%2F..%2Fprivate%2Fsecret.mp3`)).status).toBe(403);
    expect((await get(`earmark-media://media/${encodeURIComponent(encodeURIComponent(`${root}/../private/secret.mp3`))}`)).status).toBeGreaterThanOrEqual(400);
    // Symlinks inside the root that point outside it.
    expect((await get(mediaUrlOf(join(root, 'link.mp3')))).status).toBe(403);
    expect((await get(mediaUrlOf(join(root, 'linked-dir', 'secret.mp3')))).status).toBe(403);
    // Not a path at all, NUL bytes, bad encodings, other hosts, relative paths, folders.
    expect((await get('earmark-media://media/%E0%A4%A')).status).toBe(400);
    expect((await get(`earmark-media://media/${encodeURIComponent(`${root}/x\0.mp3`)}`)).status).toBe(400);
    expect((await get(`earmark-media://other/${encodeURIComponent(join(root, 'Ünïcode & Co', 'a b#1.mp3'))}`)).status).toBe(400);
    expect((await get('earmark-media://media/relative%2Fpath.mp3')).status).toBe(400);
    expect((await get(mediaUrlOf(root))).status).toBe(404);
    expect((await get(mediaUrlOf(join(root, 'missing.mp3')))).status).toBe(404);
    expect((await handleMediaRequest(new Request(mediaUrlOf(secret), { method: 'POST', body: 'x' }), roots)).status).toBe(400);
  });
});

describe('preload bridge', () => {
  it('exposes exactly one narrow object that forwards to main', async () => {
    await import('../../src-preload/index.js');
    expect(Object.keys(exposed)).toEqual(['earmark']);
    const bridge = exposed.earmark as Record<string, (...a: unknown[]) => unknown>;
    expect(Object.keys(bridge).sort()).toEqual(['call', 'mediaUrl', 'onEvent', 'pathForFile', 'pickFolder']);
    await bridge.call('info', {});
    expect(invoke).toHaveBeenCalledWith('earmark:call', 'info', {});
    await bridge.pickFolder();
    expect(invoke).toHaveBeenCalledWith('earmark:pick-folder');
    const listener = vi.fn();
    const off = bridge.onEvent(listener) as () => void;
    const handler = on.mock.calls[0][1] as (e: unknown, p: unknown) => void;
    handler({ sender: 'ipc event object, never passed on' }, { type: 'library-changed' });
    expect(listener).toHaveBeenCalledWith({ type: 'library-changed' });
    off();
    expect(removeListener).toHaveBeenCalledWith('earmark:event', handler);
    expect(bridge.mediaUrl('/music/a b#1.mp3')).toBe('earmark-media://media/%2Fmusic%2Fa%20b%231.mp3');
    expect(bridge.pathForFile({} as File)).toBe('/music/dropped.flac');
  });
});

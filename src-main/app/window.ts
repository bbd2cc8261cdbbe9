import type { BrowserWindow as BrowserWindowType, BrowserWindowConstructorOptions } from 'electron';
import type { WindowState } from './window-state.js';

/** The renderer's Content-Security-Policy in the desktop app (sent as a header and in index.html). */
export const APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  'media-src earmark-media:',
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "object-src 'none'",
].join('; ');

/** Options of the main window: isolated, sandboxed, no Node in the page; only the preload bridge. */
export function windowOptions(state: WindowState, preload: string): BrowserWindowConstructorOptions {
  return {
    x: state.x,
    y: state.y,
    width: state.width,
    height: state.height,
    minWidth: 900,
    minHeight: 560,
    show: false,
    title: 'Earmark',
    backgroundColor: '#111318',
    autoHideMenuBar: false,
    webPreferences: {
      preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  };
}

/** Is `url` the app's own page (where the window may stay)? */
export function isAppUrl(url: string, appUrl: string): boolean {
  try {
    const u = new URL(url);
    const a = new URL(appUrl);
    return u.protocol === a.protocol && u.host === a.host && u.pathname === a.pathname;
  } catch {
    return false;
  }
}

/** No navigation away from the app, no new windows: links to the web open in the user's browser. */
export function lockDown(win: BrowserWindowType, appUrl: string, openExternal: (url: string) => void): void {
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (/^https?:\/\//.test(url)) openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (e, url) => {
    if (!isAppUrl(url, appUrl)) e.preventDefault();
  });
  win.webContents.on('will-attach-webview', (e) => e.preventDefault());
}

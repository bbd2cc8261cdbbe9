/**
 * The Electron shell: one window over the backend utility process. Thin by design: window, menu, folder
 * picker, media protocol and the validated IPC bridge; everything else is the core behind `EarmarkService`.
 */
import { app, BrowserWindow, dialog, ipcMain, Menu, protocol, session, shell, utilityProcess } from 'electron';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { resolveHome } from '../core/home.js';
import { BackendHost } from './backend-host.js';
import { IPC, registerIpc } from './ipc.js';
import { menuTemplate } from './menu.js';
import { handleMediaRequest, MEDIA_SCHEME_PRIVILEGES } from './protocol.js';
import { APP_CSP, isAppUrl, lockDown, windowOptions } from './window.js';
import { loadWindowState, saveWindowState } from './window-state.js';

protocol.registerSchemesAsPrivileged([MEDIA_SCHEME_PRIVILEGES]);
if (!app.requestSingleInstanceLock()) app.quit();

const here = dirname(fileURLToPath(import.meta.url));
const home = resolveHome(process.env.EARMARK_HOME || join(app.getPath('userData'))).home;
const stateFile = join(app.getPath('userData'), 'window-state.json');
// The Electron-ABI build of better-sqlite3 made by `npm start` (scripts/start.mjs), kept apart from the Node one.
const electronSqlite = join(app.getAppPath(), 'out', 'electron-native', 'better_sqlite3.node');
const backend = new BackendHost((p, a, o) => utilityProcess.fork(p, a, o), join(here, 'backend.js'), {
  ...process.env,
  EARMARK_HOME: home,
  EARMARK_WORKER: join(here, 'analyze-worker.js'),
  EARMARK_SPAWNER: join(here, 'spawner-process.js'),
  EARMARK_HEAD_WORKER: join(here, 'head-worker.js'),
  EARMARK_INFERENCE_WORKER: join(here, 'inference-worker.js'),
  EARMARK_TRAIN_WORKER: join(here, 'train-worker.js'),
  ...(existsSync(electronSqlite) ? { EARMARK_SQLITE_BINDING: electronSqlite } : {}),
});

let win: BrowserWindow | null = null;
const appUrl = process.env.ELECTRON_RENDERER_URL ?? pathToFileURL(join(here, '../renderer/index.html')).toString();

function createWindow(): void {
  const state = loadWindowState(stateFile);
  win = new BrowserWindow(windowOptions(state, join(here, '../preload/index.cjs')));
  if (state.maximized) win.maximize();
  lockDown(win, appUrl, (url) => void shell.openExternal(url));
  const save = () => {
    if (!win) return;
    const b = win.getNormalBounds();
    saveWindowState(stateFile, { ...b, maximized: win.isMaximized() });
  };
  win.on('close', save);
  win.once('ready-to-show', () => win?.show());
  win.on('closed', () => (win = null));
  void win.loadURL(appUrl);
}

app.on('web-contents-created', (_e, contents) => {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  contents.on('will-navigate', (e, url) => {
    if (!isAppUrl(url, appUrl)) e.preventDefault();
  });
});

void app.whenReady().then(async () => {
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [APP_CSP] } });
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  protocol.handle(MEDIA_SCHEME_PRIVILEGES.scheme, (request) => handleMediaRequest(request, () => backend.roots()));
  registerIpc(ipcMain, {
    call: (m, r) => backend.call(m, r),
    pickFolder: async () => {
      const r = await dialog.showOpenDialog(win ?? BrowserWindow.getFocusedWindow()!, { title: 'Add a music folder', properties: ['openDirectory'] });
      return r.canceled || r.filePaths.length === 0 ? null : r.filePaths[0];
    },
    trusted: (event) => !!win && event.sender === win.webContents && isAppUrl(event.senderFrame?.url ?? '', appUrl),
  });
  backend.onEvent((e) => win?.webContents.send(IPC.event, e));
  Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate((action, to) => win?.webContents.send(IPC.event, { type: 'menu', action, to }), process.platform === 'darwin')));
  try {
    await backend.start();
  } catch (e) {
    dialog.showErrorBox('Earmark could not start', e instanceof Error ? e.message : String(e));
    app.quit();
    return;
  }
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});

app.on('second-instance', () => {
  if (win) {
    if (win.isMinimized()) win.restore();
    win.focus();
  }
});
app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
let stopping = false;
app.on('before-quit', (e) => {
  if (stopping) return;
  stopping = true;
  e.preventDefault();
  void backend.stop().finally(() => app.quit());
});

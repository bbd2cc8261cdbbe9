import type { MenuItemConstructorOptions } from 'electron';
import type { MenuAction } from '../core/contract.js';

/** The native menu; actions go to the renderer as `menu` events. */
export function menuTemplate(send: (action: MenuAction, to?: string) => void, isMac: boolean): MenuItemConstructorOptions[] {
  const go = (to: string) => () => send('navigate', to);
  return [
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: '&File',
      submenu: [
        { label: 'Add Music Folder…', accelerator: 'CmdOrCtrl+O', click: () => send('add-folder') },
        { type: 'separator' },
        { label: 'Scan Library', accelerator: 'CmdOrCtrl+R', click: () => send('scan') },
        { label: 'Analyze Library', accelerator: 'CmdOrCtrl+Shift+A', click: () => send('analyze') },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    {
      label: '&View',
      submenu: [
        { label: 'Library', accelerator: 'CmdOrCtrl+1', click: go('/') },
        { label: 'Similar', accelerator: 'CmdOrCtrl+2', click: go('/similar') },
        { label: 'Map', accelerator: 'CmdOrCtrl+3', click: go('/map') },
        { label: 'Status', accelerator: 'CmdOrCtrl+4', click: go('/status') },
        { type: 'separator' },
        { role: 'resetZoom' },
        { role: 'zoomIn' },
        { role: 'zoomOut' },
        { type: 'separator' },
        { role: 'togglefullscreen' },
        { role: 'toggleDevTools' },
      ],
    },
    { role: 'windowMenu' },
  ];
}

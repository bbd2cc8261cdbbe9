import { homedir, platform } from 'node:os';
import { join, resolve } from 'node:path';

/** Where a user's data lives: `library.db`, `index/`, `models/`, `journal/`. */
export interface HomePaths {
  home: string;
  db: string;
  indexDir: string;
  modelsDir: string;
  journalDir: string;
}

/** The platform's app-data folder for Earmark (what Electron's `app.getPath('userData')` gives, in plain Node). */
export function defaultHome(env: NodeJS.ProcessEnv = process.env, os: NodeJS.Platform = platform()): string {
  if (os === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'Earmark');
  if (os === 'darwin') return join(homedir(), 'Library', 'Application Support', 'Earmark');
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'earmark');
}

/** `--home` first, then `EARMARK_HOME`, then the platform default. */
export function resolveHome(home?: string | null, env: NodeJS.ProcessEnv = process.env): HomePaths {
  const h = resolve(home || env.EARMARK_HOME || defaultHome(env));
  return { home: h, db: join(h, 'library.db'), indexDir: join(h, 'index'), modelsDir: join(h, 'models'), journalDir: join(h, 'journal') };
}

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS } from './migrations.js';

export type Db = Database.Database;

export interface OpenOptions {
  readonly?: boolean;
  /** Path of a better-sqlite3 native build to load (the Electron-ABI build in the desktop app). */
  nativeBinding?: string;
}

/** Open (creating if needed) and migrate a library database: WAL, foreign keys, a busy timeout. */
export function openDatabase(file: string, o: OpenOptions = {}): Db {
  if (!o.readonly) mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file, { readonly: o.readonly ?? false, nativeBinding: o.nativeBinding ?? process.env.EARMARK_SQLITE_BINDING });
  db.pragma('busy_timeout = 10000');
  if (!o.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  db.pragma('foreign_keys = ON');
  if (!o.readonly) migrate(db);
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function migrate(db: Db): void {
  const current = schemaVersion(db);
  if (current > MIGRATIONS.length) {
    throw new Error(
      `This library database has schema version ${current}, newer than this Earmark understands (${MIGRATIONS.length}). Update Earmark.`,
    );
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

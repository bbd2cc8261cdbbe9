// `npm start`: build, then open the desktop app; where Electron cannot run (no binary and no internet to fetch
// it, or no display), serve the same interface in web mode instead, on a demo library if there is no music yet.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const bin = (name) => join(root, 'node_modules', '.bin', process.platform === 'win32' ? `${name}.cmd` : name);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, shell: process.platform === 'win32', ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

console.log('Building Earmark…');
run(bin('electron-vite'), ['build']);
run(process.execPath, [join(root, 'scripts', 'build-cli.mjs')]);

/** The Electron binary, downloaded by the electron package on first use (needs internet once). */
function electronBinary() {
  if (process.env.EARMARK_WEB === '1') return { path: null, why: 'EARMARK_WEB=1 asks for web mode' };
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return { path: null, why: 'there is no display' };
  try {
    const p = require('electron');
    return existsSync(p) ? { path: p, why: null } : { path: null, why: 'the Electron binary is missing' };
  } catch (e) {
    return { path: null, why: `the Electron binary could not be fetched (${e instanceof Error ? e.message.split('\n')[0] : e})` };
  }
}

/**
 * better-sqlite3 is not a Node-API module: the app needs a build for Electron's ABI. It is made once with
 * @electron/rebuild in out/electron-native (so the Node build the CLI and tests use stays untouched), and the
 * app loads it through better-sqlite3's `nativeBinding` option.
 */
async function electronSqlite() {
  const electronVersion = JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')).version;
  const dir = join(root, 'out', 'electron-native');
  const target = join(dir, 'better_sqlite3.node');
  const stamp = join(dir, 'electron-version.txt');
  if (existsSync(target) && existsSync(stamp) && readFileSync(stamp, 'utf8') === electronVersion) return;
  console.log(`Building better-sqlite3 for Electron ${electronVersion} (once)…`);
  const work = join(dir, 'build');
  mkdirSync(join(work, 'node_modules'), { recursive: true });
  writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'earmark-electron-native', private: true, dependencies: { 'better-sqlite3': '*' } }));
  cpSync(join(root, 'node_modules', 'better-sqlite3'), join(work, 'node_modules', 'better-sqlite3'), { recursive: true });
  const { rebuild } = await import('@electron/rebuild');
  await rebuild({ buildPath: work, electronVersion, onlyModules: ['better-sqlite3'], force: true });
  copyFileSync(join(work, 'node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node'), target);
  writeFileSync(stamp, electronVersion);
}

const electron = electronBinary();
if (electron.path) {
  await electronSqlite();
  const child = spawn(electron.path, [root], { stdio: 'inherit', cwd: root });
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  console.log(`\nThe desktop window cannot open here: ${electron.why}.`);
  console.log('Starting web mode instead: the same interface, served on 127.0.0.1.\n');
  const child = spawn(process.execPath, [join(root, 'bin', 'earmark.js'), 'serve', '--demo', ...process.argv.slice(2)], { stdio: 'inherit', cwd: root });
  for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => child.kill(s));
  child.on('exit', (code) => process.exit(code ?? 0));
}

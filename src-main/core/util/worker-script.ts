import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where a bundled worker script (`analyze-worker.js`, `head-worker.js`) lives: an explicit path, then the
 * environment variable the Electron shell sets, then beside the running bundle, then the repository's out/cli
 * (when the core runs from its TypeScript sources, as in tests).
 */
export function findBundledScript(file: string, o: { explicit?: string; envVar?: string; from?: string } = {}): string {
  const candidates: string[] = [];
  if (o.explicit) candidates.push(o.explicit);
  const fromEnv = o.envVar ? process.env[o.envVar] : undefined;
  if (fromEnv) candidates.push(fromEnv);
  const here = dirname(fileURLToPath(o.from ?? import.meta.url));
  candidates.push(join(here, file));
  // A chunk of the Electron build sits one folder below the entry points.
  candidates.push(resolve(here, '..', file));
  // From the TypeScript sources (<repo>/src-main/core/…): the nearest enclosing out/cli.
  for (let dir = here, up = 0; up < 6; up++, dir = dirname(dir)) {
    if (basename(dir) === 'src-main') {
      candidates.push(resolve(dir, '..', 'out', 'cli', file));
      break;
    }
  }
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`The worker script ${file} is not built (looked in ${candidates.join(', ')}). Run \`npm run build:cli\`.`);
}

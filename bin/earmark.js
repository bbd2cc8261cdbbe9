#!/usr/bin/env node
// The `earmark` command: a thin launcher for the bundled CLI (built by `npm run build:cli`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../out/cli/earmark.js', import.meta.url));
if (!existsSync(entry)) {
  console.error('earmark: the CLI is not built yet. Run `npm run build:cli` (or `npm test`) first.');
  process.exit(2);
}
await import(entry);

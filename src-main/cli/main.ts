import { Command } from 'commander';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerLibraryCommands } from './commands/library.js';
import { registerModelCommands } from './commands/models.js';
import { registerPublishedCommands } from './commands/published.js';
import { registerServeCommand } from './commands/serve.js';
import { registerSimilarCommands } from './commands/similar.js';
import { registerTagCommands } from './commands/tags.js';

/** The `earmark` command line: a thin adapter over core/api.ts, its commands registered by group from commands/. */

const program = new Command();
program
  .name('earmark')
  .description('Listen to a music library: find tracks that sound alike, predict and write tags, learn your taxonomy.')
  .option('--home <dir>', 'data folder (library.db, index/, models/, journal/); default $EARMARK_HOME or the platform app-data folder')
  .option('--ffmpeg <path>', 'ffmpeg binary to use (default: the setting, then the bundled one, then PATH)')
  .showHelpAfterError();

registerLibraryCommands(program);
registerSimilarCommands(program);
registerTagCommands(program);
registerModelCommands(program);
registerPublishedCommands(program);
// The built interface beside this program (out/renderer, next to out/cli where the bundle runs).
registerServeCommand(program, resolve(dirname(fileURLToPath(import.meta.url)), '../renderer'));

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`earmark: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.EARMARK_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
});

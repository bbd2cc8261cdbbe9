import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EarmarkService } from '../../core/service.js';
import { startServer } from '../../server/server.js';
import { positiveInt, type Global } from '../shared.js';

/** Web mode: serve. `defaultUi` is the built interface served without --ui (out/renderer beside the bundled program). */
export function registerServeCommand(program: Command, defaultUi: string): void {
  program
    .command('serve')
    .description('web mode: serve the Earmark interface and its API on 127.0.0.1 (open the printed address in a browser)')
    .option('--port <n>', 'port on 127.0.0.1 (default: a free one)', positiveInt('--port'))
    .option('--token <t>', 'access token (default: a new random one each start)')
    .option('--ui <dir>', 'the built interface (default: out/renderer beside this program)')
    .option('--demo', 'when the library has no folder yet, add a generated demo library first')
    .action(async (o: { port?: number; token?: string; ui?: string; demo?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals() as Global;
      const service = new EarmarkService({ home: g.home, ffmpegPath: g.ffmpeg });
      const staticDir = o.ui ? resolve(o.ui) : defaultUi;
      const server = await startServer({ service, staticDir, port: o.port, token: o.token });
      process.stdout.write(`Earmark is serving ${service.earmark.paths.home}\n  open ${server.openUrl}\n  (127.0.0.1 only; from another machine use an SSH tunnel: ssh -L ${server.port}:127.0.0.1:${server.port} host)\nPress Ctrl+C to stop.\n`);
      if (o.demo && service.roots().length === 0) {
        const demo = join(service.earmark.paths.home, 'demo-library');
        if (!existsSync(join(demo, 'earmark-demo.json'))) {
          process.stdout.write(`No music folder yet: writing a 40-track demo library to ${demo} (about a minute); it appears in the page when done…\n`);
          await service.earmark.demoLibrary(demo, { tracks: 40 });
        }
        await service.call('addFolder', { path: demo });
        process.stdout.write('Demo library added: scanning and analysing it now (watch the page).\n');
      }
      await new Promise<void>((done) => {
        const stop = () => {
          process.stdout.write('Stopping…\n');
          void server
            .close()
            .then(() => service.close())
            .then(done);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}

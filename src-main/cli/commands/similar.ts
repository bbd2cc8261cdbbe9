import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import type { SimilarQuery } from '../../core/api.js';
import { collect, pad, positiveInt, print, withEarmark } from '../shared.js';

/** Search by example: similar. */
export function registerSimilarCommands(program: Command): void {
  program
    .command('similar')
    .description('tracks that sound like a library track or any audio file')
    .argument('<track>', 'a file path, or a library track id')
    .option('-k <n>', 'how many', positiveInt('-k'), 10)
    .option('--representation <name>', 'dsp, mfcc or a trained model (default: the library’s best by its last `earmark eval`, else dsp)')
    .addOption(new Option('--artist <which>', 'only the same artist, or only different artists').choices(['same', 'different']))
    .option('--exclude-same-album', "leave out the query's album")
    .option('--tag <field=value>', 'keep only tracks with this tag value (repeatable; values of one field are alternatives)', collect)
    .addOption(new Option('--hubness <method>', 'rank by mutual proximity, which keeps tracks that are near everything from crowding every list, or by plain cosine').choices(['mp', 'none']).default('mp'))
    .option('--json', 'print JSON')
    .action(async (arg: string, o: { k: number; representation?: string; artist?: 'same' | 'different'; excludeSameAlbum?: boolean; tag?: string[]; hubness: 'mp' | 'none'; json?: boolean }, cmd: Command) => {
      await withEarmark(cmd, async (e) => {
        const q: SimilarQuery = { k: o.k, representation: o.representation, artist: o.artist, excludeSameAlbum: o.excludeSameAlbum, hubness: o.hubness };
        if (/^\d+$/.test(arg) && !existsSync(arg)) q.trackId = Number(arg);
        else {
          if (!existsSync(arg)) throw new Error(`No such file: ${arg}`);
          q.path = arg;
        }
        if (o.tag) {
          q.tags = {};
          for (const t of o.tag) {
            const i = t.indexOf('=');
            if (i <= 0) throw new Error(`--tag takes field=value, got "${t}"`);
            (q.tags[t.slice(0, i).trim().toLowerCase()] ??= []).push(t.slice(i + 1).trim());
          }
        }
        const r = await e.similar(q);
        print(!!o.json, r, () => {
          const how = r.hubness === 'mp' ? 'mutual proximity' : 'cosine';
          const head = `Like ${r.query.inLibrary ? `#${r.query.trackId} ` : ''}${r.query.artist ?? '?'} – ${r.query.title ?? r.query.path} (${r.representation}, ranked by ${how}${r.query.inLibrary ? '' : ', analysed on the fly'}):`;
          const rows = r.results.map(
            (t) => `${String(t.rank).padStart(3)}. ${t.score.toFixed(3)}  #${String(t.id).padEnd(6)} ${pad(t.artist ?? '?', 24)} ${pad(t.title ?? t.path, 28)} ${t.genre.join('; ')}`,
          );
          return [head, ...(rows.length ? rows : ['  (no track passes these filters)'])].join('\n');
        });
      });
    });
}

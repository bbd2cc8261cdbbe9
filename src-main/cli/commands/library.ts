import { Option, type Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { isAudioPath } from '../../core/library/walk.js';
import { join } from 'node:path';
import { Earmark } from '../../core/api.js';
import { formatDuration, ProgressBar } from '../progress.js';
import { interruptible, nonNegative, pad, positiveInt, print, withEarmark, type Global } from '../shared.js';

/** The library: demo-library, scan, analyze, info, errors, features, export-embeddings, remove-folder, quickstart. */
export function registerLibraryCommands(program: Command): void {
  program
    .command('demo-library')
    .description('write a deterministic synthetic music library (mixed formats, real tags, some untagged or mislabeled)')
    .argument('<dir>', 'folder to write into')
    .option('--tracks <n>', 'number of tracks', positiveInt('--tracks'), 60)
    .option('--seed <s>', 'random seed', (v) => Number.parseInt(v, 10), 1)
    .option('--seconds <s>', 'mean track length in seconds', nonNegative('--seconds'), 30)
    .option('--broken <n>', 'also write N broken files (empty, not audio, truncated)', (v) => Number.parseInt(v, 10), 0)
    .option('--jobs <n>', 'encoders run at once', positiveInt('--jobs'))
    .option('--json', 'print the manifest summary as JSON')
    .action(async (dir: string, o: { tracks: number; seed: number; seconds: number; broken: number; jobs?: number; json?: boolean }, cmd: Command) => {
      await withEarmark(cmd, async (e) => {
        const bar = new ProgressBar('Generating');
        const t0 = Date.now();
        const m = await e.demoLibrary(dir, { tracks: o.tracks, seed: o.seed, seconds: o.seconds, broken: o.broken, jobs: o.jobs, onProgress: (d, t) => bar.update(d, t) });
        bar.done();
        const formats: Record<string, number> = {};
        for (const t of m.tracks) formats[t.format] = (formats[t.format] ?? 0) + 1;
        const summary = {
          dir,
          tracks: m.tracks.length,
          artists: m.artists.length,
          formats,
          untagged: m.tracks.filter((t) => t.tagging === 'untagged' || t.tagging === 'no-tags').length,
          mislabeled: m.tracks.filter((t) => t.tagging === 'mislabeled').length,
          broken: o.broken,
          seconds: (Date.now() - t0) / 1000,
        };
        print(!!o.json, summary, () =>
          [
            `Wrote ${summary.tracks} tracks by ${summary.artists} artists to ${dir} in ${summary.seconds.toFixed(1)} s`,
            `  formats: ${Object.entries(formats).map(([f, n]) => `${f} ${n}`).join(', ')}`,
            `  ${summary.untagged} untagged, ${summary.mislabeled} deliberately mislabeled${o.broken ? `, ${o.broken} broken files` : ''}`,
            `  ground truth: ${dir}/earmark-demo.json`,
          ].join('\n'),
        );
      });
    });

  program
    .command('scan')
    .description('scan music folders (incremental: only new, changed, moved or removed files are touched)')
    .argument('[folders...]', 'folders to scan (default: the folders scanned before)')
    .option('--verify', 're-hash every file (finds files edited in place with their modification time put back)')
    .option('--json', 'print the report as JSON')
    .action(async (folders: string[], o: { json?: boolean; verify?: boolean }, cmd: Command) => {
      await withEarmark(cmd, async (e) => {
        for (const f of folders) {
          if (!existsSync(f)) throw new Error(`No such folder: ${f}`);
          if (!statSync(f).isDirectory() && !isAudioPath(f)) throw new Error(`${f} is a file, not a music folder (nor an audio file): name its folder instead.`);
        }
        const bar = new ProgressBar(o.verify ? 'Verifying' : 'Scanning');
        const r = await e.scan(folders, { verify: o.verify, onProgress: (p) => p.total > 0 && bar.update(p.done, p.total) });
        bar.done();
        print(!!o.json, r, () => {
          const lines = [
            `Scanned ${r.files} audio files in ${r.roots.join(', ')}`,
            `  ${r.added} added, ${r.changed} changed, ${r.moved} moved, ${r.removed} removed, ${r.unchanged} unchanged`,
          ];
          if (r.tagErrors) lines.push(`  ${r.tagErrors} files with unreadable tags (see \`earmark errors\`)`);
          for (const p of r.problems.slice(0, 20)) lines.push(`  ! ${p.path}: ${p.message}`);
          if (r.problems.length > 20) lines.push(`  … and ${r.problems.length - 20} more problems`);
          return lines.join('\n');
        });
      });
    });

  program
    .command('analyze')
    .description('compute representations for every track that needs them (resumable)')
    .option('--representation <names>', 'dsp, mfcc, or both (comma-separated)', 'dsp,mfcc')
    .option('--jobs <n>', 'worker threads (default: all cores)', positiveInt('--jobs'))
    .option('--retry-failed', 'try again files that failed to decode before')
    .option('--json', 'print the report as JSON')
    .action(async (o: { representation: string; jobs?: number; retryFailed?: boolean; json?: boolean }, cmd: Command) => {
      await withEarmark(cmd, async (e) => {
        const bar = new ProgressBar('Analyzing');
        await interruptible('Stopping… (what is done is kept; run `earmark analyze` again to resume)', async (signal) => {
          const r = await e.analyze({
            representations: o.representation.split(',').map((s) => s.trim()).filter(Boolean),
            jobs: o.jobs,
            retryFailed: o.retryFailed,
            signal,
            onProgress: (p) => bar.update(p.done, p.total, { etaMs: p.etaMs, rate: p.tracksPerSecond, failed: p.failed, current: p.current }),
          });
          bar.done();
          print(!!o.json, r, () => {
            const lines = [
              r.total === 0
                ? 'Nothing to analyse: every track is up to date.'
                : `${r.cancelled ? 'Cancelled after' : 'Analysed'} ${r.analyzed} of ${r.total} tracks in ${formatDuration(r.elapsedMs)} (${(r.analyzed / Math.max(1e-3, r.elapsedMs / 1000)).toFixed(1)} tracks/s)`,
            ];
            if (r.failed) {
              lines.push(`  ${r.failed} files could not be analysed:`);
              for (const f of r.failures.slice(0, 20)) lines.push(`  ! ${f.path}: ${f.message}`);
            }
            if (r.truncated.length) {
              lines.push(`  ${r.truncated.length} file${r.truncated.length === 1 ? ' was' : 's were'} analysed on the part that decodes:`);
              for (const f of r.truncated.slice(0, 20)) lines.push(`  ! ${f.path}: ${f.message}`);
            }
            for (const [rep, how] of Object.entries(r.indexes)) lines.push(`  index ${rep}: ${how === 'built' ? 'rebuilt' : 'up to date'}`);
            return lines.join('\n');
          });
          if (r.cancelled) process.exitCode = 130;
        });
      });
    });

  program
    .command('info')
    .description('counts, errors, representations, index state, ffmpeg and compute backend')
    .option('--json', 'print JSON')
    .option('--no-load-compute', 'report the installed backends without loading TensorFlow.js')
    .action(async (o: { json?: boolean; loadCompute: boolean }, cmd: Command) => {
      await withEarmark(cmd, async (e) => {
        // The backend actually in use, and why better ones were passed over (loading it takes about a second).
        let runtime: { backend: string; device: string; skipped: Array<{ name: string; reason: string }> } | { error: string } | null = null;
        if (o.loadCompute) {
          try {
            const rt = await e.tf();
            runtime = { backend: rt.backend, device: rt.device, skipped: rt.skipped };
          } catch (err) {
            runtime = { error: err instanceof Error ? err.message : String(err) };
          }
        }
        const i = { ...e.info(), runtime };
        const runtimeLine = () => {
          if (!runtime) return [];
          if ('error' in runtime) return [`  in use: none (${runtime.error})`];
          const gpu = runtime.device.startsWith('GPU');
          return [`  in use: ${runtime.device} (${runtime.backend})${gpu ? '' : ' — no GPU'}`, ...runtime.skipped.map((s) => `  passed over: ${s.name}: ${s.reason}`)];
        };
        print(!!o.json, i, () =>
          [
            `Earmark data: ${i.home}`,
            `Folders: ${i.roots.length ? i.roots.join(', ') : '(none yet: earmark scan <folder>)'}`,
            `Tracks: ${i.tracks}`,
            ...i.representations.map((r) => `  ${pad(r.name, 8)} ${r.vectors} vectors (${r.dim}-d, ${r.version}); index ${r.index.state}${r.index.state === 'fresh' ? '' : `: ${r.index.reason}`}`),
            `Errors: ${i.errors.total}${i.errors.total ? ` (${Object.entries(i.errors.byCode).map(([c, n]) => `${c} ${n}`).join(', ')}; see \`earmark errors\`)` : ''}${i.scanProblems ? `; ${i.scanProblems} scan problems` : ''}`,
            `Tag fields: ${i.tagFields.map((f) => `${f.field} (${f.tracks})`).join(', ') || 'none'}`,
            `ffmpeg: ${i.ffmpeg.ok ? `${i.ffmpeg.version} (${i.ffmpeg.source}: ${i.ffmpeg.path})` : i.ffmpeg.error}`,
            `Compute: ${i.compute.preferred ?? 'none'} — ${i.compute.note}`,
            `Audio FFT: ${i.compute.audioFft.engine}${i.compute.audioFft.fallbackReason ? ` (PFFFT not loaded: ${i.compute.audioFft.fallbackReason})` : ''}`,
            ...runtimeLine(),
            `Models: ${i.models.length ? i.models.map((m) => (m.kind === 'published' ? `${m.name} (published ${m.arch})` : `${m.name} (${m.kind} ${m.arch}, ${m.done}/${m.iterations})`)).join(', ') : 'none'}`,
            `Default representation: ${i.defaultRepresentation.reason}`,
            `Log-mel cache: ${i.logMelCache.files} files, ${(i.logMelCache.bytes / 2 ** 20).toFixed(1)} MB of ${(i.logMelCache.maxBytes / 2 ** 30).toFixed(1)} GB (${i.logMelCache.dir})`,
          ].join('\n'),
        );
      });
    });

  program
    .command('errors')
    .description('files that could not be read, decoded or analysed, and why')
    .option('--json', 'print JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withEarmark(cmd, (e) => {
        const errors = e.errors();
        const problems = e.scanProblems();
        print(!!o.json, { errors, scanProblems: problems }, () =>
          errors.length + problems.length === 0
            ? 'No errors.'
            : [...errors.map((r) => `${r.stage.padEnd(7)} ${r.code.padEnd(16)} ${r.path}\n        ${r.message}`), ...problems.map((p) => `scan    ${p.code.padEnd(16)} ${p.path}\n        ${p.message}`)].join('\n'),
        );
      });
    });

  program
    .command('features')
    .description('print a front-end matrix of any audio file ({"shape":[bands,frames],"data":[...]})')
    .argument('<file>', 'audio file')
    .addOption(new Option('--kind <kind>', 'what to compute').choices(['mel', 'logmel', 'mfcc']).default('logmel'))
    .option('--n-fft <n>', 'FFT size', positiveInt('--n-fft'), 2048)
    .option('--hop-length <n>', 'hop in samples', positiveInt('--hop-length'), 512)
    .option('--n-mels <n>', 'mel bands', positiveInt('--n-mels'), 128)
    .option('--n-mfcc <n>', 'MFCC coefficients', positiveInt('--n-mfcc'), 20)
    .option('--fmin <hz>', 'lowest mel frequency', nonNegative('--fmin'))
    .option('--fmax <hz>', 'highest mel frequency', nonNegative('--fmax'))
    .option('--offset <s>', 'start, seconds', nonNegative('--offset'))
    .option('--duration <s>', 'length, seconds', nonNegative('--duration'))
    .option('--delta <order>', 'for mfcc: 1 for Δ, 2 for ΔΔ', (v) => Number(v))
    .option('--json', 'print JSON (the only output format)')
    .action(
      async (
        file: string,
        o: { kind: 'mel' | 'logmel' | 'mfcc'; nFft: number; hopLength: number; nMels: number; nMfcc: number; fmin?: number; fmax?: number; offset?: number; duration?: number; delta?: number },
        cmd: Command,
      ) => {
        if ((o.nFft & (o.nFft - 1)) !== 0) throw new Error('--n-fft must be a power of two');
        const e = Earmark.open({ home: (cmd.optsWithGlobals() as Global).home, ffmpegPath: (cmd.optsWithGlobals() as Global).ffmpeg });
        try {
          const m = await e.features(file, {
            kind: o.kind,
            nFft: o.nFft,
            hopLength: o.hopLength,
            nMels: o.nMels,
            nMfcc: o.nMfcc,
            fmin: o.fmin,
            fmax: o.fmax,
            offset: o.offset,
            duration: o.duration,
            deltaOrder: o.delta === 1 || o.delta === 2 ? o.delta : 0,
          });
          process.stdout.write(`${JSON.stringify({ shape: m.shape, sr: m.sr, data: m.data })}\n`);
        } finally {
          e.close();
        }
      },
    );

  program
    .command('export-embeddings')
    .description('write vectors to FILE.f32 (row-major float32) and FILE.tsv (track id, path, artist, album, title, genre)')
    .requiredOption('--out <file>', 'output path without extension')
    .option('--representation <name>', 'which representation', 'dsp')
    .option('--raw', 'raw vectors instead of the normalised ones the index uses')
    .option('--json', 'print JSON')
    .action(async (o: { out: string; representation: string; raw?: boolean; json?: boolean }, cmd: Command) => {
      await withEarmark(cmd, (e) => {
        const r = e.exportEmbeddings(o.representation, o.out, { raw: o.raw });
        print(!!o.json, r, () => `Wrote ${r.rows} × ${r.dim} float32 to ${r.f32} and the rows to ${r.tsv}`);
      });
    });

  program
    .command('remove-folder')
    .description('forget a music folder and its tracks (files are not touched)')
    .argument('<folder>')
    .action(async (folder: string, _o: unknown, cmd: Command) => {
      await withEarmark(cmd, (e) => {
        const n = e.removeFolder(folder);
        process.stdout.write(`Removed ${folder} and ${n} tracks from the library.\n`);
      });
    });

  program
    .command('quickstart')
    .description('first run: make a demo library in the data folder if there is no music folder yet, scan, analyse, and show similar tracks')
    .option('--tracks <n>', 'size of the demo library', positiveInt('--tracks'), 40)
    .action(async (o: { tracks: number }, cmd: Command) => {
      await withEarmark(cmd, async (e) => {
        let roots = e.store.roots().map((r) => r.path);
        if (roots.length === 0) {
          const demo = join(e.paths.home, 'demo-library');
          process.stdout.write(`No music folder yet: writing a ${o.tracks}-track demo library to ${demo} …\n`);
          const bar = new ProgressBar('Generating');
          await e.demoLibrary(demo, { tracks: o.tracks, onProgress: (d, t) => bar.update(d, t) });
          bar.done();
          roots = [demo];
          process.stdout.write(`(Point Earmark at your own music with: earmark scan ~/Music)\n`);
        }
        const scanBar = new ProgressBar('Scanning');
        const s = await e.scan(roots, { onProgress: (p) => p.total > 0 && scanBar.update(p.done, p.total) });
        scanBar.done();
        process.stdout.write(`Scanned ${s.files} files in ${roots.join(', ')}: ${s.added} new, ${s.changed} changed, ${s.moved} moved, ${s.removed} removed.\n`);
        const bar = new ProgressBar('Analyzing');
        const a = await e.analyze({ onProgress: (p) => bar.update(p.done, p.total, { etaMs: p.etaMs, rate: p.tracksPerSecond, failed: p.failed }) });
        bar.done();
        process.stdout.write(a.total ? `Analysed ${a.analyzed} tracks${a.failed ? `, ${a.failed} could not be decoded (earmark errors)` : ''}.\n` : 'Every track is analysed already.\n');
        const withVectors = e.store.db
          .prepare("SELECT t.id FROM tracks t JOIN vectors v ON v.track_id = t.id AND v.representation = 'dsp' ORDER BY t.artist IS NULL, t.id LIMIT 1")
          .get() as { id: number } | undefined;
        if (!withVectors) {
          process.stdout.write('No track could be analysed, so there is nothing to compare yet.\n');
          return;
        }
        const r = await e.similar({ trackId: withVectors.id, k: 8 });
        process.stdout.write(`\nTracks that sound like #${r.query.trackId} ${r.query.artist ?? '?'} – ${r.query.title ?? r.query.path}:\n`);
        for (const t of r.results) process.stdout.write(`${String(t.rank).padStart(3)}. ${t.score.toFixed(3)}  ${pad(t.artist ?? '?', 24)} ${pad(t.title ?? t.path, 28)} ${t.genre.join('; ')}\n`);
        process.stdout.write(`\nTry: earmark similar <file or id>, earmark info, earmark --help   (data: ${e.paths.home})\n`);
      });
    });
}

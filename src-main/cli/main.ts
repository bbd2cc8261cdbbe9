import { Command, InvalidArgumentError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Earmark, type SimilarQuery } from '../core/api.js';
import { EarmarkService } from '../core/service.js';
import { LEARNING_SOURCES } from '../core/contract.js';
import { facetVocabulary, listAliases, removeAlias, setAlias } from '../core/library/facets.js';
import { startServer } from '../server/server.js';
import { formatDuration, ProgressBar } from './progress.js';

/** The `earmark` command line: a thin adapter over core/api.ts. */

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive whole number.`);
    return n;
  };
}
function nonNegative(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative number.`);
    return n;
  };
}
function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}
function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}
function pad(s: string, n: number): string {
  return s.length >= n ? `${s.slice(0, n - 1)}…` : s + ' '.repeat(n - s.length);
}

interface Global {
  home?: string;
  ffmpeg?: string;
}
function open(cmd: Command): Earmark {
  const g = cmd.optsWithGlobals() as Global;
  return Earmark.open({ home: g.home, ffmpegPath: g.ffmpeg });
}
/**
 * Run `fn` with a signal that Ctrl-C aborts (saying `message` first): the command stops cleanly, keeping
 * what it has done.
 */
async function interruptible<T>(message: string | null, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => {
    if (message) process.stderr.write(`\n${message}\n`);
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

async function withEarmark<T>(cmd: Command, fn: (e: Earmark) => Promise<T> | T): Promise<T> {
  const e = open(cmd);
  try {
    return await fn(e);
  } finally {
    e.close();
  }
}

const program = new Command();
program
  .name('earmark')
  .description('Listen to a music library: find tracks that sound alike, predict and write tags, learn your taxonomy.')
  .option('--home <dir>', 'data folder (library.db, index/, models/, journal/); default $EARMARK_HOME or the platform app-data folder')
  .option('--ffmpeg <path>', 'ffmpeg binary to use (default: the setting, then the bundled one, then PATH)')
  .showHelpAfterError();

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
  .option('--json', 'print the report as JSON')
  .action(async (folders: string[], o: { json?: boolean }, cmd: Command) => {
    await withEarmark(cmd, async (e) => {
      for (const f of folders) if (!existsSync(f)) throw new Error(`No such folder: ${f}`);
      const bar = new ProgressBar('Scanning');
      const r = await e.scan(folders, { onProgress: (p) => p.total > 0 && bar.update(p.done, p.total) });
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
          for (const [rep, how] of Object.entries(r.indexes)) lines.push(`  index ${rep}: ${how === 'built' ? 'rebuilt' : 'up to date'}`);
          return lines.join('\n');
        });
        if (r.cancelled) process.exitCode = 130;
      });
    });
  });

program
  .command('similar')
  .description('tracks that sound like a library track or any audio file')
  .argument('<track>', 'a file path, or a library track id')
  .option('-k <n>', 'how many', positiveInt('-k'), 10)
  .option('--representation <name>', 'dsp, mfcc or a trained model', 'dsp')
  .addOption(new Option('--artist <which>', 'only the same artist, or only different artists').choices(['same', 'different']))
  .option('--exclude-same-album', "leave out the query's album")
  .option('--tag <field=value>', 'keep only tracks with this tag value (repeatable; values of one field are alternatives)', collect)
  .option('--json', 'print JSON')
  .action(async (arg: string, o: { k: number; representation: string; artist?: 'same' | 'different'; excludeSameAlbum?: boolean; tag?: string[]; json?: boolean }, cmd: Command) => {
    await withEarmark(cmd, async (e) => {
      const q: SimilarQuery = { k: o.k, representation: o.representation, artist: o.artist, excludeSameAlbum: o.excludeSameAlbum };
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
        const head = `Like ${r.query.inLibrary ? `#${r.query.trackId} ` : ''}${r.query.artist ?? '?'} – ${r.query.title ?? r.query.path} (${r.representation}${r.query.inLibrary ? '' : ', analysed on the fly'}):`;
        const rows = r.results.map(
          (t) => `${String(t.rank).padStart(3)}. ${t.score.toFixed(3)}  #${String(t.id).padEnd(6)} ${pad(t.artist ?? '?', 24)} ${pad(t.title ?? t.path, 28)} ${t.genre.join('; ')}`,
        );
        return [head, ...(rows.length ? rows : ['  (no track passes these filters)'])].join('\n');
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
          `Models: ${i.models.length ? i.models.map((m) => `${m.name} (${m.kind} ${m.arch}, ${m.done}/${m.iterations})`).join(', ') : 'none'}`,
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
  .command('tag')
  .description('write facet tags into files safely (journaled, verified, atomic), list batches, or undo one')
  .option('--track <id|path>', 'a library track (repeatable)', collect, [])
  .option('--set <field=values>', 'values to write, ";"-separated, e.g. --set "genre=Jazz;Bebop" (repeatable; empty removes)', collect, [])
  .option('--id3 <version>', 'ID3v2 version for MP3/AIFF: 3 or 4', '4')
  .option('--dry-run', 'show what would change, write nothing')
  .option('--undo <batch>', 'restore the values a batch replaced')
  .option('--batches', 'list the batches written so far')
  .option('--write', 'write the accepted predictions (see `earmark review`)')
  .option('--fields <list>', 'with --write: only these fields', fieldList)
  .option('--min-confidence <c>', 'with --write: only accepted values at least this confident (0…1)', probability('--min-confidence'))
  .option('--json', 'machine-readable output')
  .action(
    async (
      o: { track: string[]; set: string[]; id3: string; dryRun?: boolean; undo?: string; batches?: boolean; write?: boolean; fields?: string[]; minConfidence?: number; json?: boolean },
      cmd: Command,
    ) => {
    await withEarmark(cmd, async (e) => {
      if (o.batches) {
        const b = e.tagBatches();
        print(!!o.json, b, () => (b.length ? b.map((x) => `${x.batch}  ${x.files} file(s)  ${new Date(x.at).toLocaleString()}`).join('\n') : 'No tags written yet.'));
        return;
      }
      if (o.id3 !== '3' && o.id3 !== '4') throw new Error('--id3 must be 3 or 4.');
      let report;
      if (o.undo) report = await e.undoTags(o.undo);
      else if (o.write) {
        if (o.set.length) throw new Error('--write writes the accepted predictions; --set writes given values. Use one.');
        const trackIds = o.track.map((x) => {
          const t = /^\d+$/.test(x) ? e.store.trackById(Number(x)) : e.store.trackByPath(resolve(x));
          if (!t) throw new Error(`${x} is not a track in the library (scan its folder first).`);
          return t.id;
        });
        report = await e.writeAccepted({
          fields: o.fields,
          minConfidence: o.minConfidence,
          trackIds: trackIds.length ? trackIds : undefined,
          dryRun: o.dryRun,
          id3Version: o.id3 === '3' ? 3 : 4,
        });
      } else {
        if (o.track.length === 0 || o.set.length === 0) throw new Error('Name the tracks (--track) and the values (--set field=a;b), or use --write / --undo / --batches.');
        const changes: Record<string, string[]> = {};
        for (const s of o.set) {
          const m = /^([\p{L}\p{N}_ .:-]+)=(.*)$/u.exec(s);
          if (!m) throw new Error(`--set ${JSON.stringify(s)}: write it as field=value;value.`);
          changes[m[1].trim().toLowerCase()] = m[2].split(';').map((v) => v.trim()).filter(Boolean);
        }
        const ids = o.track.map((x) => {
          const t = /^\d+$/.test(x) ? e.store.trackById(Number(x)) : e.store.trackByPath(resolve(x));
          if (!t) throw new Error(`${x} is not a track in the library (scan its folder first).`);
          return t.id;
        });
        report = await e.writeTags(ids.map((trackId) => ({ trackId, changes })), { dryRun: o.dryRun, id3Version: o.id3 === '3' ? 3 : 4 });
      }
      print(!!o.json, report, () => {
        const lines = report.written.map((w) => `${report.dryRun ? 'would write' : 'wrote'} ${w.path}: ${Object.keys(w.after).map((f) => `${f} ${JSON.stringify(w.before[f] ?? [])} → ${JSON.stringify(w.after[f])}`).join(', ')}`);
        for (const r of report.refused) lines.push(`refused ${r.path ?? r.trackId}: ${r.message}`);
        if (!report.dryRun && report.written.length) lines.push(`batch ${report.batch} (undo: earmark tag --undo ${report.batch})`);
        if (lines.length === 0) lines.push('Nothing to change.');
        return lines.join('\n');
      });
      if (report.refused.length) process.exitCode = 3;
    });
    },
  );

function fieldList(v: string): string[] {
  const fields = v.split(',').map((f) => f.trim().toLowerCase()).filter(Boolean);
  if (fields.length === 0) throw new InvalidArgumentError('name at least one field, e.g. genre,mood');
  return fields;
}

function probability(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`${name} must be between 0 and 1`);
    return n;
  };
}

function pct(x: number | undefined): string {
  return x === undefined ? '–' : `${(100 * x).toFixed(1)} %`;
}

const headKind = new Option('--head <kind>', 'mlp (1024-unit ELU transfer MLP) or linear').choices(['mlp', 'linear']).default('mlp');

program
  .command('predict')
  .description("learn tag fields from the library's own tags and predict them for every analysed track (flags suspicious tags)")
  .option('--fields <list>', 'fields to learn, comma-separated', fieldList, ['genre', 'mood'])
  .option('--representation <name>', 'the track vectors the heads read', 'dsp')
  .addOption(headKind)
  .option('--min-support <n>', 'tracks a value needs to be learned', positiveInt('--min-support'), 5)
  .option('--folds <n>', 'cross-fitting folds (every tagged track is predicted by heads that never saw it)', positiveInt('--folds'), 5)
  .option('--seed <n>', 'random seed', positiveInt('--seed'), 1)
  .option('--workers <n>', 'threads training the folds side by side (default: one per core on the WebAssembly backend, for 1,500+ tagged tracks)', positiveInt('--workers'))
  .option('--json', 'machine-readable output')
  .action(async (o: { fields: string[]; representation: string; head: 'mlp' | 'linear'; minSupport: number; folds: number; seed: number; workers?: number; json?: boolean }, cmd: Command) => {
    await withEarmark(cmd, async (e) => {
      const rt = await e.tf();
      if (!o.json) process.stderr.write(`TensorFlow.js on ${rt.device}\n`);
      const bar = new ProgressBar('Training');
      await interruptible(null, async (signal) => {
        const report = await e.predict({
          fields: o.fields,
          representation: o.representation,
          kind: o.head,
          minSupport: o.minSupport,
          folds: o.folds,
          seed: o.seed,
          workers: o.workers,
          signal,
          onProgress: (p) => bar.update(p.done, p.total, { current: `${p.field} fold ${p.fold + 1}/${p.folds} loss ${p.loss.toFixed(3)}` }),
        });
        bar.done();
        print(!!o.json, report, () =>
          report.fields
            .map((r) => {
              const h = r.heldOut;
              const quality = r.multiLabel
                ? `held-out mAP ${pct(h.meanAveragePrecision)}, mean F1 ${pct(h.meanF1)}`
                : `held-out accuracy ${pct(h.accuracy)} (always "${r.values[0]?.value}": ${pct(h.majorityAccuracy)}), macro-F1 ${pct(h.macroF1)}, log-loss ${h.logLoss?.toFixed(3)}`;
              return [
                `${r.field} (${r.multiLabel ? 'multi' : 'single'}-label, ${r.kind} on ${r.representation}): learned ${r.values.length} values from ${r.labelled} tagged tracks`,
                `  ${quality}`,
                `  ${r.predicted} tracks predicted; ${r.proposals} values proposed; ${r.suspicious} tracks with a suspicious tag`,
                ...(r.rare.length ? [`  not learned (under ${o.minSupport} tracks): ${r.rare.map((v) => `${v.value} (${v.tracks})`).join(', ')}`] : []),
              ].join('\n');
            })
            .concat(report.refused.map((r) => `${r.field}: not learned. ${r.reason}`))
            .join('\n') + '\nReview with `earmark review`, then write with `earmark tag --write`.',
        );
      });
    });
  });

program
  .command('eval-tags')
  .description('held-out evaluation of a tag head: 85/15 split; accuracy, macro-F1, log-loss or per-value P/R/F1 and mAP')
  .requiredOption('--field <name>', 'the field to evaluate')
  .option('--representation <name>', 'the track vectors the head reads', 'dsp')
  .addOption(headKind)
  .addOption(new Option('--split <kind>', 'stratified by value, or by artist (no artist on both sides)').choices(['stratified', 'artist']).default('stratified'))
  .option('--multi-label', 'treat the field as multi-label (default: all fields but genre)')
  .option('--single-label', 'treat the field as single-label')
  .option('--min-support <n>', 'tracks a value needs to be learned', positiveInt('--min-support'), 5)
  .option('--seed <n>', 'random seed', positiveInt('--seed'), 1)
  .option('--json', 'machine-readable output')
  .action(
    async (
      o: { field: string; representation: string; head: 'mlp' | 'linear'; split: 'stratified' | 'artist'; multiLabel?: boolean; singleLabel?: boolean; minSupport: number; seed: number; json?: boolean },
      cmd: Command,
    ) => {
      await withEarmark(cmd, async (e) => {
        if (o.multiLabel && o.singleLabel) throw new Error('--multi-label and --single-label exclude each other.');
        const r = await e.evaluateTags({
          field: o.field,
          representation: o.representation,
          kind: o.head,
          split: o.split,
          multiLabel: o.multiLabel ? true : o.singleLabel ? false : undefined,
          minSupport: o.minSupport,
          seed: o.seed,
        });
        print(!!o.json, r, () => {
          const lines = [`${r.field}: ${r.kind} head on ${r.representation}, ${r.split} 85/15 split, ${r.train} train / ${r.test} test tracks`];
          if (!r.multiLabel) {
            lines.push(`  accuracy ${pct(r.accuracy)}   macro-F1 ${pct(r.macroF1)}   log-loss ${r.logLoss?.toFixed(3)}`);
            lines.push(`  majority baseline ("${r.majority?.value}"): accuracy ${pct(r.majority?.accuracy)}, macro-F1 ${pct(r.majority?.macroF1)}`);
            const w = Math.max(8, ...r.values.map((v) => v.length));
            lines.push('  confusion (rows: tag, columns: predicted)');
            lines.push(`  ${pad('', w)} ${r.values.map((v) => v.slice(0, 6).padStart(6)).join(' ')}`);
            r.confusion?.forEach((row, i) => lines.push(`  ${pad(r.values[i], w)} ${row.map((c) => String(c).padStart(6)).join(' ')}`));
          } else {
            lines.push(`  mean average precision ${pct(r.meanAveragePrecision)}`);
          }
          lines.push('  per value: precision / recall / F1 (support)');
          for (const v of r.perValue) lines.push(`  ${pad(v.value, 24)} ${pct(v.precision).padStart(8)} ${pct(v.recall).padStart(8)} ${pct(v.f1).padStart(8)}  (${v.support})`);
          return lines.join('\n');
        });
      });
    },
  );

program
  .command('review')
  .description('accept or reject predicted tag values (what `tag --write` writes), or show where review stands')
  .option('--accept', 'accept the selected proposals')
  .option('--reject', 'reject the selected proposals')
  .option('--reset', 'put the selected proposals back to pending')
  .option('--field <name>', 'only this field')
  .option('--track <id>', 'only this track (repeatable)', collect, [])
  .option('--value <v>', 'only this value (repeatable)', collect, [])
  .option('--min-confidence <c>', 'only proposals at least this confident (0…1)', probability('--min-confidence'))
  .option('--pending-only', 'leave earlier decisions as they are')
  .option('--json', 'machine-readable output')
  .action(
    async (
      o: { accept?: boolean; reject?: boolean; reset?: boolean; field?: string; track: string[]; value: string[]; minConfidence?: number; pendingOnly?: boolean; json?: boolean },
      cmd: Command,
    ) => {
      await withEarmark(cmd, (e) => {
        const actions = (['accept', 'reject', 'reset'] as const).filter((a) => o[a]);
        if (actions.length > 1) throw new Error('Choose one of --accept, --reject, --reset.');
        let changed: number | null = null;
        if (actions.length === 1) {
          const trackIds = o.track.map((t) => {
            if (!/^\d+$/.test(t) || !e.store.trackById(Number(t))) throw new Error(`--track ${t}: no such track id.`);
            return Number(t);
          });
          changed = e.review(actions[0], {
            field: o.field,
            trackIds: trackIds.length ? trackIds : undefined,
            values: o.value.length ? o.value : undefined,
            minConfidence: o.minConfidence,
            pendingOnly: o.pendingOnly,
          });
        }
        const summary = e.reviewSummary();
        print(!!o.json, { changed, fields: summary }, () => {
          const lines = changed === null ? [] : [`${changed} proposal(s) ${actions[0] === 'reset' ? 'reset to pending' : `${actions[0]}ed`}.`];
          if (summary.length === 0) lines.push('No predictions yet: run `earmark predict`.');
          for (const f of summary) {
            lines.push(
              `${f.field}: ${f.proposed} pending, ${f.accepted} accepted, ${f.rejected} rejected, ${f.written} written; ${f.suspicious} tracks with a suspicious tag (${f.kind} on ${f.representation}, ${new Date(f.createdAt).toLocaleString()})`,
            );
          }
          return lines.join('\n');
        });
      });
    },
  );

program
  .command('train')
  .description('train an encoder on the library: multi-task (seed 001) or triplet (seed 004); checkpointed, resumable')
  .requiredOption('--name <name>', 'the model (and its representation) name')
  .addOption(new Option('--kind <kind>', 'multitask or triplet').choices(['multitask', 'triplet']).default('multitask'))
  .option('--sources <list>', `multi-task learning sources: ${LEARNING_SOURCES.join(', ')}`, fieldList, ['tags', 'artist'])
  .option('--fields <list>', 'tag fields behind the tags source / triplet relatedness', fieldList, ['genre', 'mood', 'style'])
  .addOption(new Option('--arch <arch>', 'network').choices(['dcnn', 'base-cnn', 'dpnn']).default('dcnn'))
  .addOption(new Option('--fusion <f>', 'how tasks share the network').choices(['SS-R', 'MSS-CR', 'MS-CR@2', 'MS-CR@4', 'MS-CR@6', 'MS-SR@FC']))
  .option('--iterations <n>', 'training iterations (default 500)', positiveInt('--iterations'))
  .option('--epochs <n>', 'or: passes over the training tracks (iterations = epochs × tracks ÷ batch size)', positiveInt('--epochs'))
  .option('--batch-size <n>', 'tracks per iteration', positiveInt('--batch-size'))
  .addOption(new Option('--selection <s>', 'triplet selection').choices(['batch-hard', 'literal']).default('batch-hard'))
  .option('--hold-out <share>', 'share of tracks kept out of training as evaluation queries', probability('--hold-out'), 0.15)
  .option('--seed <n>', 'random seed', positiveInt('--seed'), 1)
  .option('--resume', 'continue an unfinished model of this name')
  .option('--json', 'machine-readable output')
  .action(
    async (
      o: {
        name: string;
        kind: 'multitask' | 'triplet';
        sources: string[];
        fields: string[];
        arch: 'dcnn' | 'base-cnn' | 'dpnn';
        fusion?: 'SS-R' | 'MSS-CR' | 'MS-CR@2' | 'MS-CR@4' | 'MS-CR@6' | 'MS-SR@FC';
        iterations?: number;
        epochs?: number;
        batchSize?: number;
        selection: 'batch-hard' | 'literal';
        holdOut: number;
        seed: number;
        resume?: boolean;
        json?: boolean;
      },
      cmd: Command,
    ) => {
      await withEarmark(cmd, async (e) => {
        const rt = await e.tf();
        if (!o.json) process.stderr.write(`TensorFlow.js on ${rt.device}\n`);
        // One bar per phase (log-mel spectrograms, audio targets, training).
        let phase = '';
        let bar = new ProgressBar('Training');
        await interruptible('Stopping after this iteration… (run again with --resume to continue)', async (signal) => {
          const r = await e.trainEncoder({
            name: o.name,
            kind: o.kind,
            sources: o.sources as Array<(typeof LEARNING_SOURCES)[number]>,
            fields: o.fields,
            arch: o.arch,
            fusion: o.fusion,
            iterations: o.iterations,
            epochs: o.epochs,
            batchSize: o.batchSize,
            selection: o.selection,
            holdOut: o.holdOut,
            seed: o.seed,
            resume: o.resume,
            signal,
            onProgress: (p) => {
              if (p.phase !== phase) {
                bar.done();
                phase = p.phase;
                bar = new ProgressBar(phase === 'training' ? 'Training' : `${phase[0].toUpperCase()}${phase.slice(1)}`);
              }
              bar.update(p.done, p.total, { current: p.loss !== undefined ? `${p.task} loss ${p.loss.toFixed(3)}` : null });
            },
          });
          bar.done();
          const m = r.meta;
          print(!!o.json, r, () =>
            [
              `${r.cancelled ? 'Stopped' : 'Trained'} ${m.name}: ${m.kind} ${m.arch} (${m.fusion}), ${m.done} of ${m.iterations} iterations on ${m.backend}`,
              ...m.sources.map((s) => `  ${s.name}: ${s.describe}`),
              `  ${m.heldOut.length} tracks held out for evaluation. Next: earmark embed --model ${m.name}`,
            ].join('\n'),
          );
        });
      });
    },
  );

program
  .command('embed')
  .description("write a trained model's track vectors into the store as a representation (and index it)")
  .requiredOption('--model <name>', 'the model')
  .option('--rand', 'the same network untrained, as the `rand` baseline')
  .option('--json', 'machine-readable output')
  .action(async (o: { model: string; rand?: boolean; json?: boolean }, cmd: Command) => {
    await withEarmark(cmd, async (e) => {
      const bar = new ProgressBar('Embedding');
      const r = await e.embed(o.model, { rand: o.rand, onProgress: (p) => bar.update(p.done, p.total, { current: p.phase }) });
      bar.done();
      print(!!o.json, r, () => `${r.representation}: ${r.tracks} tracks, ${r.dim}-d${r.skipped ? ` (${r.skipped} could not be decoded)` : ''}; index ${r.index}. Try: earmark similar <track> --representation ${r.representation}`);
    });
  });

program
  .command('models')
  .description('the trained models, with their sources and training state')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }, cmd: Command) => {
    await withEarmark(cmd, (e) => {
      const list = e.models();
      print(!!o.json, list, () =>
        list.length
          ? list.map((m) => `${m.name}  ${m.kind} ${m.arch} ${m.fusion}  ${m.done}/${m.iterations} iterations  sources: ${m.sources.map((s) => s.name).join(', ')}  (${m.backend})`).join('\n')
          : 'No models yet: earmark train --name NAME',
      );
    });
  });

program
  .command('export-model')
  .description('write a model as one file (weights, settings, and the optimiser state an unfinished model resumes with)')
  .argument('<name>')
  .requiredOption('--out <file>', 'the file to write')
  .action(async (name: string, o: { out: string }, cmd: Command) => {
    await withEarmark(cmd, (e) => {
      e.exportModel(name, o.out);
      process.stdout.write(`Wrote ${o.out}\n`);
    });
  });

program
  .command('import-model')
  .description('add a model exported from Earmark (on any machine or backend)')
  .argument('<file>')
  .option('--name <name>', 'import under another name')
  .action(async (file: string, o: { name?: string }, cmd: Command) => {
    await withEarmark(cmd, (e) => {
      const m = e.importModel(file, o.name);
      process.stdout.write(`Imported ${m.name} (${m.kind} ${m.arch}). Next: earmark embed --model ${m.name}\n`);
    });
  });

program
  .command('eval')
  .description('compare representations on held-out query tracks: precision@10 of retrieving the same genre, mood, style, artist and album, and a head per tag field (accuracy, macro-F1, mAP)')
  .option('--representations <list>', 'representations to compare', (v) => v.split(',').map((x) => x.trim()).filter(Boolean), ['dsp', 'mfcc'])
  .option('--queries-from <model>', "use this model's held-out tracks as queries (default: 15 % of the tracks)")
  .option('--heads <fields>', 'tag fields to train and score a head for on each representation', (v) => v.split(',').map((x) => x.trim()).filter(Boolean), ['genre', 'mood', 'style'])
  .option('--no-heads', 'retrieval only')
  .addOption(new Option('--head <kind>', 'head kind').choices(['mlp', 'linear']).default('mlp'))
  .option('--min-support <n>', 'tracks a value needs to be learned by the heads', positiveInt('--min-support'), 5)
  .option('--seed <n>', 'random seed for the default queries and the heads', positiveInt('--seed'), 1)
  .option('--json', 'machine-readable output')
  .action(async (o: { representations: string[]; queriesFrom?: string; heads: string[] | false; head: 'mlp' | 'linear'; minSupport: number; seed: number; json?: boolean }, cmd: Command) => {
    await withEarmark(cmd, async (e) => {
      const bar = new ProgressBar('Heads');
      const r = await e.compareRepresentations(o.representations, {
        queriesFrom: o.queriesFrom,
        seed: o.seed,
        headFields: o.heads === false ? [] : o.heads,
        headKind: o.head,
        minSupport: o.minSupport,
        onProgress: (p) => bar.update(p.done, p.total, { current: `${p.field} on ${p.representation}` }),
      });
      bar.done();
      const facets = ['genre', 'mood', 'style', 'artist', 'album'] as const;
      const pct = (v: number | null) => (v === null ? '–' : `${(100 * v).toFixed(1)}`).padStart(7);
      print(!!o.json, r, () => {
        const lines = [
          `precision@10 over ${r.queries} held-out queries${r.queriesFrom ? ` (those "${r.queriesFrom}" never trained on)` : ''}`,
          `  ${pad('representation', 18)} ${facets.map((f) => f.padStart(7)).join(' ')}`,
          ...r.rows.map((x) => `  ${pad(x.representation, 18)} ${facets.map((f) => x.precision[f].toFixed(3).padStart(7)).join(' ')}`),
        ];
        const fields = r.rows[0]?.heads.map((h) => h.field) ?? [];
        if (fields.length) {
          lines.push('', `${r.headKind} heads, trained on the other tracks, scored on the held-out ones (%: accuracy / macro-F1, or mAP / macro-F1 for multi-label fields)`);
          lines.push(`  ${pad('representation', 18)} ${fields.map((f) => pad(f, 16)).join(' ')}`);
          for (const x of r.rows) {
            lines.push(
              `  ${pad(x.representation, 18)} ${x.heads.map((h) => pad(h.refused ? 'refused' : `${pct(h.multiLabel ? h.meanAveragePrecision : h.accuracy).trim()} / ${pct(h.macroF1).trim()}`, 16)).join(' ')}`,
            );
          }
          const refused = r.rows.flatMap((x) => x.heads.filter((h) => h.refused).map((h) => `${h.field} on ${x.representation}: ${h.refused}`));
          if (refused.length) lines.push(...[...new Set(refused)].map((m) => `  ${m}`));
        }
        return lines.join('\n');
      });
    });
  });

program
  .command('facets')
  .description("a tag field's normalised values: split, one spelling each, aliases applied; rare values reported apart")
  .option('--field <name>', 'the field (genre, mood, style, theme or any custom field)', 'genre')
  .option('--min-support <n>', 'tracks a value needs to be learned', positiveInt('--min-support'), 5)
  .option('--json', 'machine-readable output')
  .action(async (o: { field: string; minSupport: number; json?: boolean }, cmd: Command) => {
    await withEarmark(cmd, (e) => {
      const v = facetVocabulary(e.store, o.field, { minSupport: o.minSupport });
      const out = { field: v.field, tracks: v.tracks, minSupport: v.minSupport, values: v.values, rare: v.rare };
      print(!!o.json, out, () => {
        const line = (x: { value: string; count: number; spellings: string[] }) =>
          `  ${pad(x.value, 28)} ${String(x.count).padStart(6)}${x.spellings.length > 1 ? `   (also written ${x.spellings.filter((s) => s !== x.value).join(', ')})` : ''}`;
        return [
          `${v.field}: ${v.tracks} tracks carry it; ${v.values.length} values with ≥ ${v.minSupport} tracks`,
          ...v.values.map(line),
          ...(v.rare.length ? [`rare (under ${v.minSupport} tracks, not learned): ${v.rare.length}`, ...v.rare.map(line)] : []),
        ].join('\n');
      });
    });
  });

program
  .command('alias')
  .description('the alias table for facet values: read <alias> as <value> in <field>')
  .argument('[field]')
  .argument('[alias]')
  .argument('[value]')
  .option('--remove', 'remove the alias')
  .option('--json', 'machine-readable output')
  .action(async (field: string | undefined, alias: string | undefined, value: string | undefined, o: { remove?: boolean; json?: boolean }, cmd: Command) => {
    await withEarmark(cmd, (e) => {
      if (field && alias && o.remove) {
        if (!removeAlias(e.store, field, alias)) throw new Error(`No alias "${alias}" in ${field}.`);
      } else if (field && alias && value) setAlias(e.store, field, alias, value);
      else if (alias || value) throw new Error('Give a field, an alias and its value (or --remove with field and alias).');
      const list = listAliases(e.store, field);
      print(!!o.json, list, () => (list.length ? list.map((a) => `${a.field}: ${a.alias} → ${a.value}`).join('\n') : 'No aliases.'));
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
    const staticDir = o.ui ? resolve(o.ui) : resolve(dirname(fileURLToPath(import.meta.url)), '../renderer');
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

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`earmark: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.EARMARK_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
});

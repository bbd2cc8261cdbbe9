import { Option, type Command } from 'commander';
import { resolve } from 'node:path';
import { HEAD_KINDS, type TagHeadKind } from '../../core/contract.js';
import { facetVocabulary, listAliases, removeAlias, setAlias } from '../../core/library/facets.js';
import { ProgressBar } from '../progress.js';
import { collect, fieldList, interruptible, pad, positiveInt, print, probability, withEarmark } from '../shared.js';

function pct(x: number | undefined): string {
  return x === undefined ? '–' : `${(100 * x).toFixed(1)} %`;
}

const headKind = new Option('--head <kind>', 'auto (the best of knn, linear and, with 500+ tagged tracks, mlp, by cross-validation), knn (votes of the most similar tagged tracks), linear, or mlp (1024-unit ELU transfer MLP)')
  .choices([...HEAD_KINDS])
  .default('auto');

/** Tags: tag, predict, eval-tags, review, facets, alias. */
export function registerTagCommands(program: Command): void {
  program
    .command('tag')
    .description('write facet tags into files safely (journaled, verified, atomic), list batches, or undo one')
    .option('--track <id|path>', 'a library track (repeatable)', collect, [])
    .option('--set <field=values>', 'values to write, ";"-separated, e.g. --set "genre=Jazz;Bebop" (repeatable; empty removes)', collect, [])
    .option('--id3 <version>', 'ID3v2 version for MP3/AIFF: 3 or 4', '4')
    .option('--dry-run', 'show what would change, write nothing')
    .option('--undo <batch>', 'undo a batch ("last": the latest): a file untouched since gets its original bytes back, a file changed since the values it had')
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
            const note = (x: (typeof b)[number]) => [x.undoOf ? `  undo of ${x.undoOf}` : '', x.undoneBy ? `  undone by ${x.undoneBy}` : ''].join('');
            print(!!o.json, b, () => (b.length ? b.map((x) => `${x.batch}  ${x.files} file(s)  ${new Date(x.at).toLocaleString()}${note(x)}`).join('\n') : 'No tags written yet.'));
            return;
          }
          if (o.undo && (o.track.length || o.set.length || o.write || o.dryRun)) {
            throw new Error('--undo takes a batch (or "last") and nothing else: it undoes every file of that batch. Leave out --track, --set, --write and --dry-run (earmark tag --batches lists what each batch wrote).');
          }
          if (o.write && o.set.length) throw new Error('--write writes the accepted predictions; --set writes given values. Use one.');
          if (o.id3 !== '3' && o.id3 !== '4') throw new Error('--id3 must be 3 or 4.');
          let report;
          if (o.undo) report = await e.undoTags(o.undo);
          else if (o.write) {
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
            const lines = report.written.map((w) => {
              const verb = report.dryRun ? 'would write' : w.restored === 'bytes' ? 'restored the original bytes of' : w.restored === 'values' ? 'restored the values of' : 'wrote';
              const note = w.restored === 'values' ? ' (the file changed since the write, so its values, not its bytes)' : '';
              return `${verb} ${w.path}: ${Object.keys(w.after).map((f) => `${f} ${JSON.stringify(w.before[f] ?? [])} → ${JSON.stringify(w.after[f])}`).join(', ')}${note}`;
            });
            for (const r of report.refused) lines.push(`refused ${r.path ?? r.trackId}: ${r.message}`);
            if (!report.dryRun && report.written.length) lines.push(`batch ${report.batch} (undo: earmark tag --undo ${report.batch})`);
            if (lines.length === 0) lines.push(report.nothingBecause ?? 'Nothing to change: the files already say that.');
            return lines.join('\n');
          });
          if (report.refused.length) process.exitCode = 3;
        });
      },
    );

  program
    .command('predict')
    .description("learn tag fields from the library's own tags and predict them for every analysed track (flags suspicious tags)")
    .option('--fields <list>', 'fields to learn, comma-separated', fieldList, ['genre', 'mood'])
    .option('--representation <name>', 'the track vectors the heads read (default: the library’s best by its last `earmark eval`, else dsp)')
    .addOption(headKind)
    .option('--min-support <n>', 'tracks a value needs to be learned', positiveInt('--min-support'), 5)
    .option('--folds <n>', 'cross-fitting folds, at least 2 (every tagged track is predicted by heads that never saw it)', positiveInt('--folds', 2), 5)
    .option('--seed <n>', 'random seed', positiveInt('--seed'), 1)
    .option('--workers <n>', 'threads training the folds side by side (default: one per core on the WebAssembly backend, for 1,500+ tagged tracks)', positiveInt('--workers'))
    .option('--json', 'machine-readable output')
    .action(async (o: { fields: string[]; representation?: string; head: TagHeadKind; minSupport: number; folds: number; seed: number; workers?: number; json?: boolean }, cmd: Command) => {
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
            onProgress: (p) => bar.update(p.done, p.total, { current: `${p.field} ${p.head} fold ${p.fold + 1}/${p.folds} loss ${p.loss.toFixed(3)}` }),
          });
          bar.done();
          print(!!o.json, report, () =>
            report.fields
              .map((r) => {
                const h = r.heldOut;
                const quality = r.multiLabel
                  ? `held-out mAP ${pct(h.meanAveragePrecision)}, mean F1 ${pct(h.meanF1)}`
                  : `held-out accuracy ${pct(h.accuracy)} (always "${r.values[0]?.value}": ${pct(h.majorityAccuracy)}), macro-F1 ${pct(h.macroF1)}, log-loss ${h.logLoss?.toFixed(3)}`;
                const s = r.selection;
                const chosen = s.requested === 'auto' ? `  head chosen by cross-validation: ${s.candidates.map((c) => `${c.kind} ${pct(c.score)}`).join(', ')} → ${s.chosen}` : null;
                return [
                  `${r.field} (${r.multiLabel ? 'multi' : 'single'}-label, ${r.kind} on ${r.representation}): learned ${r.values.length} values from ${r.labelled} tagged tracks`,
                  `  ${quality}`,
                  ...(chosen ? [chosen] : []),
                  `  confidences calibrated: ${s.calibration}`,
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
    .option('--representation <name>', 'the track vectors the head reads (default: the library’s best by its last `earmark eval`, else dsp)')
    .addOption(headKind)
    .addOption(new Option('--split <kind>', 'stratified by value, or by artist (no artist on both sides)').choices(['stratified', 'artist']).default('stratified'))
    .option('--multi-label', 'treat the field as multi-label (default: all fields but genre)')
    .option('--single-label', 'treat the field as single-label')
    .option('--min-support <n>', 'tracks a value needs to be learned', positiveInt('--min-support'), 5)
    .option('--seed <n>', 'random seed', positiveInt('--seed'), 1)
    .option('--json', 'machine-readable output')
    .action(
      async (
        o: { field: string; representation?: string; head: TagHeadKind; split: 'stratified' | 'artist'; multiLabel?: boolean; singleLabel?: boolean; minSupport: number; seed: number; json?: boolean },
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
    .option('--replace', 'a bulk --accept also takes proposals that replace a value a track already has (left out by default)')
    .option('--list', "list the field's open proposals (with --field), most confident first, each with what proposed it")
    .option('--limit <n>', 'with --list: at most this many', positiveInt('--limit'), 50)
    .option('--json', 'machine-readable output')
    .action(
      async (
        o: { accept?: boolean; reject?: boolean; reset?: boolean; field?: string; track: string[]; value: string[]; minConfidence?: number; pendingOnly?: boolean; replace?: boolean; list?: boolean; limit: number; json?: boolean },
        cmd: Command,
      ) => {
        await withEarmark(cmd, (e) => {
          if (o.list) {
            if (!o.field) throw new Error('--list shows one field: add --field NAME.');
            if (o.accept || o.reject || o.reset) throw new Error('--list only lists; leave out --accept, --reject and --reset.');
            const page = e.proposals({ field: o.field, minConfidence: o.minConfidence, offset: 0, limit: o.limit });
            print(!!o.json, page, () =>
              page.rows.length
                ? [
                    ...page.rows.map((r) => {
                      const by = r.proposedBy.kind === 'model' ? `model ${r.proposedBy.representation}` : `${r.proposedBy.kind} on ${r.proposedBy.representation}`;
                      return `${r.confidence.toFixed(2)}  ${r.status.padEnd(8)}  ${r.value}  ← ${r.fileValues.join('; ') || '—'}  ${r.path}  (${by})`;
                    }),
                    page.total > page.rows.length ? `… ${page.total - page.rows.length} more (--limit)` : '',
                  ]
                    .filter(Boolean)
                    .join('\n')
                : `No open proposals for ${o.field}.`,
            );
            return;
          }
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
              replacing: o.replace,
            });
          }
          const summary = e.reviewSummary();
          print(!!o.json, { changed, fields: summary }, () => {
            const lines = changed === null ? [] : [`${changed} proposal(s) ${actions[0] === 'reset' ? 'reset to pending' : `${actions[0]}ed`}.`];
            if (summary.length === 0) lines.push('No predictions yet: run `earmark predict`.');
            for (const f of summary) {
              lines.push(
                `${f.field}: ${f.proposed} pending, ${f.accepted} accepted, ${f.rejected} rejected, ${f.written} written; ${f.suspicious} tracks with a suspicious tag (${f.kind === 'model' ? `published model ${f.representation}` : `${f.kind} on ${f.representation}`}, ${new Date(f.createdAt).toLocaleString()})`,
              );
            }
            return lines.join('\n');
          });
        });
      },
    );

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
}

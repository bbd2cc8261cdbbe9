import { Option, type Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HEAD_KINDS, LEARNING_SOURCES, type TagHeadKind } from '../../core/contract.js';
import { readMeta } from '../../core/learn/model-store.js';
import { describePublished } from './published.js';
import { ProgressBar } from '../progress.js';
import { fieldList, interruptible, pad, positiveInt, print, probability, withEarmark } from '../shared.js';

/** Encoders and models: train, embed, models, export-model, import-model, eval. */
export function registerModelCommands(program: Command): void {
  program
    .command('default-representation')
    .description('the representation similar, map and predict use when none is named: show it, choose one, or --auto to let `earmark eval` choose')
    .argument('[name]', 'dsp, mfcc or a trained or imported model')
    .option('--auto', 'forget your choice: the last evaluation chooses again')
    .option('--json', 'print JSON')
    .action(async (name: string | undefined, o: { auto?: boolean; json?: boolean }, cmd: Command) => {
      await withEarmark(cmd, async (e) => {
        if (name && o.auto) throw new Error('Name a representation or give --auto, not both.');
        if (name) e.setDefaultRepresentation(name);
        else if (o.auto) e.setDefaultRepresentation(null);
        const choice = e.defaultRepresentation();
        print(!!o.json, choice, () => `${choice.name} — ${choice.reason}`);
      });
    });

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
    .addOption(new Option('--selection <s>', 'triplet selection: every violating triplet (batch-all), the hardest per anchor (batch-hard), or the paper’s literal argmin/argmax').choices(['batch-all', 'batch-hard', 'literal']).default('batch-all'))
    .option('--hold-out <share>', 'share of tracks kept out of training as evaluation queries', probability('--hold-out'), 0.15)
    .option('--no-dsp', 'embed the learned features alone, not fused with each track’s dsp vector')
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
          selection: 'batch-all' | 'batch-hard' | 'literal';
          holdOut: number;
          dsp: boolean;
          seed: number;
          resume?: boolean;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        await withEarmark(cmd, async (e) => {
          // Resuming keeps the model's own kind: a different --kind named on the command line is a mistake to say.
          const dir = join(e.paths.modelsDir, o.name);
          if (o.resume && cmd.getOptionValueSource('kind') === 'cli' && existsSync(join(dir, 'earmark.json'))) {
            const was = readMeta(dir).kind;
            if (was !== o.kind) throw new Error(`"${o.name}" is a ${was} model: --resume continues it as one (leave out --kind ${o.kind}, or train a new model under another name).`);
          }
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
              withDsp: o.dsp,
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
    .description("run a model over the library: a trained model's track vectors as a representation (and its index); a published model's embedding, outputs and tag proposals. Ctrl-C stops, keeping what is done")
    .requiredOption('--model <name>', 'the model')
    .option('--rand', 'the same network untrained, as the `rand` baseline')
    .option('--json', 'machine-readable output')
    .action(async (o: { model: string; rand?: boolean; json?: boolean }, cmd: Command) => {
      await withEarmark(cmd, async (e) => {
        const bar = new ProgressBar('Embedding');
        const r = await interruptible('Stopping: what is done is kept; run the same command again to go on.', (signal) =>
          e.embed(o.model, { rand: o.rand, signal, onProgress: (p) => bar.update(p.done, p.total, { current: p.phase }) }),
        );
        bar.done();
        print(!!o.json, r, () => {
          const lines = r.representation
            ? [`${r.representation}: ${r.tracks} tracks, ${r.dim}-d${r.skipped ? ` (${r.skipped} not: ${r.failures?.length ? 'see below' : 'could not be decoded'})` : ''}; index ${r.index}. Try: earmark similar <track> --representation ${r.representation}`]
            : [`${o.model}: ${r.tracks} tracks run${r.skipped ? ` (${r.skipped} not: ${r.failures?.length ? 'see below' : 'not decoded'})` : ''}.`];
          for (const f of r.failures ?? []) lines.push(`  ${f.path}: ${f.message}`);
          if (r.proposals) {
            const fields = Object.entries(r.proposals);
            lines.push(fields.length ? `Proposals: ${fields.map(([f, n]) => `${n} ${f}`).join(', ')}. Review them: earmark review` : 'Its mapping sends no class to a field: earmark model-mapping ' + o.model);
          }
          return lines.join('\n');
        });
      });
    });

  program
    .command('models')
    .description('the trained models, with their sources and training state, and the published models imported')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      await withEarmark(cmd, (e) => {
        const list = e.models();
        const published = e.publishedModels();
        print(!!o.json, [...list, ...published], () =>
          list.length || published.length
            ? [
                ...list.map((m) => `${m.name}  ${m.kind} ${m.arch} ${m.fusion}  ${m.done}/${m.iterations} iterations  sources: ${m.sources.map((s) => s.name).join(', ')}  (${m.backend})`),
                ...published.map((m) => `${m.name}  published ${m.task}: ${m.title}, ${m.classes.length} classes${m.representation ? `, ${m.embeddingDim}-d embedding` : ''}`),
              ].join('\n')
            : 'No models yet: earmark train --name NAME, or earmark import-model FOLDER|ZIP',
        );
      });
    });

  program
    .command('delete-model')
    .description('delete a model: its folder, its vectors and index; for a published model also its kept outputs and its proposals')
    .argument('<name>')
    .option('--json', 'machine-readable output')
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      await withEarmark(cmd, (e) => {
        const r = e.deleteModel(name);
        print(!!o.json, r, () => `Deleted ${r.deleted}${r.representations.length ? ` and its vectors (${r.representations.join(', ')})` : ''}.`);
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
    .description("add a model: one exported from Earmark, or a published TensorFlow.js graph model (Essentia's MusiCNN family) as a folder or a .zip")
    .argument('<path>', 'an Earmark model file, or a folder / .zip holding model.json, its weight shards and (optionally) Essentia\'s metadata JSON')
    .option('--name <name>', 'import under another name')
    .option('--json', 'machine-readable output')
    .action(async (path: string, o: { name?: string; json?: boolean }, cmd: Command) => {
      await withEarmark(cmd, async (e) => {
        const r = await e.importAnyModel(path, o.name);
        if ('published' in r) {
          const m = r.published;
          print(!!o.json, m, () => describePublished(m) + `\nNext: earmark embed --model ${m.name}`);
          return;
        }
        const m = r.trained;
        print(!!o.json, m, () => `Imported ${m.name} (${m.kind} ${m.arch}). Next: earmark embed --model ${m.name}`);
      });
    });

  program
    .command('eval')
    .description('compare representations on held-out query tracks: precision@10 of retrieving the same genre, mood, style, artist and album, and a head per tag field (accuracy, macro-F1, mAP)')
    .option('--representations <list>', 'representations to compare (default: dsp, mfcc and every trained or imported one with vectors)', (v) => v.split(',').map((x) => x.trim()).filter(Boolean))
    .option('--queries-from <model>', "use this model's held-out tracks as queries (default: 15 % of the tracks)")
    .option('--heads <fields>', 'tag fields to train and score a head for on each representation', (v) => v.split(',').map((x) => x.trim()).filter(Boolean), ['genre', 'mood', 'style'])
    .option('--no-heads', 'retrieval only')
    .addOption(new Option('--head <kind>', 'head kind').choices([...HEAD_KINDS]).default('auto'))
    .option('--min-support <n>', 'tracks a value needs to be learned by the heads', positiveInt('--min-support'), 5)
    .option('--seed <n>', 'random seed for the default queries and the heads', positiveInt('--seed'), 1)
    .option('--json', 'machine-readable output')
    .action(async (o: { representations?: string[]; queriesFrom?: string; heads: string[] | false; head: TagHeadKind; minSupport: number; seed: number; json?: boolean }, cmd: Command) => {
      await withEarmark(cmd, async (e) => {
        const defaults = o.representations ? { representations: o.representations } : e.evaluationDefaults();
        const representations = defaults.representations;
        const queriesFrom = o.queriesFrom ?? defaults.queriesFrom;
        const bar = new ProgressBar('Heads');
        const r = await e.compareRepresentations(representations, {
          queriesFrom,
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
          const choice = e.defaultRepresentation();
          const summary = choice.scores.map((s) => `${s.representation} ${s.score.toFixed(3)}`).join(', ');
          lines.push('', `mean precision@10 over the facets with labelled queries: ${summary}`, `used when none is named (similar, map, predict): ${choice.reason}`);
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
}

import type { Command } from 'commander';
import type { MappingChange, PublishedMeta } from '../../core/api.js';
import { print, withEarmark } from '../shared.js';

/** One line on a published model: what it is and what it gives. */
export function describePublished(m: PublishedMeta): string {
  const fields = [...new Set(m.mapping.flatMap((x) => (x.field ? [x.field] : [])))];
  return [
    `Imported ${m.name}: ${m.title}, ${m.task === 'classifier' ? 'classifier' : 'auto-tagger'} with ${m.classes.length} classes (${m.classes.slice(0, 6).join(', ')}${m.classes.length > 6 ? ', …' : ''}).`,
    m.representation ? `  Its ${m.embeddingDim}-d embedding becomes the representation "${m.name}".` : '  Its outputs become proposals only.',
    `  Proposes in: ${fields.join(', ') || 'nothing yet (earmark model-mapping)'}.`,
    m.link ? `  Published at ${m.link}; check its licence before sharing what it made.` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

/** Published models: infer (any file), model-mapping (classes to tags). */
export function registerPublishedCommands(program: Command): void {
  program
    .command('infer')
    .description("a published model's outputs for any audio file, averaged over its patches, by label (to compare with another implementation)")
    .requiredOption('--model <name>', 'the published model (earmark models)')
    .argument('<audio-file>')
    .option('--json', 'print {"labels": [...], "values": [...], "patches": N, …}')
    .action(async (file: string, o: { model: string; json?: boolean }, cmd: Command) => {
      await withEarmark(cmd, async (e) => {
        const r = await e.infer(o.model, file);
        print(!!o.json, r, () => {
          const order = r.values.map((v, i) => i).sort((a, b) => r.values[b] - r.values[a]);
          return [
            `${r.model} on ${file}: ${r.patches} patches`,
            ...order.slice(0, 15).map((i) => `  ${r.values[i].toFixed(4)}  ${r.labels[i]}`),
            r.silent
              ? 'The file is silent (peak below −60 dBFS): its outputs mean nothing, and it proposes nothing.'
              : r.proposals.length
                ? `Proposes: ${r.proposals.map((p) => `${p.field}=${p.value} (${p.confidence.toFixed(2)})`).join(', ')}`
                : 'Proposes nothing at its thresholds.',
          ].join('\n');
        });
      });
    });

  program
    .command('model-mapping')
    .description("show or edit how a published model's classes become tag proposals; the proposals are made again from its kept outputs")
    .argument('<model>')
    .option('--set <class=field:value>', 'send a class to a field and value (repeatable), e.g. "chillout=mood:chill"', (v: string, a: string[]) => [...a, v], [])
    .option('--ignore <class>', 'a class proposes nothing (repeatable)', (v: string, a: string[]) => [...a, v], [])
    .option('--threshold <class=x>', 'the activation a class needs (0–1; repeatable); calibration leaves it', (v: string, a: string[]) => [...a, v], [])
    .option('--json', 'machine-readable output')
    .action(async (model: string, o: { set: string[]; ignore: string[]; threshold: string[]; json?: boolean }, cmd: Command) => {
      await withEarmark(cmd, (e) => {
        const changes: MappingChange[] = [];
        for (const s of o.set) {
          const m = /^(.+?)=([^:=]+):(.+)$/.exec(s);
          if (!m) throw new Error(`--set ${JSON.stringify(s)}: write class=field:value, e.g. "chillout=mood:chill".`);
          changes.push({ label: m[1].trim(), field: m[2].trim(), value: m[3].trim() });
        }
        for (const s of o.ignore) changes.push({ label: s.trim(), field: null });
        for (const s of o.threshold) {
          const m = /^(.+)=(-?[0-9.]+)$/.exec(s);
          if (!m) throw new Error(`--threshold ${JSON.stringify(s)}: write class=number, e.g. "rock=0.4".`);
          changes.push({ label: m[1].trim(), threshold: Number(m[2]) });
        }
        const meta = e.publishedModels().find((m) => m.name === model);
        const r = changes.length || !meta ? e.editModelMapping(model, changes) : { mapping: meta.mapping, proposals: null };
        print(!!o.json, r, () =>
          [
            ...r.mapping.map(
              (m) =>
                `  ${m.label.padEnd(18)} ${m.field ? `${m.field}: ${m.value}` : '(nothing)'}`.padEnd(50) +
                (m.field ? ` ≥ ${m.threshold.toFixed(3)}${m.calibrated ? ` (calibrated on ${m.calibrated.tracks} tagged tracks, F1 ${m.calibrated.f1.toFixed(2)})` : m.fixed ? ' (yours)' : ''}` : ''),
            ),
            r.proposals ? `Proposals now: ${Object.entries(r.proposals).map(([f, n]) => `${n} ${f}`).join(', ') || 'none'}.` : '',
          ]
            .filter(Boolean)
            .join('\n'),
        );
      });
    });
}

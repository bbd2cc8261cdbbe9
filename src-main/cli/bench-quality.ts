import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Earmark } from '../core/api.js';
import type { DemoManifest } from '../core/demo/demo-library.js';
import { cosineMatrix, nearestFromSimilarity, precisionAtKFromSimilarity } from '../core/eval/retrieval.js';
import { kOccurrenceSkewness, mutualProximityMatrix } from '../core/index/hubness.js';
import type { TagHeadKind } from '../core/contract.js';

/**
 * `npm run bench:quality -- DIR`: how well Earmark listens, measured by its own code on a corpus of real recordings
 * and on the demo library, side by side — the protocol of `shared/corpus/eval-real.py`:
 * - retrieval: album and artist precision@10 of every representation (every track a query, exact search), by
 *   cosine and with mutual proximity (hubness reduction), and the k-occurrence skewness (hubness) of each;
 * - heads: genre learnt from the tagged 70 % of `DIR-split` (genre = album) and predicted for the held-out 30 %,
 *   right answers per head kind, against always answering the commonest album;
 * - encoders: a triplet and a multi-task encoder trained on the tagged 70 %, held-out album precision@10 against
 *   `dsp`, `mfcc` and `rand` (the untrained twin), and the training time.
 * The demo library (generated, `--demo-tracks`) is measured the same way: artist / genre / mood for retrieval, the
 * untagged tracks' true genre for heads, the model's held-out tracks for encoders.
 *
 *   DIR                 a corpus from shared/corpus/make-real-corpus.sh DIR --split (DIR/manifest.tsv, DIR-split/split.tsv)
 *   --no-encoders       skip encoder training (the slow part)
 *   --iterations N      encoder training iterations (default: Earmark's default)
 *   --heads a,b         head kinds (default auto,knn,linear,mlp)
 *   --demo-tracks N     size of the demo library (default 200; 0 to skip it)
 *   --json              machine-readable output
 * Homes are kept in the system's temporary folder, keyed by the corpus path, so a second run reuses the analysis.
 */
const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'no-encoders': { type: 'boolean', default: false },
    iterations: { type: 'string' },
    heads: { type: 'string', default: 'auto,knn,linear,mlp' },
    'demo-tracks': { type: 'string', default: '200' },
    json: { type: 'boolean', default: false },
  },
});

const log = (s: string) => {
  if (!args.json) process.stdout.write(`${s}\n`);
};
const f3 = (x: number | null | undefined) => (x === null || x === undefined ? '  –  ' : x.toFixed(3));

interface Corpus {
  name: string;
  /** The library for retrieval: every track labelled. */
  dir: string;
  /** Retrieval labels per absolute path. */
  labels: Map<string, Record<string, string>>;
  /** Facets measured by retrieval. */
  facets: string[];
  /** The library heads and encoders learn from (genre on the tagged part only), and each track's truth. */
  split: { dir: string; truth: Map<string, { album: string; heldOut: boolean }> } | null;
}

function readTsv(file: string): Array<Record<string, string>> {
  const [head, ...lines] = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim());
  const cols = head.split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])));
}

function realCorpus(dirArg: string): Corpus {
  const dir = resolve(dirArg.replace(/-split\/?$/, ''));
  if (!existsSync(join(dir, 'manifest.tsv'))) throw new Error(`${dir}/manifest.tsv not found: build the corpus with shared/corpus/make-real-corpus.sh ${dir} --split`);
  const labels = new Map(readTsv(join(dir, 'manifest.tsv')).map((r) => [join(dir, r.path), { album: r.album, artist: r.artist }]));
  const splitDir = `${dir}-split`;
  const split = existsSync(join(splitDir, 'split.tsv'))
    ? { dir: splitDir, truth: new Map(readTsv(join(splitDir, 'split.tsv')).map((r) => [join(splitDir, r.path), { album: r.album, heldOut: r.held_out === '1' }])) }
    : null;
  return { name: 'real', dir, labels, facets: ['album', 'artist'], split };
}

async function demoCorpus(tracks: number): Promise<Corpus & { manifest: DemoManifest }> {
  const dir = join(tmpdir(), `earmark-quality-demo-${tracks}-s1`);
  const mf = join(dir, 'earmark-demo.json');
  if (!existsSync(mf)) {
    log(`Generating a ${tracks}-track demo library in ${dir} (once)…`);
    const e = Earmark.open({ home: join(dir, '.gen-home') });
    try {
      await e.demoLibrary(dir, { tracks, seed: 1 });
    } finally {
      e.close();
    }
  }
  const manifest = JSON.parse(readFileSync(mf, 'utf8')) as DemoManifest;
  const labels = new Map(manifest.tracks.map((t) => [t.path, { album: `${t.artist}\u001f${t.album}`, artist: t.artist, genre: t.trueGenre, mood: t.moods.join('\u001e') }]));
  // The demo library's own tags play the split: untagged tracks are the held-out ones, their true genre the truth.
  const truth = new Map(manifest.tracks.map((t) => [t.path, { album: t.trueGenre, heldOut: t.taggedGenre === null }]));
  return { name: 'demo', dir, labels, facets: ['artist', 'genre', 'mood'], split: { dir, truth }, manifest };
}

function home(tag: string, dir: string): string {
  return join(tmpdir(), `earmark-quality-${tag}-${createHash('sha256').update(dir).digest('hex').slice(0, 10)}`);
}

async function prepared(tag: string, dir: string, reps: string[]): Promise<Earmark> {
  const e = Earmark.open({ home: home(tag, dir) });
  await e.scan([dir]);
  await e.analyze({ representations: reps });
  return e;
}

/** Labels of the store's tracks for a facet, in the order of `ids` (multi-valued facets split on \u001e). */
function labelsOf(e: Earmark, ids: ArrayLike<number>, table: Map<string, Record<string, string>>, facet: string): Array<string[] | null> {
  return Array.from(ids, (id) => {
    const t = e.store.trackById(id);
    const v = t ? table.get(t.path)?.[facet] : undefined;
    return v ? v.split('\u001e') : null;
  });
}

interface RetrievalRow {
  representation: string;
  cosine: Record<string, number>;
  mp: Record<string, number>;
  skewness: { cosine: number; mp: number };
}

function retrieval(e: Earmark, c: Corpus, reps: string[]): RetrievalRow[] {
  return reps
    .filter((rep) => e.store.vectorCount(rep) > 0)
    .map((rep) => {
      const { ids, data } = e.store.vectors(rep);
      const n = ids.length;
      const S = cosineMatrix(data.map((v) => e.indexes.normalise(rep, v)));
      const M = mutualProximityMatrix(S, n);
      const row: RetrievalRow = { representation: rep, cosine: {}, mp: {}, skewness: { cosine: kOccurrenceSkewness(nearestFromSimilarity(S, n, 10), n), mp: kOccurrenceSkewness(nearestFromSimilarity(M, n, 10), n) } };
      for (const facet of c.facets) {
        const labels = labelsOf(e, ids, c.labels, facet);
        row.cosine[facet] = precisionAtKFromSimilarity(S, n, labels, 10);
        row.mp[facet] = precisionAtKFromSimilarity(M, n, labels, 10);
      }
      return row;
    });
}

interface HeadRow {
  kind: TagHeadKind;
  chosen: string;
  right: number;
  heldOut: number;
  majority: number;
  cvScore: number | null;
  seconds: number;
}

/** Genre learnt from the tagged tracks by each head kind, predicted for the held-out ones; right answers counted. */
async function heads(e: Earmark, c: Corpus, kinds: TagHeadKind[]): Promise<HeadRow[]> {
  const split = c.split;
  if (!split) return [];
  const tracks = e.store.allTracks().filter((t) => split.truth.has(t.path));
  const held = tracks.filter((t) => split.truth.get(t.path)?.heldOut);
  const counts = new Map<string, number>();
  for (const t of tracks) if (!split.truth.get(t.path)?.heldOut) counts.set(split.truth.get(t.path)!.album, (counts.get(split.truth.get(t.path)!.album) ?? 0) + 1);
  const commonest = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
  const majority = held.filter((t) => split.truth.get(t.path)?.album === commonest).length;
  const rows: HeadRow[] = [];
  for (const kind of kinds) {
    const t0 = performance.now();
    const r = await e.predict({ fields: ['genre'], kind, representation: 'dsp' });
    const seconds = (performance.now() - t0) / 1000;
    const f = r.fields[0];
    let right = 0;
    for (const t of held) {
      const top = e.store.db.prepare("SELECT value FROM predictions WHERE track_id = ? AND field = 'genre' ORDER BY confidence DESC LIMIT 1").get(t.id) as { value: string } | undefined;
      if (top && top.value.toLowerCase() === split.truth.get(t.path)?.album.toLowerCase()) right++;
    }
    const cv = f?.selection.candidates.find((x) => x.kind === f.kind)?.score ?? null;
    rows.push({ kind, chosen: f?.kind ?? '–', right, heldOut: held.length, majority, cvScore: cv, seconds });
  }
  return rows;
}

interface EncoderRow {
  kind: 'triplet' | 'multitask';
  queries: number;
  /** Held-out precision@10 per representation (the encoder's under its kind) and facet. */
  precision: Record<string, Record<string, number>>;
  seconds: number;
}

/**
 * Train an encoder on the split library's tagged tracks; held-out precision@10 of each facet (album and artist on
 * real music; artist, genre and mood on the demo library), the held-out tracks as queries, the whole library searched.
 */
async function encoder(e: Earmark, c: Corpus, kind: 'triplet' | 'multitask'): Promise<EncoderRow> {
  const split = c.split as NonNullable<Corpus['split']>;
  const name = `quality-${kind}`;
  if (e.models().some((m) => m.name === name)) e.deleteModel(name);
  const t0 = performance.now();
  await e.trainEncoder({
    name,
    kind,
    fields: ['genre'],
    ...(kind === 'multitask' ? { sources: ['tags', 'artist'] as const } : {}),
    ...(args.iterations ? { iterations: Number(args.iterations) } : {}),
  } as Parameters<Earmark['trainEncoder']>[0]);
  await e.embed(name);
  const seconds = (performance.now() - t0) / 1000;
  await e.embed(name, { rand: true });
  const precision: Record<string, Record<string, number>> = {};
  // The split library's tracks are the retrieval library's (same relative paths): their labels by relative path.
  const byRelative = new Map([...c.labels].map(([path, l]) => [path.slice(c.dir.length), l]));
  const labelsOf = (path: string) => byRelative.get(path.slice(split.dir.length));
  for (const rep of ['dsp', 'mfcc', 'rand', name]) {
    const { ids, data } = e.store.vectors(rep);
    const n = ids.length;
    const paths = Array.from(ids, (id) => e.store.trackById(id)?.path ?? '');
    const queries = paths.flatMap((p, i) => (split.truth.get(p)?.heldOut ? [i] : []));
    const S = cosineMatrix(data.map((v) => e.indexes.normalise(rep, v)));
    precision[rep === name ? kind : rep] = Object.fromEntries(
      c.facets.map((facet) => [facet, precisionAtKFromSimilarity(S, n, paths.map((p) => labelsOf(p)?.[facet]?.split('\u001e') ?? null), 10, queries)]),
    );
  }
  const queries = [...split.truth.values()].filter((v) => v.heldOut).length;
  return { kind, queries, precision, seconds };
}

async function measure(c: Corpus, kinds: TagHeadKind[], encoders: boolean) {
  log(`\n${c.name === 'real' ? `Real corpus ${c.dir}` : `Demo library ${c.dir}`}`);
  const e = await prepared(`${c.name}-retrieval`, c.dir, ['dsp', 'mfcc']);
  let rows: RetrievalRow[];
  try {
    rows = retrieval(e, c, ['dsp', 'mfcc', ...e.store.representations().map((r) => r.name).filter((r) => r !== 'dsp' && r !== 'mfcc')]);
  } finally {
    e.close();
  }
  const s = c.split ? await prepared(`${c.name}-split`, c.split.dir, ['dsp', 'mfcc']) : null;
  try {
    const headRows = s ? await heads(s, c, kinds) : [];
    const encoderRows = s && encoders ? [await encoder(s, c, 'triplet'), await encoder(s, c, 'multitask')] : [];
    return { corpus: c.name, dir: c.dir, retrieval: rows, heads: headRows, encoders: encoderRows };
  } finally {
    s?.close();
  }
}

type Result = Awaited<ReturnType<typeof measure>>;

function report(results: Result[]): void {
  for (const r of results) {
    const facets = r.retrieval[0] ? Object.keys(r.retrieval[0].cosine) : [];
    log(`\n${r.corpus === 'real' ? 'Real corpus' : 'Demo library'} — retrieval precision@10 (cosine / mutual proximity), k-occurrence skewness`);
    log(`  ${'representation'.padEnd(16)} ${facets.map((f) => f.padStart(15)).join(' ')}   skewness`);
    const mfcc = r.retrieval.find((x) => x.representation === 'mfcc');
    for (const row of r.retrieval) {
      log(`  ${row.representation.padEnd(16)} ${facets.map((f) => `${f3(row.cosine[f])} / ${f3(row.mp[f])}`.padStart(15)).join(' ')}   ${row.skewness.cosine.toFixed(2)} / ${row.skewness.mp.toFixed(2)}`);
    }
    const dsp = r.retrieval.find((x) => x.representation === 'dsp');
    if (dsp && mfcc) log(`  dsp / mfcc: ${facets.map((f) => `${f} ×${(dsp.cosine[f] / Math.max(1e-9, mfcc.cosine[f])).toFixed(2)}`).join(', ')}`);
    if (r.heads.length) {
      const h0 = r.heads[0];
      log(`  heads, genre on ${h0.heldOut} held-out tracks (always the commonest: ${h0.majority}, ${((100 * h0.majority) / Math.max(1, h0.heldOut)).toFixed(0)} %):`);
      for (const h of r.heads) {
        log(
          `    ${h.kind.padEnd(7)} ${String(h.right).padStart(4)} right (${((100 * h.right) / Math.max(1, h.heldOut)).toFixed(0)} %, ×${(h.right / Math.max(1, h.majority)).toFixed(2)} the majority)` +
            `${h.kind === 'auto' ? `, chose ${h.chosen}` : ''}; cross-validated ${f3(h.cvScore)}; ${h.seconds.toFixed(1)} s`,
        );
      }
    }
    for (const enc of r.encoders) {
      log(`  ${enc.kind} encoder, trained on the tagged tracks in ${enc.seconds.toFixed(0)} s (train + embed); held-out P@10 on ${enc.queries} queries:`);
      for (const facet of facets) {
        const p = (rep: string) => enc.precision[rep]?.[facet] ?? 0;
        const best = Math.max(p('dsp'), p('mfcc'), p('rand'));
        log(`    ${facet.padEnd(7)} ${enc.kind} ${f3(p(enc.kind))}, dsp ${f3(p('dsp'))}, mfcc ${f3(p('mfcc'))}, rand ${f3(p('rand'))} (×${(p(enc.kind) / Math.max(1e-9, best)).toFixed(2)} the best of them)`);
      }
    }
  }
}

async function main(): Promise<void> {
  const kinds = String(args.heads).split(',').map((k) => k.trim()).filter(Boolean) as TagHeadKind[];
  const results: Result[] = [];
  if (positionals[0]) results.push(await measure(realCorpus(positionals[0]), kinds, !args['no-encoders']));
  else log('No real corpus given (npm run bench:quality -- DIR): the demo library only.');
  const demoTracks = Number(args['demo-tracks']);
  if (demoTracks > 0) results.push(await measure(await demoCorpus(demoTracks), kinds, !args['no-encoders']));
  if (args.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else report(results);
}

await main();

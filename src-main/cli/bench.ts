import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { disposeHead, headProbabilities, trainHead } from '../core/learn/heads/head.js';
import { crossFit } from '../core/learn/heads/cross-fit.js';
import { findHeadWorkerScript, headPool } from '../core/learn/heads/head-pool.js';
import { loadTf, type Tf } from '../core/learn/tf/backend.js';
import { ARCH_INPUT, buildEncoder, disposeEncoder } from '../core/learn/nets/encoders.js';
import { PATCH_SPECS, type LogMel } from '../core/learn/patches.js';
import { batchOf, embedTrack, trainMultitask } from '../core/learn/train/trainer.js';
import { Earmark } from '../core/api.js';
import { decodeExcerpts, resolveFfmpeg, SR } from '../core/audio/decode.js';
import { DSP_REPRESENTATION, planExcerpts } from '../core/audio/representations.js';
import { ProcessSpawner } from '../core/audio/spawner.js';
import type { DemoManifest } from '../core/demo/demo-library.js';
import { precisionAtK, randomVectors } from '../core/eval/retrieval.js';
import { applyNormaliser } from '../core/index/normalise.js';
import { DEFAULT_INDEX_PARAMS, VectorIndexes } from '../core/index/vector-index.js';
import { queryTracks } from '../core/library/track-query.js';
import { LibraryStore } from '../core/store/library-store.js';
import { Random } from '../core/util/random.js';
import { measureMusicnn, type MusicnnSpeed } from './bench-musicnn.js';

/**
 * `npm run bench`: every figure and ratio measured in this one run, on this machine.
 *   --tracks N      size of the generated library for ingestion (default 200)
 *   --sizes a,b     index sizes for HNSW (default 10000,100000)
 *   --jobs N        analysis workers (default: all cores)
 *   --only heads    just the tag-head section (no library, no ingestion); --only encoders and --only musicnn likewise;
 *                   --only ingestion: the decode floor, ingestion and retrieval quality
 *   --json          machine-readable output
 */
const { values: args } = parseArgs({
  options: {
    tracks: { type: 'string', default: '200' },
    sizes: { type: 'string', default: '10000,100000' },
    jobs: { type: 'string' },
    queries: { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    only: { type: 'string' },
  },
});
const TRACKS = Number(args.tracks);
const JOBS = args.jobs ? Number(args.jobs) : cpus().length;
const SIZES = String(args.sizes).split(',').map(Number).filter((n) => n > 0);
const QUERIES = Number(args.queries);
const results: Record<string, unknown> = { machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version } };
const log = (s: string) => {
  if (!args.json) process.stdout.write(`${s}\n`);
};
let peakRss = 0;
const sampleRss = () => (peakRss = Math.max(peakRss, process.memoryUsage().rss));
const rssTimer = setInterval(sampleRss, 50);

/**
 * CPU time so far, ms: this process (every thread, analysis workers included) and its waited-for child processes
 * (ffmpeg), from /proc/self/stat's utime/stime/cutime/cstime. `null` off Linux.
 */
function cpuTimes(): { self: number; children: number } | null {
  try {
    const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
    const tick = 10; // USER_HZ is 100 on every Linux Node runs on.
    return { self: (Number(f[11]) + Number(f[12])) * tick, children: (Number(f[13]) + Number(f[14])) * tick };
  } catch {
    return null;
  }
}

/** CPU spent per track between two `cpuTimes()` readings: ffmpeg, and this process. */
function cpuPerTrack(a: ReturnType<typeof cpuTimes>, b: ReturnType<typeof cpuTimes>, tracks: number): { ffmpegMs: number; nodeMs: number } | null {
  if (!a || !b || tracks === 0) return null;
  return { ffmpegMs: (b.children - a.children) / tracks, nodeMs: (b.self - a.self) / tracks };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function library(): Promise<{ dir: string; manifest: DemoManifest }> {
  // Generated once per size and seed, then reused by later runs (generation is not what is measured).
  const dir = join(tmpdir(), `earmark-bench-library-${TRACKS}-s1`);
  const mf = join(dir, 'earmark-demo.json');
  if (!existsSync(mf)) {
    log(`Generating a ${TRACKS}-track demo library in ${dir} (once; reused by later runs)…`);
    rmSync(dir, { recursive: true, force: true });
    const e = Earmark.open({ home: join(dir, '.gen-home') });
    await e.demoLibrary(dir, { tracks: TRACKS, seed: 1 });
    e.close();
  }
  return { dir, manifest: JSON.parse(readFileSync(mf, 'utf8')) as DemoManifest };
}

async function decodeFloor(manifest: DemoManifest): Promise<number> {
  // Exactly the excerpt decoding analysis does, with the same concurrency (2 in flight per worker) and the same
  // process starter, and nothing else.
  const ff = resolveFfmpeg();
  const tasks = manifest.tracks.map((t) => ({ path: t.path, excerpts: planExcerpts(t.seconds) }));
  let next = 0;
  let samples = 0;
  const c0 = cpuTimes();
  const t0 = performance.now();
  const spawner = ProcessSpawner.supported ? await ProcessSpawner.start().catch(() => null) : null;
  await Promise.all(
    Array.from({ length: JOBS * 2 }, async () => {
      while (next < tasks.length) {
        const task = tasks[next++];
        const audio = await decodeExcerpts(ff, task.path, task.excerpts, { sr: SR, shared: true, spawner });
        for (const a of audio) samples += a.length;
      }
    }),
  );
  await spawner?.close();
  const s = (performance.now() - t0) / 1000;
  results.decodeOnly = {
    tracks: tasks.length,
    seconds: s,
    tracksPerSecond: tasks.length / s,
    audioSecondsDecoded: samples / SR,
    cpuPerTrack: cpuPerTrack(c0, cpuTimes(), tasks.length),
  };
  return tasks.length / s;
}

async function ingestion(dir: string, reps: string[]): Promise<{ rate: number; home: string }> {
  const home = join(tmpdir(), `earmark-bench-home-${process.pid}-${reps.join('-')}`);
  rmSync(home, { recursive: true, force: true });
  const e = Earmark.open({ home });
  const c0 = cpuTimes();
  const t0 = performance.now();
  const scan = await e.scan([dir]);
  const c1 = cpuTimes();
  const t1 = performance.now();
  const report = await e.analyze({ representations: reps, jobs: JOBS });
  const t2 = performance.now();
  e.close();
  const s = (t2 - t0) / 1000;
  const rate = report.analyzed / s;
  results[`ingest_${reps.join('+')}`] = {
    tracks: scan.files,
    scanSeconds: (t1 - t0) / 1000,
    analyzeSeconds: (t2 - t1) / 1000,
    tracksPerSecond: rate,
    decodeMsPerTrack: report.decodeMs / Math.max(1, report.analyzed),
    computeMsPerTrack: report.computeMs / Math.max(1, report.analyzed),
    cpuPerTrack: cpuPerTrack(c0, cpuTimes(), report.analyzed),
    scanCpuPerTrack: cpuPerTrack(c0, c1, report.analyzed),
  };
  return { rate, home };
}

function quality(home: string, manifest: DemoManifest): void {
  const e = Earmark.open({ home });
  const truth = new Map(manifest.tracks.map((t) => [t.path, t]));
  const table: Record<string, Record<string, number>> = {};
  for (const rep of ['dsp', 'mfcc']) {
    const { ids, data } = e.store.vectors(rep);
    const norm = e.indexes.ensure(rep).meta.normaliser;
    const vecs = data.map((v) => applyNormaliser(norm, v));
    const rows = Array.from(ids).map((id) => truth.get(e.store.trackById(id)!.path)!);
    table[rep] = {
      artist: precisionAtK(vecs, rows.map((r) => [r.artist]), 10),
      genre: precisionAtK(vecs, rows.map((r) => [r.trueGenre]), 10),
      mood: precisionAtK(vecs, rows.map((r) => r.moods), 10),
    };
    if (rep === 'dsp') {
      const rnd = randomVectors(ids.length, 32);
      table.random = {
        artist: precisionAtK(rnd, rows.map((r) => [r.artist]), 10),
        genre: precisionAtK(rnd, rows.map((r) => [r.trueGenre]), 10),
        mood: precisionAtK(rnd, rows.map((r) => r.moods), 10),
      };
    }
  }
  e.close();
  results.precisionAt10 = table;
}

/** Synthetic vectors shaped like real dsp vectors: library vectors plus noise, so the index sees clusters. */
function syntheticVectors(seed: Float32Array[], n: number, rng: Random): Float32Array[] {
  const dim = seed[0].length;
  const sd = new Float64Array(dim);
  const mean = new Float64Array(dim);
  for (const v of seed) for (let i = 0; i < dim; i++) mean[i] += v[i] / seed.length;
  for (const v of seed) for (let i = 0; i < dim; i++) sd[i] += (v[i] - mean[i]) ** 2 / seed.length;
  for (let i = 0; i < dim; i++) sd[i] = Math.sqrt(sd[i]);
  return Array.from({ length: n }, () => {
    const base = seed[Math.floor(rng.next() * seed.length)];
    return Float32Array.from(base, (x, i) => x + rng.normal(0, 0.5 * sd[i]));
  });
}

function hnswAt(size: number, seed: Float32Array[]): void {
  const dir = join(tmpdir(), `earmark-bench-index-${process.pid}-${size}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const store = new LibraryStore(join(dir, 'library.db'));
  const rng = new Random(size);
  const dim = DSP_REPRESENTATION.dim;
  store.ensureRepresentation('dsp', 'builtin', dim, DSP_REPRESENTATION.version);
  const vectors = syntheticVectors(seed, size, rng);
  store.transaction(() => {
    vectors.forEach((v, i) => {
      const id = store.insertTrack(`/bench/${i}.flac`, null, { size: 1, mtimeMs: 0, hash: `h${i}` }, null);
      store.putVector(id, 'dsp', `h${i}`, v, []);
    });
  });
  const idx = new VectorIndexes(join(dir, 'index'), store, () => ({ groups: DSP_REPRESENTATION.groups, standardise: true }));
  const tb = performance.now();
  const li = idx.ensure('dsp');
  const buildS = (performance.now() - tb) / 1000;
  sampleRss();
  // Load from disk the way the app does (fresh object: read, check, set ef).
  const tl = performance.now();
  const idx2 = new VectorIndexes(join(dir, 'index'), store, () => ({ groups: DSP_REPRESENTATION.groups, standardise: true }));
  idx2.ensure('dsp');
  const loadS = (performance.now() - tl) / 1000;
  const norm = li.meta.normaliser;
  const normalised = vectors.map((v) => applyNormaliser(norm, v));
  const unit = normalised.map((v) => {
    const n = Math.hypot(...v) || 1;
    return v.map((x) => x / n);
  });
  const queries = syntheticVectors(seed, QUERIES, rng);
  // Plain cosine search, whose recall is measured against exact search, then the default ranking (mutual
  // proximity over a larger candidate set), whose latency is what `similar` costs.
  const latencies: number[] = [];
  const found: number[][] = [];
  for (const q of queries) {
    const t = performance.now();
    const hits = idx2.search('dsp', q, 10, undefined, { hubness: 'none' });
    latencies.push(performance.now() - t);
    found.push(hits.map((h) => h.trackId));
  }
  const mpLatencies: number[] = [];
  for (const q of queries) {
    const t = performance.now();
    idx2.search('dsp', q, 10, undefined, { hubness: 'mp' });
    mpLatencies.push(performance.now() - t);
  }
  mpLatencies.sort((a, b) => a - b);
  // Exact top-10 by brute force for a subset of the queries.
  const exactN = Math.min(queries.length, size > 50_000 ? 200 : 500);
  let hit = 0;
  for (let qi = 0; qi < exactN; qi++) {
    const q = applyNormaliser(norm, queries[qi]);
    const qn = Math.hypot(...q) || 1;
    const top: Array<[number, number]> = [];
    for (let j = 0; j < unit.length; j++) {
      const u = unit[j];
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += q[i] * u[i];
      const s = dot / qn;
      if (top.length < 10) {
        top.push([s, j + 1]);
        top.sort((a, b) => b[0] - a[0]);
      } else if (s > top[9][0]) {
        top[9] = [s, j + 1];
        top.sort((a, b) => b[0] - a[0]);
      }
    }
    const exact = new Set(top.map((x) => x[1]));
    hit += found[qi].filter((id) => exact.has(id)).length;
  }
  latencies.sort((a, b) => a - b);
  results[`hnsw_${size}`] = {
    vectors: size,
    dim,
    params: DEFAULT_INDEX_PARAMS,
    buildSeconds: buildS,
    loadSeconds: loadS,
    queries: queries.length,
    p50ms: percentile(latencies, 0.5),
    p99ms: percentile(latencies, 0.99),
    mpP50ms: percentile(mpLatencies, 0.5),
    mpP99ms: percentile(mpLatencies, 0.99),
    recallAt10: hit / (exactN * 10),
    exactQueries: exactN,
  };
  store.close();
  rmSync(dir, { recursive: true, force: true });
}

/** The library table's queries on a 100,000-track store (synthetic rows; what the virtualised table asks for). */
function libraryTable(n: number): void {
  const dir = join(tmpdir(), `earmark-bench-table-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  const store = new LibraryStore(join(dir, 'library.db'));
  const rng = new Random(7);
  const genres = ['Rock', 'Jazz', 'Techno', 'Ambient', 'Folk', 'Hip-Hop', 'Drum & Bass', 'Classical', 'Pop', 'Metal'];
  const moods = ['Calm', 'Sad', 'Happy', 'Dark', 'Energetic'];
  const root = store.addRoot('/music');
  store.transaction(() => {
    for (let i = 1; i <= n; i++) {
      const artist = `Artist ${rng.int(0, n / 30)}`;
      store.insertTrack(`/music/${artist}/${i}.flac`, root, { size: 1, mtimeMs: 1, hash: `h${i}` }, {
        container: 'FLAC', codec: 'FLAC', duration: rng.uniform(120, 400), sampleRate: 44100, channels: 2, bitrate: 900_000, lossless: true,
        artist, albumArtist: null, album: `Album ${rng.int(0, n / 10)}`, title: `Title ${rng.int(0, n)}`, trackNo: rng.int(1, 12), year: rng.int(1950, 2025),
        facets: { genre: [rng.pick(genres)], mood: [rng.pick(moods), rng.pick(moods)], style: [`Style ${rng.int(0, 60)}`] },
      });
    }
  });
  const time = (f: () => unknown) => {
    const t0 = performance.now();
    f();
    return performance.now() - t0;
  };
  const page = (o: number, extra: Partial<Parameters<typeof queryTracks>[1]> = {}) => queryTracks(store.db, { offset: o, limit: 100, ...extra });
  const bySort = { sort: { column: 'genre' as const, direction: 'asc' as const } };
  const r = {
    firstPageMs: time(() => page(0)),
    firstPageByGenreMs: time(() => page(0, bySort)),
    firstDeepPageByGenreMs: time(() => page(n / 2, bySort)),
    nextDeepPagesMs: [1, 2, 3, 4, 5].map((k) => time(() => page(n / 2 + k * 100, bySort))).reduce((a, b) => a + b) / 5,
    searchMs: time(() => page(0, { search: 'artist 12' })),
    facetMs: time(() => page(0, { facets: { genre: ['Jazz'], mood: ['Dark'] } })),
  };
  store.close();
  rmSync(dir, { recursive: true, force: true });
  results.libraryTable = { tracks: n, ...r };
  log(`\nLibrary table, ${n.toLocaleString('en')} tracks (one 100-row page)`);
  log(`  first page ${r.firstPageMs.toFixed(1)} ms; sorted by genre ${r.firstPageByGenreMs.toFixed(1)} ms; a deep page ${r.firstDeepPageByGenreMs.toFixed(1)} ms, then ${r.nextDeepPagesMs.toFixed(1)} ms per page while scrolling`);
  log(`  search ${r.searchMs.toFixed(1)} ms; two facets ${r.facetMs.toFixed(1)} ms`);
}

/**
 * Tag heads: training time per epoch on 10,000 tracks of dsp-sized vectors (12 genres as noisy clusters), on the
 * backend this machine resolves, for the MLP and the linear head; and prediction throughput.
 */
async function heads(): Promise<void> {
  const rt = await loadTf();
  const n = 10_000;
  const k = 12;
  const dim = DSP_REPRESENTATION.dim;
  const rng = new Random(3);
  const centres = Array.from({ length: k }, () => Float32Array.from({ length: dim }, () => rng.normal()));
  const x: Float32Array[] = [];
  const y: number[][] = [];
  for (let i = 0; i < n; i++) {
    const c = i % k;
    x.push(Float32Array.from(centres[c], (m) => m + 2 * rng.normal()));
    y.push([c]);
  }
  log(`\nTag heads, ${n.toLocaleString('en')} tracks × ${dim}-d, ${k} values, on ${rt.device} (${rt.backend})`);
  const out: Record<string, unknown> = { backend: rt.backend, device: rt.device, tracks: n };
  for (const kind of ['linear', 'mlp'] as const) {
    const epochs = 3;
    const times: number[] = [];
    let last = performance.now();
    const head = await trainHead(rt.tf, { x, y, nValues: k }, { kind, multiLabel: false, epochs, seed: 1 }, {
      onEpoch: () => {
        const now = performance.now();
        times.push((now - last) / 1000);
        last = now;
      },
    });
    const t0 = performance.now();
    headProbabilities(rt.tf, head, x);
    const predictS = (performance.now() - t0) / 1000;
    disposeHead(head);
    const perEpoch = Math.min(...times);
    // A whole head as `predict` trains one: 85 % of the tracks, early stopping on the other 15 %.
    const t1 = performance.now();
    const cut = Math.round(0.85 * n);
    const full = await trainHead(rt.tf, { x: x.slice(0, cut), y: y.slice(0, cut), nValues: k }, { kind, multiLabel: false, seed: 1 }, { validation: { x: x.slice(cut), y: y.slice(cut), nValues: k } });
    const fullS = (performance.now() - t1) / 1000;
    const fullEpochs = full.history.length;
    disposeHead(full);
    out[kind] = { secondsPerEpoch: perEpoch, predictTracksPerSecond: n / predictS, wholeHeadSeconds: fullS, wholeHeadEpochs: fullEpochs };
    log(
      `  ${kind.padEnd(6)} ${perEpoch.toFixed(2)} s per epoch; a whole head (8,500 tracks, early stopping) ${fullS.toFixed(1)} s over ${fullEpochs} epochs; predicts ${Math.round(n / predictS).toLocaleString('en')} tracks/s`,
    );
  }
  // What `earmark predict` trains per field: a 5-fold cross-fit (five MLP heads on 60 % of the tracks each,
  // early stopping on another 20 %), here one fold after another, then side by side in worker threads.
  const data = { x, y, nValues: k };
  const config = { kind: 'mlp' as const, multiLabel: false, seed: 1 };
  const workers = Math.min(cpus().length, 5);
  const c0 = performance.now();
  await crossFit(rt.tf, data, config, [], { folds: 5 });
  const oneThread = (performance.now() - c0) / 1000;
  let pooled: number | null = null;
  if (workers > 1 && (rt.backend === 'wasm' || rt.backend === 'cpu')) {
    const c1 = performance.now();
    await crossFit(rt.tf, data, config, [], { folds: 5, runner: headPool({ workers, backend: rt.backend, script: findHeadWorkerScript() }) });
    pooled = (performance.now() - c1) / 1000;
  }
  out.crossFit = { folds: 5, oneThreadSeconds: oneThread, workers, pooledSeconds: pooled };
  log(
    `  5-fold cross-fit (what predict trains per field, MLP): ${oneThread.toFixed(1)} s one fold after another` +
      (pooled !== null ? `; ${pooled.toFixed(1)} s with ${workers} worker threads (×${(oneThread / pooled).toFixed(2)})` : ''),
  );
  results.heads = out;
}

/** Switch TensorFlow.js to `backend` and wait until it is ready; false when it cannot load here. */
async function useBackend(tf: Tf, backend: string): Promise<boolean> {
  try {
    if (!(await tf.setBackend(backend))) return false;
  } catch {
    return false;
  }
  await tf.ready();
  return true;
}

/**
 * Encoders: training throughput (patches/s, multi-task step with KL loss) and embedding throughput (tracks/s
 * for 30 s of log-mel) for each architecture, on every backend that loads here — the one this machine resolves
 * and the plain JavaScript `cpu` backend (fewer steps there: it is slow) — with the speed-up over `cpu`
 * from the same run.
 */
async function encoders(): Promise<void> {
  const rt = await loadTf();
  const { tf } = rt;
  const out: Record<string, unknown> = { resolved: rt.backend, device: rt.device };
  const backends = [...new Set([tf.getBackend(), 'wasm', 'cpu'])];
  const measured: Record<string, Record<string, { patchesPerSecond: number; tracksPerSecond: number }>> = {};
  const loader: Record<string, number> = {};
  for (const backend of backends) {
    if (!(await useBackend(tf, backend))) {
      log(`\nEncoders on ${backend}: not available here`);
      continue;
    }
    const slow = backend === 'cpu';
    log(`\nEncoders on ${backend === rt.backend ? rt.device : backend === 'cpu' ? 'CPU (JavaScript)' : backend} (${backend})`);
    measured[backend] = {};
    for (const arch of ['dcnn', 'base-cnn', 'dpnn'] as const) {
      const { frames, nMels, patch } = ARCH_INPUT[arch];
      const enc = buildEncoder(tf, { arch, fusion: 'SS-R', tasks: [{ name: 'tags', outputs: 20 }], frames, nMels, seed: 1 });
      const rng = new Random(1);
      const ids = Array.from({ length: 32 }, (_, i) => i + 1);
      const spec = PATCH_SPECS[patch];
      const nFrames = Math.round((30 * spec.sr) / spec.hopLength);
      const logMels = new Map(ids.map((id) => [id, { nMels, segments: [Float32Array.from({ length: nFrames * nMels }, () => rng.normal())] }]));
      const mean = new Float32Array(nMels);
      const std = new Float32Array(nMels).fill(1);
      const targets = new Map(ids.map((id) => [id, Float32Array.from({ length: 20 }, (_, k) => (k === id % 20 ? 1 : 0))]));
      // The JavaScript backend is two orders of magnitude slower: one small step, one track.
      const steps = slow ? 1 : 4;
      const batch = slow ? 2 : 16;
      const embedTracks = slow ? 1 : 4;
      const source = [{ name: 'tags' as const, k: 20, targets, describe: '' }];
      await trainMultitask(tf, enc, source, { logMels, mean, std, frames }, { iterations: 1, batchSize: slow ? 1 : batch }); // warm-up
      const t0 = performance.now();
      await trainMultitask(tf, enc, source, { logMels, mean, std, frames }, { iterations: steps, batchSize: batch });
      const trainS = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      for (const id of ids.slice(0, embedTracks)) embedTrack(tf, enc.featureModel, logMels.get(id) as LogMel, { mean, std, frames }, 'multitask');
      const embedS = (performance.now() - t1) / 1000;
      disposeEncoder(enc);
      const m = { patchesPerSecond: (steps * batch) / trainS, tracksPerSecond: embedTracks / embedS };
      measured[backend][arch] = m;
      const fmt = (v: number) => (v >= 10 ? v.toFixed(1) : v.toPrecision(2));
      log(`  ${arch.padEnd(9)} training ${fmt(m.patchesPerSecond)} patches/s (${frames} × ${nMels}, batch ${batch}); embedding ${fmt(m.tracksPerSecond)} tracks/s (30 s each)`);
      if (backend === backends[0] && !slow) {
        // The input pipeline alone (random crops, standardisation, the batch tensor), so its rate can be set
        // against what a faster backend would ask of it.
        const r = new Random(2);
        const t2 = performance.now();
        let n = 0;
        while (performance.now() - t2 < 1000) {
          const ids16 = Array.from({ length: 16 }, () => ids[Math.floor(r.next() * ids.length)]);
          tf.dispose(await batchOf(tf, ids16, { logMels, mean, std, frames }, r));
          n += 16;
        }
        loader[arch] = n / ((performance.now() - t2) / 1000);
        log(`  ${''.padEnd(9)} input pipeline ${loader[arch].toFixed(0)} patches/s on one thread: ×${(loader[arch] / m.patchesPerSecond).toFixed(0)} this backend's training rate`);
      }
    }
  }
  // Ratios against the JavaScript backend, from this run.
  if (measured.cpu) {
    for (const [backend, archs] of Object.entries(measured)) {
      if (backend === 'cpu') continue;
      const parts = Object.entries(archs).map(([arch, m]) => `${arch} ×${(m.patchesPerSecond / measured.cpu[arch].patchesPerSecond).toFixed(1)} training, ×${(m.tracksPerSecond / measured.cpu[arch].tracksPerSecond).toFixed(1)} embedding`);
      log(`  ${backend} vs cpu: ${parts.join('; ')}`);
    }
  }
  await tf.setBackend(rt.backend === 'tensorflow-gpu' ? 'tensorflow' : rt.backend);
  out.backends = measured;
  out.inputPipelinePatchesPerSecond = loader;
  results.encoders = out;
}

/**
 * Published models: tracks/s of MusiCNN inference (`msd-musicnn-1`'s network, random weights; see
 * `bench-musicnn.ts`) on each backend that loads here, front end included, with the ratio to `cpu`.
 */
async function musicnn(): Promise<void> {
  const rt = await loadTf();
  const { tf } = rt;
  const out: Record<string, MusicnnSpeed> = {};
  log('\nMusiCNN inference (published models: msd-musicnn-1\'s network, 0.78 M weights; a track = three 10 s excerpts, 15 patches)');
  for (const backend of [...new Set([tf.getBackend(), 'wasm', 'cpu'])]) {
    if (!(await useBackend(tf, backend))) {
      log(`  ${backend}: not available here`);
      continue;
    }
    // The JavaScript backend takes seconds per patch: one patch, once.
    const m = measureMusicnn(tf, backend === 'cpu' ? { patches: 1, repeats: 1 } : {});
    out[backend] = m;
    log(`  ${backend.padEnd(10)} ${m.patchesPerSecond.toPrecision(3)} patches/s, ${m.tracksPerSecond.toPrecision(3)} tracks/s (${(1 / m.tracksPerSecond).toFixed(1)} s a track; front end ${m.frontEndMsPerTrack.toFixed(0)} ms of it)`);
  }
  if (out.cpu) for (const [b, m] of Object.entries(out)) if (b !== 'cpu') log(`  ${b} vs cpu: ×${(m.tracksPerSecond / out.cpu.tracksPerSecond).toFixed(1)}`);
  await tf.setBackend(rt.backend === 'tensorflow-gpu' ? 'tensorflow' : rt.backend);
  results.musicnn = out;
}

async function main(): Promise<void> {
  if (args.only === 'musicnn') {
    await musicnn();
    if (args.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    clearInterval(rssTimer);
    return;
  }
  if (args.only === 'encoders') {
    await encoders();
    if (args.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    clearInterval(rssTimer);
    return;
  }
  if (args.only === 'heads') {
    await heads();
    if (args.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    clearInterval(rssTimer);
    return;
  }
  if (args.only && args.only !== 'ingestion') throw new Error(`--only ${args.only}: the sections that run alone are "ingestion", "heads", "encoders" and "musicnn".`);
  const { dir, manifest } = await library();
  log(`\nEarmark benchmark — ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${JOBS} analysis workers, ${manifest.tracks.length} tracks\n`);
  const floor = await decodeFloor(manifest);
  const dsp = await ingestion(dir, ['dsp']);
  const both = await ingestion(dir, ['dsp', 'mfcc']);
  results.ingestionRatio = { dsp: dsp.rate / floor, dspAndMfcc: both.rate / floor, target: 0.8 };
  quality(both.home, manifest);
  const d = results.decodeOnly as { tracksPerSecond: number };
  const i1 = results.ingest_dsp as { tracksPerSecond: number; scanSeconds: number; decodeMsPerTrack: number; computeMsPerTrack: number };
  const i2 = results['ingest_dsp+mfcc'] as { tracksPerSecond: number };
  log('Ingestion (scan + analyze)');
  log(`  decode-only floor        ${d.tracksPerSecond.toFixed(2)} tracks/s`);
  log(`  scan + analyze, dsp      ${i1.tracksPerSecond.toFixed(2)} tracks/s   ratio ${(dsp.rate / floor).toFixed(2)} × floor (target ≥ 0.80)`);
  log(`  scan + analyze, dsp+mfcc ${i2.tracksPerSecond.toFixed(2)} tracks/s   ratio ${(both.rate / floor).toFixed(2)} × floor`);
  log(`  per track: decode ${i1.decodeMsPerTrack.toFixed(0)} ms (wall, overlapped), features ${i1.computeMsPerTrack.toFixed(0)} ms; scan ${i1.scanSeconds.toFixed(2)} s in all`);
  const fc = (results.decodeOnly as { cpuPerTrack: { ffmpegMs: number; nodeMs: number } | null }).cpuPerTrack;
  const ic = (results.ingest_dsp as { cpuPerTrack: { ffmpegMs: number; nodeMs: number } | null; scanCpuPerTrack: { nodeMs: number } | null });
  if (fc && ic.cpuPerTrack && ic.scanCpuPerTrack) {
    // Where the ratio comes from when the floor already keeps every core busy: CPU per track, both runs.
    const floorCpu = fc.ffmpegMs + fc.nodeMs;
    const ingestCpu = ic.cpuPerTrack.ffmpegMs + ic.cpuPerTrack.nodeMs;
    log(`  CPU per track: floor ${floorCpu.toFixed(1)} ms (ffmpeg ${fc.ffmpegMs.toFixed(1)}, reading its output ${fc.nodeMs.toFixed(1)})`);
    log(`                 scan + analyze, dsp ${ingestCpu.toFixed(1)} ms (ffmpeg ${ic.cpuPerTrack.ffmpegMs.toFixed(1)}, scan ${ic.scanCpuPerTrack.nodeMs.toFixed(1)}, analysis in Node ${(ic.cpuPerTrack.nodeMs - ic.scanCpuPerTrack.nodeMs).toFixed(1)}: reading ffmpeg's output, features, storing)`);
    log(`                 CPU ratio ${(floorCpu / ingestCpu).toFixed(2)}; the floor kept ${((floorCpu * d.tracksPerSecond) / 1000 / cpus().length * 100).toFixed(0)} % of ${cpus().length} cores busy`);
  }
  const q = results.precisionAt10 as Record<string, Record<string, number>>;
  log('\nRetrieval precision@10 on the demo library (exact search)');
  log('               artist   genre    mood');
  for (const r of ['dsp', 'mfcc', 'random']) log(`  ${r.padEnd(10)}   ${q[r].artist.toFixed(3)}    ${q[r].genre.toFixed(3)}    ${q[r].mood.toFixed(3)}`);
  log(`  dsp / mfcc: artist ×${(q.dsp.artist / q.mfcc.artist).toFixed(2)}, genre ×${(q.dsp.genre / q.mfcc.genre).toFixed(2)}`);
  if (args.only === 'ingestion') {
    clearInterval(rssTimer);
    if (!args.keep) for (const h of [dsp.home, both.home]) rmSync(h, { recursive: true, force: true });
    if (args.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    return;
  }

  const e = Earmark.open({ home: both.home });
  const seed = e.store.vectors('dsp').data;
  e.close();
  for (const size of SIZES) {
    log(`\nHNSW, ${size} vectors of ${DSP_REPRESENTATION.dim}-d (building…)`);
    hnswAt(size, seed);
    const h = results[`hnsw_${size}`] as { buildSeconds: number; loadSeconds: number; p50ms: number; p99ms: number; mpP50ms: number; mpP99ms: number; recallAt10: number; exactQueries: number };
    log(`  build ${h.buildSeconds.toFixed(1)} s (with the mutual-proximity statistics), load ${h.loadSeconds.toFixed(2)} s`);
    log(`  query by cosine p50 ${h.p50ms.toFixed(3)} ms, p99 ${h.p99ms.toFixed(3)} ms (target < 5 ms); recall@10 vs exact ${h.recallAt10.toFixed(4)} over ${h.exactQueries} queries (target ≥ 0.98)`);
    log(`  query by mutual proximity (the default) p50 ${h.mpP50ms.toFixed(3)} ms, p99 ${h.mpP99ms.toFixed(3)} ms (target < 5 ms)`);
  }
  libraryTable(100_000);
  await heads();
  await encoders();
  await musicnn();
  clearInterval(rssTimer);
  sampleRss();
  results.peakRssMB = Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / 2 ** 20;
  log(`\nPeak memory (RSS of the benchmark process, analysis workers included): ${(results.peakRssMB as number).toFixed(0)} MB`);
  if (!args.keep) for (const h of [dsp.home, both.home]) rmSync(h, { recursive: true, force: true });
  if (args.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});

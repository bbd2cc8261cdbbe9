import type { GraphModel, io, Tensor } from '@tensorflow/tfjs';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { MUSICNN_INPUT } from '../../audio/musicnn-input.js';
import { checkModelName } from '../model-store.js';
import type { Tf } from '../tf/backend.js';
import { defaultMapping, type TagMapping } from './mapping.js';
import { readZip } from './zip.js';

/**
 * Published models (Essentia's TensorFlow.js MusiCNN family: the `msd-musicnn-1` auto-tagger and its two-class
 * classifiers), imported by the user from a folder or a zip (their licences forbid shipping them) and kept in
 * `models/<name>/`: the graph model's `model.json` and weight shards as published, Essentia's metadata JSON
 * when it came with them, and `published.json` (this interface): what Earmark feeds the graph and reads from it.
 */
export interface PublishedMeta {
  format: 'earmark-published';
  version: 1;
  name: string;
  /** The model's own name (Essentia metadata `name`), or the folder's. */
  title: string;
  /** An auto-tagger (many independent tags) or a classifier (classes that sum to one). */
  task: 'auto-tagging' | 'classifier';
  /** The input it was trained on; only Essentia's MusiCNN input is known (`musicnn-input.ts`). */
  frontEnd: 'musicnn';
  sampleRate: number;
  classes: string[];
  /** Graph nodes: the [-1, 187, 96] input, the boolean "is training" input fed false (null when absent). */
  input: string;
  isTraining: string | null;
  /** The [-1, classes] sigmoid output, and the embedding output (null when the graph has none). */
  predictions: string;
  embeddings: string | null;
  embeddingDim: number | null;
  /** Whether its embedding is a representation (the auto-tagger's; classifiers' embeddings are not stored). */
  representation: boolean;
  /** How outputs become tag proposals; editable (`earmark model-mapping`). */
  mapping: TagMapping[];
  /** Where it was imported from, and when. */
  source: string;
  importedAt: number;
  /** Licence or link from the metadata, shown beside the model. */
  link: string | null;
}

/** The 50 tags of the Million Song Dataset in the order `msd-musicnn-1` outputs them. */
export const MSD_TAGS = [
  'rock', 'pop', 'alternative', 'indie', 'electronic', 'female vocalists', 'dance', '00s', 'alternative rock', 'jazz',
  'beautiful', 'metal', 'chillout', 'male vocalists', 'classic rock', 'soul', 'indie rock', 'Mellow', 'electronica', '80s',
  'folk', '90s', 'chill', 'instrumental', 'punk', 'oldies', 'blues', 'hard rock', 'ambient', 'acoustic',
  'experimental', 'female vocalist', 'guitar', 'Hip-Hop', '70s', 'party', 'country', 'easy listening', 'sexy', 'catchy',
  'funk', 'electro', 'heavy metal', 'Progressive rock', '60s', 'rnb', 'indie pop', 'sad', 'House', 'happy',
]; // prettier-ignore

/** Class orders of Essentia's two-class MusiCNN classifiers, when no metadata says (by the name's first part). */
export const CLASSIFIER_CLASSES: Record<string, string[]> = {
  mood_happy: ['happy', 'non_happy'],
  mood_sad: ['non_sad', 'sad'],
  mood_relaxed: ['non_relaxed', 'relaxed'],
  mood_aggressive: ['aggressive', 'non_aggressive'],
  danceability: ['danceable', 'not_danceable'],
};

interface GraphJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology?: { node?: Array<{ name: string; op: string; attr?: Record<string, unknown> }> };
  weightsManifest?: Array<{ paths: string[]; weights: io.WeightsManifestEntry[] }>;
  signature?: unknown;
  userDefinedMetadata?: Record<string, object>;
  modelInitializer?: unknown;
}

interface EssentiaMetadata {
  name?: string;
  type?: string;
  link?: string;
  classes?: string[];
  schema?: { inputs?: Array<{ name: string; type?: string }>; outputs?: Array<{ name: string; output_purpose?: string; shape?: number[] }> };
  inference?: { sample_rate?: number; algorithm?: string };
}

export function isPublished(dir: string): boolean {
  return existsSync(join(dir, 'published.json'));
}

export function readPublishedMeta(dir: string): PublishedMeta {
  return JSON.parse(readFileSync(join(dir, 'published.json'), 'utf8')) as PublishedMeta;
}

export function writePublishedMeta(dir: string, meta: PublishedMeta): void {
  writeFileSync(join(dir, 'published.json.tmp'), JSON.stringify(meta, null, 1));
  renameSync(join(dir, 'published.json.tmp'), join(dir, 'published.json'));
}

/**
 * Whether a path is to be imported as a TensorFlow.js graph model (rather than an Earmark model file): any folder,
 * a `model.json`, or a zip (by its first bytes, whatever its extension).
 */
export function looksLikeGraphModel(path: string): boolean {
  if (!existsSync(path)) return false;
  if (statSync(path).isDirectory() || basename(path) === 'model.json') return true;
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    return head.readUInt32LE(0) === 0x04034b50 || head.readUInt32LE(0) === 0x06054b50;
  } finally {
    closeSync(fd);
  }
}

/** Every `model.json` in a folder, its subfolders and theirs (macOS's `__MACOSX` and hidden folders aside). */
function findModelJsons(dir: string, depth = 0): string[] {
  const direct = join(dir, 'model.json');
  if (existsSync(direct)) return [direct];
  if (depth >= 2) return [];
  return readdirSync(dir)
    .filter((d) => !d.startsWith('.') && !d.startsWith('__MACOSX') && statSync(join(dir, d)).isDirectory())
    .flatMap((d) => findModelJsons(join(dir, d), depth + 1));
}

/** The one model.json among `found` (paths or zip entry names), or an error that says what was found. */
function onlyModel<T extends string>(found: T[], from: string): T {
  if (found.length === 0) throw new Error(`${from} holds no model.json (a TensorFlow.js graph model: model.json and its weight shards, up to two folders down).`);
  if (found.length > 1) {
    const where = found.map((f) => (f.startsWith(`${from}/`) ? f.slice(from.length + 1) : f).replace(/\/?model\.json$/, '') || '.');
    throw new Error(`${from} holds ${found.length} models (${where.join(', ')}): import them one at a time, by their folders.`);
  }
  return found[0];
}

function nodeNames(g: GraphJson): Map<string, { op: string; attr?: Record<string, unknown> }> {
  return new Map((g.modelTopology?.node ?? []).map((n) => [n.name, { op: n.op, attr: n.attr }]));
}

/**
 * Work out what to feed and read from a graph model and its metadata (Essentia's JSON, when there is one):
 * inputs and outputs named by the metadata's schema, else by MusiCNN's known node names; classes from the
 * metadata, else the MSD tags for a 50-output auto-tagger or the known order of a named classifier.
 */
export function describeGraph(g: GraphJson, metadata: EssentiaMetadata | null, fallbackName: string): Omit<PublishedMeta, 'name' | 'source' | 'importedAt' | 'embeddingDim' | 'mapping'> {
  if (g.format !== 'graph-model' && !g.modelTopology?.node) throw new Error('This is not a TensorFlow.js graph model (model.json has no "format": "graph-model" and no graph).');
  if (!g.weightsManifest?.length) throw new Error('model.json lists no weights (weightsManifest).');
  const nodes = nodeNames(g);
  const placeholders = [...nodes].filter(([, n]) => n.op === 'Placeholder');
  const dtypeOf = (attr?: Record<string, unknown>) => (attr?.dtype as { type?: string } | undefined)?.type;
  const schemaIn = metadata?.schema?.inputs?.find((i) => nodes.has(i.name))?.name;
  const input = schemaIn ?? (nodes.has('model/Placeholder') ? 'model/Placeholder' : placeholders.find(([, n]) => dtypeOf(n.attr) !== 'DT_BOOL')?.[0]);
  if (!input) throw new Error('The graph has no float input (expected "model/Placeholder", [-1, 187, 96]).');
  const isTraining = placeholders.find(([name, n]) => name !== input && dtypeOf(n.attr) === 'DT_BOOL')?.[0] ?? null;
  const outs = metadata?.schema?.outputs ?? [];
  const predictions = outs.find((o) => o.output_purpose === 'predictions' && nodes.has(o.name))?.name ?? (nodes.has('model/Sigmoid') ? 'model/Sigmoid' : null);
  if (!predictions) throw new Error('The graph has no predictions output (expected "model/Sigmoid").');
  const embeddings =
    outs.find((o) => o.output_purpose === 'embeddings' && nodes.has(o.name))?.name ??
    (nodes.has('model/dense/BiasAdd') ? 'model/dense/BiasAdd' : nodes.has('model/dense/Relu') ? 'model/dense/Relu' : null);
  const rate = metadata?.inference?.sample_rate ?? MUSICNN_INPUT.sr;
  if (rate !== MUSICNN_INPUT.sr) throw new Error(`The model expects audio at ${rate} Hz; Earmark feeds MusiCNN models their input at ${MUSICNN_INPUT.sr} Hz only.`);
  const algorithm = metadata?.inference?.algorithm;
  if (algorithm && !/musicnn/i.test(algorithm)) throw new Error(`The model's input is "${algorithm}"; Earmark computes only MusiCNN's (TensorflowPredictMusiCNN).`);
  const title = metadata?.name ?? fallbackName;
  const key = Object.keys(CLASSIFIER_CLASSES).find((k) => fallbackName.toLowerCase().startsWith(k) || (metadata?.link ?? '').includes(`${k}-`));
  let classes = metadata?.classes;
  if (!classes?.length) classes = key ? CLASSIFIER_CLASSES[key] : undefined;
  const task: PublishedMeta['task'] = metadata?.type ? (/classif/i.test(metadata.type) ? 'classifier' : 'auto-tagging') : key ? 'classifier' : 'auto-tagging';
  // No metadata and no known classifier: the classes are decided by the outputs' count when the graph runs.
  classes ??= [];
  return {
    format: 'earmark-published',
    version: 1,
    title,
    task,
    frontEnd: 'musicnn',
    sampleRate: rate,
    classes,
    input,
    isTraining,
    predictions,
    embeddings,
    representation: task === 'auto-tagging' && embeddings !== null,
    link: metadata?.link ?? null,
  };
}

/** The graph model's files as one IOHandler (model.json + its shards, in manifest order). */
function handlerFor(dir: string): io.IOHandler {
  return {
    load: async () => {
      const g = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as GraphJson;
      const manifest = g.weightsManifest ?? [];
      const parts = manifest.flatMap((group) => group.paths.map((p) => readFileSync(join(dir, p))));
      const all = Buffer.concat(parts);
      return {
        modelTopology: g.modelTopology as object,
        weightSpecs: manifest.flatMap((group) => group.weights),
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
        format: g.format,
        generatedBy: g.generatedBy,
        convertedBy: g.convertedBy,
        signature: g.signature as object | undefined,
        userDefinedMetadata: g.userDefinedMetadata,
        modelInitializer: g.modelInitializer as object | undefined,
      };
    },
  };
}

export async function loadGraph(tf: Tf, dir: string): Promise<GraphModel> {
  try {
    return await tf.loadGraphModel(handlerFor(dir));
  } catch (e) {
    throw new Error(`The graph model in ${dir} cannot be loaded on the ${tf.getBackend()} backend: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** What a run of a published model gives for some patches: each output averaged over them. */
export interface PublishedOutputs {
  /** [classes]: the predictions output averaged over the patches. */
  values: Float32Array;
  /** [embeddingDim]: the embedding averaged over the patches, or null. */
  embedding: Float32Array | null;
  patches: number;
}

/** Patches per call of the graph: bounded memory on any track length. */
export const INFERENCE_BATCH = 32;

/**
 * Run the graph on `[nPatches, 187, 96]` patches (row-major), in batches of `INFERENCE_BATCH`, the "is training"
 * input fed false; returns each output averaged over the patches. Every tensor is disposed.
 * Throws when the outputs do not have the shape the model's description says.
 */
export function runPublished(tf: Tf, model: GraphModel, meta: PublishedMeta, patches: Float32Array, nPatches: number, o: { anyClasses?: boolean } = {}): PublishedOutputs {
  const { patchFrames, nMels } = MUSICNN_INPUT;
  const size = patchFrames * nMels;
  let sums = new Float64Array(meta.classes.length);
  let emb: Float64Array | null = null;
  const outputs = meta.embeddings ? [meta.predictions, meta.embeddings] : [meta.predictions];
  for (let at = 0; at < nPatches; at += INFERENCE_BATCH) {
    const n = Math.min(INFERENCE_BATCH, nPatches - at);
    const [p, e] = tf.tidy(() => {
      const feed: Record<string, Tensor> = { [meta.input]: tf.tensor3d(patches.subarray(at * size, (at + n) * size), [n, patchFrames, nMels]) };
      if (meta.isTraining) feed[meta.isTraining] = tf.tensor([false], [1], 'bool');
      const r = model.execute(feed, outputs);
      const list = Array.isArray(r) ? r : [r];
      return list.map((t) => t.reshape([n, -1]).sum(0)) as Tensor[];
    });
    const pv = p.dataSync() as Float32Array;
    const ev = e ? (e.dataSync() as Float32Array) : null;
    tf.dispose([p, e].filter((t): t is Tensor => t !== undefined));
    if (o.anyClasses && at === 0) sums = new Float64Array(pv.length);
    if (pv.length !== sums.length) throw new Error(`"${meta.name}" gives ${pv.length} predictions per patch; its description says ${sums.length} classes.`);
    for (let i = 0; i < pv.length; i++) sums[i] += pv[i];
    if (ev) {
      emb ??= new Float64Array(ev.length);
      for (let i = 0; i < ev.length; i++) emb[i] += ev[i];
    }
  }
  const k = Math.max(1, nPatches);
  return {
    values: Float32Array.from(sums, (s) => s / k),
    embedding: emb ? Float32Array.from(emb, (s) => s / k) : null,
    patches: nPatches,
  };
}

/**
 * Import a TensorFlow.js graph model from a folder (holding `model.json` + shards, perhaps one level down) or a
 * zip of one, with Essentia's metadata JSON when it is beside `model.json`. The graph is loaded and run once on
 * the current backend before anything is kept, so a model that cannot run here is refused with the reason.
 * Returns the stored description. Throws on a name already taken, a graph without the expected nodes, or
 * outputs that do not match the classes.
 */
export async function importPublished(tf: Tf, from: string, modelsDir: string, name?: string): Promise<PublishedMeta> {
  if (!existsSync(from)) throw new Error(`${from} does not exist.`);
  const staging = join(modelsDir, `.import-${process.pid}-${Date.now().toString(36)}.saving`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    let srcDir: string;
    if (statSync(from).isDirectory() || basename(from) === 'model.json') {
      const mj = statSync(from).isDirectory() ? onlyModel(findModelJsons(from), from) : from;
      srcDir = dirname(mj);
    } else {
      const files = readZip(from);
      const mjName = onlyModel(
        files.map((f) => f.name).filter((n) => basename(n) === 'model.json' && !n.includes('__MACOSX')),
        from,
      );
      const mj = files.find((f) => f.name === mjName)!;
      srcDir = join(staging, 'unzipped');
      const prefix = mj.name.slice(0, mj.name.length - 'model.json'.length);
      const unsafe = files.find((f) => f.name.split(/[\\/]/).includes('..') || f.name.startsWith('/'));
      if (unsafe) throw new Error(`${from} holds a file that points outside the archive ("${unsafe.name}"): refused.`);
      for (const f of files) {
        if (!f.name.startsWith(prefix) || f.name.slice(prefix.length).includes('/')) continue;
        mkdirSync(srcDir, { recursive: true });
        writeFileSync(join(srcDir, f.name.slice(prefix.length)), f.data);
      }
    }
    let g: GraphJson;
    try {
      g = JSON.parse(readFileSync(join(srcDir, 'model.json'), 'utf8')) as GraphJson;
    } catch (e) {
      throw new Error(`The model.json in ${from} is not valid JSON (${e instanceof Error ? e.message : String(e)}): download it again.`);
    }
    const folderName = basename(statSync(from).isDirectory() ? from : from.replace(/\.zip$/i, '')).replace(/[-_]tfjs$/i, '');
    const metaFile = metadataFile(srcDir, folderName, from);
    const metadata = metaFile ? (JSON.parse(readFileSync(join(srcDir, metaFile), 'utf8')) as EssentiaMetadata) : null;
    const fallback = metadata?.link ? basename(metadata.link).replace(/\.(pb|json|zip)$/i, '').replace(/[-_]tfjs$/i, '') : folderName;
    let described: ReturnType<typeof describeGraph>;
    try {
      described = describeGraph(g, metadata, fallback);
    } catch (e) {
      throw new Error(`${from}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const out = join(staging, 'model');
    mkdirSync(out, { recursive: true });
    copyFileSync(join(srcDir, 'model.json'), join(out, 'model.json'));
    for (const group of g.weightsManifest ?? []) {
      for (const p of group.paths) {
        if (p.includes('/') || p.includes('\\') || p.includes('..')) throw new Error(`model.json names a weight file outside its folder: ${p}`);
        if (!existsSync(join(srcDir, p))) throw new Error(`${from}: the weight file "${p}" that model.json lists is missing (download the model again, all of its files).`);
        copyFileSync(join(srcDir, p), join(out, p));
      }
    }
    if (metaFile) copyFileSync(join(srcDir, metaFile), join(out, 'metadata.json'));
    const meta: PublishedMeta = { ...described, name: name ?? fallback, embeddingDim: null, mapping: [], source: from, importedAt: Date.now() };
    // Loaded and run once on this backend: what cannot run here is refused now, not at the first track.
    let model: GraphModel;
    try {
      model = await tf.loadGraphModel(handlerFor(out));
    } catch (e) {
      const m = e instanceof Error ? e.message : String(e);
      const damaged = /should have \d+ values|but has \d+|out of bounds|offset is outside/i.test(m);
      throw new Error(`The graph model in ${from} cannot be loaded on the ${tf.getBackend()} backend${damaged ? ': a weight file is incomplete or damaged (download the model again)' : ''}: ${m}`);
    }
    try {
      // Without metadata or a known classifier's name, the classes follow from the outputs: 50 are the MSD tags.
      const probeMeta = meta.classes.length ? meta : { ...meta, classes: [] as string[] };
      const probe = runPublished(tf, model, probeMeta, new Float32Array(MUSICNN_INPUT.patchFrames * MUSICNN_INPUT.nMels), 1, { anyClasses: meta.classes.length === 0 });
      if (meta.classes.length === 0) {
        if (probe.values.length !== MSD_TAGS.length) {
          throw new Error(
            `it gives ${probe.values.length} outputs and there is no metadata naming them: put Essentia's metadata JSON (the .json published with the model) beside model.json, or name the folder as published (e.g. mood_sad-musicnn-msd-2).`,
          );
        }
        meta.classes = MSD_TAGS;
      }
      meta.embeddingDim = probe.embedding?.length ?? null;
    } catch (e) {
      throw new Error(`The graph model in ${from} does not run as a MusiCNN model: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      model.dispose();
    }
    const chosen = name ?? (meta.task === 'auto-tagging' && meta.classes.join() === MSD_TAGS.join() ? 'musicnn' : fallback.replace(/[^A-Za-z0-9_.-]/g, '-'));
    checkModelName(chosen);
    const dir = join(modelsDir, chosen);
    if (existsSync(dir)) throw new Error(`A model named "${chosen}" exists already${name ? '' : ` (the name comes from ${metadata?.link ? "the metadata's link" : 'the folder or file name'})`}; import under another name (--name).`);
    meta.name = chosen;
    meta.mapping = defaultMapping(meta.task, meta.classes, chosen);
    writePublishedMeta(out, meta);
    renameSync(out, dir);
    return meta;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Essentia's metadata file beside model.json: the one other .json there, or, among several, the one named like the
 * model (its folder or zip name, with or without "-tfjs"). Throws when a .json there is not valid JSON, and when
 * several could be the metadata and none is named like the model.
 */
function metadataFile(dir: string, modelName: string, from: string): string | null {
  const found: string[] = [];
  for (const f of readdirSync(dir).filter((x) => x.toLowerCase().endsWith('.json') && x !== 'model.json')) {
    let j: EssentiaMetadata;
    try {
      j = JSON.parse(readFileSync(join(dir, f), 'utf8')) as EssentiaMetadata;
    } catch (e) {
      throw new Error(`${from}: ${f} is not valid JSON (${e instanceof Error ? e.message : String(e)}); if it is the model's metadata, download it again, or remove it.`);
    }
    if (Array.isArray(j.classes) || typeof j.schema === 'object') found.push(f);
  }
  if (found.length <= 1) return found[0] ?? null;
  const named = found.find((f) => f.replace(/\.json$/i, '').replace(/[-_]tfjs$/i, '') === modelName);
  if (named) return named;
  throw new Error(`${from} holds ${found.length} metadata files (${found.join(', ')}) and none is named like the model ("${modelName}.json"): keep the one published with it.`);
}

/** Published models in the models folder. */
export function listPublished(modelsDir: string): PublishedMeta[] {
  if (!existsSync(modelsDir)) return [];
  return readdirSync(modelsDir)
    .filter((d) => !d.startsWith('.') && isPublished(join(modelsDir, d)))
    .map((d) => readPublishedMeta(join(modelsDir, d)));
}

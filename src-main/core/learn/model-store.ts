import type { io, LayersModel, Optimizer, SymbolicTensor } from '@tensorflow/tfjs';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildEncoder, type Arch, type Encoder, type EncoderSpec, type Fusion } from './nets/encoders.js';
import type { PatchSpec } from './patches.js';
import type { Tf } from './tf/backend.js';

/**
 * Trained encoders on disk (DESIGN.md, Model files): `models/<name>/` holds `model.json` + `weights.bin` (the
 * whole network — feature output first, then one output per task — in tfjs's layers format, so any backend
 * loads it) and `earmark.json` (architecture, learning sources, front end, standardisation statistics,
 * training history). A model exports to, and imports from, one JSON file.
 */
export interface ModelMeta {
  format: 1;
  name: string;
  kind: 'multitask' | 'triplet';
  arch: Arch;
  fusion: Fusion;
  tasks: EncoderSpec['tasks'];
  seed: number;
  patch: PatchSpec;
  mean: number[];
  std: number[];
  sources: Array<{ name: string; describe: string }>;
  /** Tag fields behind the tags source or the triplet relatedness. */
  fields: string[];
  iterations: number;
  /** Tracks per iteration, and the triplet selection: a resumed run goes on with the same (absent in older files). */
  batchSize?: number;
  selection?: 'batch-all' | 'batch-hard' | 'literal';
  /** Tracks trained on (their log-mels decoded). */
  trainTracks?: number;
  /** Iterations done so far (less than `iterations` while training or after a cancel). */
  done: number;
  history: Array<{ iteration: number; task: string; loss: number }>;
  /** Tracks held out of training (for evaluation). */
  heldOut: number[];
  /**
   * Whether the model's track vectors carry the track's `dsp` vector beside the learned features (late fusion,
   * see `FUSED_LEARNED_WEIGHT`); absent in models made before it, which embed the learned features alone.
   */
  withDsp?: boolean;
  backend: string;
  createdAt: number;
  updatedAt: number;
}

const NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
export const RESERVED_NAMES = new Set(['dsp', 'mfcc', 'rand', 'random']);

export function checkModelName(name: string): void {
  if (!NAME.test(name)) throw new Error(`A model name starts with a letter and has up to 64 letters, digits, ".", "_" or "-": ${JSON.stringify(name)} does not.`);
  if (RESERVED_NAMES.has(name.toLowerCase())) throw new Error(`"${name}" is a built-in representation's name; choose another.`);
  if (/\.(saving|old|deleting)$/i.test(name)) throw new Error(`A model name may not end in ".saving", ".old" or ".deleting" (Earmark's own working folders): ${JSON.stringify(name)}.`);
}

/** A model that is not there: reported as not-found by every shell. */
export class ModelNotFoundError extends Error {
  readonly code = 'not-found';
}

/**
 * Finish a save that a crash or kill interrupted between its two renames (`dir` → `dir.old`, `dir.saving` →
 * `dir`): the new version if it was written whole (its `earmark.json` is written last), else the old one.
 */
export function recoverModel(dir: string): void {
  const old = `${dir}.old`;
  const saving = `${dir}.saving`;
  if (existsSync(dir)) {
    rmSync(old, { recursive: true, force: true });
    return;
  }
  if (!existsSync(old)) return;
  const whole = ['model.json', 'weights.bin', 'earmark.json'].every((f) => existsSync(join(saving, f)));
  if (whole) {
    renameSync(saving, dir);
    rmSync(old, { recursive: true, force: true });
  } else renameSync(old, dir);
}

/** The whole network as one layers model: outputs `[feature, …task outputs]`. */
function wholeModel(tf: Tf, enc: Encoder): LayersModel {
  // Every input: the patch, and the second patch of each pair task.
  const inputs = [...new Set([enc.featureModel.inputs[0], ...[...enc.taskModels.values()].flatMap((m) => m.inputs)])];
  const outputs: SymbolicTensor[] = [enc.featureModel.outputs[0], ...[...enc.taskModels.values()].map((m) => m.outputs[0])];
  return tf.model({ inputs, outputs, name: 'earmark_encoder' });
}

/**
 * Write the optimisers' state (Adam's step count and moments, per task) as `optimizer.json` + `optimizer.bin`.
 * Their order is the order Adam keeps them in, which is the order of the network's trainable weights, so a
 * rebuilt network takes them back by position.
 */
async function writeOptimizers(tf: Tf, dir: string, optimizers: ReadonlyMap<string, Optimizer>): Promise<void> {
  const entries: Array<{ task: string; names: string[]; specs: io.WeightsManifestEntry[]; offset: number; bytes: number }> = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [task, opt] of optimizers) {
    const named = await opt.getWeights();
    try {
      const { data, specs } = await tf.io.encodeWeights(named);
      const buf = Buffer.from(data);
      entries.push({ task, names: named.map((n) => n.name), specs, offset, bytes: buf.length });
      chunks.push(buf);
      offset += buf.length;
    } finally {
      // The first entry (the step count) is a new tensor; the moments are the optimiser's own variables.
      named[0]?.tensor.dispose();
    }
  }
  writeFileSync(join(dir, 'optimizer.bin'), Buffer.concat(chunks));
  writeFileSync(join(dir, 'optimizer.json'), JSON.stringify({ format: 1, optimizers: entries }));
}

/** Restore optimisers saved with the model (no-op for a model saved without them). Returns the tasks restored. */
export async function restoreOptimizers(tf: Tf, dir: string, optimizers: ReadonlyMap<string, Optimizer>): Promise<string[]> {
  const file = join(dir, 'optimizer.json');
  if (!existsSync(file)) return [];
  const { optimizers: entries } = JSON.parse(readFileSync(file, 'utf8')) as { optimizers: Array<{ task: string; names: string[]; specs: io.WeightsManifestEntry[]; offset: number; bytes: number }> };
  const data = readFileSync(join(dir, 'optimizer.bin'));
  const restored: string[] = [];
  for (const e of entries) {
    const opt = optimizers.get(e.task);
    if (!opt) continue;
    const buf = data.subarray(e.offset, e.offset + e.bytes);
    const map = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), e.specs);
    const named = e.names.map((name) => ({ name, tensor: map[name] }));
    // setWeights makes variables of the moments (sharing their data) and reads the step count.
    await opt.setWeights(named);
    tf.dispose(Object.values(map));
    restored.push(e.task);
  }
  return restored;
}

export async function saveModel(tf: Tf, dir: string, enc: Encoder, meta: ModelMeta, optimizers?: ReadonlyMap<string, Optimizer>): Promise<void> {
  const tmp = `${dir}.saving`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  if (optimizers) await writeOptimizers(tf, tmp, optimizers);
  const whole = wholeModel(tf, enc);
  await whole.save(
    tf.io.withSaveHandler(async (a: io.ModelArtifacts) => {
      const weights = a.weightData instanceof ArrayBuffer ? Buffer.from(a.weightData) : Buffer.concat((a.weightData as ArrayBuffer[]).map((b) => Buffer.from(b)));
      writeFileSync(join(tmp, 'weights.bin'), weights);
      writeFileSync(
        join(tmp, 'model.json'),
        JSON.stringify({ format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }),
      );
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  writeFileSync(join(tmp, 'earmark.json'), JSON.stringify({ ...meta, updatedAt: Date.now() }, null, 1));
  // Replace the previous version in one rename (the old one moves aside first, then goes).
  const old = `${dir}.old`;
  rmSync(old, { recursive: true, force: true });
  if (existsSync(dir)) renameSync(dir, old);
  renameSync(tmp, dir);
  rmSync(old, { recursive: true, force: true });
}

export function readMeta(dir: string): ModelMeta {
  recoverModel(dir);
  const p = join(dir, 'earmark.json');
  if (!existsSync(p)) throw new ModelNotFoundError(`No model named "${basename(dir)}" (see \`earmark models\`).`);
  return JSON.parse(readFileSync(p, 'utf8')) as ModelMeta;
}

/** Load a saved encoder on the current backend; `untrained` gives the same network freshly initialised (`rand`). */
export async function loadModel(tf: Tf, dir: string, { untrained = false } = {}): Promise<{ enc: Encoder; meta: ModelMeta }> {
  const meta = readMeta(dir);
  const spec: EncoderSpec = { arch: meta.arch, fusion: meta.fusion, tasks: meta.tasks, frames: meta.patch.frames, nMels: meta.patch.nMels, seed: meta.seed };
  const enc = buildEncoder(tf, spec);
  if (untrained) return { enc, meta };
  const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { weightsManifest: Array<{ weights: io.WeightsManifestEntry[] }> };
  const data = readFileSync(join(dir, 'weights.bin'));
  const tensors = tf.io.decodeWeights(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength), json.weightsManifest[0].weights);
  const whole = wholeModel(tf, enc);
  // Weights by name: the saved network and the rebuilt one have the same layers in the same order.
  const names = whole.weights.map((w) => w.originalName);
  const missing = names.filter((n) => !(n in tensors));
  if (missing.length) throw new Error(`The model at ${dir} does not fit its description (missing ${missing.slice(0, 3).join(', ')}).`);
  whole.setWeights(names.map((n) => tensors[n]));
  tf.dispose(Object.values(tensors));
  return { enc, meta };
}

export function listModels(modelsDir: string): ModelMeta[] {
  if (!existsSync(modelsDir)) return [];
  for (const d of readdirSync(modelsDir)) {
    if (d.endsWith('.old')) recoverModel(join(modelsDir, d.slice(0, -4)));
    // A delete that was interrupted: finish it.
    if (d.endsWith('.deleting')) rmSync(join(modelsDir, d), { recursive: true, force: true });
  }
  return readdirSync(modelsDir)
    .filter((d) => !d.includes('.') || NAME.test(d))
    .filter((d) => existsSync(join(modelsDir, d, 'earmark.json')) && !/\.(saving|old|deleting)$/.test(d))
    .map((d) => readMeta(join(modelsDir, d)));
}

/**
 * One file with everything: `{ earmark, model, weights (base64) }`, and the optimisers' state when the model
 * has it (`optimizer: { json, bin (base64) }`), so an unfinished model imported elsewhere resumes with its
 * Adam moments as it would have here.
 */
export function exportModel(dir: string, out: string): void {
  const optimizer = existsSync(join(dir, 'optimizer.json'))
    ? { json: JSON.parse(readFileSync(join(dir, 'optimizer.json'), 'utf8')) as unknown, bin: readFileSync(join(dir, 'optimizer.bin')).toString('base64') }
    : undefined;
  const file = {
    format: 'earmark-model',
    version: 1,
    earmark: readMeta(dir),
    model: JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')),
    weights: readFileSync(join(dir, 'weights.bin')).toString('base64'),
    ...(optimizer ? { optimizer } : {}),
  };
  writeFileSync(`${out}.tmp`, JSON.stringify(file));
  renameSync(`${out}.tmp`, out);
}

export function importModel(file: string, modelsDir: string, name?: string): ModelMeta {
  let parsed: { format?: string; earmark?: ModelMeta; model?: unknown; weights?: string; optimizer?: { json?: unknown; bin?: unknown } };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file} is not an Earmark model file (${e instanceof Error ? e.message : String(e)}).`);
  }
  if (parsed.format !== 'earmark-model' || !parsed.earmark || !parsed.model || typeof parsed.weights !== 'string') throw new Error(`${file} is not an Earmark model file.`);
  const opt = parsed.optimizer;
  if (opt !== undefined && (typeof opt !== 'object' || opt === null || typeof opt.json !== 'object' || typeof opt.bin !== 'string')) {
    throw new Error(`${file} has a damaged optimizer section.`);
  }
  const meta: ModelMeta = { ...parsed.earmark, name: name ?? parsed.earmark.name };
  checkModelName(meta.name);
  const dir = join(modelsDir, meta.name);
  if (existsSync(dir)) throw new Error(`A model named "${meta.name}" exists already; import under another name.`);
  const tmp = `${dir}.saving`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'model.json'), JSON.stringify(parsed.model));
  writeFileSync(join(tmp, 'weights.bin'), Buffer.from(parsed.weights, 'base64'));
  if (opt) {
    writeFileSync(join(tmp, 'optimizer.bin'), Buffer.from(opt.bin as string, 'base64'));
    writeFileSync(join(tmp, 'optimizer.json'), JSON.stringify(opt.json));
  }
  writeFileSync(join(tmp, 'earmark.json'), JSON.stringify(meta, null, 1));
  renameSync(tmp, dir);
  return meta;
}

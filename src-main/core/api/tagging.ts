import { dirname } from 'node:path';
import type { TagEvaluation } from '../contract.js';
import { HeadDataError } from '../learn/heads/head.js';
import { applyNormaliser } from '../index/normalise.js';
import { defaultRepresentation } from './recommend.js';
import { evaluateTags as evaluateHead } from '../learn/tag-evaluation.js';
import { predictField, type FieldPrediction, type PredictOptions } from '../learn/tag-predictions.js';
import { acceptedEdits, markWritten } from '../learn/tag-review.js';
import { cleanStrayTemps, newBatchId, readJournal, safeWriteTags, TagWriteError, type FacetChanges } from '../library/tag-writer.js';
import type { ApiContext } from './context.js';

/** Tags: writing them into files (journaled, undoable), and the heads that learn, predict and evaluate tag fields. */

export interface TagWriteReport {
  batch: string;
  dryRun: boolean;
  written: Array<{ trackId: number; path: string; before: Record<string, string[]>; after: Record<string, string[]> }>;
  refused: Array<{ trackId: number | null; path: string | null; code: string; message: string }>;
  undoOf?: string;
}

export interface PredictReport {
  fields: FieldPrediction[];
  /** Fields with too little to learn from, and why. */
  refused: Array<{ field: string; reason: string }>;
}

/**
 * Write facet tags into library files, safely (see `safeWriteTags`), as one journaled batch that `undoTags`
 * reverses. Each file is refused on its own (changed since the scan, read-only, unsupported…); the rest go on.
 */
export async function writeTags(
  ctx: ApiContext,
  edits: Array<{ trackId: number; changes: FacetChanges }>,
  o: { dryRun?: boolean; id3Version?: 3 | 4; onProgress?: (done: number, total: number) => void } = {},
): Promise<TagWriteReport> {
  const batch = newBatchId();
  const report: TagWriteReport = { batch, written: [], refused: [], dryRun: !!o.dryRun };
  let done = 0;
  for (const { trackId, changes } of edits) {
    const t = ctx.store.trackById(trackId);
    if (!t) {
      report.refused.push({ trackId, path: null, code: 'missing', message: `No track with id ${trackId}.` });
      continue;
    }
    const before = ctx.store.tagsOf(trackId);
    const changed = Object.fromEntries(
      Object.entries(changes)
        .map(([f, v]) => [f.toLowerCase(), v] as const)
        .filter(([f, v]) => (before[f] ?? []).join('\u0000') !== v.join('\u0000')),
    );
    if (Object.keys(changed).length === 0) continue;
    if (o.dryRun) {
      report.written.push({ trackId, path: t.path, before: Object.fromEntries(Object.keys(changed).map((f) => [f, before[f] ?? []])), after: changed });
      continue;
    }
    try {
      cleanStrayTemps(dirname(t.path));
      const r = await safeWriteTags(t.path, changed, {
        ffmpeg: ctx.ffmpeg(),
        journalDir: ctx.paths.journalDir,
        batch,
        expected: { size: t.size, mtimeMs: t.mtime_ms, hash: t.content_hash },
        id3Version: o.id3Version,
      });
      ctx.store.transaction(() => {
        ctx.store.updateFileIdentity(trackId, { size: r.file.size, mtimeMs: r.file.mtimeMs, hash: r.file.hash });
        ctx.store.setFacts(trackId, r.facts);
        // The audio is bit-identical: the analysis stays valid for the new content hash.
        ctx.store.db.prepare('UPDATE vectors SET content_hash = ? WHERE track_id = ?').run(r.file.hash, trackId);
      });
      report.written.push({ trackId, path: t.path, before: r.before, after: r.after });
    } catch (e) {
      const code = e instanceof TagWriteError ? e.code : 'write-failed';
      report.refused.push({ trackId, path: t.path, code, message: e instanceof Error ? e.message : String(e) });
    }
    o.onProgress?.(++done, edits.length);
  }
  return report;
}

/** Restore the values a batch replaced, in every file not edited since (those are refused). */
export async function undoTags(ctx: ApiContext, batch: string): Promise<TagWriteReport> {
  const entries = readJournal(ctx.paths.journalDir, batch);
  const edits: Array<{ trackId: number; changes: FacetChanges }> = [];
  const refused: TagWriteReport['refused'] = [];
  for (const e of entries) {
    const t = ctx.store.trackByPath(e.path);
    if (!t) {
      refused.push({ trackId: null, path: e.path, code: 'missing', message: `${e.path} is no longer in the library.` });
      continue;
    }
    const now = ctx.store.tagsOf(t.id);
    const untouched = Object.entries(e.after).every(([f, v]) => (now[f] ?? []).join('\u0000') === v.join('\u0000'));
    if (!untouched) {
      refused.push({ trackId: t.id, path: e.path, code: 'changed-since-scan', message: `${e.path} was edited after batch ${batch}; its tags are left as they are.` });
      continue;
    }
    edits.push({ trackId: t.id, changes: e.before });
  }
  const r = await writeTags(ctx, edits);
  return { ...r, refused: [...refused, ...r.refused], undoOf: batch };
}

/**
 * Learn each field from the library's own tags and store predictions for every analysed track. A field with
 * too little to learn from is refused with its reason and the others go on; when every field is refused,
 * the first reason is thrown.
 */
export async function predict(ctx: ApiContext, o: Omit<PredictOptions, 'field'> & { fields: string[] }): Promise<PredictReport> {
  const { tf } = await ctx.tf();
  const report: PredictReport = { fields: [], refused: [] };
  const representation = o.representation ?? defaultRepresentation(ctx).name;
  for (const field of o.fields) {
    try {
      report.fields.push(await predictField(ctx.store, tf, { ...indexSpace(ctx, representation), ...o, representation, field }));
    } catch (e) {
      if (!(e instanceof HeadDataError)) throw e;
      report.refused.push({ field, reason: e.message });
    }
  }
  if (report.fields.length === 0 && report.refused.length) throw new HeadDataError(report.refused.map((r) => r.reason).join(' '));
  return report;
}

/** Held-out evaluation of a head for one field (85/15, stratified or by artist). */
export async function evaluateTags(ctx: ApiContext, o: Parameters<typeof evaluateHead>[2]): Promise<TagEvaluation> {
  const { tf } = await ctx.tf();
  const representation = o.representation ?? defaultRepresentation(ctx).name;
  return evaluateHead(ctx.store, tf, { ...indexSpace(ctx, representation), ...o, representation });
}

/**
 * A representation's stored vectors in its index's space (what `similar` compares, and the kNN head too), and
 * that space's feature groups with their weights.
 */
function indexSpace(ctx: ApiContext, representation: string | undefined): { normalise?: (v: Float32Array) => Float32Array; groups?: Array<{ start: number; end: number; weight: number }> } {
  const rep = representation ?? 'dsp';
  if (!ctx.store.representation(rep) || ctx.store.vectorCount(rep) === 0) return {};
  const normaliser = ctx.indexes.ensure(rep).meta.normaliser;
  return { normalise: (v) => applyNormaliser(normaliser, v), groups: normaliser.groups?.map((g) => ({ start: g.start, end: g.end, weight: g.scale * g.scale })) };
}

/**
 * Write the accepted predictions into the files (one journaled batch, through `writeTags`); written values
 * become the files' own. `dryRun` shows the edits and writes nothing.
 */
export async function writeAccepted(
  ctx: ApiContext,
  o: { fields?: string[]; minConfidence?: number; trackIds?: number[]; dryRun?: boolean; id3Version?: 3 | 4; onProgress?: (done: number, total: number) => void } = {},
): Promise<TagWriteReport> {
  const edits = acceptedEdits(ctx.store, o);
  const report = await writeTags(
    ctx,
    edits.map(({ trackId, changes }) => ({ trackId, changes })),
    { dryRun: o.dryRun, id3Version: o.id3Version, onProgress: o.onProgress },
  );
  if (!o.dryRun) {
    const written = new Set(report.written.map((w) => w.trackId));
    // Values already in the file (nothing to write) count as written too.
    const refused = new Set(report.refused.map((r) => r.trackId));
    ctx.store.transaction(() => {
      for (const e of edits) if (written.has(e.trackId) || !refused.has(e.trackId)) markWritten(ctx.store, e.trackId, e.values);
    });
  }
  return report;
}

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readMeta } from '../learn/model-store.js';
import { isFacetField } from '../library/read-tags.js';
import type { TagEvaluation } from '../contract.js';
import { HeadDataError } from '../learn/heads/head.js';
import { applyNormaliser } from '../index/normalise.js';
import { defaultRepresentation } from './recommend.js';
import { evaluateTags as evaluateHead } from '../learn/tag-evaluation.js';
import { predictField, type FieldPrediction, type PredictOptions } from '../learn/tag-predictions.js';
import { acceptedEdits, markWritten, nothingToWriteReason, reopenUnwritten } from '../learn/tag-review.js';
import { cleanStrayTemps, listBatches, newBatchId, readJournal, restoreOriginalBytes, safeWriteTags, TagWriteError, type FacetChanges, type JournalEntry, type SafeWriteResult, type UndoMode } from '../library/tag-writer.js';
import { contentHash } from '../library/content-hash.js';
import type { ApiContext } from './context.js';

/** Tags: writing them into files (journaled, undoable), and the heads that learn, predict and evaluate tag fields. */

export interface TagWriteReport {
  batch: string;
  dryRun: boolean;
  written: Array<{
    trackId: number;
    path: string;
    before: Record<string, string[]>;
    after: Record<string, string[]>;
    /** Undo only: the file's original bytes came back, or (it changed since the write) its values. */
    restored?: UndoMode;
  }>;
  refused: Array<{ trackId: number | null; path: string | null; code: string; message: string }>;
  undoOf?: string;
  /** When nothing was written or refused: why, and what to run. */
  nothingBecause?: string;
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
  o: { dryRun?: boolean; id3Version?: 3 | 4; onProgress?: (done: number, total: number) => void; batch?: string; undoOf?: string } = {},
): Promise<TagWriteReport> {
  const notFacets = [...new Set(edits.flatMap((e) => Object.keys(e.changes)))].filter((f) => !isFacetField(f));
  if (notFacets.length) {
    throw new Error(
      `${notFacets.join(', ')} ${notFacets.length === 1 ? 'is not a facet field' : 'are not facet fields'}: Earmark writes genre, mood, style, theme and other descriptive fields, not titles, artists, albums, numbers, dates or technical fields. Use a tagger for those.`,
    );
  }
  const batch = o.batch ?? newBatchId();
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
    // A file that holds less audio than its header says is probably still being copied: replacing it now would
    // leave the copy writing into a file that is gone.
    if (ctx.store.errorOf(trackId, 'truncated', t.content_hash)) {
      report.refused.push({
        trackId,
        path: t.path,
        code: 'truncated',
        message: `${t.path} holds less audio than its header says (cut short, or still being copied); no ${Object.keys(changed).join(', ')} written. Let the copy finish (or copy it again), scan, then write.`,
      });
      continue;
    }
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
        undoOf: o.undoOf,
      });
      recordWrite(ctx, trackId, r);
      report.written.push({ trackId, path: t.path, before: r.before, after: r.after });
    } catch (e) {
      const code = e instanceof TagWriteError ? e.code : 'write-failed';
      // The next scan re-reads it by content, even if its size and time say it did not change.
      if (code === 'changed-since-scan') ctx.store.markStale(trackId);
      report.refused.push({ trackId, path: t.path, code, message: e instanceof Error ? e.message : String(e) });
    }
    o.onProgress?.(++done, edits.length);
  }
  return report;
}

/**
 * Undo a batch (`"last"`: the latest one). A file untouched since the write gets its original bytes back
 * (`restoreOriginalBytes`, checked by SHA-256), so the tag version, field names, padding and chunk layout are the
 * original's. A file changed since (edited by another program, rewritten) gets the values the batch replaced,
 * written in the ID3v2 version it had, unless the batch's own fields were edited since: then it is refused and left
 * as it is. Each written file says which (`restored`).
 */
export async function undoTags(ctx: ApiContext, batchOrLast: string): Promise<TagWriteReport> {
  const batch = batchOrLast === 'last' ? latestBatch(ctx) : batchOrLast;
  const entries = readJournal(ctx.paths.journalDir, batch);
  const undoBatch = newBatchId();
  const report: TagWriteReport = { batch: undoBatch, written: [], refused: [], dryRun: false, undoOf: batch };
  const byValues: Array<{ entry: JournalEntry; trackId: number }> = [];
  for (const e of entries) {
    const t = ctx.store.trackByPath(e.path);
    if (!t) {
      report.refused.push({ trackId: null, path: e.path, code: 'missing', message: `${e.path} is no longer in the library; scan its folder, then undo again.` });
      continue;
    }
    // A write journaled but never carried out (refused, or a crash before its rename) left the file as it was.
    if (e.state === 'pending' && (await contentHash(t.path).catch(() => null)) === e.hashBefore) continue;
    try {
      cleanStrayTemps(dirname(t.path));
      const r = await restoreOriginalBytes(e, {
        ffmpeg: ctx.ffmpeg(),
        journalDir: ctx.paths.journalDir,
        batch: undoBatch,
        expected: { size: t.size, mtimeMs: t.mtime_ms, hash: t.content_hash },
      });
      if (r) {
        recordWrite(ctx, t.id, r);
        report.written.push({ trackId: t.id, path: t.path, before: r.before, after: r.after, restored: 'bytes' });
      } else byValues.push({ entry: e, trackId: t.id });
    } catch (err) {
      const code = err instanceof TagWriteError ? err.code : 'write-failed';
      if (code === 'changed-since-scan') ctx.store.markStale(t.id);
      report.refused.push({ trackId: t.id, path: t.path, code, message: err instanceof Error ? err.message : String(err) });
    }
  }
  // The files changed since the write: their values, where the batch's fields are still what it wrote.
  for (const { entry: e, trackId } of byValues) {
    const now = ctx.store.tagsOf(trackId);
    const edited = Object.entries(e.after).filter(([f, v]) => (now[f] ?? []).join('\u0000') !== v.join('\u0000')).map(([f]) => f);
    if (edited.length) {
      report.refused.push({
        trackId,
        path: e.path,
        code: 'changed-since-scan',
        message: `${e.path}: ${edited.join(', ')} ${edited.length === 1 ? 'was' : 'were'} edited after batch ${batch}; left as ${edited.length === 1 ? 'it is' : 'they are'} (set the values by hand with earmark tag --set if you want the old ones).`,
      });
      continue;
    }
    const v = e.id3VersionBefore;
    const r = await writeTags(ctx, [{ trackId, changes: e.before }], { id3Version: v === 4 ? 4 : v === 2 || v === 3 ? 3 : undefined, batch: undoBatch, undoOf: batch });
    report.written.push(...r.written.map((w) => ({ ...w, restored: 'values' as const })));
    report.refused.push(...r.refused);
  }
  return report;
}

/**
 * What `--undo last` undoes: the newest batch that is neither an undo nor undone already, so repeating it steps
 * back through the writes instead of toggling the last one.
 */
function latestBatch(ctx: ApiContext): string {
  const all = listBatches(ctx.paths.journalDir);
  if (all.length === 0) throw new Error('No tags have been written yet: there is nothing to undo.');
  const b = all.find((x) => !x.undoOf && !x.undoneBy);
  if (!b) throw new Error('Every batch written has been undone already: there is nothing left to undo (earmark tag --batches lists them; undo an undo by naming its batch).');
  return b.batch;
}

/** After a write or an undo: the file's new identity and tags in the store; its analysis stays valid. */
function recordWrite(ctx: ApiContext, trackId: number, r: SafeWriteResult): void {
  ctx.store.transaction(() => {
    ctx.store.updateFileIdentity(trackId, { size: r.file.size, mtimeMs: r.file.mtimeMs, hash: r.file.hash });
    ctx.store.setFacts(trackId, r.facts);
    // The audio is bit-identical: the analysis stays valid for the new content hash.
    ctx.store.db.prepare('UPDATE vectors SET content_hash = ? WHERE track_id = ?').run(r.file.hash, trackId);
    ctx.store.rehashModelOutputs(trackId, r.file.hash);
    // Values an undo took out of the file are no longer written: open for review again.
    reopenUnwritten(ctx.store, trackId);
  });
}

/**
 * Learn each field from the library's own tags and store predictions for every analysed track. A field with
 * too little to learn from is refused with its reason and the others go on; when every field is refused,
 * the first reason is thrown.
 */
export async function predict(ctx: ApiContext, o: Omit<PredictOptions, 'field'> & { fields: string[] }): Promise<PredictReport> {
  const { tf } = await ctx.tf();
  const report: PredictReport = { fields: [], refused: [] };
  for (const field of o.fields) {
    const representation = o.representation ?? headRepresentation(ctx, field);
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
  const representation = o.representation ?? headRepresentation(ctx, o.field);
  return evaluateHead(ctx.store, tf, { ...indexSpace(ctx, representation), ...o, representation });
}

/**
 * The representation a head for `field` learns from when none is named: the library's default, unless that is a
 * model trained on this very field's tags. Such a model has seen the labels the head is cross-validated and
 * calibrated on, so its accuracy would be overstated and its confidences too high (on a real split: 92.5 %
 * cross-validated, 21 of 37 held-out tracks right, against 24 on dsp); dsp is used instead.
 */
export function headRepresentation(ctx: ApiContext, field: string): string {
  const name = defaultRepresentation(ctx).name;
  const dir = join(ctx.paths.modelsDir, name);
  if (!existsSync(join(dir, 'earmark.json'))) return name;
  try {
    const fields = readMeta(dir).fields.map((f) => f.toLowerCase());
    return fields.includes(field.toLowerCase()) ? 'dsp' : name;
  } catch {
    return name;
  }
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
  if (report.written.length === 0 && report.refused.length === 0) report.nothingBecause = nothingToWriteReason(ctx.store, o);
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

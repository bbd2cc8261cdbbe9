import { z } from 'zod';
import { ENCODER_ARCHS, ENCODER_FUSIONS, HEAD_KINDS, LEARNING_SOURCES, REVIEW_STATES, SORT_COLUMNS, type ApiMethod, type ApiRequest } from './contract.js';

/**
 * Runtime checks of every request in the contract. Main (IPC) and the web server run `validateRequest` before
 * anything reaches the core; a bad argument is refused with a message naming the field.
 */
const empty = z.object({}).strict();
const field = z.string().trim().min(1).max(64).regex(/^[\p{L}\p{N}_ .:-]+$/u, 'a tag field name');
const tagFilter = z.record(field, z.array(z.string().max(500)).max(200));
const rep = z.string().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/, 'a representation name');
const absPath = z.string().min(1).max(4096).refine((s) => !s.includes('\0'), 'a path without NUL bytes');
const id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const confidence = z.number().min(0).max(1);
const headKind = z.enum(HEAD_KINDS);
const minSupport = z.number().int().min(1).max(100_000);
const modelName = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'a model name (a letter, then up to 63 letters, digits, ".", "_" or "-")');

export const REQUEST_SCHEMAS = {
  info: empty,
  addFolder: z.object({ path: absPath }).strict(),
  removeFolder: z.object({ path: absPath }).strict(),
  queryTracks: z
    .object({
      offset: z.number().int().min(0),
      limit: z.number().int().min(1).max(2000),
      search: z.string().max(500).optional(),
      sort: z.object({ column: z.enum(SORT_COLUMNS), direction: z.enum(['asc', 'desc']) }).strict().optional(),
      facets: tagFilter.optional(),
      status: z.enum(['all', 'analyzed', 'pending', 'error']).optional(),
      review: z.object({ field, state: z.enum(REVIEW_STATES) }).strict().optional(),
    })
    .strict(),
  facets: z.object({ fields: z.array(field).max(50).optional(), limit: z.number().int().min(1).max(1000).optional() }).strict(),
  track: z.object({ id, representation: rep.optional(), k: z.number().int().min(1).max(100).optional() }).strict(),
  similar: z
    .object({
      trackIds: z.array(id).min(1).max(50).optional(),
      path: absPath.optional(),
      uploadId: z.string().regex(/^[a-f0-9]{32}$/).optional(),
      k: z.number().int().min(1).max(1000).optional(),
      representation: rep.optional(),
      artist: z.enum(['same', 'different']).optional(),
      excludeSameAlbum: z.boolean().optional(),
      tags: tagFilter.optional(),
      hubness: z.enum(['mp', 'none']).optional(),
    })
    .strict()
    .refine((r) => [r.trackIds, r.path, r.uploadId].filter((x) => x !== undefined).length === 1, 'give exactly one of trackIds, path, uploadId'),
  startScan: empty,
  startAnalyze: z.object({ representations: z.array(z.enum(['dsp', 'mfcc'])).min(1).max(2).optional() }).strict(),
  cancelJob: z.object({ id: z.string().min(1).max(64) }).strict(),
  jobs: empty,
  map: z.object({ representation: rep.optional(), field: field.optional() }).strict(),
  errors: empty,
  settings: empty,
  updateSettings: z.object({ ffmpegPath: absPath.nullable().optional(), defaultRepresentation: rep.nullable().optional() }).strict(),
  startPredict: z.object({ fields: z.array(field).min(1).max(20), representation: rep.optional(), kind: headKind.optional(), minSupport: minSupport.optional() }).strict(),
  reviewSummary: empty,
  proposals: z
    .object({
      field,
      status: z.enum(['pending', 'accepted', 'rejected', 'open']).optional(),
      suspiciousOnly: z.boolean().optional(),
      minConfidence: confidence.optional(),
      offset: z.number().int().min(0),
      limit: z.number().int().min(1).max(1000),
    })
    .strict(),
  review: z
    .object({
      action: z.enum(['accept', 'reject', 'reset']),
      field: field.optional(),
      trackIds: z.array(id).min(1).max(100_000).optional(),
      values: z.array(z.string().min(1).max(500)).min(1).max(500).optional(),
      minConfidence: confidence.optional(),
      pendingOnly: z.boolean().optional(),
    })
    .strict(),
  evalTags: z
    .object({ field, representation: rep.optional(), kind: headKind.optional(), split: z.enum(['stratified', 'artist']).optional(), minSupport: minSupport.optional(), multiLabel: z.boolean().optional() })
    .strict(),
  startWriteTags: z
    .object({ fields: z.array(field).min(1).max(20).optional(), minConfidence: confidence.optional(), trackIds: z.array(id).min(1).max(100_000).optional() })
    .strict(),
  tagBatches: empty,
  undoTags: z.object({ batch: z.string().regex(/^[A-Za-z0-9_-]{1,80}$/, 'a batch id') }).strict(),
  compute: empty,
  models: empty,
  lossCurve: z.object({ model: modelName, points: z.number().int().min(2).max(2000).optional() }).strict(),
  startTrain: z
    .object({
      name: modelName,
      kind: z.enum(['multitask', 'triplet']).optional(),
      sources: z.array(z.enum(LEARNING_SOURCES)).min(1).max(LEARNING_SOURCES.length).optional(),
      fields: z.array(field).min(1).max(20).optional(),
      arch: z.enum(ENCODER_ARCHS).optional(),
      fusion: z.enum(ENCODER_FUSIONS).optional(),
      iterations: z.number().int().min(1).max(10_000_000).optional(),
      epochs: z.number().int().min(1).max(100_000).optional(),
      batchSize: z.number().int().min(2).max(4096).optional(),
      selection: z.enum(['batch-all', 'batch-hard', 'literal']).optional(),
      holdOut: z.number().min(0).max(0.5).optional(),
      withDsp: z.boolean().optional(),
      seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
      resume: z.boolean().optional(),
    })
    .strict(),
  startEmbed: z.object({ model: modelName, rand: z.boolean().optional() }).strict(),
  deleteModel: z.object({ model: modelName }).strict(),
  publishedModels: empty,
  importModel: z.object({ path: absPath, name: modelName.optional() }).strict(),
  startCompare: z
    .object({ representations: z.array(rep).min(1).max(20), queriesFrom: modelName.optional(), headFields: z.array(field).max(20).optional(), headKind: headKind.optional(), minSupport: minSupport.optional() })
    .strict(),
  comparison: empty,
} satisfies Record<ApiMethod, z.ZodType>;

export class BadRequestError extends Error {
  readonly code = 'bad-request';
}

export function isApiMethod(m: unknown): m is ApiMethod {
  return typeof m === 'string' && Object.prototype.hasOwnProperty.call(REQUEST_SCHEMAS, m);
}

/** Check a method name and its request; throws `BadRequestError` saying what is wrong. */
export function validateRequest<M extends ApiMethod>(method: unknown, req: unknown): { method: M; req: ApiRequest<M> } {
  if (!isApiMethod(method)) throw new BadRequestError(`Unknown method ${JSON.stringify(method)}.`);
  const r = REQUEST_SCHEMAS[method].safeParse(req ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue.path.length ? issue.path.join('.') : 'request';
    throw new BadRequestError(`Bad ${method} request: ${where}: ${issue.message}`);
  }
  return { method: method as M, req: r.data as ApiRequest<M> };
}

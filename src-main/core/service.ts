import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { Earmark } from './api.js';
import type {
  ApiEvent,
  ApiMethod,
  ApiRequest,
  ApiResponse,
  ErrorReport,
  ModelSummary,
  RepresentationComparison,
  SimilarRequest,
  TagHeadKind,
  TrainJobRequest,
} from './contract.js';
import { lastLoss, lossCurve, type LossPoint } from './learn/loss-curve.js';
import { checkModelName, readMeta, type ModelMeta } from './learn/model-store.js';
import { lastComparison } from './api/recommend.js';
import { BadRequestError, validateRequest } from './contract-schema.js';
import { JobManager } from './jobs/job-manager.js';
import { facetCounts, queryTracks } from './library/track-query.js';
import { HeadDataError } from './learn/heads/head.js';
import { resolveLibraryFile } from './media.js';
import { isAudioPath } from './library/walk.js';
import { NotFoundError } from './service-errors.js';
import { libraryMap, trackDetail } from './service-views.js';

export { NotFoundError };

type Handlers = { [M in ApiMethod]: (req: ApiRequest<M>) => Promise<ApiResponse<M>> | ApiResponse<M> };

const MAX_UPLOAD = 512 * 1024 * 1024;

/**
 * The backend behind every interactive shell (Electron's utility process, the web server): the contract's
 * methods over `Earmark`, jobs with progress events, uploads for search-by-file, and the map cache.
 * Requests are validated here as well as at the edge, so no shell can skip it.
 */
export class EarmarkService {
  readonly earmark: Earmark;
  readonly jobs = new JobManager();
  private readonly listeners = new Set<(e: ApiEvent) => void>();
  private readonly uploadsDir: string;
  private readonly mapsDir: string;
  private readonly handlers: Handlers;

  constructor(o: { home?: string | null; ffmpegPath?: string | null } = {}) {
    this.earmark = Earmark.open(o);
    this.uploadsDir = join(this.earmark.paths.home, 'uploads');
    this.mapsDir = join(this.earmark.paths.home, 'maps');
    rmSync(this.uploadsDir, { recursive: true, force: true });
    this.jobs.onChange((job) => {
      this.emit({ type: 'job', job });
      if (job.finishedAt !== null) this.emit({ type: 'library-changed' });
    });
    this.handlers = this.makeHandlers();
  }

  onEvent(listener: (e: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: ApiEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** Validate and run one call. */
  async call<M extends ApiMethod>(method: unknown, req: unknown): Promise<ApiResponse<M>> {
    const v = validateRequest<M>(method, req);
    const h = this.handlers[v.method] as (r: ApiRequest<M>) => Promise<ApiResponse<M>> | ApiResponse<M>;
    return h(v.req);
  }

  /** Roots as stored: media is served only from inside them. */
  roots(): string[] {
    return this.earmark.store.roots().map((r) => r.path);
  }

  mediaFile(requestedPath: string): string {
    return resolveLibraryFile(this.roots(), requestedPath);
  }

  /** Keep an audio file sent by the page for search-by-file; returns its upload id. */
  saveUpload(name: string, bytes: Buffer): string {
    if (bytes.length === 0) throw new BadRequestError('The file is empty.');
    if (bytes.length > MAX_UPLOAD) throw new BadRequestError('The file is larger than 512 MB.');
    const ext = extname(name).toLowerCase();
    if (!isAudioPath(`x${ext}`)) throw new BadRequestError(`"${name}" is not an audio file Earmark reads (mp3, flac, ogg, opus, m4a, wav, aiff…).`);
    mkdirSync(this.uploadsDir, { recursive: true });
    // Keep the 20 most recent uploads.
    const old = readdirSync(this.uploadsDir)
      .map((f) => ({ f, t: statSync(join(this.uploadsDir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const o of old.slice(19)) rmSync(join(this.uploadsDir, o.f), { force: true });
    const id = randomBytes(16).toString('hex');
    const tmp = join(this.uploadsDir, `${id}.part`);
    writeFileSync(tmp, bytes);
    renameSync(tmp, join(this.uploadsDir, `${id}${ext}`));
    return id;
  }

  private uploadPath(id: string): string {
    const f = existsSync(this.uploadsDir) ? readdirSync(this.uploadsDir).find((x) => x.startsWith(`${id}.`) && !x.endsWith('.part')) : undefined;
    if (!f) throw new NotFoundError('That uploaded file is gone; drop it again.');
    return join(this.uploadsDir, f);
  }

  async close(): Promise<void> {
    await this.jobs.shutdown();
    this.earmark.close();
  }

  private startScan() {
    const roots = this.roots();
    if (roots.length === 0) throw new BadRequestError('No music folders yet: add one first.');
    return this.jobs.start('scan', `Scan ${roots.length === 1 ? roots[0] : `${roots.length} folders`}`, async (ctx) => {
      const r = await this.earmark.scan(roots, {
        signal: ctx.signal,
        onProgress: (p) => ctx.progress({ phase: p.phase, done: p.done, total: p.total }),
      });
      const parts = [`${r.files} files`, `${r.added} new`, `${r.changed} changed`, `${r.moved} moved`, `${r.removed} removed`];
      if (r.tagErrors) parts.push(`${r.tagErrors} with unreadable tags`);
      if (r.problems.length) parts.push(`${r.problems.length} problems`);
      return `Scanned: ${parts.join(', ')}.`;
    });
  }

  private startAnalyze(representations?: Array<'dsp' | 'mfcc'>) {
    const reps = representations ?? ['dsp', 'mfcc'];
    return this.jobs.start('analyze', `Analyze (${reps.join(', ')})`, async (ctx) => {
      ctx.progress({ phase: 'analyzing' });
      const r = await this.earmark.analyze({
        representations: reps,
        signal: ctx.signal,
        onProgress: (p) => ctx.progress({ done: p.done, total: p.total, failed: p.failed, etaMs: p.etaMs, current: p.current }),
      });
      if (r.cancelled) return `${r.analyzed} analysed before the cancel; running it again resumes.`;
      return r.total === 0 ? 'Everything is analysed already.' : `Analysed ${r.analyzed} of ${r.total} tracks${r.failed ? `; ${r.failed} could not be decoded (see Status)` : ''}.`;
    });
  }

  private async similar(req: SimilarRequest) {
    const path = req.uploadId ? this.uploadPath(req.uploadId) : req.path;
    return this.earmark.similar({
      trackIds: req.trackIds,
      path,
      k: req.k,
      representation: req.representation,
      artist: req.artist,
      excludeSameAlbum: req.excludeSameAlbum,
      tags: req.tags,
      hubness: req.hubness,
    });
  }

  private startPredict(fields: string[], representation: string | undefined, kind: TagHeadKind | undefined, minSupport: number | undefined) {
    const rep = representation ?? this.earmark.defaultRepresentation().name;
    if (this.earmark.store.vectorCount(rep) === 0) throw new BadRequestError(`No "${rep}" vectors yet: analyze the library first.`);
    return this.jobs.start('predict', `Predict ${fields.join(', ')}`, async (ctx) => {
      const rt = await this.earmark.tf();
      ctx.progress({ phase: `training on ${rt.device}` });
      const r = await this.earmark.predict({
        fields,
        representation: rep,
        kind,
        minSupport,
        signal: ctx.signal,
        // The service answers the window meanwhile: heads train in worker threads, however few the tracks.
        offThread: true,
        onProgress: (p) =>
          ctx.progress({
            phase: `${p.field}: ${p.head} head, fold ${p.fold + 1} of ${p.folds}, loss ${p.loss.toFixed(3)}`,
            done: fields.indexOf(p.field) * p.total + p.done,
            total: fields.length * p.total,
          }),
      });
      return [
        ...r.fields.map(
          (f) =>
            `${f.field}: ${f.proposals} proposals, ${f.suspicious} suspicious (held-out ${f.multiLabel ? `mAP ${(100 * (f.heldOut.meanAveragePrecision ?? 0)).toFixed(0)} %` : `accuracy ${(100 * (f.heldOut.accuracy ?? 0)).toFixed(0)} %`})`,
        ),
        ...r.refused.map((x) => `${x.field} not learned: ${x.reason}`),
      ].join('; ');
    });
  }

  private startWriteTags(o: { fields?: string[]; minConfidence?: number; trackIds?: number[] }) {
    return this.jobs.start('write-tags', 'Write accepted tags', async (ctx) => {
      const r = await this.earmark.writeAccepted({ ...o, onProgress: (done, total) => ctx.progress({ done, total }) });
      if (r.written.length === 0 && r.refused.length === 0) return r.nothingBecause ?? 'Nothing to write.';
      const refused = r.refused.length ? `; ${r.refused.length} refused (${[...new Set(r.refused.map((x) => x.message))].slice(0, 2).join(' ')})` : '';
      return `Wrote ${r.written.length} file(s) in batch ${r.batch}${refused}.`;
    });
  }

  /** Loss of the running training jobs, iteration by iteration (the model file has it up to its last checkpoint). */
  private readonly liveHistory = new Map<string, LossPoint[]>();

  private modelHistory(name: string): { meta: ModelMeta; history: LossPoint[] } {
    const meta = readMeta(join(this.earmark.paths.modelsDir, name));
    const live = this.liveHistory.get(name) ?? [];
    const saved = meta.history.filter((h) => !live.length || h.iteration < live[0].iteration);
    return { meta, history: [...saved, ...live] };
  }

  private models(): ModelSummary[] {
    return this.earmark.models().map((m) => {
      const live = this.liveHistory.get(m.name);
      const history = live?.length ? this.modelHistory(m.name).history : m.history;
      return {
        name: m.name,
        kind: m.kind,
        arch: m.arch,
        fusion: m.fusion,
        sources: m.sources,
        fields: m.fields,
        iterations: m.iterations,
        done: live?.length ? (live.at(-1) as LossPoint).iteration : m.done,
        heldOut: m.heldOut.length,
        backend: m.backend,
        createdAt: m.createdAt,
        updatedAt: m.updatedAt,
        embedded: this.earmark.store.vectorCount(m.name),
        randIsTwin: this.earmark.store.representation('rand')?.version.startsWith(`rand:${m.name}@`) ?? false,
        trainTracks: m.trainTracks ?? null,
        batchSize: m.batchSize ?? null,
        training: this.jobs.active(`train:${m.name}`),
        lastLoss: lastLoss(history),
      };
    });
  }

  private startTrain(r: TrainJobRequest) {
    const dir = join(this.earmark.paths.modelsDir, r.name);
    try {
      checkModelName(r.name);
    } catch (e) {
      throw new BadRequestError((e as Error).message);
    }
    const exists = existsSync(join(dir, 'earmark.json'));
    if (this.jobs.active(`train:${r.name}`)) throw new BadRequestError(`"${r.name}" is training already.`);
    if (exists && !r.resume) throw new BadRequestError(`A model named "${r.name}" exists already: choose another name, or resume it.`);
    if (!exists && r.resume) throw new NotFoundError(`No model named "${r.name}" to resume.`);
    const kind = r.kind ?? 'multitask';
    return this.jobs.start(
      'train',
      `${r.resume ? 'Resume' : 'Train'} ${r.name}`,
      async (ctx) => {
        const rt = await this.earmark.tf();
        const live: LossPoint[] = [];
        this.liveHistory.set(r.name, live);
        try {
          const res = await this.earmark.trainEncoderInThread({
            ...r,
            kind,
            signal: ctx.signal,
            onProgress: (p) => {
              if (p.phase === 'training' && p.task !== undefined && p.loss !== undefined) {
                live.push({ iteration: p.done, task: p.task, loss: p.loss });
                ctx.progress({ phase: `training on ${rt.device}: ${p.task} loss ${p.loss.toFixed(4)}`, done: p.done, total: p.total });
              } else ctx.progress({ phase: p.phase, done: p.done, total: p.total });
            },
          });
          const m = res.meta;
          if (res.cancelled) return `Stopped at iteration ${m.done} of ${m.iterations}, saved; resume to go on.`;
          return `Trained "${m.name}" for ${m.iterations} iterations on ${rt.device}; embed it to search and compare with it.`;
        } finally {
          this.liveHistory.delete(r.name);
        }
      },
      { key: `train:${r.name}`, subject: r.name },
    );
  }

  private startEmbed(model: string, rand: boolean) {
    const published = this.earmark.publishedModels().some((m) => m.name === model);
    if (!published) this.modelHistory(model); // not-found before anything is queued
    if (published && rand) throw new BadRequestError(`"${model}" is a published model: it has no untrained twin.`);
    if (this.jobs.active(`train:${model}`)) throw new BadRequestError(`"${model}" is still training; embed it when it has finished or been stopped.`);
    return this.jobs.start(
      'embed',
      rand ? `Embed with untrained ${model} (rand)` : `Embed with ${model}`,
      async (ctx) => {
        const r = await this.earmark.embed(model, { rand, inThread: true, signal: ctx.signal, onProgress: (p) => ctx.progress({ phase: p.phase, done: p.done, total: p.total }) });
        const proposals = r.proposals ? Object.entries(r.proposals).filter(([, n]) => n > 0) : null;
        const made = proposals ? ` Proposals: ${proposals.map(([f, n]) => `${n} ${f}`).join(', ') || 'none at its thresholds'} (review them in Tags).` : '';
        if (!r.representation) return `${model} ran on ${r.tracks} tracks${r.skipped ? `; ${r.skipped} could not be decoded` : ''}.${made}`;
        return `${r.tracks} tracks embedded as "${r.representation}" (${r.dim} dimensions)${r.skipped ? `; ${r.skipped} could not be decoded` : ''}.${made}`;
      },
      { key: `embed:${model}:${rand}`, subject: model },
    );
  }

  private startCompare(o: ApiRequest<'startCompare'>) {
    for (const rep of o.representations) if (this.earmark.store.vectorCount(rep) === 0) throw new BadRequestError(`No "${rep}" vectors yet: ${rep === 'dsp' || rep === 'mfcc' ? 'analyze the library' : 'embed with that model'} first.`);
    if (o.queriesFrom) this.modelHistory(o.queriesFrom);
    return this.jobs.start('compare', `Compare ${o.representations.join(', ')}`, async (ctx) => {
      const r = await this.earmark.compareRepresentations(o.representations, {
        queriesFrom: o.queriesFrom,
        headFields: o.headFields,
        headKind: o.headKind,
        minSupport: o.minSupport,
        signal: ctx.signal,
        offThread: true,
        onProgress: (p) => ctx.progress({ phase: `head for ${p.field} on ${p.representation}`, done: p.done, total: p.total }),
      });
      const choice = this.earmark.defaultRepresentation();
      return `Compared ${r.rows.length} representations on ${r.queries} held-out queries. Used when none is named: ${choice.reason}`;
    });
  }

  private comparison(): RepresentationComparison | null {
    return lastComparison(this.earmark);
  }

  private makeHandlers(): Handlers {
    const e = this.earmark;
    const handlers: Handlers = {
      info: () => e.info(),
      addFolder: ({ path }) => {
        const p = resolve(path);
        let st;
        try {
          st = statSync(p);
        } catch {
          throw new BadRequestError(`No folder at ${p}.`);
        }
        if (!st.isDirectory()) throw new BadRequestError(`${p} is a file, not a folder.`);
        e.store.addRoot(p);
        const job = this.startScan();
        this.startAnalyze();
        this.emit({ type: 'library-changed' });
        return { roots: this.roots(), job };
      },
      removeFolder: ({ path }) => {
        const p = resolve(path);
        if (!this.roots().includes(p)) throw new NotFoundError(`${p} is not one of the library folders.`);
        const removed = e.removeFolder(p);
        this.emit({ type: 'library-changed' });
        return { roots: this.roots(), removed };
      },
      queryTracks: (q) => queryTracks(e.store.db, q),
      facets: ({ fields, limit }) => facetCounts(e.store.db, fields, limit),
      track: ({ id, representation, k }) => trackDetail(this.earmark, id, representation, k ?? 10),
      similar: (req) => this.similar(req),
      startScan: () => this.startScan(),
      startAnalyze: ({ representations }) => this.startAnalyze(representations),
      cancelJob: ({ id }) => this.jobs.cancel(id),
      jobs: () => this.jobs.list(),
      map: ({ representation, field }) => libraryMap(this.earmark, this.mapsDir, representation ?? this.earmark.defaultRepresentation().name, (field ?? 'genre').toLowerCase()),
      errors: (): ErrorReport => ({
        tracks: e.errors().map((r) => ({ trackId: r.track_id, path: r.path, stage: r.stage, code: r.code, message: r.message })),
        scan: e.scanProblems(),
      }),
      startPredict: ({ fields, representation, kind, minSupport }) => this.startPredict(fields, representation, kind, minSupport),
      reviewSummary: () => e.reviewSummary(),
      proposals: (q) => e.proposals(q),
      review: ({ action, ...filter }) => {
        const changed = e.review(action, filter);
        if (changed) this.emit({ type: 'library-changed' });
        return { changed, summary: e.reviewSummary() };
      },
      // A head trains for this answer: in a worker thread, so the service keeps answering meanwhile.
      evalTags: (o) => e.evaluateTags({ ...o, offThread: true }),
      startWriteTags: (o) => this.startWriteTags(o),
      tagBatches: () => e.tagBatches(),
      undoTags: async ({ batch }) => {
        if (!e.tagBatches().some((b) => b.batch === batch)) throw new NotFoundError(`No tag batch ${batch}.`);
        const r = await e.undoTags(batch);
        this.emit({ type: 'library-changed' });
        return {
          batch,
          restored: r.written.length,
          restoredBytes: r.written.filter((w) => w.restored === 'bytes').length,
          restoredValues: r.written.filter((w) => w.restored === 'values').length,
          refused: r.refused.map((x) => ({ path: x.path, message: x.message })),
        };
      },
      compute: async () => {
        const rt = await e.tf();
        return { backend: rt.backend, device: rt.device, gpu: rt.device.startsWith('GPU'), skipped: rt.skipped };
      },
      models: () => this.models(),
      lossCurve: ({ model, points }) => {
        const { meta, history } = this.modelHistory(model);
        return { model, iterations: meta.iterations, done: history.at(-1)?.iteration ?? meta.done, tasks: lossCurve(history, meta.iterations, points ?? 200) };
      },
      startTrain: (r) => this.startTrain(r),
      startEmbed: ({ model, rand }) => this.startEmbed(model, !!rand),
      deleteModel: ({ model }) => {
        if (this.jobs.active(`train:${model}`) || this.jobs.active(`embed:${model}:true`) || this.jobs.active(`embed:${model}:false`)) {
          throw new BadRequestError(`"${model}" is in use by a job; stop it first.`);
        }
        const r = e.deleteModel(model);
        this.emit({ type: 'library-changed' });
        return r;
      },
      publishedModels: () =>
        e.publishedModels().map((m) => ({
          name: m.name,
          title: m.title,
          task: m.task,
          classes: m.classes,
          embeddingDim: m.representation ? m.embeddingDim : null,
          ran: e.store.modelOutputCount(m.name),
          embedded: m.representation ? e.store.vectorCount(m.name) : 0,
          mapping: m.mapping.map((x) => ({ label: x.label, field: x.field, value: x.value, threshold: x.threshold, calibrated: x.calibrated ? { tracks: x.calibrated.tracks, f1: x.calibrated.f1 } : null, fixed: !!x.fixed })),
          link: m.link,
          importedAt: m.importedAt,
          running: this.jobs.active(`embed:${m.name}:false`),
        })),
      importModel: async ({ path, name }) => {
        try {
          const r = await e.importAnyModel(path, name);
          this.emit({ type: 'library-changed' });
          return 'published' in r ? { name: r.published.name, published: true } : { name: r.trained.name, published: false };
        } catch (err) {
          // What cannot be imported is the caller's to fix (a wrong path, a name taken, a graph that is not MusiCNN's).
          throw new BadRequestError((err as Error).message);
        }
      },
      startCompare: (o) => this.startCompare(o),
      comparison: () => this.comparison(),
      settings: () => e.settings(),
      updateSettings: ({ ffmpegPath, defaultRepresentation }) => {
        if (ffmpegPath !== undefined) {
          if (ffmpegPath !== null && !existsSync(ffmpegPath)) throw new BadRequestError(`No ffmpeg at ${ffmpegPath}.`);
          e.store.setSetting('ffmpeg.path', ffmpegPath);
        }
        if (defaultRepresentation !== undefined) {
          try {
            e.setDefaultRepresentation(defaultRepresentation);
          } catch (err) {
            throw new BadRequestError((err as Error).message);
          }
        }
        this.emit({ type: 'library-changed' });
        return e.settings();
      },
    };
    return handlers;
  }
}

/** The error body every transport sends for a failed call. */
export function errorBody(err: unknown): { status: number; body: { error: { code: 'bad-request' | 'not-found' | 'failed'; message: string } } } {
  const message = err instanceof Error ? err.message : String(err);
  // Bad input, or data too thin to learn from: the caller can act on it.
  if (err instanceof BadRequestError || err instanceof HeadDataError) return { status: 400, body: { error: { code: 'bad-request', message } } };
  if (err instanceof NotFoundError || (err as { code?: string })?.code === 'not-found') return { status: 404, body: { error: { code: 'not-found', message } } };
  return { status: 500, body: { error: { code: 'failed', message } } };
}

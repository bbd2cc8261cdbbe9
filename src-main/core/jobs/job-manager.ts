import { randomUUID } from 'node:crypto';
import type { JobInfo, JobKind } from '../contract.js';

export interface JobContext {
  signal: AbortSignal;
  /** Report progress; the manager throttles what it forwards to listeners. */
  progress(p: Partial<Pick<JobInfo, 'phase' | 'done' | 'total' | 'failed' | 'etaMs' | 'current'>>): void;
}

export type JobRunner = (ctx: JobContext) => Promise<string>;

interface Entry {
  info: JobInfo;
  /** Jobs with the same key are not queued twice. */
  key: string;
  run: JobRunner;
  controller: AbortController;
  lastEmit: number;
}

/**
 * Long-running work (scan, analyze) as jobs: queued and run one at a time in order (analysis needs the scan
 * before it), with progress, ETA and cancel, reported to listeners as `JobInfo` snapshots.
 */
export class JobManager {
  private readonly jobs: Entry[] = [];
  private running: Entry | null = null;
  private readonly listeners = new Set<(j: JobInfo) => void>();

  constructor(private readonly o: { emitEveryMs?: number; keep?: number } = {}) {}

  onChange(listener: (j: JobInfo) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: Entry, force = false): void {
    const now = Date.now();
    if (!force && now - e.lastEmit < (this.o.emitEveryMs ?? 200)) return;
    e.lastEmit = now;
    const snapshot = { ...e.info };
    for (const l of this.listeners) l(snapshot);
  }

  /**
   * Queue a job; a queued job with the same key (by default its kind) is returned instead of a duplicate, and
   * so is a running one for analysis and for keyed jobs (training one model twice at once makes no sense).
   */
  start(kind: JobKind, title: string, run: JobRunner, o: { key?: string; subject?: string } = {}): JobInfo {
    const key = o.key ?? kind;
    const same = this.jobs.find((j) => j.key === key && (j.info.state === 'queued' || (j.info.state === 'running' && (kind === 'analyze' || key !== kind))));
    if (same) return { ...same.info };
    const info: JobInfo = {
      id: randomUUID().slice(0, 8),
      kind,
      state: 'queued',
      title,
      subject: o.subject ?? null,
      createdAt: Date.now(),
      startedAt: null,
      finishedAt: null,
      phase: null,
      done: 0,
      total: 0,
      failed: 0,
      etaMs: null,
      current: null,
      message: null,
    };
    const e: Entry = { info, key, run, controller: new AbortController(), lastEmit: 0 };
    this.jobs.push(e);
    const keep = this.o.keep ?? 20;
    while (this.jobs.length > keep) {
      const i = this.jobs.findIndex((j) => j.info.finishedAt !== null);
      if (i < 0) break;
      this.jobs.splice(i, 1);
    }
    this.emit(e, true);
    void this.pump();
    return { ...info };
  }

  cancel(id: string): JobInfo {
    const e = this.jobs.find((j) => j.info.id === id);
    if (!e) throw Object.assign(new Error(`No job ${id}.`), { code: 'not-found' });
    if (e.info.state === 'queued') {
      e.info.state = 'cancelled';
      e.info.finishedAt = Date.now();
      e.info.message = 'Cancelled before it started.';
      this.emit(e, true);
    } else if (e.info.state === 'running') {
      e.controller.abort();
    }
    return { ...e.info };
  }

  list(): JobInfo[] {
    return this.jobs.map((j) => ({ ...j.info }));
  }

  /** Whether a job with this key is queued or running. */
  active(key: string): boolean {
    return this.jobs.some((j) => j.key === key && (j.info.state === 'queued' || j.info.state === 'running'));
  }

  get(id: string): JobInfo | undefined {
    const e = this.jobs.find((j) => j.info.id === id);
    return e ? { ...e.info } : undefined;
  }

  /** Resolves when nothing is queued or running. */
  async idle(): Promise<void> {
    while (this.running || this.jobs.some((j) => j.info.state === 'queued')) await new Promise((r) => setTimeout(r, 20));
  }

  /** Cancel everything and wait for the running job to stop. */
  async shutdown(): Promise<void> {
    for (const j of this.jobs) if (j.info.state === 'queued' || j.info.state === 'running') this.cancel(j.info.id);
    await this.idle();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    const next = this.jobs.find((j) => j.info.state === 'queued');
    if (!next) return;
    this.running = next;
    const info = next.info;
    info.state = 'running';
    info.startedAt = Date.now();
    this.emit(next, true);
    try {
      const message = await next.run({
        signal: next.controller.signal,
        progress: (p) => {
          Object.assign(info, p);
          this.emit(next);
        },
      });
      info.state = next.controller.signal.aborted ? 'cancelled' : 'done';
      info.message = next.controller.signal.aborted ? `Cancelled. ${message}` : message;
    } catch (err) {
      const aborted = next.controller.signal.aborted;
      info.state = aborted ? 'cancelled' : 'failed';
      info.message = aborted ? 'Cancelled; finished work is kept, and running it again resumes.' : err instanceof Error ? err.message : String(err);
    } finally {
      info.finishedAt = Date.now();
      info.etaMs = null;
      info.current = null;
      this.running = null;
      this.emit(next, true);
      void this.pump();
    }
  }
}

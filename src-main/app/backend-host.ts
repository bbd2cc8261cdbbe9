import type { UtilityProcess } from 'electron';
import type { ApiEvent } from '../core/contract.js';
import type { FromBackend, ToBackend } from './backend-protocol.js';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

type Fork = (modulePath: string, args: string[], options: { serviceName: string; env: NodeJS.ProcessEnv; stdio: 'inherit' }) => UtilityProcess;

/** The main process's handle on the backend utility process: calls by id, events, clean shutdown. */
export class BackendHost {
  private child: UtilityProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  private readonly listeners = new Set<(e: ApiEvent) => void>();
  private ready: Promise<void> | null = null;

  constructor(
    private readonly fork: Fork,
    private readonly script: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  start(): Promise<void> {
    this.ready ??= new Promise<void>((resolve, reject) => {
      const child = this.fork(this.script, [], { serviceName: 'Earmark backend', env: this.env, stdio: 'inherit' });
      this.child = child;
      child.on('message', (m: FromBackend) => {
        if ('ready' in m) resolve();
        else if ('fatal' in m) reject(new Error(m.fatal));
        else if ('event' in m) for (const l of this.listeners) l(m.event);
        else {
          const p = this.pending.get(m.id);
          if (!p) return;
          this.pending.delete(m.id);
          if (m.ok) p.ok(m.res);
          else p.fail(new Error(`[${m.error.code}] ${m.error.message}`));
        }
      });
      child.on('exit', (code: number) => {
        const err = new Error(`[failed] The Earmark backend stopped (exit code ${code}). Restart Earmark; finished work is kept.`);
        for (const p of this.pending.values()) p.fail(err);
        this.pending.clear();
        this.child = null;
        reject(err);
      });
    });
    return this.ready;
  }

  onEvent(l: (e: ApiEvent) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private send<T>(m: WithoutId<ToBackend>): Promise<T> {
    const child = this.child;
    if (!child) return Promise.reject(new Error('[failed] The Earmark backend is not running.'));
    const id = this.nextId++;
    return new Promise<T>((ok, fail) => {
      this.pending.set(id, { ok: ok as (v: unknown) => void, fail });
      child.postMessage({ ...m, id } as ToBackend);
    });
  }

  async call(method: string, req: unknown): Promise<unknown> {
    await this.start();
    return this.send({ kind: 'call', method, req });
  }

  async roots(): Promise<string[]> {
    await this.start();
    return this.send<string[]>({ kind: 'roots' });
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    await Promise.race([this.send({ kind: 'shutdown' }), new Promise((r) => setTimeout(r, 5000))]);
    this.child?.kill();
  }
}

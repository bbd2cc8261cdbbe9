import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBundledScript } from '../util/worker-script.js';
import type { FromSpawner, ToSpawner } from './spawner-protocol.js';

/** What one process run through the spawner gave: its exit, its stderr (capped) and each output's bytes. */
export interface SpawnResult {
  code: number | null;
  signal: string | null;
  stderr: string;
  /** Output i's bytes, as they arrived: output 0 is the process's stdout, output i ≥ 1 its file descriptor i + 2. */
  chunks: Buffer[][];
  bytes: number[];
}

/** The spawner process is gone (crashed or closed): run the process directly instead. */
export class SpawnerGone extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpawnerGone';
  }
}

interface Run {
  nOutputs: number;
  chunks: Buffer[][];
  bytes: number[];
  open: number;
  connected: number;
  exit: { code: number | null; signal: string | null; stderr: string } | null;
  resolve: (r: SpawnResult) => void;
  reject: (e: Error) => void;
  done: boolean;
  onAbort: (() => void) | null;
  signal: AbortSignal | undefined;
}

const HEADER = 8;

/** Where the bundled spawner script lives (beside the running bundle, or in the repository's out/cli). */
export function findSpawnerScript(explicit?: string): string {
  return findBundledScript('spawner-process.js', { explicit, envVar: 'EARMARK_SPAWNER', from: import.meta.url });
}

function abortError(): Error {
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

/**
 * Starts child processes (ffmpeg) from a small helper process instead of from this one, and receives their
 * outputs over Unix-domain sockets.
 *
 * Why: on Linux, Node starts a process by fork(), which copies the page tables of the whole parent first. During
 * analysis this process holds the database, the index and the worker threads' heaps (300–380 MB): each ffmpeg
 * start then costs 6–7 ms of CPU and blocks the event loop for ~14 ms (measured: 0.7 ms at 52 MB, 2.2 ms at
 * 158 MB, 7.1 ms at 368 MB). The helper is a bare Node process (~45 MB) that forks cheaply. Each output of the
 * started process is a socket connected to this process's server, passed to the child as its file descriptor:
 * the samples go from ffmpeg straight here, never through the helper.
 *
 * Linux only (`ProcessSpawner.supported`): macOS starts processes with posix_spawn and Windows with
 * CreateProcess, neither of which copies the parent's memory.
 */
export class ProcessSpawner {
  static readonly supported = process.platform === 'linux';

  private readonly runs = new Map<number, Run>();
  private nextId = 1;
  private gone: string | null = null;

  private constructor(
    private readonly child: ChildProcess,
    private readonly server: Server,
    private readonly socketPath: string,
  ) {
    child.on('message', (m: FromSpawner) => this.onMessage(m));
    child.on('exit', (code, signal) => this.die(`The process starter exited (${signal ?? `code ${code}`}).`));
    child.on('error', (e) => this.die(`The process starter failed: ${e.message}`));
    server.on('connection', (s) => this.onConnection(s));
  }

  /**
   * Start the helper process and its socket server. Throws when either cannot start (the caller then starts
   * processes itself).
   */
  static async start(script = findSpawnerScript()): Promise<ProcessSpawner> {
    if (!ProcessSpawner.supported) throw new Error(`The process starter is not used on ${process.platform}.`);
    const socketPath = join(tmpdir(), `earmark-spawn-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Electron runs this as Node (its utility process has no `node` beside it); a plain Node ignores the variable.
    const child = fork(script, [socketPath], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      execArgv: [],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const onExit = (code: number | null) => reject(new Error(`The process starter exited at start (code ${code}).`));
        child.once('error', reject);
        child.once('exit', onExit);
        child.once('message', (m: FromSpawner) => {
          child.off('error', reject);
          child.off('exit', onExit);
          if (m.type === 'ready') resolve();
          else reject(new Error('The process starter did not start.'));
        });
      });
    } catch (e) {
      child.kill('SIGKILL');
      server.close();
      rmSync(socketPath, { force: true });
      throw e;
    }
    // The helper must not keep this process alive, nor outlive it.
    child.unref();
    child.channel?.unref();
    server.unref();
    return new ProcessSpawner(child, server, socketPath);
  }

  get alive(): boolean {
    return this.gone === null;
  }

  /**
   * Run `command args` with stdin closed, stderr collected (first 64 kB) and `nOutputs` outputs (stdout, then file
   * descriptors 3, 4, …) read here. Resolves when the process has exited and every output has closed; rejects
   * with an AbortError when `signal` aborts (the process is killed), with `SpawnerGone` when the helper is gone,
   * and with an Error carrying `code` (ENOENT, EACCES) when the command cannot start.
   */
  run(command: string, args: readonly string[], nOutputs: number, signal?: AbortSignal): Promise<SpawnResult> {
    if (this.gone !== null) return Promise.reject(new SpawnerGone(this.gone));
    if (signal?.aborted) return Promise.reject(abortError());
    const id = this.nextId++;
    return new Promise<SpawnResult>((resolve, reject) => {
      const run: Run = {
        nOutputs,
        chunks: Array.from({ length: nOutputs }, () => []),
        bytes: new Array<number>(nOutputs).fill(0),
        open: 0,
        connected: 0,
        exit: null,
        resolve,
        reject,
        done: false,
        onAbort: null,
        signal,
      };
      if (signal) {
        run.onAbort = () => {
          this.send({ type: 'kill', id });
          this.finish(id, abortError());
        };
        signal.addEventListener('abort', run.onAbort, { once: true });
      }
      this.runs.set(id, run);
      this.child.ref();
      this.send({ type: 'run', id, command, args: [...args], nOutputs });
    });
  }

  /**
   * Stop the helper (processes it started are killed), remove the socket, and wait (at most 2 s) for it to exit,
   * so its CPU time and its children's count in this process's (`process.cpuUsage` does not, /proc's cutime does).
   */
  async close(): Promise<void> {
    const exited = this.child.exitCode !== null || this.child.signalCode !== null;
    // Waited for with the helper referenced: unreferenced, this process could end here, before its caller resumes.
    if (!exited) this.child.ref();
    const waited = exited
      ? Promise.resolve()
      : new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2000);
          this.child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        });
    this.die('The process starter was closed.');
    await waited;
  }

  private send(m: ToSpawner): void {
    if (this.gone !== null || !this.child.connected) return;
    this.child.send(m);
  }

  private onMessage(m: FromSpawner): void {
    const run = this.runs.get(m.type === 'ready' ? -1 : m.id);
    if (!run) return;
    if (m.type === 'exit') {
      run.exit = { code: m.code, signal: m.signal, stderr: m.stderr };
      this.settle(m.id);
    } else if (m.type === 'error') {
      this.finish(m.id, Object.assign(new Error(m.message), { code: m.code }));
    }
  }

  private onConnection(s: Socket): void {
    let head: Buffer | null = Buffer.alloc(0);
    let run: Run | undefined;
    let index = -1;
    let id = -1;
    s.on('data', (c: Buffer) => {
      if (head !== null) {
        head = Buffer.concat([head, c]);
        if (head.length < HEADER) return;
        id = head.readUInt32LE(0);
        index = head.readUInt32LE(4);
        run = this.runs.get(id);
        const rest = head.subarray(HEADER);
        head = null;
        if (!run || index >= run.nOutputs) {
          s.destroy();
          return;
        }
        run.open++;
        run.connected++;
        if (rest.length > 0) c = rest;
        else return;
      }
      if (!run) return;
      run.chunks[index].push(c);
      run.bytes[index] += c.length;
    });
    const closed = () => {
      if (!run || index < 0) return;
      const r = run;
      run = undefined;
      r.open--;
      this.settle(id);
    };
    s.on('error', closed);
    s.on('close', closed);
  }

  /** A run is over when its process has exited and all its outputs have connected and closed. */
  private settle(id: number): void {
    const run = this.runs.get(id);
    if (!run || !run.exit || run.open > 0 || run.connected < run.nOutputs) return;
    this.finish(id, null);
  }

  private finish(id: number, error: Error | null): void {
    const run = this.runs.get(id);
    if (!run || run.done) return;
    run.done = true;
    this.runs.delete(id);
    if (run.onAbort) run.signal?.removeEventListener('abort', run.onAbort);
    if (this.runs.size === 0) this.child.unref();
    if (error) run.reject(error);
    else run.resolve({ ...run.exit!, chunks: run.chunks, bytes: run.bytes });
  }

  private die(reason: string): void {
    if (this.gone !== null) return;
    this.gone = reason;
    for (const id of [...this.runs.keys()]) this.finish(id, new SpawnerGone(reason));
    // Closing the channel makes the helper kill what it started, then exit; SIGTERM in case it is stuck.
    if (this.child.connected) this.child.disconnect();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    this.server.close();
    rmSync(this.socketPath, { force: true });
  }
}

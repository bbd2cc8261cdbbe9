import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import type { FromSpawner, ToSpawner } from './spawner-protocol.js';

/**
 * The process starter's helper (see `ProcessSpawner`): a bare Node process that starts processes for its parent,
 * cheaply, because it is small. For each run it connects one socket per output to the parent's server, writes an
 * 8-byte header (run id, output index, little-endian uint32s), passes the sockets to the new process as its
 * stdout and file descriptors 3, 4, …, and closes its own copies; it reports the exit and stderr over IPC.
 */
const socketPath = process.argv[2];
if (!socketPath || !process.send) throw new Error('spawner-process must be forked with a socket path and an IPC channel');

const running = new Map<number, ChildProcess>();
const send = (m: FromSpawner) => {
  if (process.connected) process.send!(m);
};

function openOutput(id: number, index: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    s.once('error', reject);
    s.once('connect', () => {
      const h = Buffer.alloc(8);
      h.writeUInt32LE(id, 0);
      h.writeUInt32LE(index, 4);
      s.write(h, (e) => (e ? reject(e) : resolve(s)));
    });
  });
}

async function run(m: Extract<ToSpawner, { type: 'run' }>): Promise<void> {
  const opened = await Promise.allSettled(Array.from({ length: m.nOutputs }, (_, i) => openOutput(m.id, i)));
  const sockets = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    for (const s of sockets) s.destroy();
    send({ type: 'error', id: m.id, message: `Could not connect an output: ${String(failed.reason)}`, code: null });
    return;
  }
  let child: ChildProcess;
  try {
    child = spawn(m.command, m.args, { stdio: ['ignore', sockets[0], 'pipe', ...sockets.slice(1)] });
  } catch (e) {
    for (const s of sockets) s.destroy();
    send({ type: 'error', id: m.id, message: (e as Error).message, code: (e as NodeJS.ErrnoException).code ?? null });
    return;
  }
  // The child has its own copies now; ours would keep the outputs open after it exits.
  for (const s of sockets) s.destroy();
  running.set(m.id, child);
  let stderr = '';
  let failedToStart: NodeJS.ErrnoException | null = null;
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => {
    if (stderr.length < 64_000) stderr += c;
  });
  child.on('error', (e: NodeJS.ErrnoException) => (failedToStart = e));
  child.on('close', (code, signal) => {
    running.delete(m.id);
    if (failedToStart) send({ type: 'error', id: m.id, message: failedToStart.message, code: failedToStart.code ?? null });
    else send({ type: 'exit', id: m.id, code, signal, stderr });
  });
}

process.on('message', (m: ToSpawner) => {
  if (m.type === 'kill') running.get(m.id)?.kill('SIGKILL');
  else if (m.type === 'run') void run(m);
});
// The parent is gone (closed the channel, or died): stop what was started for it, and leave.
process.on('disconnect', () => {
  for (const c of running.values()) c.kill('SIGKILL');
  process.exit(0);
});
send({ type: 'ready' });

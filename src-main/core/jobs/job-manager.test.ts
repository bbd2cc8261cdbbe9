import { describe, expect, it } from 'vitest';
import type { JobInfo } from '../contract.js';
import { JobManager } from './job-manager.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('JobManager', () => {
  it('runs jobs one at a time in order, with progress and a final message', async () => {
    const m = new JobManager({ emitEveryMs: 0 });
    const seen: JobInfo[] = [];
    m.onChange((j) => seen.push(j));
    const order: string[] = [];
    m.start('scan', 'Scan', async (ctx) => {
      order.push('scan start');
      ctx.progress({ done: 1, total: 2 });
      await sleep(30);
      order.push('scan end');
      return 'scanned';
    });
    const a = m.start('analyze', 'Analyze', async () => {
      order.push('analyze');
      return 'analysed';
    });
    expect(a.state).toBe('queued');
    await m.idle();
    expect(order).toEqual(['scan start', 'scan end', 'analyze']);
    expect(m.list().map((j) => [j.kind, j.state, j.message])).toEqual([
      ['scan', 'done', 'scanned'],
      ['analyze', 'done', 'analysed'],
    ]);
    expect(seen.some((j) => j.kind === 'scan' && j.state === 'running' && j.done === 1 && j.total === 2)).toBe(true);
  });

  it('does not queue a second identical job', () => {
    const m = new JobManager();
    const a = m.start('scan', 'Scan', () => sleep(20).then(() => 'x'));
    m.start('analyze', 'Analyze', async () => 'y');
    const b = m.start('analyze', 'Analyze', async () => 'z');
    expect(m.list().filter((j) => j.kind === 'analyze')).toHaveLength(1);
    expect(b.kind).toBe('analyze');
    expect(a.state).toBe('running');
    return m.idle();
  });

  it('keys jobs by subject: two models train one after the other, one model never twice at once', async () => {
    const m = new JobManager();
    const a = m.start('train', 'Train a', () => sleep(30).then(() => 'a'), { key: 'train:a', subject: 'a' });
    const again = m.start('train', 'Train a', async () => 'dup', { key: 'train:a', subject: 'a' });
    const b = m.start('train', 'Train b', async () => 'b', { key: 'train:b', subject: 'b' });
    expect(again.id).toBe(a.id);
    expect(b.id).not.toBe(a.id);
    expect(m.active('train:a')).toBe(true);
    expect(m.list().map((j) => [j.subject, j.state])).toEqual([
      ['a', 'running'],
      ['b', 'queued'],
    ]);
    await m.idle();
    expect(m.active('train:a')).toBe(false);
    expect(m.list().map((j) => j.message)).toEqual(['a', 'b']);
  });

  it('cancels a running job through its signal and a queued one before it starts', async () => {
    const m = new JobManager({ emitEveryMs: 0 });
    const running = m.start('scan', 'Scan', async (ctx) => {
      while (!ctx.signal.aborted) await sleep(5);
      throw new Error('aborted');
    });
    const queued = m.start('analyze', 'Analyze', async () => 'never');
    await sleep(20);
    expect(m.cancel(queued.id).state).toBe('cancelled');
    m.cancel(running.id);
    await m.idle();
    expect(m.get(running.id)?.state).toBe('cancelled');
    expect(m.get(running.id)?.message).toMatch(/Cancelled/);
    expect(m.get(queued.id)?.message).toMatch(/before it started/);
    expect(() => m.cancel('nope')).toThrow(/No job/);
  });

  it('reports a failure in words and goes on with the next job', async () => {
    const m = new JobManager();
    m.start('scan', 'Scan', async () => {
      throw new Error('No folder at /nowhere.');
    });
    m.start('analyze', 'Analyze', async () => 'fine');
    await m.idle();
    expect(m.list().map((j) => [j.state, j.message])).toEqual([
      ['failed', 'No folder at /nowhere.'],
      ['done', 'fine'],
    ]);
  });
});

import { InvalidArgumentError, type Command } from 'commander';
import { Earmark } from '../core/api.js';

/** What the command modules (`commands/*.ts`) share: option parsers, output, and opening the library. */

export function positiveInt(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(min === 1 ? `${name} must be a positive whole number.` : `${name} must be a whole number of at least ${min}.`);
    return n;
  };
}
export function nonNegative(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative number.`);
    return n;
  };
}
export function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}
export function print(json: boolean, value: unknown, text: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text()}\n`);
}
export function pad(s: string, n: number): string {
  return s.length >= n ? `${s.slice(0, n - 1)}…` : s + ' '.repeat(n - s.length);
}

export interface Global {
  home?: string;
  ffmpeg?: string;
}
function open(cmd: Command): Earmark {
  const g = cmd.optsWithGlobals() as Global;
  return Earmark.open({ home: g.home, ffmpegPath: g.ffmpeg });
}
/**
 * Run `fn` with a signal that Ctrl-C aborts (saying `message` first): the command stops cleanly, keeping
 * what it has done.
 */
export async function interruptible<T>(message: string | null, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => {
    if (message) process.stderr.write(`\n${message}\n`);
    controller.abort();
  };
  process.once('SIGINT', onSigint);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export async function withEarmark<T>(cmd: Command, fn: (e: Earmark) => Promise<T> | T): Promise<T> {
  const e = open(cmd);
  try {
    return await fn(e);
  } finally {
    e.close();
  }
}

export function fieldList(v: string): string[] {
  const fields = v.split(',').map((f) => f.trim().toLowerCase()).filter(Boolean);
  if (fields.length === 0) throw new InvalidArgumentError('name at least one field, e.g. genre,mood');
  return fields;
}

export function probability(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`${name} must be between 0 and 1`);
    return n;
  };
}

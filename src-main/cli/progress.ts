/** A terminal progress bar with counts and ETA; plain periodic lines when stderr is not a terminal. */
export class ProgressBar {
  private lastPlain = 0;
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  private lastTotal = -1;

  update(done: number, total: number, extra: { etaMs?: number | null; rate?: number; failed?: number; current?: string | null } = {}): void {
    const now = Date.now();
    const pct = total > 0 ? done / total : 1;
    const parts = [`${this.label} ${done}/${total}`, `${Math.floor(pct * 100)}%`];
    if (extra.failed) parts.push(`${extra.failed} failed`);
    if (extra.rate !== undefined && extra.rate > 0) parts.push(`${extra.rate.toFixed(1)}/s`);
    if (extra.etaMs !== undefined && extra.etaMs !== null) parts.push(`ETA ${formatDuration(extra.etaMs)}`);
    if (this.stream.isTTY) {
      if (now - this.lastDraw < 80 && done < total) return;
      this.lastDraw = now;
      const width = Math.max(10, Math.min(30, (this.stream.columns ?? 80) - 60));
      const filled = Math.round(pct * width);
      const bar = `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
      let line = `${bar} ${parts.join('  ')}`;
      if (extra.current) {
        const room = (this.stream.columns ?? 80) - line.length - 3;
        if (room > 10) line += `  ${ellipsis(extra.current, room)}`;
      }
      this.stream.write(`\r\x1b[2K${line}`);
      this.drawn = true;
    } else if (now - this.lastPlain > 5000 || done === total || total !== this.lastTotal) {
      // Plain lines: every 5 s, at the end, and when a new phase (a new total) begins.
      this.lastPlain = now;
      this.lastTotal = total;
      this.stream.write(`${parts.join('  ')}\n`);
    }
  }

  done(): void {
    if (this.drawn && this.stream.isTTY) this.stream.write('\n');
    this.drawn = false;
  }
}

function ellipsis(s: string, n: number): string {
  return s.length <= n ? s : `…${s.slice(s.length - n + 1)}`;
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

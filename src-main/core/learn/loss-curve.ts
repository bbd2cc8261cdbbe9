/**
 * A training history as a plot wants it: per task, the mean loss over consecutive buckets of iterations, at
 * most `points` points per task (a multi-task run visits each task on a random share of the iterations).
 */
export interface LossPoint {
  iteration: number;
  task: string;
  loss: number;
}

export function lossCurve(history: readonly LossPoint[], iterations: number, points = 200): Array<{ task: string; points: Array<[number, number]> }> {
  const bucket = Math.max(1, Math.ceil(Math.max(iterations, history.at(-1)?.iteration ?? 0) / Math.max(2, points)));
  const byTask = new Map<string, Map<number, { sum: number; n: number; last: number }>>();
  for (const h of history) {
    if (!Number.isFinite(h.loss)) continue;
    const b = Math.floor((h.iteration - 1) / bucket);
    let m = byTask.get(h.task);
    if (!m) byTask.set(h.task, (m = new Map()));
    const acc = m.get(b) ?? { sum: 0, n: 0, last: 0 };
    acc.sum += h.loss;
    acc.n++;
    acc.last = h.iteration;
    m.set(b, acc);
  }
  return [...byTask]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([task, m]) => ({
      task,
      // Each point sits at the last iteration of its bucket that this task saw.
      points: [...m.entries()].sort(([a], [b]) => a - b).map(([, acc]) => [acc.last, acc.sum / acc.n] as [number, number]),
    }));
}

/** The last loss of each task. */
export function lastLoss(history: readonly LossPoint[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const h of history) out[h.task] = h.loss;
  return out;
}

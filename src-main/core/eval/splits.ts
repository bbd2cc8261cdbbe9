import { Random } from '../util/random.js';

/**
 * Held-out splits for evaluation (seed 000: 85/15). `stratifiedSplit` keeps each class's share on both sides;
 * `groupSplit` keeps every group (artist) on one side only, so one artist's tracks never train and test at
 * once, while still spreading classes as evenly as groups allow.
 */
export interface Split {
  train: number[];
  test: number[];
}

function shuffle<T>(xs: T[], rng: Random): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/** Indices `0…n−1` split per class: ⌊share × count⌉ of each class (at least one when it has two) to test. */
export function stratifiedSplit(labels: ArrayLike<number | string>, { testShare = 0.15, seed = 1 } = {}): Split {
  const rng = new Random(seed);
  const byClass = new Map<number | string, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]) ?? [];
    list.push(i);
    byClass.set(labels[i], list);
  }
  const train: number[] = [];
  const test: number[] = [];
  for (const key of [...byClass.keys()].sort()) {
    const idx = shuffle([...(byClass.get(key) as number[])], rng);
    const nTest = idx.length >= 2 ? Math.max(1, Math.round(testShare * idx.length)) : 0;
    test.push(...idx.slice(0, nTest));
    train.push(...idx.slice(nTest));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

/** Whole groups to test until it holds about `testShare` of the samples; groups drawn in a seeded order. */
export function groupSplit(groups: ArrayLike<string>, { testShare = 0.15, seed = 1 } = {}): Split {
  const rng = new Random(seed);
  const byGroup = new Map<string, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const list = byGroup.get(groups[i]) ?? [];
    list.push(i);
    byGroup.set(groups[i], list);
  }
  const keys = shuffle([...byGroup.keys()].sort(), rng);
  const target = testShare * groups.length;
  const test: number[] = [];
  const train: number[] = [];
  for (const k of keys) {
    const idx = byGroup.get(k) as number[];
    if (test.length < target && test.length + idx.length <= target * 1.5 + 1) test.push(...idx);
    else train.push(...idx);
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

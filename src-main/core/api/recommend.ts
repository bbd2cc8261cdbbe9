import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RepresentationChoice, RepresentationComparison, RetrievalScores } from '../contract.js';
import type { ApiContext } from './context.js';

/**
 * Which representation to use when the user names none (`RepresentationChoice`): measured, not assumed. The last
 * evaluation of representations on this library's own held-out tracks (`compareRepresentations`, saved in
 * `evaluations/comparison.json`) decides, and a trained or imported representation takes over from `dsp` only
 * when it retrieves better by a clear margin and covers the whole library.
 */

/** A trained or imported representation must retrieve this much better than `dsp` (mean precision@10) to become the default. */
export const DEFAULT_MARGIN = 1.02;
/** Facets with fewer labelled queries than this are left out of the mean: too few to say anything. */
const MIN_LABELLED = 5;
const SETTING = 'representation.default';

export function comparisonFile(ctx: Pick<ApiContext, 'paths'>): string {
  return join(ctx.paths.home, 'evaluations', 'comparison.json');
}

export function saveComparison(ctx: Pick<ApiContext, 'paths'>, r: RepresentationComparison): void {
  const file = comparisonFile(ctx);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(r));
  renameSync(`${file}.tmp`, file);
}

export function lastComparison(ctx: Pick<ApiContext, 'paths'>): RepresentationComparison | null {
  const file = comparisonFile(ctx);
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as RepresentationComparison;
  } catch {
    return null;
  }
}

/**
 * A representation's retrieval in one number: the mean precision@10 over the facets that had at least
 * `MIN_LABELLED` labelled queries (all five when the counts are unknown, as in evaluations saved before them).
 */
export function retrievalSummary(r: RetrievalScores): number | null {
  const facets = (Object.keys(r.precision) as Array<keyof RetrievalScores['precision']>).filter((f) => (r.labelled ? r.labelled[f] >= MIN_LABELLED : true));
  if (facets.length === 0) return null;
  return facets.reduce((a, f) => a + r.precision[f], 0) / facets.length;
}

/** The choice an evaluation makes, given which representations still cover the library. */
export function chooseRepresentation(comparison: RepresentationComparison | null, covers: (rep: string) => boolean): RepresentationChoice {
  const scores = (comparison?.rows ?? []).flatMap((r) => {
    const s = retrievalSummary(r);
    return s === null ? [] : [{ representation: r.representation, score: s }];
  });
  const builtIn = (reason: string): RepresentationChoice => ({ name: 'dsp', from: 'built-in', reason, scores });
  if (!comparison || scores.length === 0) return builtIn('dsp, the built-in default: no evaluation of representations on this library yet (`earmark eval`, or Compare in the Models view).');
  const dsp = scores.find((s) => s.representation === 'dsp');
  const candidates = scores.filter((s) => !['dsp', 'mfcc', 'rand'].includes(s.representation) && covers(s.representation)).sort((a, b) => b.score - a.score);
  const best = candidates[0];
  if (!dsp) return builtIn('dsp, the built-in default: the last evaluation did not include dsp to compare with.');
  if (!best) return builtIn(`dsp: no trained or imported representation was evaluated against it (dsp ${dsp.score.toFixed(3)} mean precision@10).`);
  if (best.score >= DEFAULT_MARGIN * dsp.score) {
    return {
      name: best.representation,
      from: 'evaluation',
      reason: `${best.representation}: it retrieved best on this library's held-out tracks (mean precision@10 ${best.score.toFixed(3)}, dsp ${dsp.score.toFixed(3)}, ×${(best.score / Math.max(1e-9, dsp.score)).toFixed(2)}).`,
      scores,
    };
  }
  return builtIn(`dsp: the best trained or imported representation, ${best.representation}, did not beat it on this library's held-out tracks (mean precision@10 ${best.score.toFixed(3)} against ${dsp.score.toFixed(3)}).`);
}

/** The representation to use when none is named (see `RepresentationChoice`). */
export function defaultRepresentation(ctx: Pick<ApiContext, 'paths' | 'store'>): RepresentationChoice {
  const dspCount = ctx.store.vectorCount('dsp');
  // A representation covers the library when it has a vector for every track dsp has one for (a model embedded
  // before new tracks arrived does not, until it is embedded again).
  const covers = (rep: string) => ctx.store.representation(rep) !== undefined && ctx.store.vectorCount(rep) > 0 && ctx.store.vectorCount(rep) >= dspCount;
  const choice = chooseRepresentation(lastComparison(ctx), covers);
  const chosen = ctx.store.setting(SETTING);
  if (chosen) {
    if (covers(chosen) || (chosen === 'dsp' && dspCount > 0)) return { name: chosen, from: 'setting', reason: `${chosen}: your choice (setting ${SETTING}).`, scores: choice.scores };
    return { ...choice, reason: `${choice.reason} (Your choice, ${chosen}, has no vectors for the whole library.)` };
  }
  return choice;
}

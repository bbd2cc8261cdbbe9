import { describe, expect, it } from 'vitest';
import type { RepresentationComparison, RetrievalScores } from '../contract.js';
import { chooseRepresentation, DEFAULT_MARGIN, retrievalSummary } from './recommend.js';

const facets = (p: number, labelled = 20) => ({
  precision: { genre: p, mood: p, style: p, artist: p, album: p },
  labelled: { genre: labelled, mood: labelled, style: 0, artist: labelled, album: labelled },
});
const row = (representation: string, p: number): RepresentationComparison['rows'][number] => ({ representation, queries: 30, ...facets(p), heads: [] });
const comparison = (rows: RepresentationComparison['rows']): RepresentationComparison => ({ queriesFrom: null, queries: 30, headKind: 'auto', at: 1, rows });
const all = () => true;

describe('the default representation', () => {
  it('averages precision over the facets the evaluation could measure', () => {
    const r: RetrievalScores = { representation: 'x', queries: 30, precision: { genre: 0.5, mood: 0.3, style: 0.9, artist: 0.1, album: 0.2 }, labelled: { genre: 10, mood: 10, style: 2, artist: 10, album: 10 } };
    // style has 2 labelled queries: left out
    expect(retrievalSummary(r)).toBeCloseTo((0.5 + 0.3 + 0.1 + 0.2) / 4, 12);
    expect(retrievalSummary({ ...r, labelled: { genre: 0, mood: 0, style: 0, artist: 0, album: 0 } })).toBeNull();
  });

  it('stays dsp with no evaluation, or when no trained or imported representation beats it clearly', () => {
    expect(chooseRepresentation(null, all)).toMatchObject({ name: 'dsp', from: 'built-in' });
    expect(chooseRepresentation(comparison([row('dsp', 0.4), row('mine', 0.4 * (DEFAULT_MARGIN - 0.01))]), all)).toMatchObject({ name: 'dsp', from: 'built-in' });
    // mfcc and rand never take over, however they score
    expect(chooseRepresentation(comparison([row('dsp', 0.4), row('mfcc', 0.9), row('rand', 0.9)]), all).name).toBe('dsp');
  });

  it('offers a trained or imported representation that retrieves better, if it covers the library', () => {
    const c = comparison([row('dsp', 0.4), row('mine', 0.5), row('other', 0.45)]);
    const choice = chooseRepresentation(c, all);
    expect(choice).toMatchObject({ name: 'mine', from: 'evaluation' });
    expect(choice.reason).toMatch(/mine.*0\.500.*dsp 0\.400/);
    expect(choice.scores.map((s) => s.representation)).toEqual(['dsp', 'mine', 'other']);
    // Embedded before new tracks arrived: the next best that covers the library
    expect(chooseRepresentation(c, (rep) => rep !== 'mine')).toMatchObject({ name: 'other' });
  });
});

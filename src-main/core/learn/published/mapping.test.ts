import { describe, expect, it } from 'vitest';
import { calibrateMapping, defaultMapping, proposalsFor } from './mapping.js';
import { MSD_TAGS } from './published-model.js';

describe('published models: classes to tags', () => {
  it('maps the MSD tags to genre, mood, era, voice and style, and the classifiers to their field', () => {
    const m = defaultMapping('auto-tagging', MSD_TAGS, 'musicnn');
    const by = (l: string) => m.find((x) => x.label === l);
    expect(by('rnb')).toMatchObject({ field: 'genre', value: 'R&B' });
    expect(by('indie pop')).toMatchObject({ field: 'genre', value: 'Indie Pop' });
    expect(by('easy listening')).toMatchObject({ field: 'mood', value: 'easy listening' });
    expect(by('00s')).toMatchObject({ field: 'era', value: '2000s' });
    expect(by('instrumental')).toMatchObject({ field: 'voice', value: 'instrumental' });
    expect(m.filter((x) => x.field === 'mood').map((x) => x.label).sort()).toEqual(['Mellow', 'beautiful', 'catchy', 'chill', 'chillout', 'easy listening', 'happy', 'party', 'sad', 'sexy']);
    expect(defaultMapping('classifier', ['aggressive', 'non_aggressive'], 'mood_aggressive-musicnn-msd-2').map((x) => x.field)).toEqual(['mood', null]);
    expect(defaultMapping('classifier', ['danceable', 'not_danceable'], 'danceability-musicnn-msd-2').map((x) => `${x.field}:${x.value}`)).toEqual(['danceability:danceable', 'danceability:not danceable']);
  });

  it('proposes the likeliest genre only, every mood above its threshold, and one value for two classes that name it', () => {
    const classes = ['rock', 'jazz', 'sad', 'happy', 'female vocalists', 'female vocalist'];
    const m = defaultMapping('auto-tagging', classes, 'x');
    const p = proposalsFor(m, classes, Float32Array.of(0.6, 0.8, 0.55, 0.2, 0.7, 0.9));
    expect(p.map((x) => `${x.field}=${x.value}@${x.confidence.toFixed(1)}`).sort()).toEqual(['genre=Jazz@0.8', 'mood=sad@0.6', 'voice=female vocals@0.9']);
    expect(proposalsFor(m, classes, Float32Array.of(0.1, 0.2, 0.1, 0.1, 0.1, 0.1))).toEqual([]);
  });

  it('calibrates a threshold on the tracks tagged in the field (best F1), and leaves thin or fixed ones alone', () => {
    const classes = ['rock', 'jazz'];
    const outputs = new Map<number, Float32Array>();
    const tags = new Map<number, Record<string, string[]>>();
    // Rock tracks score 0.30–0.39 on "rock", the others 0.05–0.14: the best threshold is the lowest rock score.
    for (let i = 0; i < 20; i++) {
      const rock = i < 8;
      outputs.set(i, Float32Array.of(rock ? 0.3 + i / 100 : 0.05 + (i - 8) / 100, 0.1));
      tags.set(i, { genre: [rock ? 'Rock' : 'Jazz'] });
    }
    outputs.set(99, Float32Array.of(0.9, 0.9)); // untagged: not counted
    const m = calibrateMapping(defaultMapping('auto-tagging', classes, 'x'), classes, outputs, (id) => tags.get(id) ?? {});
    expect(m[0].threshold).toBeCloseTo(0.3, 5);
    expect(m[0].calibrated).toEqual({ tracks: 20, positives: 8, f1: 1 });
    // Jazz: 12 positives, but every score is the same: the threshold accepts all, F1 of always-yes.
    expect(m[1].calibrated?.f1).toBeCloseTo((2 * 12) / (2 * 12 + 8), 5);
    const thin = calibrateMapping(defaultMapping('auto-tagging', classes, 'x'), classes, new Map([...outputs].slice(0, 5)), (id) => tags.get(id) ?? {});
    expect(thin[0]).toMatchObject({ threshold: 0.5, calibrated: null });
    const fixed = calibrateMapping([{ ...m[0], threshold: 0.7, calibrated: null, fixed: true }], classes, outputs, (id) => tags.get(id) ?? {});
    expect(fixed[0].threshold).toBe(0.7);
  });
});

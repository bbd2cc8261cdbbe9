import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../../tests/helpers/fixtures.js';
import { Earmark } from '../api.js';
import { headRepresentation } from './tagging.js';

const t = tempDir();
afterAll(() => t.cleanup());

describe('the representation a head learns from', () => {
  it('is the default one, unless that is a model trained on the field being predicted (its labels would leak into cross-validation)', () => {
    const e = Earmark.open({ home: join(t.dir, 'home') });
    try {
      // Two tracks with dsp vectors and with the vectors of a model trained on genre, chosen as the default.
      for (const rep of ['dsp', 't1']) e.store.ensureRepresentation(rep, rep === 'dsp' ? 'builtin' : 'model:triplet', 4, '1');
      e.store.transaction(() => {
        for (let i = 0; i < 2; i++) {
          const id = e.store.insertTrack(`/m/${i}.flac`, null, { size: 1, mtimeMs: 0, hash: `h${i}` }, null);
          e.store.putVector(id, 'dsp', `h${i}`, new Float32Array([1, i, 0, 0]), []);
          e.store.putVector(id, 't1', `h${i}`, new Float32Array([0, 1, i, 0]), []);
        }
      });
      mkdirSync(join(e.paths.modelsDir, 't1'), { recursive: true });
      writeFileSync(join(e.paths.modelsDir, 't1', 'earmark.json'), JSON.stringify({ fields: ['genre'] }));
      e.store.setSetting('representation.default', 't1');
      expect(e.defaultRepresentation().name).toBe('t1');
      expect(headRepresentation(e, 'genre')).toBe('dsp');
      expect(headRepresentation(e, 'mood')).toBe('t1');
    } finally {
      e.close();
    }
  });
});

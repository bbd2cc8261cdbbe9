import { valueKey } from '../../library/facets.js';

/**
 * How one output of a published model becomes a tag proposal: the class `label` proposes `value` in `field` when
 * its activation (averaged over the track's patches) reaches `threshold`; `field` null ignores the class.
 * `calibrated` says the threshold was chosen on the user's own tags (best F1 over the tracks tagged in the field).
 */
export interface TagMapping {
  label: string;
  field: string | null;
  value: string;
  threshold: number;
  calibrated: { tracks: number; positives: number; f1: number } | null;
  /** Set by the user (`earmark model-mapping --threshold`): calibration leaves it. */
  fixed?: boolean;
}

const GENRE_NAMES: Record<string, string> = {
  'alternative rock': 'Alternative Rock',
  'classic rock': 'Classic Rock',
  'indie rock': 'Indie Rock',
  'hard rock': 'Hard Rock',
  'heavy metal': 'Heavy Metal',
  'progressive rock': 'Progressive Rock',
  'indie pop': 'Indie Pop',
  'hip-hop': 'Hip-Hop',
  rnb: 'R&B',
};
const MOODS = new Set(['beautiful', 'chillout', 'mellow', 'chill', 'party', 'sexy', 'catchy', 'sad', 'happy', 'easy listening']);
const DECADES: Record<string, string> = { '60s': '1960s', '70s': '1970s', '80s': '1980s', '90s': '1990s', '00s': '2000s', oldies: 'oldies' };
const VOICES: Record<string, string> = { 'female vocalists': 'female vocals', 'female vocalist': 'female vocals', 'male vocalists': 'male vocals', instrumental: 'instrumental' };
const STYLES = new Set(['guitar', 'acoustic']);

/** A calibrated threshold is kept only when its F1 on the user's tags reaches this. */
export const MIN_CALIBRATED_F1 = 0.5;

/**
 * Fields that take one value per track: their proposal is the likeliest mapped class at or above its threshold.
 * A track has one era, and is instrumental or sung (by a woman or a man), not several at once.
 */
const SINGLE = new Set(['genre', 'danceability', 'era', 'voice']);
export function isSingleValued(field: string): boolean {
  return SINGLE.has(field.toLowerCase());
}

function titleCase(s: string): string {
  return s.replace(/(^|[\s-])(\p{L})/gu, (_, a: string, b: string) => a + b.toUpperCase());
}

/**
 * The default mapping of a model's classes to fields. Auto-tagger (MSD tags): genres to `genre` (Title Case),
 * moods (beautiful, chillout, Mellow, chill, party, sexy, catchy, sad, happy, easy listening) to `mood`, decades
 * to `era` ("80s" → "1980s"), vocalists and instrumental to `voice`, guitar and acoustic to `style`; threshold
 * 0.5. Classifier: its positive class to `mood` (mood_happy → "happy"), danceability's two classes to
 * `danceability`; the negative classes ("non_happy") propose nothing.
 */
export function defaultMapping(task: 'auto-tagging' | 'classifier', classes: readonly string[], modelName: string): TagMapping[] {
  const at = (label: string, field: string | null, value: string): TagMapping => ({ label, field, value, threshold: 0.5, calibrated: null });
  if (task === 'classifier') {
    const dance = /danceab/i.test(modelName) || classes.some((c) => /^danceable$/i.test(c));
    return classes.map((c) => {
      if (dance) return at(c, 'danceability', c.replace(/_/g, ' '));
      if (/^non[_ ]/i.test(c)) return at(c, null, c);
      return at(c, 'mood', c.toLowerCase());
    });
  }
  return classes.map((c) => {
    const k = c.toLowerCase();
    if (MOODS.has(k)) return at(c, 'mood', k);
    if (k in DECADES) return at(c, 'era', DECADES[k]);
    if (k in VOICES) return at(c, 'voice', VOICES[k]);
    if (STYLES.has(k)) return at(c, 'style', k);
    return at(c, 'genre', GENRE_NAMES[k] ?? titleCase(c));
  });
}

/** One proposal from a model's outputs. */
export interface ModelProposal {
  field: string;
  value: string;
  confidence: number;
  label: string;
}

/**
 * The proposals for one track from its averaged activations `values` ([classes], in the model's class order).
 * Single-valued fields get their likeliest mapped class at or above its threshold; other fields every class at
 * or above its threshold. Several classes mapped to one value (female vocalist / female vocalists) count once,
 * with the highest activation.
 */
export function proposalsFor(mapping: readonly TagMapping[], classes: readonly string[], values: Float32Array): ModelProposal[] {
  const best = new Map<string, ModelProposal>();
  mapping.forEach((m) => {
    if (!m.field) return;
    const i = classes.indexOf(m.label);
    if (i < 0) return;
    const a = values[i];
    if (!(a >= m.threshold)) return;
    const field = m.field.toLowerCase();
    const key = isSingleValued(field) ? field : `${field}\u0000${valueKey(m.value)}`;
    const had = best.get(key);
    if (!had || a > had.confidence) best.set(key, { field, value: m.value, confidence: a, label: m.label });
  });
  return [...best.values()];
}

/**
 * Choose each mapped class's threshold on the user's own tags: over the tracks that carry any value in the
 * class's field, the threshold with the best F1 for "carries this value" (ties to the higher threshold), when at
 * least `minTracks` tracks are tagged in the field and `minPositives` carry the value; otherwise the threshold
 * stays, as it does when the best F1 is under `MIN_CALIBRATED_F1`. `tagsOf(id)` gives a track's own values per field; `outputs` the model's activations per track.
 */
export function calibrateMapping(
  mapping: readonly TagMapping[],
  classes: readonly string[],
  outputs: ReadonlyMap<number, Float32Array>,
  tagsOf: (id: number) => Record<string, string[]>,
  o: { minTracks?: number; minPositives?: number } = {},
): TagMapping[] {
  const minTracks = o.minTracks ?? 10;
  const minPositives = o.minPositives ?? 3;
  const tags = new Map([...outputs.keys()].map((id) => [id, tagsOf(id)]));
  return mapping.map((m) => {
    const i = classes.indexOf(m.label);
    if (!m.field || i < 0 || m.fixed) return m;
    const field = m.field.toLowerCase();
    const want = valueKey(m.value);
    const rows: Array<{ a: number; pos: boolean }> = [];
    for (const [id, v] of outputs) {
      const own = tags.get(id)?.[field];
      if (!own?.length) continue;
      rows.push({ a: v[i], pos: own.some((x) => valueKey(x) === want) });
    }
    const positives = rows.filter((r) => r.pos).length;
    if (rows.length < minTracks || positives < minPositives) return m;
    rows.sort((x, y) => y.a - x.a);
    let tp = 0;
    let fp = 0;
    let bestF1 = -1;
    let bestT = m.threshold;
    for (let k = 0; k < rows.length; k++) {
      if (rows[k].pos) tp++;
      else fp++;
      // A threshold between this activation and the next lower one accepts rows 0…k.
      if (k + 1 < rows.length && rows[k + 1].a === rows[k].a) continue;
      const f1 = (2 * tp) / (2 * tp + fp + (positives - tp));
      if (f1 > bestF1) {
        bestF1 = f1;
        bestT = rows[k].a;
      }
    }
    // Evidence too weak to move a threshold (the best cut still misses more than it finds): leave it.
    if (bestF1 < MIN_CALIBRATED_F1) return m;
    return { ...m, threshold: bestT, calibrated: { tracks: rows.length, positives, f1: bestF1 } };
  });
}

import type { LibraryStore } from '../store/library-store.js';
import { fold } from '../util/fold.js';

/**
 * Facet values as a learner and a person want them: the file's literal values (kept exactly in the store, so
 * tag writing and undo are exact) split where taggers joined several into one ("Rock; Pop", "Rock/Pop",
 * "Rock\\Pop", NUL), spelled one way per value (case, spacing, hyphens and "&"/"and" do not make a new value:
 * the library's most common spelling wins), mapped through the user's alias table, and with values below a
 * minimum support reported rather than learned.
 */

// NUL built from a string (ID3v2.4's separator, left in by some taggers).
const JOINED = new RegExp(`\\s*(?:;|/|\\\\|${String.fromCharCode(0)})\\s*`);

/** "Rock; Pop" → ["Rock", "Pop"]; trims and collapses inner whitespace. */
export function splitJoined(value: string): string[] {
  return value
    .split(JOINED)
    .map((v) => v.replace(/\s+/g, ' ').trim())
    .filter(Boolean);
}

/** The identity of a value regardless of spelling: "Hip Hop", "hip-hop", "HipHop" → "hiphop"; "Drum & Bass" = "Drum and Bass". */
export function valueKey(value: string): string {
  return fold(value)
    .replace(/\s+(?:&|and|n|'n')\s+/g, 'and')
    .replace(/&/g, 'and')
    .replace(/[^\p{L}\p{N}]+/gu, '');
}

export interface Alias {
  field: string;
  alias: string;
  value: string;
}

export function listAliases(store: LibraryStore, field?: string): Alias[] {
  const rows = field
    ? store.db.prepare('SELECT field, alias, value FROM aliases WHERE field = ? ORDER BY alias').all(field.toLowerCase())
    : store.db.prepare('SELECT field, alias, value FROM aliases ORDER BY field, alias').all();
  return rows as Alias[];
}

/** `alias` (any spelling) is to be read as `value` in `field`. */
export function setAlias(store: LibraryStore, field: string, alias: string, value: string): void {
  const key = valueKey(alias);
  if (!key) throw new Error(`"${alias}" has no letters or digits to match on.`);
  if (!value.trim()) throw new Error('An alias needs a value to map to.');
  store.db
    .prepare('INSERT INTO aliases (field, alias_key, alias, value) VALUES (?, ?, ?, ?) ON CONFLICT (field, alias_key) DO UPDATE SET alias = excluded.alias, value = excluded.value')
    .run(field.toLowerCase(), key, alias.trim(), value.trim());
}

export function removeAlias(store: LibraryStore, field: string, alias: string): boolean {
  return store.db.prepare('DELETE FROM aliases WHERE field = ? AND alias_key = ?').run(field.toLowerCase(), valueKey(alias)).changes > 0;
}

export interface VocabularyValue {
  value: string;
  /** Tracks carrying it. */
  count: number;
  /** The spellings met in the files, most common first. */
  spellings: string[];
}

export interface FacetVocabulary {
  field: string;
  /** Tracks with at least one value in the field. */
  tracks: number;
  minSupport: number;
  /** Values with at least `minSupport` tracks: what a model learns. */
  values: VocabularyValue[];
  /** Values below it: reported, not learned. */
  rare: VocabularyValue[];
  /** Every track's normalised values (only tracks with values). */
  byTrack: Map<number, string[]>;
}

/** A field's normalised vocabulary over the library, and each track's normalised values. */
export function facetVocabulary(store: LibraryStore, field: string, { minSupport = 5 } = {}): FacetVocabulary {
  const name = field.toLowerCase();
  const aliases = new Map(listAliases(store, name).map((a) => [valueKey(a.alias), a.value]));
  const raw = store.fieldValues(name);
  // First pass: split, alias, and count spellings per key.
  const spellings = new Map<string, Map<string, number>>();
  const keysByTrack = new Map<number, string[]>();
  for (const [trackId, values] of raw) {
    const keys: string[] = [];
    for (const v of values) {
      for (const part of splitJoined(v)) {
        const mapped = aliases.get(valueKey(part)) ?? part;
        const key = valueKey(mapped);
        if (!key || keys.includes(key)) continue;
        keys.push(key);
        const s = spellings.get(key) ?? new Map<string, number>();
        // The file's own spelling (reported); the alias target, if any, decides the value's spelling below.
        s.set(part, (s.get(part) ?? 0) + 1);
        spellings.set(key, s);
      }
    }
    if (keys.length) keysByTrack.set(trackId, keys);
  }
  // The spelling: an alias's target when the user named one, else the library's most common.
  const aliasSpelling = new Map([...aliases.values()].map((v) => [valueKey(v), v]));
  const canonical = new Map<string, VocabularyValue>();
  for (const [key, s] of spellings) {
    const sorted = [...s].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    canonical.set(key, { value: aliasSpelling.get(key) ?? sorted[0][0], count: 0, spellings: sorted.map(([sp]) => sp) });
  }
  const byTrack = new Map<number, string[]>();
  for (const [trackId, keys] of keysByTrack) {
    for (const k of keys) (canonical.get(k) as VocabularyValue).count++;
    byTrack.set(
      trackId,
      keys.map((k) => (canonical.get(k) as VocabularyValue).value),
    );
  }
  const all = [...canonical.values()].sort((a, b) => b.count - a.count || a.value.localeCompare(b.value));
  return {
    field: name,
    tracks: byTrack.size,
    minSupport,
    values: all.filter((v) => v.count >= minSupport),
    rare: all.filter((v) => v.count < minSupport),
    byTrack,
  };
}

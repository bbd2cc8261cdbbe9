import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpeg, lavfi, tempDir } from '../../../tests/helpers/fixtures.js';
import { contentHash } from './content-hash.js';
import { readTrackFacts } from './read-tags.js';
import { audioDigest, newBatchId, readJournal, restoreOriginalBytes, safeWriteTags } from './tag-writer.js';

/**
 * Property: any facet set (unicode, several values, empty lists that remove a field) written into any format and
 * tag version reads back exactly, leaves the audio and the other fields as they were, and undo gives back the
 * original bytes. A fixed seed keeps CI deterministic; FC_SEED=n tries others.
 *
 * Values a format cannot hold as text are left out of the generator, as they are format limits rather than bugs:
 * ";" (ID3v2.3 joins list values with it), a bare number or "(n)" (an ID3 genre reference), surrounding spaces.
 */

const t = tempDir();
afterAll(() => t.cleanup());

const FORMATS: Array<{ name: string; ext: string; id3?: 3 | 4; args: string[] }> = [
  { name: 'mp3-v2.3', ext: 'mp3', id3: 3, args: ['-id3v2_version', '3'] },
  { name: 'mp3-v2.4', ext: 'mp3', id3: 4, args: ['-id3v2_version', '4'] },
  { name: 'flac', ext: 'flac', args: [] },
  { name: 'ogg', ext: 'ogg', args: ['-c:a', 'libvorbis'] },
  { name: 'opus', ext: 'opus', args: ['-c:a', 'libopus'] },
  { name: 'm4a', ext: 'm4a', args: ['-c:a', 'aac'] },
  { name: 'wav', ext: 'wav', args: [] },
  { name: 'aiff', ext: 'aiff', args: ['-write_id3v2', '1'] },
];

const value = fc
  .string({ unit: fc.constantFrom(...'aZé夜ß Ω-&/.,!?\'"()0123456789ün'.split('')), minLength: 1, maxLength: 12 })
  .map((s) => s.replace(/\s+/g, ' ').trim())
  .filter((s) => s.length > 0 && !/^\(?\d+\)?$/.test(s) && !/^\(\d+\)/.test(s) && !/^\((RX|CR)\)/.test(s));
const values = fc.uniqueArray(value, { maxLength: 3, selector: (v) => v.toLowerCase() });
const facetSet = fc.record(
  { genre: values, mood: values, style: values, occasion: values },
  { requiredKeys: [] },
).filter((r) => Object.keys(r).length > 0);

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

beforeAll(() => {
  for (const f of FORMATS) lavfi(join(t.dir, `src-${f.name}.${f.ext}`), 'sine=f=330:d=2', [...f.args, '-metadata', 'title=Property', '-metadata', 'genre=Rock', '-metadata', 'artist=Prop Artist']);
});

describe.each(FORMATS)('property: any facet set, $name', (f) => {
  it('reads back exactly, keeps the audio and the rest, and undo gives back every byte', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(facetSet, async (set) => {
        const dir = join(t.dir, `${f.name}-${run++}`);
        mkdirSync(dir, { recursive: true });
        const path = join(dir, `track.${f.ext}`);
        copyFileSync(join(t.dir, `src-${f.name}.${f.ext}`), path);
        const original = sha(path);
        const before = await readTrackFacts(path);
        const audio = await audioDigest(ffmpeg(), path);
        const journalDir = join(dir, 'journal');
        const st = statSync(path);
        const batch = newBatchId();
        const w = await safeWriteTags(path, set, { ffmpeg: ffmpeg(), journalDir, batch, expected: { size: st.size, mtimeMs: st.mtimeMs, hash: await contentHash(path) }, id3Version: f.id3 });
        const after = await readTrackFacts(path);
        for (const [field, v] of Object.entries(set)) expect(after.facets[field] ?? [], `${field} of ${JSON.stringify(set)}`).toEqual(v);
        for (const [field, v] of Object.entries(before.facets)) if (!(field in set)) expect(after.facets[field]).toEqual(v);
        expect([after.title, after.artist]).toEqual([before.title, before.artist]);
        expect(await audioDigest(ffmpeg(), path)).toBe(audio);
        const [entry] = readJournal(journalDir, batch);
        const r = await restoreOriginalBytes(entry, { ffmpeg: ffmpeg(), journalDir, batch: newBatchId(), expected: w.file });
        expect(r).not.toBeNull();
        expect(sha(path)).toBe(original);
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 6), seed: Number(process.env.FC_SEED ?? 20261201), endOnFailure: true },
    );
  }, 300_000);
});

describe('a write cut short by a crash just after its rename', () => {
  it('still undoes to the byte from its pending journal entry and the delta kept before the rename', async () => {
    const dir = join(t.dir, 'crash');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'track.flac');
    copyFileSync(join(t.dir, 'src-flac.flac'), path);
    const original = sha(path);
    const journalDir = join(dir, 'journal');
    const batch = newBatchId();
    const st = statSync(path);
    await expect(
      safeWriteTags(path, { mood: ['Crash'] }, { ffmpeg: ffmpeg(), journalDir, batch, expected: { size: st.size, mtimeMs: st.mtimeMs, hash: await contentHash(path) }, failAt: 'rename' }),
    ).rejects.toThrow(/injected failure at rename/);
    const [entry] = readJournal(journalDir, batch);
    expect(entry.state).toBe('pending');
    expect((await readTrackFacts(path)).facets.mood).toEqual(['Crash']);
    const now = statSync(path);
    const r = await restoreOriginalBytes(entry, { ffmpeg: ffmpeg(), journalDir, batch: newBatchId(), expected: { size: now.size, mtimeMs: now.mtimeMs, hash: await contentHash(path) } });
    expect(r).not.toBeNull();
    expect(sha(path)).toBe(original);
  });
});

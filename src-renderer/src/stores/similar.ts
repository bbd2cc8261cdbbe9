import { defineStore } from 'pinia';
import { reactive, ref } from 'vue';
import type { SimilarResult, TrackSummary } from '../../../src-main/core/contract';
import { api } from '../services/api';
import { describeError } from './errors';

export type Seed = { kind: 'track'; track: Pick<TrackSummary, 'id' | 'title' | 'artist' | 'path'> } | { kind: 'file'; name: string; query: { path: string } | { uploadId: string } };

/** Search by example: the seeds, the options and the last result. */
export const useSimilar = defineStore('similar', () => {
  const seeds = ref<Seed[]>([]);
  const options = reactive({
    k: 25,
    /** Empty: the library's default representation (`LibraryInfo.defaultRepresentation`). */
    representation: '',
    artist: 'any' as 'any' | 'different' | 'same',
    excludeSameAlbum: false,
    tags: {} as Record<string, string[]>,
    hubness: 'mp' as 'mp' | 'none',
  });
  const result = ref<SimilarResult | null>(null);
  const loading = ref(false);
  const error = ref<string | null>(null);

  async function run(): Promise<void> {
    if (seeds.value.length === 0) {
      result.value = null;
      return;
    }
    loading.value = true;
    error.value = null;
    try {
      const file = seeds.value.find((s) => s.kind === 'file');
      const ids = seeds.value.flatMap((s) => (s.kind === 'track' ? [s.track.id] : []));
      const base = file && file.kind === 'file' ? file.query : { trackIds: ids };
      const tags = Object.fromEntries(Object.entries(options.tags).filter(([, v]) => v.length));
      result.value = await api.similar({
        ...base,
        k: options.k,
        representation: options.representation || undefined,
        artist: options.artist === 'any' ? undefined : options.artist,
        excludeSameAlbum: options.excludeSameAlbum || undefined,
        tags: Object.keys(tags).length ? tags : undefined,
        hubness: options.hubness,
      });
    } catch (e) {
      error.value = describeError(e);
      result.value = null;
    } finally {
      loading.value = false;
    }
  }

  /** Search from one track (replacing the seeds). */
  async function fromTrack(t: Pick<TrackSummary, 'id' | 'title' | 'artist' | 'path'>): Promise<void> {
    seeds.value = [{ kind: 'track', track: t }];
    await run();
  }
  /** Add a track to the seeds ("more like these"). */
  async function addSeed(t: Pick<TrackSummary, 'id' | 'title' | 'artist' | 'path'>): Promise<void> {
    seeds.value = seeds.value.filter((s) => s.kind === 'track');
    if (!seeds.value.some((s) => s.kind === 'track' && s.track.id === t.id)) seeds.value.push({ kind: 'track', track: t });
    await run();
  }
  async function removeSeed(i: number): Promise<void> {
    seeds.value.splice(i, 1);
    await run();
  }
  async function fromFile(file: File): Promise<void> {
    loading.value = true;
    error.value = null;
    try {
      const query = await api.fileQuery(file);
      seeds.value = [{ kind: 'file', name: file.name, query }];
    } catch (e) {
      error.value = describeError(e);
      loading.value = false;
      return;
    }
    await run();
  }
  function toggleTag(field: string, value: string): void {
    const list = (options.tags[field] ??= []);
    const i = list.indexOf(value);
    if (i >= 0) list.splice(i, 1);
    else list.push(value);
    void run();
  }
  return { seeds, options, result, loading, error, run, fromTrack, addSeed, removeSeed, fromFile, toggleTag };
});

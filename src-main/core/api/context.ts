import type { Ffmpeg } from '../audio/decode.js';
import type { TrackSummary } from '../contract.js';
import type { HomePaths } from '../home.js';
import type { VectorIndexes } from '../index/vector-index.js';
import type { TfRuntime } from '../learn/tf/backend.js';
import type { LibraryStore, TrackRow } from '../store/library-store.js';

/**
 * What the facade's domain modules (`api/*.ts`) work with: the open library, its vector indexes and data
 * folders, the ffmpeg to decode with and TensorFlow.js. `Earmark` (api.ts) is one.
 */
export interface ApiContext {
  readonly paths: HomePaths;
  readonly store: LibraryStore;
  readonly indexes: VectorIndexes;
  ffmpeg(): Ffmpeg;
  tf(): Promise<TfRuntime>;
}

/** A track row and its tags as every shell shows them. */
export function trackSummary(t: TrackRow, tags: Record<string, string[]>): TrackSummary {
  return {
    id: t.id,
    path: t.path,
    artist: t.artist,
    album: t.album,
    title: t.title,
    year: t.year,
    duration: t.duration,
    genre: tags.genre ?? [],
    mood: tags.mood ?? [],
    style: tags.style ?? [],
  };
}

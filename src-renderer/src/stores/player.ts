import { defineStore } from 'pinia';
import { ref } from 'vue';
import type { TrackSummary } from '../../../src-main/core/contract';
import { api } from '../services/api';

/** What is playing. The player bar owns the media element and follows this store. */
export const usePlayer = defineStore('player', () => {
  const current = ref<Pick<TrackSummary, 'id' | 'path' | 'title' | 'artist'> | null>(null);
  const src = ref<string | null>(null);
  const playing = ref(false);
  const request = ref(0);

  function play(t: Pick<TrackSummary, 'id' | 'path' | 'title' | 'artist'>): void {
    if (current.value?.id === t.id && src.value) {
      request.value++;
      return;
    }
    current.value = { id: t.id, path: t.path, title: t.title, artist: t.artist };
    src.value = api.mediaUrl(t.path);
    request.value++;
  }
  function toggle(t: Pick<TrackSummary, 'id' | 'path' | 'title' | 'artist'>): void {
    if (current.value?.id === t.id && playing.value) {
      playing.value = false;
      request.value++;
    } else play(t);
  }
  return { current, src, playing, request, play, toggle };
});

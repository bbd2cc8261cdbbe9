import { defineStore } from 'pinia';
import { computed, reactive, ref, shallowReactive } from 'vue';
import type { AnalysisStatus, FacetField, LibraryInfo, ReviewState, SortColumn, TrackListRow } from '../../../src-main/core/contract';
import { api } from '../services/api';
import { describeError } from './errors';

export const PAGE = 100;

/** The library table: query state, a page cache for the virtualised rows, facets and library facts. */
export const useLibrary = defineStore('library', () => {
  const info = ref<LibraryInfo | null>(null);
  const facets = ref<FacetField[]>([]);
  const search = ref('');
  const sort = reactive<{ column: SortColumn; direction: 'asc' | 'desc' }>({ column: 'artist', direction: 'asc' });
  const selectedFacets = reactive<Record<string, string[]>>({});
  const status = ref<AnalysisStatus | 'all'>('all');
  /** Review filter: a field and a state ('' for none). */
  const reviewField = ref('genre');
  const reviewState = ref<ReviewState | ''>('');
  const total = ref(0);
  const pages = shallowReactive(new Map<number, TrackListRow[]>());
  const loading = new Set<number>();
  let generation = 0;
  const selectedIndex = ref(-1);
  const error = ref<string | null>(null);
  const ready = ref(false);

  const query = () => ({
    search: search.value.trim() || undefined,
    sort: { column: sort.column, direction: sort.direction },
    facets: Object.fromEntries(Object.entries(selectedFacets).filter(([, v]) => v.length)),
    status: status.value,
    review: reviewState.value ? { field: reviewField.value, state: reviewState.value } : undefined,
  });

  async function loadPage(p: number, gen: number): Promise<void> {
    if (loading.has(p) || pages.has(p)) return;
    loading.add(p);
    try {
      const res = await api.queryTracks({ offset: p * PAGE, limit: PAGE, ...query() });
      if (gen !== generation) return;
      total.value = res.total;
      pages.set(p, res.rows);
    } catch (e) {
      error.value = describeError(e);
    } finally {
      loading.delete(p);
    }
  }

  /** Make sure rows [start, end) are loaded (the table calls this as it scrolls). */
  function ensureRange(start: number, end: number): void {
    const gen = generation;
    for (let p = Math.floor(Math.max(0, start) / PAGE); p <= Math.floor(Math.max(0, end - 1) / PAGE); p++) void loadPage(p, gen);
  }

  function rowAt(i: number): TrackListRow | undefined {
    return pages.get(Math.floor(i / PAGE))?.[i % PAGE];
  }

  /** Run the query again from the top (filters or sort changed). */
  async function reload({ keepSelection = false } = {}): Promise<void> {
    generation++;
    pages.clear();
    loading.clear();
    if (!keepSelection) selectedIndex.value = -1;
    await loadPage(0, generation);
    ready.value = true;
  }

  async function refreshFacts(): Promise<void> {
    try {
      const [i, f] = await Promise.all([api.info(), api.facets({})]);
      info.value = i;
      facets.value = f;
    } catch (e) {
      error.value = describeError(e);
    }
  }

  async function refresh(): Promise<void> {
    await Promise.all([reload({ keepSelection: true }), refreshFacts()]);
  }

  function setSort(column: SortColumn): void {
    if (sort.column === column) sort.direction = sort.direction === 'asc' ? 'desc' : 'asc';
    else {
      sort.column = column;
      sort.direction = column === 'year' || column === 'added' ? 'desc' : 'asc';
    }
    void reload();
  }

  function toggleFacet(field: string, value: string): void {
    const list = (selectedFacets[field] ??= []);
    const i = list.findIndex((v) => v.toLowerCase() === value.toLowerCase());
    if (i >= 0) list.splice(i, 1);
    else list.push(value);
    void reload();
  }

  function clearFacets(): void {
    for (const k of Object.keys(selectedFacets)) delete selectedFacets[k];
    void reload();
  }

  const activeFacetCount = computed(() => Object.values(selectedFacets).reduce((n, v) => n + v.length, 0));
  const selected = computed(() => (selectedIndex.value >= 0 ? rowAt(selectedIndex.value) : undefined));

  async function addFolder(path: string): Promise<void> {
    await api.addFolder({ path });
    await refresh();
  }
  async function removeFolder(path: string): Promise<number> {
    const r = await api.removeFolder({ path });
    await refresh();
    return r.removed;
  }

  return {
    info,
    facets,
    search,
    sort,
    selectedFacets,
    status,
    reviewField,
    reviewState,
    total,
    pages,
    selectedIndex,
    selected,
    error,
    ready,
    activeFacetCount,
    ensureRange,
    rowAt,
    reload,
    refresh,
    refreshFacts,
    setSort,
    toggleFacet,
    clearFacets,
    addFolder,
    removeFolder,
  };
});

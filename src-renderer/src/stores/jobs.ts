import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { JobInfo } from '../../../src-main/core/contract';
import { api } from '../services/api';
import { describeError } from './errors';
import { useLibrary } from './library';

/** Scan and analysis jobs, kept current by the backend's events. */
export const useJobs = defineStore('jobs', () => {
  const jobs = ref<JobInfo[]>([]);
  const error = ref<string | null>(null);
  let started = false;

  const RANK: Record<JobInfo['state'], number> = { queued: 0, running: 1, done: 2, failed: 2, cancelled: 2 };
  /** Keep the newest view of a job: snapshots from calls and events may arrive out of order. */
  function upsert(j: JobInfo): void {
    const i = jobs.value.findIndex((x) => x.id === j.id);
    if (i < 0) {
      jobs.value.push(j);
      return;
    }
    const old = jobs.value[i];
    if (RANK[j.state] < RANK[old.state]) return;
    if (RANK[j.state] === RANK[old.state] && j.state === 'running' && j.done < old.done) return;
    jobs.value[i] = j;
  }

  async function resync(): Promise<void> {
    try {
      for (const j of await api.jobs()) upsert(j);
    } catch (e) {
      error.value = describeError(e);
    }
  }

  async function start(): Promise<void> {
    if (started) return;
    started = true;
    const library = useLibrary();
    let refreshTimer: ReturnType<typeof setTimeout> | null = null;
    const refreshSoon = () => {
      if (refreshTimer) return;
      refreshTimer = setTimeout(() => {
        refreshTimer = null;
        void library.refresh();
      }, 400);
    };
    api.onEvent((e) => {
      if (e.type === 'job') {
        upsert(e.job);
        // Rows appear and change status while a job runs: refresh now and then, and at the end.
        if (e.job.state === 'running' && e.job.done % 25 === 0) refreshSoon();
      } else if (e.type === 'library-changed') {
        refreshSoon();
        void resync();
      }
    });
    await resync();
  }

  async function scan(): Promise<void> {
    try {
      upsert(await api.startScan());
    } catch (e) {
      error.value = describeError(e);
    }
  }
  async function analyze(): Promise<void> {
    try {
      upsert(await api.startAnalyze({}));
    } catch (e) {
      error.value = describeError(e);
    }
  }
  async function cancel(id: string): Promise<void> {
    try {
      upsert(await api.cancelJob({ id }));
    } catch (e) {
      error.value = describeError(e);
    }
  }

  const active = computed(() => jobs.value.filter((j) => j.state === 'running' || j.state === 'queued'));
  const recent = computed(() => [...jobs.value].sort((a, b) => b.createdAt - a.createdAt).slice(0, 6));
  return { jobs, active, recent, error, start, scan, analyze, cancel, upsert };
});

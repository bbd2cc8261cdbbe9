import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ProposalRow, ReviewSummary, TagBatch, TagEvaluation, TagHeadKind } from '../../../src-main/core/contract';
import { api } from '../services/api';
import { guarded } from './errors';
import { useJobs } from './jobs';
import { useLibrary } from './library';

export const PROPOSAL_PAGE = 100;
export type ProposalFilter = 'open' | 'pending' | 'accepted' | 'rejected' | 'suspicious';

/** Auto-tagging review: the heads per field, their proposals, accept/reject, writing and undo. */
export const useReview = defineStore('review', () => {
  const summary = ref<ReviewSummary[]>([]);
  const field = ref<string>('');
  /** The field whose proposals `rows` holds (it follows `field` once they have loaded). */
  const rowsField = ref<string>('');
  const filter = ref<ProposalFilter>('open');
  const rows = ref<ProposalRow[]>([]);
  const total = ref(0);
  const batches = ref<TagBatch[]>([]);
  const evaluation = ref<TagEvaluation | null>(null);
  const evaluating = ref(false);
  const error = ref<string | null>(null);
  const notice = ref<string | null>(null);
  const current = computed(() => summary.value.find((s) => s.field === field.value) ?? null);
  /** One tab per field, counting the proposals of every head in it (a learned head and published models may share a field). */
  const tabs = computed(() => {
    const by = new Map<string, { field: string; open: number }>();
    for (const s of summary.value) {
      const t = by.get(s.field) ?? { field: s.field, open: 0 };
      t.open += s.proposed + s.accepted;
      by.set(s.field, t);
    }
    return [...by.values()];
  });
  /** The field's other heads (a published model's beside a learned head, or several models). */
  const otherHeads = computed(() => summary.value.filter((s) => s.field === field.value && s !== current.value));
  const acceptedTotal = computed(() => summary.value.reduce((n, s) => n + s.accepted, 0));

  const guard = guarded(error);

  async function loadRows(append = false): Promise<void> {
    if (!field.value) {
      rows.value = [];
      total.value = 0;
      rowsField.value = '';
      return;
    }
    await guard(async () => {
      const f = filter.value;
      const requested = field.value;
      const page = await api.proposals({
        field: requested,
        status: f === 'suspicious' ? 'open' : f,
        suspiciousOnly: f === 'suspicious' || undefined,
        offset: append ? rows.value.length : 0,
        limit: PROPOSAL_PAGE,
      });
      // A reply for a field or filter left in the meantime would show the wrong list: drop it.
      if (field.value !== requested || filter.value !== f) return;
      total.value = page.total;
      rows.value = append ? [...rows.value, ...page.rows] : page.rows;
      rowsField.value = requested;
    });
  }

  async function refresh(): Promise<void> {
    await guard(async () => {
      const [s, b] = await Promise.all([api.reviewSummary(), api.tagBatches()]);
      summary.value = s;
      batches.value = b.sort((x, y) => y.at - x.at);
      if (!s.some((x) => x.field === field.value)) field.value = s[0]?.field ?? '';
    });
    await loadRows();
  }

  async function predict(fields: string[], kind: TagHeadKind = 'auto', minSupport = 5, representation = 'dsp'): Promise<void> {
    const jobs = useJobs();
    notice.value = null;
    await guard(async () => jobs.upsert(await api.startPredict({ fields, kind, minSupport, representation })));
  }

  async function decide(action: 'accept' | 'reject' | 'reset', o: { trackIds?: number[]; values?: string[]; minConfidence?: number; pendingOnly?: boolean }): Promise<void> {
    const r = await guard(() => api.review({ action, field: field.value, ...o }));
    if (!r) return;
    summary.value = r.summary;
    notice.value = `${r.changed} proposal${r.changed === 1 ? '' : 's'} ${action === 'reset' ? 'back to pending' : `${action}ed`}.`;
    await loadRows();
    void useLibrary().reload({ keepSelection: true });
  }

  async function write(): Promise<void> {
    const jobs = useJobs();
    await guard(async () => jobs.upsert(await api.startWriteTags({})));
  }

  async function undo(batch: string): Promise<void> {
    const r = await guard(() => api.undoTags({ batch }));
    if (!r) return;
    const how = r.restoredValues
      ? ` (${r.restoredBytes} to their original bytes; ${r.restoredValues} changed since the write, so their values, not their bytes)`
      : r.restoredBytes
        ? ' to their original bytes'
        : '';
    notice.value = `Restored ${r.restored} file${r.restored === 1 ? '' : 's'} from batch ${batch}${how}${r.refused.length ? `; ${r.refused.length} left as they are (${r.refused[0].message})` : ''}.`;
    await refresh();
  }

  async function evaluate(split: 'stratified' | 'artist', kind: TagHeadKind, minSupport: number): Promise<void> {
    evaluating.value = true;
    evaluation.value = null;
    await guard(async () => {
      evaluation.value = await api.evalTags({ field: field.value, split, kind, minSupport, multiLabel: current.value?.multiLabel, representation: current.value?.representation });
    });
    evaluating.value = false;
  }

  return { summary, tabs, otherHeads, field, rowsField, filter, rows, total, batches, evaluation, evaluating, error, notice, current, acceptedTotal, refresh, loadRows, predict, decide, write, undo, evaluate };
});

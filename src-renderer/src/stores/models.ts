import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import type { ComputeRuntime, LossCurve, ModelSummary, PublishedModelSummary, RepresentationComparison, TrainJobRequest } from '../../../src-main/core/contract';
import { api } from '../services/api';
import { describeError, guarded } from './errors';
import { useJobs } from './jobs';
import { useLibrary } from './library';

/** Trained encoders: the list, training/embedding jobs, the selected model's live loss, and the comparison of representations. */
export const useModels = defineStore('models', () => {
  const models = ref<ModelSummary[]>([]);
  /** Published models imported (Essentia's MusiCNN family). */
  const published = ref<PublishedModelSummary[]>([]);
  const importing = ref(false);
  const selected = ref<string>('');
  const curve = ref<LossCurve | null>(null);
  const compute = ref<ComputeRuntime | null>(null);
  const comparison = ref<RepresentationComparison | null>(null);
  const error = ref<string | null>(null);
  const notice = ref<string | null>(null);
  const current = computed(() => models.value.find((m) => m.name === selected.value) ?? null);

  const guard = guarded(error);

  async function loadCurve(): Promise<void> {
    if (!selected.value) {
      curve.value = null;
      return;
    }
    const name = selected.value;
    try {
      const c = await api.lossCurve({ model: name, points: 300 });
      if (selected.value === name) curve.value = c;
    } catch (e) {
      // The model may have been deleted meanwhile.
      if (selected.value === name) curve.value = null;
      error.value = describeError(e);
    }
  }

  async function refresh(): Promise<void> {
    await guard(async () => {
      const [m, c, p] = await Promise.all([api.models(), api.comparison(), api.publishedModels()]);
      models.value = m.sort((a, b) => b.createdAt - a.createdAt);
      published.value = p.sort((a, b) => b.importedAt - a.importedAt);
      comparison.value = c;
      // Keep the selection on a model whose training job has not written its first checkpoint yet.
      const pending = useJobs().active.some((j) => j.kind === 'train' && j.subject === selected.value);
      if (!m.some((x) => x.name === selected.value) && !pending) selected.value = models.value[0]?.name ?? '';
    });
    await loadCurve();
  }

  async function loadCompute(): Promise<void> {
    await guard(async () => {
      compute.value = await api.compute();
    });
  }

  async function train(r: TrainJobRequest): Promise<boolean> {
    notice.value = null;
    const job = await guard(() => api.startTrain(r));
    if (!job) return false;
    useJobs().upsert(job);
    selected.value = r.name;
    return true;
  }

  async function embed(model: string, rand = false): Promise<void> {
    notice.value = null;
    const job = await guard(() => api.startEmbed({ model, rand }));
    if (job) useJobs().upsert(job);
  }

  /** Why the last import failed (kept apart from `error`, which every refresh clears), or null. */
  const importError = ref<string | null>(null);

  /** Import a model from a path on the machine running Earmark (a graph model's folder or .zip, or an Earmark model file). */
  async function importFrom(path: string, name?: string): Promise<boolean> {
    notice.value = null;
    importError.value = null;
    importing.value = true;
    try {
      const r = await api.importModel({ path, name });
      notice.value = r.published ? `Imported "${r.name}". Run it on the library for its representation and proposals.` : `Imported "${r.name}". Embed the library with it.`;
      await refresh();
      return true;
    } catch (e) {
      importError.value = describeError(e);
      return false;
    } finally {
      importing.value = false;
    }
  }

  async function remove(model: string): Promise<void> {
    const r = await guard(() => api.deleteModel({ model }));
    if (!r) return;
    notice.value = `Deleted "${r.deleted}"${r.representations.length ? ` and its vectors (${r.representations.join(', ')})` : ''}.`;
    await refresh();
  }

  async function compare(representations: string[], queriesFrom: string | undefined, headFields: string[], minSupport: number): Promise<void> {
    notice.value = null;
    const job = await guard(() => api.startCompare({ representations, queriesFrom, headFields, minSupport }));
    if (job) useJobs().upsert(job);
  }

  /** Choose the representation used when none is named, or `null` to let the last comparison choose it. */
  async function setDefaultRepresentation(name: string | null): Promise<void> {
    const s = await guard(() => api.updateSettings({ defaultRepresentation: name }));
    if (!s) return;
    await useLibrary().refreshFacts();
    const choice = useLibrary().info?.defaultRepresentation;
    notice.value = choice ? `Used when none is named: ${choice.reason}` : null;
  }

  return { models, published, importing, importError, importFrom, selected, curve, compute, comparison, error, notice, current, refresh, loadCurve, loadCompute, train, embed, remove, compare, setDefaultRepresentation };
});

import type { Ref } from 'vue';
import { ApiError } from '../services/api';

/** A sentence for any failure, for banners and toasts. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Run a call for a store: clear its error first, put the failure (in words) into it, and give undefined on failure. */
export function guarded(error: Ref<string | null>): <T>(fn: () => Promise<T>) => Promise<T | undefined> {
  return async (fn) => {
    error.value = null;
    try {
      return await fn();
    } catch (e) {
      error.value = describeError(e);
      return undefined;
    }
  };
}

import { ApiError } from '../services/api';

/** A sentence for any failure, for banners and toasts. */
export function describeError(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

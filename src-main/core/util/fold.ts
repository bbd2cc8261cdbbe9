/** Case- and accent-insensitive form for search: "Ünïcode Café" → "unicode cafe". */
export function fold(s: string): string {
  return s.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase();
}

/**
 * A dense row-major 2-D float32 array. Spectrogram-like matrices are `[nBands, nFrames]`:
 * `data[band * nFrames + frame]`.
 */
export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array;
}

export function matrix(rows: number, cols: number, data?: Float32Array): Matrix {
  if (data && data.length !== rows * cols) {
    throw new Error(`matrix: data has ${data.length} values, expected ${rows}×${cols}`);
  }
  return { rows, cols, data: data ?? new Float32Array(rows * cols) };
}

/** Row `r` as a view (no copy). */
export function row(m: Matrix, r: number): Float32Array {
  return m.data.subarray(r * m.cols, (r + 1) * m.cols);
}

/** Plain nested arrays, `[rows][cols]`, for JSON output. */
export function toNested(m: Matrix): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < m.rows; r++) out.push(Array.from(row(m, r)));
  return out;
}

/** Horizontal concatenation of matrices with the same number of rows: `[rows, Σ cols]`. */
export function hstack(ms: readonly Matrix[]): Matrix {
  if (ms.length === 0) throw new Error('hstack: nothing to stack');
  const rows = ms[0].rows;
  const cols = ms.reduce((n, m) => n + m.cols, 0);
  const out = matrix(rows, cols);
  for (let r = 0; r < rows; r++) {
    let offset = r * cols;
    for (const m of ms) {
      if (m.rows !== rows) throw new Error(`hstack: row counts differ (${m.rows} vs ${rows})`);
      out.data.set(row(m, r), offset);
      offset += m.cols;
    }
  }
  return out;
}

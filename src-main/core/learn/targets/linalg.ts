/**
 * Small dense linear algebra for the target builders (plain TypeScript, row-major Float64Array matrices).
 */

export interface Dense {
  rows: number;
  cols: number;
  /** Row-major, `[rows, cols]`. */
  data: Float64Array;
}

export function dense(rows: number, cols: number, data?: ArrayLike<number>): Dense {
  const d = new Float64Array(rows * cols);
  if (data) d.set(data);
  return { rows, cols, data: d };
}

export function at(m: Dense, r: number, c: number): number {
  return m.data[r * m.cols + c];
}

/** `A Aᵀ` when `left`, else `Aᵀ A`. */
export function gram(a: Dense, left: boolean): Dense {
  const n = left ? a.rows : a.cols;
  const g = dense(n, n);
  if (left) {
    for (let i = 0; i < a.rows; i++) {
      for (let j = i; j < a.rows; j++) {
        let s = 0;
        for (let k = 0; k < a.cols; k++) s += a.data[i * a.cols + k] * a.data[j * a.cols + k];
        g.data[i * n + j] = s;
        g.data[j * n + i] = s;
      }
    }
  } else {
    for (let r = 0; r < a.rows; r++) {
      const base = r * a.cols;
      for (let i = 0; i < a.cols; i++) {
        const x = a.data[base + i];
        if (x === 0) continue;
        for (let j = i; j < a.cols; j++) g.data[i * n + j] += x * a.data[base + j];
      }
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) g.data[i * n + j] = g.data[j * n + i];
  }
  return g;
}

/**
 * Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: eigenvalues in descending order and
 * eigenvectors as columns of `vectors` (`[n, n]`). Accurate to machine precision; O(n³) per sweep.
 */
export function symmetricEigen(s: Dense, { maxSweeps = 100, tol = 1e-14 } = {}): { values: Float64Array; vectors: Dense } {
  const n = s.rows;
  const a = Float64Array.from(s.data);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const scale = Math.max(1e-300, a.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (Math.sqrt(off) <= tol * scale) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (Math.abs(apq) <= 1e-300) continue;
        const app = a[p * n + p];
        const aqq = a[q * n + q];
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const sn = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - sn * akq;
          a[k * n + q] = sn * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - sn * aqk;
          a[q * n + k] = sn * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - sn * vkq;
          v[k * n + q] = sn * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j] - a[i * n + i]);
  const values = Float64Array.from(order, (i) => a[i * n + i]);
  const vectors = dense(n, n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors.data[k * n + dst] = v[k * n + src];
  });
  return { values, vectors };
}

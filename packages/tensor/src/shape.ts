import { TensorError, fmtShape } from './errors.js';

/** A tensor shape: one non-negative integer size per axis; `[]` is a scalar. */
export type Shape = readonly number[];

/** Number of elements of a shape; 1 for a scalar, 0 when any dimension is 0. */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C order) strides in elements. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Checks that `shape` is a list of non-negative integers. */
export function checkShape(op: string, shape: unknown): Shape {
  if (!Array.isArray(shape)) throw new TensorError(op, `shape must be an array of non-negative integers, got ${String(shape)}`, 'shape');
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new TensorError(op, `shape must be an array of non-negative integers, got [${shape.join(',')}]`, 'shape');
    }
  }
  return shape as Shape;
}

/** NumPy broadcasting of two shapes: align on the right, a dimension of 1 stretches. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)]!;
    const db = i < n - b.length ? 1 : b[i - (n - b.length)]!;
    if (da === db || db === 1) out[i] = da;
    else if (da === 1) out[i] = db;
    else {
      throw new TensorError(
        op,
        `shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast: dimension ${i} (from the left of the aligned shapes) is ${da} vs ${db}; each pair must be equal or one of them 1`,
        'shape',
      );
    }
  }
  return out;
}

/** Normalises a possibly negative axis into [0, rank). */
export function normAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new TensorError(op, `axis ${axis} is out of range for a tensor of rank ${rank}; expected an integer in [${-rank}, ${rank - 1}]`, 'shape');
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalises a set of axes (undefined means all), sorted, with duplicates rejected. */
export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const out = list.map((a) => normAxis(op, a, rank));
  const sorted = [...out].sort((x, y) => x - y);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) throw new TensorError(op, `axis ${sorted[i]} appears twice in [${list.join(',')}]`, 'shape');
  }
  return sorted;
}

/** Checks that `perm` is a permutation of 0..rank-1. */
export function checkPerm(op: string, perm: readonly number[], rank: number): number[] {
  if (perm.length !== rank) {
    throw new TensorError(op, `permutation [${perm.join(',')}] has ${perm.length} entries; expected ${rank}, one per axis`, 'shape');
  }
  const norm = perm.map((p) => normAxis(op, p, rank));
  const seen = new Set(norm);
  if (seen.size !== rank) throw new TensorError(op, `[${perm.join(',')}] is not a permutation of the axes 0..${rank - 1}`, 'shape');
  return norm;
}

/**
 * Index arithmetic shared by the front end (ops.ts) and every backend: views
 * (shape + strides + offset) for transpose, broadcast and slice, the blocks of a
 * concatenation, axis coalescing, and the output dtype of each kind of primitive.
 * Decided here once, so the backends cannot disagree.
 */
import type { DType } from './dtype.js';
import { COMPARISON_OPS, LOGICAL_OPS, type BinaryOp, type ReduceOp } from './primitives.js';
import { sizeOf, stridesOf, type Shape } from './shape.js';

/**
 * A strided view of dense row-major storage: element `i` of the view (row-major over
 * `shape`) is storage element `offset + Σ_d coord_d(i) · strides[d]`. Strides are in
 * elements and may be 0 (broadcast) or negative (a reversed slice).
 */
export interface View {
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
}

/**
 * Strides (in elements) with which an operand of shape `shape` is read when
 * broadcast to `outShape` (right-aligned): 0 along stretched or missing axes.
 */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const r = outShape.length;
  const s = new Array<number>(r).fill(0);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    s[r - shape.length + i] = d === 1 ? 0 : acc;
    acc *= d;
  }
  return s;
}

/** x of shape `shape` read as `outShape` under NumPy broadcasting. */
export function broadcastView(shape: Shape, outShape: Shape): View {
  return { shape: outShape, strides: broadcastStrides(shape, outShape), offset: 0 };
}

/** x of shape `shape` with its axes permuted: axis j of the view is axis perm[j] of x. */
export function transposeView(shape: Shape, perm: readonly number[]): View {
  const inStrides = stridesOf(shape);
  return { shape: perm.map((p) => shape[p]!), strides: perm.map((p) => inStrides[p]!), offset: 0 };
}

/** view[i_0, ...] = x[begin_d + i_d · step_d]: a strided slice of x of shape `shape`. */
export function sliceView(shape: Shape, begin: readonly number[], step: readonly number[], outShape: Shape): View {
  const inStrides = stridesOf(shape);
  let offset = 0;
  for (let d = 0; d < shape.length; d++) offset += begin[d]! * inStrides[d]!;
  return { shape: outShape, strides: inStrides.map((s, d) => s * step[d]!), offset };
}

/**
 * Where each input of a concatenation lands: the output seen as [outer, rowOut], input t
 * is a block [outer, chunk] starting at column `offset` (all in elements). Input t's
 * row o is its elements [o·chunk, (o+1)·chunk), output elements o·rowOut + offset + [0, chunk).
 */
export interface ConcatLayout {
  /** Elements of the output. */
  readonly size: number;
  /** Product of the axes before the concatenation axis. */
  readonly outer: number;
  /** Elements in one output row: outShape[axis] · inner. */
  readonly rowOut: number;
  /** One entry per input, in order. */
  readonly parts: readonly { readonly chunk: number; readonly offset: number }[];
}

/** The {@link ConcatLayout} of joining tensors of `shapes` along `axis` into `outShape`. */
export function concatLayout(shapes: readonly Shape[], axis: number, outShape: Shape): ConcatLayout {
  const outer = sizeOf(outShape.slice(0, axis));
  const inner = sizeOf(outShape.slice(axis + 1));
  let offset = 0;
  const parts = shapes.map((s) => {
    const chunk = s[axis]! * inner;
    const part = { chunk, offset };
    offset += chunk;
    return part;
  });
  return { size: sizeOf(outShape), outer, rowOut: outShape[axis]! * inner, parts };
}

/** A strided access pattern over a shape, for one or more operands, with the fewest axes. */
export interface Coalesced {
  shape: number[];
  /** One stride list per operand, aligned with `shape`. */
  strides: number[][];
}

/**
 * Drops size-1 axes and merges neighbours d, d+1 wherever every operand steps
 * through them as one axis (stride[d] = stride[d+1] · shape[d+1]).
 * The flat iteration order over the output is unchanged.
 */
export function coalesce(shape: Shape, strides: readonly (readonly number[])[]): Coalesced {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => s[d]! * n === outStrides[k]![last])) {
      // Axis d+... merges into the previous kept axis: the previous stride becomes this one's.
      outShape[last] = outShape[last]! * n;
      strides.forEach((s, k) => (outStrides[k]![last] = s[d]!));
      continue;
    }
    outShape.push(n);
    strides.forEach((s, k) => outStrides[k]!.push(s[d]!));
  }
  return { shape: outShape, strides: outStrides };
}

// ---------------------------------------------------------------------------- output dtypes

/** Comparisons and logical ops yield bool; the others keep the operands' dtype. */
export function binaryOutDType(op: BinaryOp, dtype: DType): DType {
  return COMPARISON_OPS.has(op) || LOGICAL_OPS.has(op) ? 'bool' : dtype;
}

/** `argmax`/`argmin` yield int32 indices; the others keep the input's dtype. */
export function reduceOutDType(op: ReduceOp, dtype: DType): DType {
  return op === 'argmax' || op === 'argmin' ? 'int32' : dtype;
}

/** Raw Philox words are int32; uniforms are float32. */
export function randomDType(dist: 'bits' | 'uniform'): DType {
  return dist === 'bits' ? 'int32' : 'float32';
}

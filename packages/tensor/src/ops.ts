/**
 * The primitive ops: validate arguments, compute the output shape and dtype,
 * run the backend kernel and show the application to any active tracer.
 * Everything else in tandem (composites, autodiff rules, layers) is built from these.
 */
import type { AdamConstants, AttentionDims, Backend } from './backend.js';
import type { DType } from './dtype.js';
import { TensorError, fmtShape } from './errors.js';
import { binaryOutDType, broadcastStrides, broadcastView, concatLayout, randomDType, reduceOutDType, sliceView, transposeView, type View } from './layout.js';
import { LOGICAL_OPS, type BinaryOp, type PrimAttrs, type ReduceOp, type UnaryOp } from './primitives.js';
import { getBackend } from './registry.js';
import { broadcastShapes, checkPerm, checkShape, normAxes, normAxis, shapesEqual, sizeOf, type Shape } from './shape.js';
import { Tensor, aliasTensor, makeTensor, type TensorLike } from './tensor.js';
import { emit, isTracing } from './trace.js';

function describe(t: Tensor): string {
  return `${t.dtype}${fmtShape(t.shape)}`;
}

/** @internal Checks that every input lives on one backend and returns it. */
export function sameBackend(op: string, ts: readonly Tensor[]): Backend {
  const b = ts[0]!.dataRef(op).backend;
  for (const t of ts) {
    const tb = t.dataRef(op).backend;
    if (tb !== b) throw new TensorError(op, `inputs live on different backends (${b.name} and ${tb.name}); move one with \`toBackend\``, 'backend');
  }
  return b;
}

function scalarLike(v: number | boolean, like: Tensor, op: string): Tensor {
  const dtype = like.dtype;
  if (typeof v === 'boolean' && dtype !== 'bool') {
    throw new TensorError(op, `cannot combine the boolean ${v} with a ${dtype} tensor; expected a number`, 'dtype');
  }
  if (typeof v === 'number' && dtype === 'bool') {
    throw new TensorError(op, `cannot combine the number ${v} with a bool tensor; expected true or false`, 'dtype');
  }
  if (dtype === 'int32' && typeof v === 'number' && !Number.isInteger(v)) {
    throw new TensorError(op, `cannot combine the non-integer ${v} with an int32 tensor; cast the tensor to float32 first`, 'dtype');
  }
  if (dtype === 'int32' && typeof v === 'number' && (v < -2147483648 || v > 2147483647)) {
    throw new TensorError(op, `cannot combine ${v} with an int32 tensor: it is outside the int32 range [-2^31, 2^31); cast the tensor to float32 first`, 'dtype');
  }
  const b = like.dataRef(op).backend;
  return makeTensor(b, b.fill(Number(v), 1, dtype), [], dtype);
}

function requireDType(op: string, t: Tensor, allowed: readonly DType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new TensorError(op, `expected a ${allowed.join(' or ')} tensor, got ${describe(t)}`, 'dtype');
  }
}

// ---------------------------------------------------------------------------- unary

const FLOAT_ONLY: ReadonlySet<UnaryOp> = new Set(['exp', 'log', 'log1p', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'sin', 'cos']);

function unary(op: UnaryOp, x: Tensor): Tensor {
  const b = x.dataRef(op).backend;
  if (op === 'logicalNot') requireDType(op, x, ['bool']);
  else if (FLOAT_ONLY.has(op)) requireDType(op, x, ['float32']);
  else requireDType(op, x, ['float32', 'int32']);
  const out = makeTensor(b, b.unary(op, x.storage(op), x.size, x.dtype), x.shape, x.dtype);
  emit(op, [x], {}, out);
  return out;
}

/** -x */
export const neg = (x: Tensor): Tensor => unary('neg', x);
/** |x| */
export const abs = (x: Tensor): Tensor => unary('abs', x);
/** -1, 0 or 1 (0 for ±0; NaN stays NaN). */
export const sign = (x: Tensor): Tensor => unary('sign', x);
/** e^x */
export const exp = (x: Tensor): Tensor => unary('exp', x);
/** Natural log. */
export const log = (x: Tensor): Tensor => unary('log', x);
/** log(1 + x), accurate near 0. */
export const log1p = (x: Tensor): Tensor => unary('log1p', x);
/** Square root (float32; NaN for negative inputs). */
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
/** 1 / sqrt(x) */
export const rsqrt = (x: Tensor): Tensor => unary('rsqrt', x);
/** Hyperbolic tangent (float32). */
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
/** 1 / (1 + e^-x), computed without overflow. */
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
/** max(x, 0) */
export const relu = (x: Tensor): Tensor => unary('relu', x);
/** Sine, in radians (float32). */
export const sin = (x: Tensor): Tensor => unary('sin', x);
/** Cosine, in radians (float32). */
export const cos = (x: Tensor): Tensor => unary('cos', x);
/** Boolean not. */
export const logicalNot = (x: Tensor): Tensor => unary('logicalNot', x);

// ---------------------------------------------------------------------------- binary

function toTensors(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor, Tensor[]] {
  const temps: Tensor[] = [];
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) {
    throw new TensorError(op, 'at least one operand must be a Tensor');
  }
  let ta: Tensor, tb: Tensor;
  if (a instanceof Tensor) ta = a;
  else temps.push((ta = scalarLike(a, b as Tensor, op)));
  if (b instanceof Tensor) tb = b;
  else temps.push((tb = scalarLike(b, ta, op)));
  return [ta, tb, temps];
}

function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  const [ta, tb, temps] = toTensors(op, a, b);
  const backend = sameBackend(op, [ta, tb]);
  if (ta.dtype !== tb.dtype) {
    throw new TensorError(op, `operands have different dtypes (${describe(ta)} and ${describe(tb)}); cast one of them explicitly`, 'dtype');
  }
  if (LOGICAL_OPS.has(op)) requireDType(op, ta, ['bool']);
  else if (op === 'div' || op === 'pow') requireDType(op, ta, ['float32']);
  else if (op === 'eq' || op === 'ne') requireDType(op, ta, ['float32', 'int32', 'bool']);
  else requireDType(op, ta, ['float32', 'int32']);
  const outShape = broadcastShapes(op, ta.shape, tb.shape);
  const outDType = binaryOutDType(op, ta.dtype);
  const s = backend.binary(op, ta.storage(op), ta.shape, tb.storage(op), tb.shape, outShape, ta.dtype);
  const out = makeTensor(backend, s, outShape, outDType);
  emit(op, [ta, tb], {}, out);
  // Scalar operands are only needed later if a tracer saw them (its rule may read them).
  if (!isTracing()) for (const t of temps) t.dispose();
  return out;
}

/** Elementwise a + b with NumPy broadcasting; float32 or int32, both the same dtype (a JS number is taken as a scalar of the tensor's dtype). */
export const add = (a: TensorLike, b: TensorLike): Tensor => binary('add', a, b);
/** Elementwise a − b with broadcasting; float32 or int32. */
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary('sub', a, b);
/** Elementwise a · b with broadcasting; float32 or int32. */
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary('mul', a, b);
/** float32 division. */
export const div = (a: TensorLike, b: TensorLike): Tensor => binary('div', a, b);
/** float32 a^b (NaN for a negative base with a non-integer exponent, as Math.pow). */
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary('pow', a, b);
/** Elementwise max(a, b) with broadcasting; float32 or int32. */
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary('maximum', a, b);
/** Elementwise min(a, b) with broadcasting; float32 or int32. */
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary('minimum', a, b);
/** Elementwise a == b with broadcasting → bool; any dtype (both the same). */
export const eq = (a: TensorLike, b: TensorLike): Tensor => binary('eq', a, b);
/** Elementwise a != b with broadcasting → bool; any dtype (both the same). */
export const ne = (a: TensorLike, b: TensorLike): Tensor => binary('ne', a, b);
/** Elementwise a < b with broadcasting → bool; float32 or int32. */
export const lt = (a: TensorLike, b: TensorLike): Tensor => binary('lt', a, b);
/** Elementwise a ≤ b with broadcasting → bool; float32 or int32. */
export const le = (a: TensorLike, b: TensorLike): Tensor => binary('le', a, b);
/** Elementwise a > b with broadcasting → bool; float32 or int32. */
export const gt = (a: TensorLike, b: TensorLike): Tensor => binary('gt', a, b);
/** Elementwise a ≥ b with broadcasting → bool; float32 or int32. */
export const ge = (a: TensorLike, b: TensorLike): Tensor => binary('ge', a, b);
/** Elementwise boolean and, with broadcasting; bool operands. */
export const logicalAnd = (a: TensorLike, b: TensorLike): Tensor => binary('logicalAnd', a, b);
/** Elementwise boolean or, with broadcasting; bool operands. */
export const logicalOr = (a: TensorLike, b: TensorLike): Tensor => binary('logicalOr', a, b);
/** Elementwise boolean xor, with broadcasting; bool operands. */
export const logicalXor = (a: TensorLike, b: TensorLike): Tensor => binary('logicalXor', a, b);

/** Elementwise `cond ? a : b`, all three broadcast together; cond must be bool. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const op = 'where';
  requireDType(op, cond, ['bool']);
  let own: Tensor | undefined;
  if (!(a instanceof Tensor) && !(b instanceof Tensor)) {
    // Two JS scalars: numbers make float32 (booleans bool) tensors on cond's backend.
    const cb = cond.dataRef(op).backend;
    const dt: DType = typeof a === 'boolean' ? 'bool' : 'float32';
    a = own = makeTensor(cb, cb.fill(Number(a), 1, dt), [], dt);
  }
  const [ta, tb, temps] = toTensors(op, a, b);
  if (own) temps.push(own);
  const backend = sameBackend(op, [cond, ta, tb]);
  if (ta.dtype !== tb.dtype) {
    throw new TensorError(op, `branches have different dtypes (${describe(ta)} and ${describe(tb)}); cast one of them explicitly`, 'dtype');
  }
  const outShape = broadcastShapes(op, broadcastShapes(op, cond.shape, ta.shape), tb.shape);
  const s = backend.where(cond.storage(op), cond.shape, ta.storage(op), ta.shape, tb.storage(op), tb.shape, outShape, ta.dtype);
  const out = makeTensor(backend, s, outShape, ta.dtype);
  emit(op, [cond, ta, tb], {}, out);
  if (!isTracing()) for (const t of temps) t.dispose();
  return out;
}

// ---------------------------------------------------------------------------- reductions

function reduce(op: ReduceOp, x: Tensor, axesIn: number | readonly number[] | undefined, keepDims: boolean): Tensor {
  const backend = x.dataRef(op).backend;
  if (op === 'sum') requireDType(op, x, ['float32', 'int32']);
  else requireDType(op, x, ['float32', 'int32']);
  const axes = normAxes(op, axesIn, x.rank);
  const reducedSize = axes.reduce((p, a) => p * x.shape[a]!, 1);
  if (op !== 'sum' && reducedSize === 0) {
    throw new TensorError(op, `cannot reduce ${describe(x)} over axes [${axes.join(',')}] of size 0: ${op} of an empty set has no value`, 'shape');
  }
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : kept.map((i) => x.shape[i]!);
  const outDType = reduceOutDType(op, x.dtype);
  let src = x;
  let temp: Tensor | undefined;
  const contiguous = axes.length === 0 || axes[axes.length - 1]! - axes[0]! === axes.length - 1;
  let outer: number, inner: number;
  if (contiguous) {
    const first = axes.length ? axes[0]! : x.rank;
    const last = axes.length ? axes[axes.length - 1]! : x.rank - 1;
    outer = sizeOf(x.shape.slice(0, first));
    inner = sizeOf(x.shape.slice(last + 1));
  } else {
    // Move the reduced axes last (a copy), then reduce the trailing block.
    const perm = [...kept, ...axes];
    temp = src = runTranspose(x, perm);
    outer = sizeOf(kept.map((i) => x.shape[i]!));
    inner = 1;
  }
  const s = backend.reduce(op, src.storage(op), outer, reducedSize, inner, x.dtype);
  temp?.dispose();
  const out = makeTensor(backend, s, outShape, outDType);
  emit(op, [x], { axes, keepDims }, out);
  return out;
}

/** Sum over `axes` (all when omitted). */
export const sum = (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor => reduce('sum', x, axes, keepDims);
/** Maximum over `axes` (all when omitted); NaN propagates. */
export const max = (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor => reduce('max', x, axes, keepDims);
/** Minimum over `axes` (all when omitted); NaN propagates. */
export const min = (x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor => reduce('min', x, axes, keepDims);
/** Index of the maximum along `axis` (int32); ties go to the lowest index. */
export const argmax = (x: Tensor, axis: number, keepDims = false): Tensor => reduce('argmax', x, normAxis('argmax', axis, x.rank), keepDims);
/** Index of the minimum along `axis` (int32); ties go to the lowest index. */
export const argmin = (x: Tensor, axis: number, keepDims = false): Tensor => reduce('argmin', x, normAxis('argmin', axis, x.rank), keepDims);

// ---------------------------------------------------------------------------- matmul

/** Options for {@link matmul}: transpose either operand's last two axes without materialising the transpose. */
export interface MatmulOptions {
  /** Use the transpose of the last two axes of `a`. */
  transA?: boolean;
  /** Use the transpose of the last two axes of `b`. */
  transB?: boolean;
}

/**
 * Matrix product over the last two axes, batched over the leading axes with
 * NumPy broadcasting: [..., m, k] @ [..., k, n] → [..., m, n]. float32, rank ≥ 2.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const op = 'matmul';
  const backend = sameBackend(op, [a, b]);
  requireDType(op, a, ['float32']);
  requireDType(op, b, ['float32']);
  if (a.rank < 2 || b.rank < 2) {
    throw new TensorError(op, `both operands need rank ≥ 2, got ${describe(a)} and ${describe(b)}; reshape a vector to [1,n] or [n,1]`, 'shape');
  }
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  const [ar, ac] = [a.shape[a.rank - 2]!, a.shape[a.rank - 1]!];
  const [br, bc] = [b.shape[b.rank - 2]!, b.shape[b.rank - 1]!];
  const m = transA ? ac : ar;
  const k = transA ? ar : ac;
  const k2 = transB ? bc : br;
  const n = transB ? br : bc;
  if (k !== k2) {
    throw new TensorError(
      op,
      `inner dimensions differ: ${describe(a)}${transA ? 'ᵀ' : ''} @ ${describe(b)}${transB ? 'ᵀ' : ''} contracts ${k} with ${k2}; expected equal`,
      'shape',
    );
  }
  const aBatch = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const batchShape = broadcastShapes(op, aBatch, bBatch);
  const batch = sizeOf(batchShape);
  const outShape = [...batchShape, m, n];
  const temps: Tensor[] = [];
  // Each side is a single matrix (batch stride 0) or a full batch (stride one matrix);
  // partial broadcasts such as [2,1] against [1,3] are materialised first.
  const prepare = (t: Tensor, tBatch: Shape, rows: number, cols: number): [Tensor, number] => {
    if (sizeOf(tBatch) === 1) return [t, 0];
    if (shapesEqual(padLeft(tBatch, batchShape.length), batchShape)) return [t, rows * cols];
    const full = runBroadcast(t, [...batchShape, rows, cols]);
    temps.push(full);
    return [full, rows * cols];
  };
  const [sa, aStride] = prepare(a, aBatch, ar, ac);
  const [sb, bStride] = prepare(b, bBatch, br, bc);
  let s: unknown;
  if (bStride === 0 && aStride !== 0 && !transA) {
    // [B, m, k] @ [k, n] is one [B·m, k] @ [k, n] product: same sums, one kernel call.
    s = backend.matmul(sa.storage(op), sb.storage(op), 1, batch * m, k, n, false, transB, 0, 0);
  } else {
    s = backend.matmul(sa.storage(op), sb.storage(op), batch, m, k, n, transA, transB, aStride, bStride);
  }
  for (const t of temps) t.dispose();
  const out = makeTensor(backend, s, outShape, 'float32');
  emit(op, [a, b], { transA, transB }, out);
  return out;
}

function padLeft(shape: Shape, rank: number): number[] {
  return [...new Array<number>(rank - shape.length).fill(1), ...shape];
}

// ---------------------------------------------------------------------------- layout

/** Same elements, new shape (one entry may be -1 to infer it). Shares storage. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const op = 'reshape';
  x.dataRef(op);
  const infer = shape.filter((d) => d === -1).length;
  if (infer > 1 || shape.some((d) => !Number.isInteger(d) || d < -1)) {
    throw new TensorError(op, `invalid target shape ${fmtShape(shape)}: entries must be non-negative integers, with at most one -1`, 'shape');
  }
  let target = [...shape];
  if (infer) {
    const known = sizeOf(shape.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) {
      throw new TensorError(op, `cannot infer the -1 in ${fmtShape(shape)} for ${describe(x)} (${x.size} elements)`, 'shape');
    }
    target = shape.map((d) => (d === -1 ? x.size / known : d));
  }
  if (sizeOf(target) !== x.size) {
    throw new TensorError(op, `cannot reshape ${describe(x)} (${x.size} elements) to ${fmtShape(target)} (${sizeOf(target)} elements)`, 'shape');
  }
  const out = aliasTensor(x, target);
  emit(op, [x], { shape: target }, out);
  return out;
}

/** Materialises a view of x's storage (transpose, broadcast, slice: see layout.ts). */
function runView(op: string, x: Tensor, v: View): Tensor {
  const b = x.dataRef(op).backend;
  return makeTensor(b, b.stridedCopy(x.storage(op), v, x.dtype), v.shape, x.dtype);
}

function runTranspose(x: Tensor, perm: readonly number[]): Tensor {
  return runView('transpose', x, transposeView(x.shape, perm));
}

/** Permutes axes; the default reverses them. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const op = 'transpose';
  x.dataRef(op);
  const p = perm === undefined ? x.shape.map((_, i) => x.rank - 1 - i) : checkPerm(op, perm, x.rank);
  const out = runTranspose(x, p);
  emit(op, [x], { perm: p }, out);
  return out;
}

function runBroadcast(x: Tensor, shape: Shape): Tensor {
  return runView('broadcastTo', x, broadcastView(x.shape, shape));
}

/** Materialises `x` broadcast to `shape` (NumPy rules; `x` is right-aligned). */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const op = 'broadcastTo';
  x.dataRef(op);
  checkShape(op, shape);
  const ok = shape.length >= x.rank && x.shape.every((d, i) => d === 1 || d === shape[shape.length - x.rank + i]);
  if (!ok) {
    throw new TensorError(op, `cannot broadcast ${describe(x)} to ${fmtShape(shape)}: each dimension must equal the target's or be 1`, 'shape');
  }
  const out = runBroadcast(x, [...shape]);
  emit(op, [x], { shape: [...shape] }, out);
  return out;
}

/**
 * Strided slice, Python style per axis: `starts[d]`, `stops[d]` (exclusive; `null` or
 * omitted means "to the end in the direction of the step") and `steps[d]` (non-zero,
 * default 1). Negative starts/stops count from the end. Axes past the given lists are
 * taken whole. Indices outside the axis are an error, never clamped.
 */
export function slice(x: Tensor, starts: readonly number[], stops?: readonly (number | null)[], steps?: readonly number[]): Tensor {
  const op = 'slice';
  x.dataRef(op);
  if (starts.length > x.rank || (stops && stops.length > x.rank) || (steps && steps.length > x.rank)) {
    throw new TensorError(op, `got more slice entries than the ${x.rank} axes of ${describe(x)}`, 'shape');
  }
  const begin: number[] = [];
  const step: number[] = [];
  const outShape: number[] = [];
  for (let d = 0; d < x.rank; d++) {
    const dim = x.shape[d]!;
    const st = steps?.[d] ?? 1;
    if (!Number.isInteger(st) || st === 0) throw new TensorError(op, `step for axis ${d} must be a non-zero integer, got ${st}`);
    let s0 = starts[d] ?? (st > 0 ? 0 : dim - 1);
    const e0 = stops?.[d];
    if (!Number.isInteger(s0)) throw new TensorError(op, `start for axis ${d} must be an integer, got ${s0}`);
    if (s0 < 0) s0 += dim;
    let e: number;
    if (e0 === null || e0 === undefined) e = st > 0 ? dim : -1;
    else {
      if (!Number.isInteger(e0)) throw new TensorError(op, `stop for axis ${d} must be an integer or null, got ${e0}`);
      e = e0 < 0 ? e0 + dim : e0;
      if (e < 0 || e > dim) throw new TensorError(op, `stop ${e0} is out of range for axis ${d} of size ${dim} in ${describe(x)}`);
    }
    const count = st > 0 ? Math.max(0, Math.ceil((e - s0) / st)) : Math.max(0, Math.ceil((s0 - e) / -st));
    if (count > 0 && (s0 < 0 || s0 >= dim)) {
      throw new TensorError(op, `start ${starts[d]} is out of range for axis ${d} of size ${dim} in ${describe(x)}`);
    }
    begin.push(count > 0 ? s0 : 0);
    step.push(st);
    outShape.push(count);
  }
  const out = runView(op, x, sliceView(x.shape, begin, step, outShape));
  emit(op, [x], { begin, step }, out);
  return out;
}

/** Pads each axis with `widths[d] = [before, after]` copies of `value` (a constant). */
export function pad(x: Tensor, widths: readonly (readonly [number, number])[], value = 0): Tensor {
  const op = 'pad';
  const b = x.dataRef(op).backend;
  if (widths.length !== x.rank) {
    throw new TensorError(op, `expected ${x.rank} [before, after] pairs for ${describe(x)}, got ${widths.length}`, 'shape');
  }
  for (const w of widths) {
    if (w.length !== 2 || !w.every((v) => Number.isInteger(v) && v >= 0)) {
      throw new TensorError(op, `pad widths must be pairs of non-negative integers, got ${JSON.stringify(widths)}`);
    }
  }
  if (x.dtype === 'int32' && !(Number.isInteger(value) && value >= -2147483648 && value <= 2147483647)) {
    throw new TensorError(op, `pad value ${value} is not an int32 (an integer in [-2^31, 2^31)), as an int32 tensor needs`, 'dtype');
  }
  if (x.dtype === 'bool' && value !== 0 && value !== 1) throw new TensorError(op, `pad value ${value} is not 0 or 1, as a bool tensor needs`, 'dtype');
  const before = widths.map((w) => w[0]);
  const outShape = x.shape.map((d, i) => d + widths[i]![0] + widths[i]![1]);
  const out = makeTensor(b, b.pad(x.storage(op), x.shape, before, outShape, value, x.dtype), outShape, x.dtype);
  emit(op, [x], { widths: widths.map((w) => [w[0], w[1]]), value }, out);
  return out;
}

/** Joins tensors along an existing axis; other dimensions and dtypes must agree. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  const op = 'concat';
  if (xs.length === 0) throw new TensorError(op, 'needs at least one tensor');
  const backend = sameBackend(op, xs);
  const first = xs[0]!;
  const ax = normAxis(op, axis, first.rank);
  for (const t of xs) {
    if (t.dtype !== first.dtype) throw new TensorError(op, `dtypes differ: ${describe(first)} and ${describe(t)}`, 'dtype');
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new TensorError(op, `shapes ${fmtShape(first.shape)} and ${fmtShape(t.shape)} differ outside axis ${ax}`, 'shape');
    }
  }
  const outShape = first.shape.map((d, i) => (i === ax ? xs.reduce((s, t) => s + t.shape[ax]!, 0) : d));
  const s = backend.concat(xs.map((t) => t.storage(op)), concatLayout(xs.map((t) => t.shape), ax, outShape), first.dtype);
  const out = makeTensor(backend, s, outShape, first.dtype);
  emit(op, [...xs], { axis: ax }, out);
  return out;
}

// ---------------------------------------------------------------------------- gather / scatter

/**
 * Picks entries along `axis` by int32 `indices` (any shape): the output shape is
 * x.shape[:axis] + indices.shape + x.shape[axis+1:]. On cpu an index outside
 * [0, dim) throws; on webgpu it reads 0 (the kernel cannot raise), so validate first.
 */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  const op = 'gather';
  const backend = sameBackend(op, [x, indices]);
  requireDType(op, indices, ['int32']);
  if (x.rank === 0) throw new TensorError(op, `cannot gather from a scalar ${describe(x)}`, 'shape');
  const ax = normAxis(op, axis, x.rank);
  const outer = sizeOf(x.shape.slice(0, ax));
  const inner = sizeOf(x.shape.slice(ax + 1));
  const dim = x.shape[ax]!;
  const outShape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
  const s = backend.gather(x.storage(op), outer, dim, inner, indices.storage(op), indices.size, x.dtype);
  const out = makeTensor(backend, s, outShape, x.dtype);
  emit(op, [x, indices], { axis: ax }, out);
  return out;
}

/**
 * The adjoint of `gather`: a tensor of shape `shape` (zeros) where each slice of
 * `updates` is added at the position its index names along `axis`. Repeated
 * indices accumulate, in increasing order of their position (deterministic).
 */
export function scatterAdd(updates: Tensor, indices: Tensor, axis: number, shape: readonly number[]): Tensor {
  const op = 'scatterAdd';
  const backend = sameBackend(op, [updates, indices]);
  requireDType(op, indices, ['int32']);
  requireDType(op, updates, ['float32', 'int32']);
  checkShape(op, shape);
  const ax = normAxis(op, axis, shape.length);
  const expected = [...shape.slice(0, ax), ...indices.shape, ...shape.slice(ax + 1)];
  if (!shapesEqual(expected, updates.shape)) {
    throw new TensorError(op, `updates ${describe(updates)} do not match target ${fmtShape(shape)} with indices ${fmtShape(indices.shape)} on axis ${ax}; expected updates of shape ${fmtShape(expected)}`, 'shape');
  }
  const outer = sizeOf(shape.slice(0, ax));
  const inner = sizeOf(shape.slice(ax + 1));
  const s = backend.scatterAdd(updates.storage(op), outer, shape[ax]!, inner, indices.storage(op), indices.size, updates.dtype);
  const out = makeTensor(backend, s, [...shape], updates.dtype);
  emit(op, [updates, indices], { axis: ax, shape: [...shape] }, out);
  return out;
}

// ---------------------------------------------------------------------------- cast, random

/** Converts to `dtype`: float→int32 truncates toward zero; to bool is `x != 0`; from bool gives 0/1. */
export function cast(x: Tensor, dtype: DType): Tensor {
  const op = 'cast';
  const b = x.dataRef(op).backend;
  const out = x.dtype === dtype ? aliasTensor(x, x.shape) : makeTensor(b, b.cast(x.storage(op), x.size, x.dtype, dtype), x.shape, dtype);
  emit(op, [x], { dtype }, out);
  return out;
}

/** @internal Philox words or uniforms for the random module (no tracing: random draws have no gradient). */
export function randomRaw(key0: number, key1: number, shape: readonly number[], dist: 'bits' | 'uniform', backend?: Backend): Tensor {
  const b = backend ?? getBackend();
  return makeTensor(b, b.random(key0 >>> 0, key1 >>> 0, sizeOf(shape), dist), [...shape], randomDType(dist));
}

// ---------------------------------------------------------------------------- fused row ops

/**
 * Softmax (or log-softmax) over the last axis as one primitive when the backend has a
 * fused kernel; returns undefined otherwise so the caller composes it from primitives.
 * Its gradient rule (autodiff) uses only the output.
 */
export function fusedSoftmaxLast(x: Tensor, log: boolean): Tensor | undefined {
  const op = log ? 'logSoftmax' : 'softmax';
  const b = x.dataRef(op).backend;
  if (!b.softmax || x.rank === 0) return undefined;
  requireDType(op, x, ['float32']);
  const n = x.shape[x.rank - 1]!;
  const out = makeTensor(b, b.softmax(x.storage(op), n === 0 ? 0 : x.size / n, n, log), x.shape, 'float32');
  emit(op, [x], {}, out);
  return out;
}

/** (x − mean)/sqrt(var + eps) over the last axis as one primitive, or undefined without a fused kernel. */
export function fusedNormalizeLast(x: Tensor, eps: number): Tensor | undefined {
  const op = 'normalize';
  const b = x.dataRef(op).backend;
  if (!b.normalize || x.rank === 0) return undefined;
  requireDType(op, x, ['float32']);
  if (!(eps >= 0)) throw new TensorError(op, `eps must be a non-negative number, got ${eps}`);
  const n = x.shape[x.rank - 1]!;
  const out = makeTensor(b, b.normalize(x.storage(op), n === 0 ? 0 : x.size / n, n, eps), x.shape, 'float32');
  emit(op, [x], { eps }, out);
  return out;
}

/**
 * The gradient of the fused softmax (`log`: log-softmax) over the last axis from its output
 * `y` and the cotangent `ct`, as one backend pass; undefined when the backend has no such
 * kernel (or declines the size) or a tracer is watching, so autodiff's rule composes it
 * from primitives (which higher-order gradients need). Not recorded.
 */
export function fusedSoftmaxGrad(y: Tensor, ct: Tensor, log: boolean): Tensor | undefined {
  return fusedRowGrad(log ? 'logSoftmaxGrad' : 'softmaxGrad', y, ct, (b) =>
    b.softmaxGrad && ((ys, cts, rows, n) => b.softmaxGrad!(ys, cts, rows, n, log)));
}

/** The gradient of the fused normalize over the last axis from its input `x` and the cotangent `ct`; as {@link fusedSoftmaxGrad}. */
export function fusedNormalizeGrad(x: Tensor, ct: Tensor, eps: number): Tensor | undefined {
  return fusedRowGrad('normalizeGrad', x, ct, (b) =>
    b.normalizeGrad && ((xs, cts, rows, n) => b.normalizeGrad!(xs, cts, rows, n, eps)));
}

type RowGradKernel = (x: unknown, ct: unknown, rows: number, n: number) => unknown;

/**
 * The shared body of the fused row-op gradients: `x` (the op's input or output) and `ct`
 * float32 of one shape of rank ≥ 1, no tracer watching, and a kernel from `kernelOf`
 * (undefined where the backend has none); else undefined. The kernel may decline too.
 */
function fusedRowGrad(op: string, x: Tensor, ct: Tensor, kernelOf: (b: Backend) => RowGradKernel | undefined): Tensor | undefined {
  const b = sameBackend(op, [x, ct]);
  const kernel = kernelOf(b);
  if (!kernel || isTracing() || x.rank === 0 || x.dtype !== 'float32' || ct.dtype !== 'float32' || !shapesEqual(x.shape, ct.shape)) return undefined;
  const n = x.shape[x.rank - 1]!;
  const s = kernel(x.storage(op), ct.storage(op), n === 0 ? 0 : x.size / n, n);
  return s === undefined ? undefined : makeTensor(b, s, x.shape, 'float32');
}

/** The kernel sizes of an `attention` application (operands already validated by `multiHeadAttention`). */
function attentionDims(q: Tensor, k: Tensor, bias: Tensor | undefined, a: PrimAttrs<'attention'>): AttentionDims {
  const [batch, tq, d] = q.shape as [number, number, number];
  const tk = a.kvHeads ? k.shape[2]! : k.shape[1]!;
  const s = bias ? broadcastStrides(bias.shape, [batch, a.heads, tq, tk]) : undefined;
  return {
    batch, heads: a.heads, tq, tk, dh: d / a.heads, scale: Math.fround(a.scale), kvHeads: a.kvHeads,
    biasStrides: s ? [s[0]!, s[1]!, s[2]!, s[3]!] : undefined,
  };
}

/**
 * Multi-head attention as one primitive when the backend has a fused kernel for these sizes,
 * else undefined (the caller, `multiHeadAttention`, composes it). Operands are validated by
 * the caller. Its gradient rule (autodiff) uses {@link fusedAttentionGrad} or primitives.
 */
export function fusedAttention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | undefined, attrs: PrimAttrs<'attention'>): Tensor | undefined {
  const op = 'attention';
  const ins = bias ? [q, k, v, bias] : [q, k, v];
  const b = sameBackend(op, ins);
  if (!b.attention) return undefined;
  const s = b.attention(q.storage(op), k.storage(op), v.storage(op), bias?.storage(op), attentionDims(q, k, bias, attrs));
  if (s === undefined) return undefined;
  const out = makeTensor(b, s, q.shape, 'float32');
  emit(op, ins, attrs, out);
  return out;
}

/**
 * [dq, dk, dv] of the fused attention for the output cotangent `ct`, as backend passes; undefined
 * when the backend has no such kernels (or declines the sizes) or a tracer is watching. Not recorded.
 */
export function fusedAttentionGrad(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | undefined, ct: Tensor, attrs: PrimAttrs<'attention'>): [Tensor, Tensor, Tensor] | undefined {
  const op = 'attentionGrad';
  const b = sameBackend(op, bias ? [q, k, v, bias, ct] : [q, k, v, ct]);
  if (!b.attentionGrad || isTracing() || ct.dtype !== 'float32' || !shapesEqual(ct.shape, q.shape)) return undefined;
  const g = b.attentionGrad(q.storage(op), k.storage(op), v.storage(op), bias?.storage(op), ct.storage(op), attentionDims(q, k, bias, attrs));
  if (g === undefined) return undefined;
  return [makeTensor(b, g[0], q.shape, 'float32'), makeTensor(b, g[1], k.shape, 'float32'), makeTensor(b, g[2], v.shape, 'float32')];
}

/**
 * One Adam(W) step of one float32 leaf as a single backend pass: [m', v', update] (see
 * {@link AdamConstants} for the arithmetic), or undefined when the backend has no fused
 * kernel or a tracer is watching (the caller then composes the same arithmetic from
 * traced primitives, so differentiating through an optimiser step still works). Not
 * recorded: an optimiser update is not differentiated.
 */
export function fusedAdamStep(g: Tensor, m: Tensor, v: Tensor, p: Tensor | undefined, c: AdamConstants): [Tensor, Tensor, Tensor] | undefined {
  const op = 'adamStep';
  const ts = p ? [g, m, v, p] : [g, m, v];
  const b = sameBackend(op, ts);
  if (!b.adamStep || isTracing()) return undefined;
  for (const t of ts) {
    requireDType(op, t, ['float32']);
    if (!shapesEqual(t.shape, g.shape)) throw new TensorError(op, `every operand must have the gradient's shape ${fmtShape(g.shape)}, got ${describe(t)}`, 'shape');
  }
  const [m2, v2, u] = b.adamStep(g.storage(op), m.storage(op), v.storage(op), p?.storage(op), g.size, c);
  return [makeTensor(b, m2, g.shape, 'float32'), makeTensor(b, v2, g.shape, 'float32'), makeTensor(b, u, g.shape, 'float32')];
}

/**
 * A plain float64 reference implementation of tandem's primitives and main
 * composites, for property tests (cpu correctness, webgpu parity, autodiff).
 *
 * It is written independently of the library and imports nothing from it: an
 * array is a row-major `Float64Array` plus a shape, and every op is a nested loop
 * over multi-indices. Values are never rounded to float32 here; tests round (or
 * bound the difference) themselves. Integer semantics (int32 wrap-around) are
 * applied where an op is given `dtype: 'int32'`; bools are 0/1.
 *
 * Argument conventions follow the library's public API (NumPy broadcasting, negative
 * axes, Python-style slices with errors instead of clamping), so a test can pass the
 * same arguments to both.
 */

export type RefDType = 'float32' | 'int32' | 'bool';

/** A dense row-major array. */
export interface Nd {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

// ------------------------------------------------------------------------------- basics

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Builds an Nd, checking that the data length matches the shape. */
export function nd(shape: readonly number[], data: ArrayLike<number> | Iterable<number>): Nd {
  const arr = Float64Array.from(data as ArrayLike<number>);
  if (arr.length !== numel(shape)) throw new Error(`reference: ${arr.length} values for shape [${shape.join(',')}]`);
  return { shape: [...shape], data: arr };
}

/** An Nd filled by `f(multiIndex)`. */
export function ndFrom(shape: readonly number[], f: (idx: number[]) => number): Nd {
  const out = new Float64Array(numel(shape));
  let i = 0;
  forEachIndex(shape, (idx) => {
    out[i++] = f(idx);
  });
  return { shape: [...shape], data: out };
}

export function filled(shape: readonly number[], value: number): Nd {
  return { shape: [...shape], data: new Float64Array(numel(shape)).fill(value) };
}

/** Row-major strides. */
export function rowMajorStrides(shape: readonly number[]): number[] {
  const s: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Calls `f` with every multi-index of `shape` in row-major order (once, with [], for a scalar). */
export function forEachIndex(shape: readonly number[], f: (idx: number[]) => void): void {
  if (numel(shape) === 0) return;
  const idx = new Array<number>(shape.length).fill(0);
  for (;;) {
    f(idx);
    let d = shape.length - 1;
    while (d >= 0) {
      idx[d]!++;
      if (idx[d]! < shape[d]!) break;
      idx[d] = 0;
      d--;
    }
    if (d < 0) return;
  }
}

/** The element of `x` at a multi-index. */
export function at(x: Nd, idx: readonly number[]): number {
  let off = 0;
  let stride = 1;
  for (let d = x.shape.length - 1; d >= 0; d--) {
    off += idx[d]! * stride;
    stride *= x.shape[d]!;
  }
  return x.data[off]!;
}

/** Nested JS arrays (a number for a scalar), as `toArray()` returns them. */
export function toNested(x: Nd): unknown {
  if (x.shape.length === 0) return x.data[0]!;
  const rec = (d: number, off: number): unknown[] => {
    const n = x.shape[d]!;
    const inner = numel(x.shape.slice(d + 1));
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(d === x.shape.length - 1 ? x.data[off + i]! : rec(d + 1, off + i * inner));
    return out;
  };
  return rec(0, 0);
}

export function normAxis(axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new Error(`reference: axis ${axis} out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

/** Wraps to a signed 32-bit integer (two's complement), as int32 storage does. */
export const wrapInt32 = (v: number): number => {
  if (!Number.isFinite(v)) return 0;
  // Exact for |v| < 2^53 (all values reference ops produce).
  const m = ((Math.trunc(v) % 4294967296) + 4294967296) % 4294967296;
  return m >= 2147483648 ? m - 4294967296 : m;
};

function finishDType(v: number, dtype: RefDType): number {
  if (dtype === 'int32') return wrapInt32(v);
  if (dtype === 'bool') return v !== 0 ? 1 : 0;
  return v;
}

// ------------------------------------------------------------------------------- unary

export type RefUnaryOp =
  | 'neg' | 'abs' | 'sign' | 'exp' | 'log' | 'log1p' | 'sqrt' | 'rsqrt'
  | 'tanh' | 'sigmoid' | 'relu' | 'sin' | 'cos' | 'logicalNot';

/** The scalar function of each unary op, in float64. */
export const UNARY_REF: Record<RefUnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  abs: (x) => Math.abs(x),
  sign: (x) => (Number.isNaN(x) ? NaN : x > 0 ? 1 : x < 0 ? -1 : 0),
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  log1p: (x) => Math.log1p(x),
  sqrt: (x) => Math.sqrt(x),
  rsqrt: (x) => 1 / Math.sqrt(x),
  tanh: (x) => Math.tanh(x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  relu: (x) => (Number.isNaN(x) ? NaN : Math.max(x, 0)),
  sin: (x) => Math.sin(x),
  cos: (x) => Math.cos(x),
  logicalNot: (x) => (x === 0 ? 1 : 0),
};

export function unary(op: RefUnaryOp, x: Nd, dtype: RefDType = 'float32'): Nd {
  const f = UNARY_REF[op];
  return { shape: [...x.shape], data: x.data.map((v) => finishDType(f(v), dtype)) };
}

// ------------------------------------------------------------------------------- broadcasting

/** NumPy broadcast of any number of shapes; throws if they are incompatible. */
export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const j = i - (rank - s.length);
      const sd = j < 0 ? 1 : s[j]!;
      if (sd === 1) continue;
      if (d !== 1 && d !== sd) throw new Error(`reference: shapes ${shapes.map((s) => `[${s.join(',')}]`).join(' ')} do not broadcast`);
      d = sd;
    }
    out.push(d);
  }
  return out;
}

/** Reads x at an index of a (larger) broadcast shape: x is right-aligned, its size-1 axes repeat. */
export function atBroadcast(x: Nd, outIdx: readonly number[]): number {
  const off = outIdx.length - x.shape.length;
  const idx = x.shape.map((d, i) => (d === 1 ? 0 : outIdx[off + i]!));
  return at(x, idx);
}

export function broadcastTo(x: Nd, shape: readonly number[]): Nd {
  const check = broadcastShape(x.shape, shape);
  if (check.length !== shape.length || check.some((d, i) => d !== shape[i])) {
    throw new Error(`reference: cannot broadcast [${x.shape.join(',')}] to [${shape.join(',')}]`);
  }
  return ndFrom(shape, (idx) => atBroadcast(x, idx));
}

// ------------------------------------------------------------------------------- binary

export type RefBinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'
  | 'logicalAnd' | 'logicalOr' | 'logicalXor';

/** Ops whose result is bool. */
export const BOOL_RESULT_OPS: ReadonlySet<RefBinaryOp> = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr', 'logicalXor']);

/** The scalar function of each binary op, in float64 (int32 multiply is exact modulo 2^32). */
export function binaryScalar(op: RefBinaryOp, dtype: RefDType = 'float32'): (a: number, b: number) => number {
  const b2 = (c: boolean): number => (c ? 1 : 0);
  switch (op) {
    case 'add': return (a, b) => a + b;
    case 'sub': return (a, b) => a - b;
    case 'mul':
      // |a·b| can exceed 2^53 for int32: multiply exactly (BigInt), keep the low 32 bits.
      return dtype === 'int32' ? (a, b) => Number(BigInt.asIntN(32, BigInt(a) * BigInt(b))) : (a, b) => a * b;
    case 'div': return (a, b) => a / b;
    case 'pow': return (a, b) => a ** b;
    case 'maximum': return (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));
    case 'minimum': return (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b));
    case 'eq': return (a, b) => b2(a === b);
    case 'ne': return (a, b) => b2(a !== b);
    case 'lt': return (a, b) => b2(a < b);
    case 'le': return (a, b) => b2(a <= b);
    case 'gt': return (a, b) => b2(a > b);
    case 'ge': return (a, b) => b2(a >= b);
    case 'logicalAnd': return (a, b) => b2(a !== 0 && b !== 0);
    case 'logicalOr': return (a, b) => b2(a !== 0 || b !== 0);
    case 'logicalXor': return (a, b) => b2((a !== 0) !== (b !== 0));
  }
}

/** Elementwise op with NumPy broadcasting. `dtype` is the operands' dtype (int32 results wrap). */
export function binary(op: RefBinaryOp, a: Nd, b: Nd, dtype: RefDType = 'float32'): Nd {
  const f = binaryScalar(op, dtype);
  const outDType: RefDType = BOOL_RESULT_OPS.has(op) ? 'bool' : dtype;
  const shape = broadcastShape(a.shape, b.shape);
  return ndFrom(shape, (idx) => finishDType(f(atBroadcast(a, idx), atBroadcast(b, idx)), outDType));
}

/** cond ? a : b, all three broadcast together. */
export function where(cond: Nd, a: Nd, b: Nd): Nd {
  const shape = broadcastShape(cond.shape, a.shape, b.shape);
  return ndFrom(shape, (idx) => (atBroadcast(cond, idx) !== 0 ? atBroadcast(a, idx) : atBroadcast(b, idx)));
}

// ------------------------------------------------------------------------------- reductions

export type RefReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

/** Normalised, sorted, de-duplicated axes (all when undefined). */
export function normAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  return [...new Set(list.map((a) => normAxis(a, rank)))].sort((p, q) => p - q);
}

/**
 * Reduces over `axes`. max/min propagate NaN; argmax/argmin return the index of the first
 * extreme element (the first NaN if any), counted in row-major order over the reduced axes.
 * int32 sums wrap.
 */
export function reduce(op: RefReduceOp, x: Nd, axes?: number | readonly number[], keepDims = false, dtype: RefDType = 'float32'): Nd {
  const ax = normAxes(axes, x.shape.length);
  const keptAxes = x.shape.map((_, i) => i).filter((i) => !ax.includes(i));
  const redShape = ax.map((a) => x.shape[a]!);
  const outShape = keepDims ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d)) : keptAxes.map((i) => x.shape[i]!);
  const keptShape = keptAxes.map((i) => x.shape[i]!);
  const values: number[] = [];
  forEachIndex(keptShape, (kIdx) => {
    const full = new Array<number>(x.shape.length).fill(0);
    keptAxes.forEach((a, j) => (full[a] = kIdx[j]!));
    let acc = op === 'sum' ? 0 : NaN;
    let best = NaN;
    let bestPos = -1;
    let pos = 0;
    let sawNaN = false;
    forEachIndex(redShape, (rIdx) => {
      ax.forEach((a, j) => (full[a] = rIdx[j]!));
      const v = at(x, full);
      if (op === 'sum') acc += v;
      else if (!sawNaN) {
        if (Number.isNaN(v)) {
          sawNaN = true;
          best = v;
          bestPos = pos;
        } else if (bestPos < 0 || ((op === 'max' || op === 'argmax') ? v > best : v < best)) {
          best = v;
          bestPos = pos;
        }
      }
      pos++;
    });
    if (op === 'sum') values.push(finishDType(acc, dtype));
    else if (op === 'max' || op === 'min') {
      if (bestPos < 0) throw new Error(`reference: ${op} of an empty set`);
      values.push(best);
    } else {
      if (bestPos < 0) throw new Error(`reference: ${op} of an empty set`);
      values.push(bestPos);
    }
  });
  return nd(outShape, values);
}

export const sum = (x: Nd, axes?: number | readonly number[], keepDims = false, dtype: RefDType = 'float32'): Nd => reduce('sum', x, axes, keepDims, dtype);
export const max = (x: Nd, axes?: number | readonly number[], keepDims = false): Nd => reduce('max', x, axes, keepDims);
export const min = (x: Nd, axes?: number | readonly number[], keepDims = false): Nd => reduce('min', x, axes, keepDims);
export const argmax = (x: Nd, axis: number, keepDims = false): Nd => reduce('argmax', x, axis, keepDims);
export const argmin = (x: Nd, axis: number, keepDims = false): Nd => reduce('argmin', x, axis, keepDims);

// ------------------------------------------------------------------------------- matmul

/**
 * [..., m, k] @ [..., k, n] over the last two axes, batch axes broadcast (NumPy);
 * `transA`/`transB` swap the last two axes of the operand first. Sums in float64.
 */
export function matmul(a: Nd, b: Nd, opts: { transA?: boolean; transB?: boolean } = {}): Nd {
  if (a.shape.length < 2 || b.shape.length < 2) throw new Error('reference: matmul needs rank >= 2');
  const A = opts.transA ? swapLast(a) : a;
  const B = opts.transB ? swapLast(b) : b;
  const [m, k] = A.shape.slice(-2) as [number, number];
  const [k2, n] = B.shape.slice(-2) as [number, number];
  if (k !== k2) throw new Error(`reference: matmul inner dims ${k} vs ${k2}`);
  const batch = broadcastShape(A.shape.slice(0, -2), B.shape.slice(0, -2));
  return ndFrom([...batch, m, n], (idx) => {
    const bi = idx.slice(0, -2);
    const i = idx[idx.length - 2]!;
    const j = idx[idx.length - 1]!;
    let s = 0;
    for (let p = 0; p < k; p++) s += atBroadcast(A, [...bi, i, p]) * atBroadcast(B, [...bi, p, j]);
    return s;
  });
}

/**
 * For each output element of `matmul(a, b, opts)`: Σ_p |a_ip·b_pj|, the scale an
 * error bound for a float32 dot product is proportional to.
 */
export function matmulAbsScale(a: Nd, b: Nd, opts: { transA?: boolean; transB?: boolean } = {}): Nd {
  return matmul(unary('abs', a), unary('abs', b), opts);
}

function swapLast(x: Nd): Nd {
  const r = x.shape.length;
  const perm = x.shape.map((_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose(x, perm);
}

// ------------------------------------------------------------------------------- layout

/** Same data, new shape; one entry may be -1. */
export function reshape(x: Nd, shape: readonly number[]): Nd {
  const known = shape.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
  const target = shape.map((d) => (d === -1 ? x.data.length / known : d));
  if (numel(target) !== x.data.length || target.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reference: cannot reshape [${x.shape.join(',')}] to [${shape.join(',')}]`);
  }
  return { shape: target, data: x.data.slice() };
}

/** out[i_0, ..., i_{r-1}] = x[j] with j[perm[d]] = i_d; the default reverses the axes. */
export function transpose(x: Nd, perm?: readonly number[]): Nd {
  const r = x.shape.length;
  const p = perm ?? x.shape.map((_, i) => r - 1 - i);
  const outShape = p.map((a) => x.shape[a]!);
  const src = new Array<number>(r).fill(0);
  return ndFrom(outShape, (idx) => {
    for (let d = 0; d < r; d++) src[p[d]!] = idx[d]!;
    return at(x, src);
  });
}

/** The inverse permutation: transpose(transpose(x, p), inversePerm(p)) == x. */
export function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/**
 * The indices one axis of a slice visits (Python semantics, as tandem documents them):
 * start defaults to the first element in the direction of the step, stop (exclusive)
 * to past the end; negative start/stop count from the end. Out-of-range indices that
 * would be visited are an error, never clamped.
 */
export function sliceIndices(dim: number, start: number | undefined, stop: number | null | undefined, step = 1): number[] {
  if (!Number.isInteger(step) || step === 0) throw new Error('reference: bad step');
  let s = start ?? (step > 0 ? 0 : dim - 1);
  if (s < 0) s += dim;
  let e: number;
  if (stop === null || stop === undefined) e = step > 0 ? dim : -1;
  else {
    e = stop < 0 ? stop + dim : stop;
    if (e < 0 || e > dim) throw new Error('reference: stop out of range');
  }
  const out: number[] = [];
  for (let i = s; step > 0 ? i < e : i > e; i += step) {
    if (i < 0 || i >= dim) throw new Error('reference: start out of range');
    out.push(i);
  }
  return out;
}

/** Strided slice: per axis, `starts[d]`, `stops[d]`, `steps[d]` as in `sliceIndices`. */
export function slice(x: Nd, starts: readonly number[], stops?: readonly (number | null)[], steps?: readonly number[]): Nd {
  const picks = x.shape.map((dim, d) => sliceIndices(dim, starts[d], stops?.[d], steps?.[d] ?? 1));
  return ndFrom(picks.map((p) => p.length), (idx) => at(x, idx.map((i, d) => picks[d]![i]!)));
}

/** Constant padding with [before, after] per axis. */
export function pad(x: Nd, widths: readonly (readonly [number, number])[], value = 0): Nd {
  const outShape = x.shape.map((d, i) => d + widths[i]![0] + widths[i]![1]);
  return ndFrom(outShape, (idx) => {
    const src = idx.map((i, d) => i - widths[d]![0]);
    return src.every((i, d) => i >= 0 && i < x.shape[d]!) ? at(x, src) : value;
  });
}

/** Concatenation along an existing axis. */
export function concat(xs: readonly Nd[], axis = 0): Nd {
  const r = xs[0]!.shape.length;
  const ax = normAxis(axis, r);
  const outShape = xs[0]!.shape.map((d, i) => (i === ax ? xs.reduce((s, x) => s + x.shape[ax]!, 0) : d));
  return ndFrom(outShape, (idx) => {
    let i = idx[ax]!;
    for (const x of xs) {
      if (i < x.shape[ax]!) return at(x, idx.map((v, d) => (d === ax ? i : v)));
      i -= x.shape[ax]!;
    }
    throw new Error('reference: concat index');
  });
}

/** out = x.shape[:axis] + indices.shape + x.shape[axis+1:], out[..., i..., ...] = x[..., indices[i...], ...]. */
export function gather(x: Nd, indices: Nd, axis = 0): Nd {
  const ax = normAxis(axis, x.shape.length);
  const ir = indices.shape.length;
  const outShape = [...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)];
  return ndFrom(outShape, (idx) => {
    const k = at(indices, idx.slice(ax, ax + ir));
    if (!Number.isInteger(k) || k < 0 || k >= x.shape[ax]!) throw new Error(`reference: gather index ${k} out of range`);
    return at(x, [...idx.slice(0, ax), k, ...idx.slice(ax + ir)]);
  });
}

/**
 * The adjoint of gather: zeros of `shape`, then for every position of `updates` (in
 * row-major order) add it at the position its index names along `axis`.
 */
export function scatterAdd(updates: Nd, indices: Nd, axis: number, shape: readonly number[], dtype: RefDType = 'float32'): Nd {
  const ax = normAxis(axis, shape.length);
  const ir = indices.shape.length;
  const out = new Float64Array(numel(shape));
  const st = rowMajorStrides(shape);
  let u = 0;
  forEachIndex(updates.shape, (idx) => {
    const k = at(indices, idx.slice(ax, ax + ir));
    if (!Number.isInteger(k) || k < 0 || k >= shape[ax]!) throw new Error(`reference: scatterAdd index ${k} out of range`);
    const target = [...idx.slice(0, ax), k, ...idx.slice(ax + ir)];
    let off = 0;
    target.forEach((t, d) => (off += t * st[d]!));
    out[off] += updates.data[u++]!;
  });
  return { shape: [...shape], data: out.map((v) => finishDType(v, dtype)) };
}

/** dtype conversion: float→int32 truncates toward zero (and wraps); to bool is x != 0; bool is 0/1. */
export function cast(x: Nd, to: RefDType): Nd {
  return {
    shape: [...x.shape],
    data: x.data.map((v) => (to === 'bool' ? (v !== 0 ? 1 : 0) : to === 'int32' ? wrapInt32(Number.isNaN(v) ? 0 : v) : v)),
  };
}

// ------------------------------------------------------------------------------- composites

/** Mean over `axes` (all when omitted). */
export function mean(x: Nd, axes?: number | readonly number[], keepDims = false): Nd {
  const ax = normAxes(axes, x.shape.length);
  const count = ax.reduce((p, a) => p * x.shape[a]!, 1);
  const s = sum(x, ax, keepDims);
  return { shape: s.shape, data: s.data.map((v) => v / count) };
}

/** log Σ exp over `axes`, evaluated stably in float64. */
export function logSumExp(x: Nd, axes: number | readonly number[] = -1, keepDims = false): Nd {
  const ax = normAxes(axes, x.shape.length);
  const m = reduce('max', x, ax, true);
  const mSafe = { shape: m.shape, data: m.data.map((v) => (Number.isFinite(v) ? v : 0)) };
  const e = unary('exp', binary('sub', x, mSafe));
  const s = sum(e, ax, true);
  const out = binary('add', unary('log', s), mSafe);
  return keepDims ? out : reshape(out, x.shape.filter((_, i) => !ax.includes(i)));
}

/** exp(x) / Σ exp(x) along `axis`. */
export function softmax(x: Nd, axis = -1): Nd {
  const ax = normAxis(axis, x.shape.length);
  const lse = logSumExp(x, ax, true);
  return unary('exp', binary('sub', x, lse));
}

/** x − logSumExp(x) along `axis`. */
export function logSoftmax(x: Nd, axis = -1): Nd {
  const ax = normAxis(axis, x.shape.length);
  return binary('sub', x, logSumExp(x, ax, true));
}

/** One-hot rows of length `depth` (all zeros for an index outside [0, depth)). */
export function oneHot(indices: Nd, depth: number): Nd {
  return ndFrom([...indices.shape, depth], (idx) => (at(indices, idx.slice(0, -1)) === idx[idx.length - 1]! ? 1 : 0));
}

/** Keeps elements with col − row ≥ k in the last two axes (upper triangle), zeros elsewhere. */
export function triu(x: Nd, k = 0): Nd {
  return ndFrom(x.shape, (idx) => (idx[idx.length - 1]! - idx[idx.length - 2]! >= k ? at(x, idx) : 0));
}

/** Keeps elements with col − row ≤ k in the last two axes (lower triangle), zeros elsewhere. */
export function tril(x: Nd, k = 0): Nd {
  return ndFrom(x.shape, (idx) => (idx[idx.length - 1]! - idx[idx.length - 2]! <= k ? at(x, idx) : 0));
}

/** min(max(x, lo), hi), NaN propagating. */
export function clamp(x: Nd, lo: number, hi: number): Nd {
  return { shape: [...x.shape], data: x.data.map((v) => (Number.isNaN(v) ? NaN : Math.min(Math.max(v, lo), hi))) };
}

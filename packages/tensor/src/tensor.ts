import type { Backend } from './backend.js';
import type { DType, HostArray } from './dtype.js';
import { TensorError, fmtShape } from './errors.js';
import { sizeOf, type Shape } from './shape.js';
import * as ops from './ops.js';
import * as comp from './composites.js';
import { getBackend, hasBackend, type BackendName } from './registry.js';

/**
 * Storage shared by tensors that alias the same bytes (e.g. a tensor and its
 * reshape). Reference counted: storage is freed when its last tensor is disposed.
 */
export class DataRef {
  refs = 1;
  constructor(
    readonly backend: Backend,
    readonly storage: unknown,
    readonly dtype: DType,
    readonly size: number,
  ) {
    live.register(this);
  }
  release(): void {
    if (--this.refs === 0) {
      live.unregister(this);
      this.backend.free(this.storage);
    }
  }
}

// ---------------------------------------------------------------------------
// Live-object accounting and scopes

interface BackendCounts { tensors: number; buffers: number; bytes: number }
const counts = new Map<string, BackendCounts>();
function countsFor(name: string): BackendCounts {
  let c = counts.get(name);
  if (!c) counts.set(name, (c = { tensors: 0, buffers: 0, bytes: 0 }));
  return c;
}
const live = {
  register(d: DataRef) {
    const c = countsFor(d.backend.name);
    c.buffers++;
    c.bytes += d.size * (d.dtype === 'bool' ? 1 : 4);
  },
  unregister(d: DataRef) {
    const c = countsFor(d.backend.name);
    c.buffers--;
    c.bytes -= d.size * (d.dtype === 'bool' ? 1 : 4);
  },
};

/**
 * Live tensors, distinct storages and their bytes, per backend name: `tensors` (live
 * Tensor objects), `buffers` (distinct storages, shared by aliases), `bytes` (their
 * element bytes: 4 per float32/int32, 1 per bool) and `deviceBytes` (what the backend
 * itself holds, including pooled buffers).
 */
export interface MemoryReport {
  [backend: string]: { tensors: number; buffers: number; bytes: number; deviceBytes: number };
}

/** A snapshot of what is alive, per backend, for leak tests and dashboards. */
export function memory(): MemoryReport {
  const out: MemoryReport = {};
  for (const [name, c] of counts) out[name] = { ...c, deviceBytes: deviceBytesOf(name) };
  return out;
}
/** Bytes the backend itself holds (including pooled buffers), where it is registered. */
function deviceBytesOf(name: string): number {
  return hasBackend(name as BackendName) ? getBackend(name as BackendName).bytesInUse() : 0;
}

/** Tensors created while a scope is open are owned by it (see `tidy`). */
const scopeStack: Set<Tensor>[] = [];
/** @internal */
export function _scopes(): Set<Tensor>[] {
  return scopeStack;
}

let nextId = 0;

/** Nested JS arrays, as produced by `toArray()`. */
export type NestedArray = number | boolean | NestedArray[];

/**
 * An immutable n-dimensional array on one backend. Ops return new tensors; no
 * method changes a tensor. Call `dispose()` (or use `tidy`) to release device
 * memory deterministically; on cpu, garbage collection also reclaims it.
 */
export class Tensor {
  /** Unique, increasing id; autodiff uses it to key its tape. */
  readonly id = nextId++;
  /** Number of elements (the product of `shape`; 1 for a scalar). */
  readonly size: number;
  private ref: DataRef | undefined;
  private readonly backendName: string;

  /** @internal Use the constructors (`tensor`, `zeros`, ...) instead. */
  constructor(
    ref: DataRef,
    /** Size of each axis; `[]` for a scalar. */
    readonly shape: Shape,
    /** Element type. */
    readonly dtype: DType,
  ) {
    this.ref = ref;
    this.size = sizeOf(shape);
    this.backendName = ref.backend.name;
    countsFor(this.backendName).tensors++;
    const scope = scopeStack[scopeStack.length - 1];
    if (scope) scope.add(this);
  }

  /** Number of axes (`shape.length`). */
  get rank(): number {
    return this.shape.length;
  }
  /** The backend holding the storage; throws once disposed. */
  get backend(): Backend {
    return this.dataRef('backend').backend;
  }
  /** Whether `dispose()` has released this tensor. */
  get isDisposed(): boolean {
    return this.ref === undefined;
  }

  /** @internal The storage, checked for use after dispose. */
  dataRef(op: string): DataRef {
    if (!this.ref) {
      throw new TensorError(op, `tensor #${this.id} (${this.dtype}${fmtShape(this.shape)}) was disposed and cannot be used`);
    }
    return this.ref;
  }
  /** @internal */
  storage(op: string): unknown {
    return this.dataRef(op).storage;
  }

  /** Releases this tensor's hold on its storage. Idempotent. */
  dispose(): void {
    if (!this.ref) return;
    this.ref.release();
    this.ref = undefined;
    countsFor(this.backendName).tensors--;
    for (const s of scopeStack) s.delete(this);
  }

  /** Copies the elements to the host as a typed array (float32 → Float32Array, int32 → Int32Array, bool → Uint8Array). */
  async data(): Promise<HostArray> {
    const r = this.dataRef('data');
    return r.backend.read(r.storage, this.dtype, this.size);
  }
  /** Synchronous `data()`; only on backends that can read without waiting for a device (cpu). */
  dataSync(): HostArray {
    const r = this.dataRef('dataSync');
    if (!r.backend.readSync) {
      throw new TensorError('dataSync', `backend '${r.backend.name}' cannot read synchronously; use \`await t.data()\` or \`await t.toArray()\``);
    }
    return r.backend.readSync(r.storage, this.dtype, this.size);
  }
  /** The elements as nested JS arrays (a number or boolean for a scalar). Same call on every backend. */
  async toArray(): Promise<NestedArray> {
    return toNested(await this.data(), this.shape, this.dtype);
  }
  /** Synchronous `toArray()` (cpu only). */
  toArraySync(): NestedArray {
    return toNested(this.dataSync(), this.shape, this.dtype);
  }
  /** The single element of a size-1 tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new TensorError('item', `expected a tensor with exactly one element, got shape ${fmtShape(this.shape)}`);
    return (await this.data())[0]!;
  }
  /** A short description such as `Tensor(float32[2,3], cpu)` — shape and dtype only, never the data. */
  toString(): string {
    return `Tensor(${this.dtype}${fmtShape(this.shape)}, ${this.ref ? this.ref.backend.name : 'disposed'})`;
  }

  // --- chaining sugar over ops.ts / composites.ts ------------------------------------
  /** Elementwise this + b with broadcasting; see {@link ops.add | add}. */
  add(b: TensorLike): Tensor { return ops.add(this, b); }
  /** Elementwise this − b with broadcasting; see {@link ops.sub | sub}. */
  sub(b: TensorLike): Tensor { return ops.sub(this, b); }
  /** Elementwise this · b with broadcasting; see {@link ops.mul | mul}. */
  mul(b: TensorLike): Tensor { return ops.mul(this, b); }
  /** Elementwise float32 this / b with broadcasting; see {@link ops.div | div}. */
  div(b: TensorLike): Tensor { return ops.div(this, b); }
  /** Elementwise float32 this ^ b with broadcasting; see {@link ops.pow | pow}. */
  pow(b: TensorLike): Tensor { return ops.pow(this, b); }
  /** Elementwise max(this, b) with broadcasting; see {@link ops.maximum | maximum}. */
  maximum(b: TensorLike): Tensor { return ops.maximum(this, b); }
  /** Elementwise min(this, b) with broadcasting; see {@link ops.minimum | minimum}. */
  minimum(b: TensorLike): Tensor { return ops.minimum(this, b); }
  /** Elementwise this == b → bool; see {@link ops.eq | eq}. */
  eq(b: TensorLike): Tensor { return ops.eq(this, b); }
  /** Elementwise this != b → bool; see {@link ops.ne | ne}. */
  ne(b: TensorLike): Tensor { return ops.ne(this, b); }
  /** Elementwise this < b → bool; see {@link ops.lt | lt}. */
  lt(b: TensorLike): Tensor { return ops.lt(this, b); }
  /** Elementwise this ≤ b → bool; see {@link ops.le | le}. */
  le(b: TensorLike): Tensor { return ops.le(this, b); }
  /** Elementwise this > b → bool; see {@link ops.gt | gt}. */
  gt(b: TensorLike): Tensor { return ops.gt(this, b); }
  /** Elementwise this ≥ b → bool; see {@link ops.ge | ge}. */
  ge(b: TensorLike): Tensor { return ops.ge(this, b); }
  /** Elementwise boolean and; see {@link ops.logicalAnd | logicalAnd}. */
  logicalAnd(b: TensorLike): Tensor { return ops.logicalAnd(this, b); }
  /** Elementwise boolean or; see {@link ops.logicalOr | logicalOr}. */
  logicalOr(b: TensorLike): Tensor { return ops.logicalOr(this, b); }
  /** Elementwise boolean xor; see {@link ops.logicalXor | logicalXor}. */
  logicalXor(b: TensorLike): Tensor { return ops.logicalXor(this, b); }
  /** Elementwise boolean not; see {@link ops.logicalNot | logicalNot}. */
  logicalNot(): Tensor { return ops.logicalNot(this); }
  /** −x; see {@link ops.neg | neg}. */
  neg(): Tensor { return ops.neg(this); }
  /** |x|; see {@link ops.abs | abs}. */
  abs(): Tensor { return ops.abs(this); }
  /** Sign (−1, 0 or 1); see {@link ops.sign | sign}. */
  sign(): Tensor { return ops.sign(this); }
  /** e^x; see {@link ops.exp | exp}. */
  exp(): Tensor { return ops.exp(this); }
  /** Natural log; see {@link ops.log | log}. */
  log(): Tensor { return ops.log(this); }
  /** log(1 + x); see {@link ops.log1p | log1p}. */
  log1p(): Tensor { return ops.log1p(this); }
  /** Square root; see {@link ops.sqrt | sqrt}. */
  sqrt(): Tensor { return ops.sqrt(this); }
  /** 1 / sqrt(x); see {@link ops.rsqrt | rsqrt}. */
  rsqrt(): Tensor { return ops.rsqrt(this); }
  /** Hyperbolic tangent; see {@link ops.tanh | tanh}. */
  tanh(): Tensor { return ops.tanh(this); }
  /** Logistic sigmoid; see {@link ops.sigmoid | sigmoid}. */
  sigmoid(): Tensor { return ops.sigmoid(this); }
  /** max(x, 0); see {@link ops.relu | relu}. */
  relu(): Tensor { return ops.relu(this); }
  /** Sine; see {@link ops.sin | sin}. */
  sin(): Tensor { return ops.sin(this); }
  /** Cosine; see {@link ops.cos | cos}. */
  cos(): Tensor { return ops.cos(this); }
  /** x²; see {@link comp.square | square}. */
  square(): Tensor { return comp.square(this); }
  /** Sum over `axes` (all when omitted); see {@link ops.sum | sum}. */
  sum(axes?: number | readonly number[], keepDims = false): Tensor { return ops.sum(this, axes, keepDims); }
  /** Maximum over `axes` (all when omitted); see {@link ops.max | max}. */
  max(axes?: number | readonly number[], keepDims = false): Tensor { return ops.max(this, axes, keepDims); }
  /** Minimum over `axes` (all when omitted); see {@link ops.min | min}. */
  min(axes?: number | readonly number[], keepDims = false): Tensor { return ops.min(this, axes, keepDims); }
  /** int32 index of the maximum along `axis`; see {@link ops.argmax | argmax}. */
  argmax(axis: number, keepDims = false): Tensor { return ops.argmax(this, axis, keepDims); }
  /** int32 index of the minimum along `axis`; see {@link ops.argmin | argmin}. */
  argmin(axis: number, keepDims = false): Tensor { return ops.argmin(this, axis, keepDims); }
  /** Mean over `axes` (all when omitted); see {@link comp.mean | mean}. */
  mean(axes?: number | readonly number[], keepDims = false): Tensor { return comp.mean(this, axes, keepDims); }
  /** Batched matrix product this @ b over the last two axes; see {@link ops.matmul | matmul}. */
  matmul(b: Tensor, opts?: ops.MatmulOptions): Tensor { return ops.matmul(this, b, opts); }
  /** Same elements with a new shape (one entry may be -1); see {@link ops.reshape | reshape}. */
  reshape(shape: readonly number[]): Tensor { return ops.reshape(this, shape); }
  /** Permutes axes (reverses them by default); see {@link ops.transpose | transpose}. */
  transpose(perm?: readonly number[]): Tensor { return ops.transpose(this, perm); }
  /** Materialises this broadcast to `shape`; see {@link ops.broadcastTo | broadcastTo}. */
  broadcastTo(shape: readonly number[]): Tensor { return ops.broadcastTo(this, shape); }
  /** Strided slice per axis; see {@link ops.slice | slice}. */
  slice(starts: readonly number[], stops?: readonly (number | null)[], steps?: readonly number[]): Tensor {
    return ops.slice(this, starts, stops, steps);
  }
  /** Constant padding of each axis by `[before, after]`; see {@link ops.pad | pad}. */
  pad(widths: readonly (readonly [number, number])[], value = 0): Tensor { return ops.pad(this, widths, value); }
  /** Picks entries along `axis` by int32 `indices`; see {@link ops.gather | gather}. */
  gather(indices: Tensor, axis = 0): Tensor { return ops.gather(this, indices, axis); }
  /** Converts to `dtype`; see {@link ops.cast | cast}. */
  cast(dtype: DType): Tensor { return ops.cast(this, dtype); }
  /** Inserts a size-1 axis at `axis`; see {@link comp.expandDims | expandDims}. */
  expandDims(axis: number): Tensor { return comp.expandDims(this, axis); }
  /** Removes size-1 axes (the given ones, or all); see {@link comp.squeeze | squeeze}. */
  squeeze(axes?: number | readonly number[]): Tensor { return comp.squeeze(this, axes); }
  /** Stable softmax along `axis`; see {@link comp.softmax | softmax}. */
  softmax(axis = -1): Tensor { return comp.softmax(this, axis); }
  /** Stable log-softmax along `axis`; see {@link comp.logSoftmax | logSoftmax}. */
  logSoftmax(axis = -1): Tensor { return comp.logSoftmax(this, axis); }
  /** Stable log Σ exp over `axes` (the last by default); see {@link comp.logSumExp | logSumExp}. */
  logSumExp(axes: number | readonly number[] = -1, keepDims = false): Tensor { return comp.logSumExp(this, axes, keepDims); }
  /** min(max(x, lo), hi); see {@link comp.clamp | clamp}. */
  clamp(lo: number, hi: number): Tensor { return comp.clamp(this, lo, hi); }
}

/** Anything an op accepts where a tensor goes: a tensor, or a JS number/boolean (a scalar of the other operand's dtype). */
export type TensorLike = Tensor | number | boolean;

function toNested(data: HostArray, shape: Shape, dtype: DType): NestedArray {
  const conv = dtype === 'bool' ? (v: number) => v !== 0 : (v: number) => v;
  if (shape.length === 0) return conv(data[0]!);
  return recShape(data, shape, conv);
}

function recShape(data: HostArray, shape: Shape, conv: (v: number) => number | boolean): NestedArray {
  const strides: number[] = [];
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = acc;
    acc *= shape[i]!;
  }
  const rec = (dim: number, offset: number): NestedArray[] => {
    const n = shape[dim]!;
    const out: NestedArray[] = new Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = dim === shape.length - 1 ? conv(data[offset + i]!) : rec(dim + 1, offset + i * strides[dim]!);
    }
    return out;
  };
  return rec(0, 0);
}

/** @internal Wraps fresh storage in a tensor. */
export function makeTensor(backend: Backend, storage: unknown, shape: Shape, dtype: DType): Tensor {
  return new Tensor(new DataRef(backend, storage, dtype, sizeOf(shape)), shape, dtype);
}

/** @internal A new tensor sharing `t`'s storage with another shape (reshape is free). */
export function aliasTensor(t: Tensor, shape: Shape): Tensor {
  const ref = t.dataRef('reshape');
  ref.refs++;
  return new Tensor(ref, shape, t.dtype);
}

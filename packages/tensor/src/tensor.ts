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

/** Live tensors, distinct storages and their bytes, per backend. */
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
/** @internal used by memory() callers that know the backends */
export function _countsFor(name: string): BackendCounts {
  return countsFor(name);
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
  readonly size: number;
  private ref: DataRef | undefined;
  private readonly backendName: string;

  /** @internal Use the constructors (`tensor`, `zeros`, ...) instead. */
  constructor(
    ref: DataRef,
    readonly shape: Shape,
    readonly dtype: DType,
  ) {
    this.ref = ref;
    this.size = sizeOf(shape);
    this.backendName = ref.backend.name;
    countsFor(this.backendName).tensors++;
    const scope = scopeStack[scopeStack.length - 1];
    if (scope) scope.add(this);
  }

  get rank(): number {
    return this.shape.length;
  }
  get backend(): Backend {
    return this.dataRef('backend').backend;
  }
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
  toString(): string {
    return `Tensor(${this.dtype}${fmtShape(this.shape)}, ${this.ref ? this.ref.backend.name : 'disposed'})`;
  }

  // --- chaining sugar over ops.ts / composites.ts ------------------------------------
  add(b: TensorLike): Tensor { return ops.add(this, b); }
  sub(b: TensorLike): Tensor { return ops.sub(this, b); }
  mul(b: TensorLike): Tensor { return ops.mul(this, b); }
  div(b: TensorLike): Tensor { return ops.div(this, b); }
  pow(b: TensorLike): Tensor { return ops.pow(this, b); }
  maximum(b: TensorLike): Tensor { return ops.maximum(this, b); }
  minimum(b: TensorLike): Tensor { return ops.minimum(this, b); }
  eq(b: TensorLike): Tensor { return ops.eq(this, b); }
  ne(b: TensorLike): Tensor { return ops.ne(this, b); }
  lt(b: TensorLike): Tensor { return ops.lt(this, b); }
  le(b: TensorLike): Tensor { return ops.le(this, b); }
  gt(b: TensorLike): Tensor { return ops.gt(this, b); }
  ge(b: TensorLike): Tensor { return ops.ge(this, b); }
  logicalAnd(b: TensorLike): Tensor { return ops.logicalAnd(this, b); }
  logicalOr(b: TensorLike): Tensor { return ops.logicalOr(this, b); }
  logicalXor(b: TensorLike): Tensor { return ops.logicalXor(this, b); }
  logicalNot(): Tensor { return ops.logicalNot(this); }
  neg(): Tensor { return ops.neg(this); }
  abs(): Tensor { return ops.abs(this); }
  sign(): Tensor { return ops.sign(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  log1p(): Tensor { return ops.log1p(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  rsqrt(): Tensor { return ops.rsqrt(this); }
  tanh(): Tensor { return ops.tanh(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  relu(): Tensor { return ops.relu(this); }
  sin(): Tensor { return ops.sin(this); }
  cos(): Tensor { return ops.cos(this); }
  square(): Tensor { return comp.square(this); }
  sum(axes?: number | readonly number[], keepDims = false): Tensor { return ops.sum(this, axes, keepDims); }
  max(axes?: number | readonly number[], keepDims = false): Tensor { return ops.max(this, axes, keepDims); }
  min(axes?: number | readonly number[], keepDims = false): Tensor { return ops.min(this, axes, keepDims); }
  argmax(axis: number, keepDims = false): Tensor { return ops.argmax(this, axis, keepDims); }
  argmin(axis: number, keepDims = false): Tensor { return ops.argmin(this, axis, keepDims); }
  mean(axes?: number | readonly number[], keepDims = false): Tensor { return comp.mean(this, axes, keepDims); }
  matmul(b: Tensor, opts?: ops.MatmulOptions): Tensor { return ops.matmul(this, b, opts); }
  reshape(shape: readonly number[]): Tensor { return ops.reshape(this, shape); }
  transpose(perm?: readonly number[]): Tensor { return ops.transpose(this, perm); }
  broadcastTo(shape: readonly number[]): Tensor { return ops.broadcastTo(this, shape); }
  slice(starts: readonly number[], stops?: readonly (number | null)[], steps?: readonly number[]): Tensor {
    return ops.slice(this, starts, stops, steps);
  }
  pad(widths: readonly (readonly [number, number])[], value = 0): Tensor { return ops.pad(this, widths, value); }
  gather(indices: Tensor, axis = 0): Tensor { return ops.gather(this, indices, axis); }
  cast(dtype: DType): Tensor { return ops.cast(this, dtype); }
  expandDims(axis: number): Tensor { return comp.expandDims(this, axis); }
  squeeze(axes?: number | readonly number[]): Tensor { return comp.squeeze(this, axes); }
  softmax(axis = -1): Tensor { return comp.softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return comp.logSoftmax(this, axis); }
  logSumExp(axes: number | readonly number[] = -1, keepDims = false): Tensor { return comp.logSumExp(this, axes, keepDims); }
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

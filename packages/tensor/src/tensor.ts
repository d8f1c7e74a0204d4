import type { Backend } from './backend.js';
import { bytesPerElement, type DType, type HostArray } from './dtype.js';
import { TensorError, fmtShape } from './errors.js';
import { getBackend, hasBackend, type BackendName } from './registry.js';
import { sizeOf, stridesOf, type Shape } from './shape.js';

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
    c.bytes += d.size * bytesPerElement(d.dtype);
  },
  unregister(d: DataRef) {
    const c = countsFor(d.backend.name);
    c.buffers--;
    c.bytes -= d.size * bytesPerElement(d.dtype);
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
      throw new TensorError(op, `tensor #${this.id} (${this.dtype}${fmtShape(this.shape)}) was disposed and cannot be used`, 'disposed');
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
      throw new TensorError('dataSync', `backend '${r.backend.name}' cannot read synchronously; use \`await t.data()\` or \`await t.toArray()\``, 'backend');
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
    if (this.size !== 1) throw new TensorError('item', `expected a tensor with exactly one element, got shape ${fmtShape(this.shape)}`, 'shape');
    return (await this.data())[0]!;
  }
  /** A short description such as `Tensor(float32[2,3], cpu)` — shape and dtype only, never the data. */
  toString(): string {
    return `Tensor(${this.dtype}${fmtShape(this.shape)}, ${this.ref ? this.ref.backend.name : 'disposed'})`;
  }
}

/** Anything an op accepts where a tensor goes: a tensor, or a JS number/boolean (a scalar of the other operand's dtype). */
export type TensorLike = Tensor | number | boolean;

function toNested(data: HostArray, shape: Shape, dtype: DType): NestedArray {
  const conv = dtype === 'bool' ? (v: number) => v !== 0 : (v: number) => v;
  if (shape.length === 0) return conv(data[0]!);
  return recShape(data, shape, conv);
}

function recShape(data: HostArray, shape: Shape, conv: (v: number) => number | boolean): NestedArray {
  const strides = stridesOf(shape);
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

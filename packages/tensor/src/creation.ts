/** Constructors: tensors from JS data, and the usual filled and ranged tensors. */
import type { Backend } from './backend.js';
import { allocHost, dtypeOfHost, isDType, type DType, type HostArray } from './dtype.js';
import { TensorError, fmtShape } from './errors.js';
import { getBackend, type BackendName } from './registry.js';
import { checkShape, sizeOf } from './shape.js';
import { makeTensor, type NestedArray, type Tensor } from './tensor.js';

/** Where and as what a new tensor is made. */
export interface CreateOptions {
  /** Element type; float32 for numbers, bool for booleans when omitted. */
  dtype?: DType;
  /** A backend instance or name; the default backend when omitted. */
  backend?: Backend | BackendName;
}

function resolveBackend(b: Backend | BackendName | undefined): Backend {
  return b === undefined || typeof b === 'string' ? getBackend(b) : b;
}

function checkDType(op: string, d: unknown): DType {
  if (!isDType(d)) throw new TensorError(op, `unknown dtype ${JSON.stringify(d)}; expected 'float32', 'int32' or 'bool'`, 'dtype');
  return d;
}

function inferShape(data: unknown, op: string): number[] {
  const shape: number[] = [];
  let cur = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

function flattenNested(data: unknown, shape: number[], out: HostArray, dtype: DType, op: string): void {
  let k = 0;
  const rec = (x: unknown, d: number, path: string): void => {
    if (d === shape.length) {
      if (Array.isArray(x)) throw new TensorError(op, `ragged nested array: element ${path} is an array but shape ${fmtShape(shape)} expects a value there`, 'shape');
      out[k++] = toElement(x, dtype, op, path);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[d]) {
      throw new TensorError(op, `ragged nested array: element ${path || '(root)'} should be an array of length ${shape[d]} (shape ${fmtShape(shape)})`, 'shape');
    }
    for (let i = 0; i < x.length; i++) rec(x[i], d + 1, `${path}[${i}]`);
  };
  rec(data, 0, '');
}

function toElement(x: unknown, dtype: DType, op: string, path: string): number {
  if (dtype === 'bool') {
    if (typeof x !== 'boolean' && x !== 0 && x !== 1) throw new TensorError(op, `element ${path} is ${String(x)}; a bool tensor takes true/false (or 0/1)`, 'dtype');
    return x ? 1 : 0;
  }
  if (typeof x === 'boolean') throw new TensorError(op, `element ${path} is a boolean; a ${dtype} tensor takes numbers (use dtype 'bool')`, 'dtype');
  if (typeof x !== 'number') throw new TensorError(op, `element ${path} is ${typeof x}; expected a number`);
  if (dtype === 'int32' && (!Number.isInteger(x) || x < -2147483648 || x > 2147483647)) {
    throw new TensorError(op, `element ${path} is ${x}, which is not an int32 (an integer in [-2^31, 2^31))`, 'dtype');
  }
  return x;
}

function firstLeaf(data: unknown): unknown {
  let cur = data;
  while (Array.isArray(cur)) cur = cur[0];
  return cur;
}

/**
 * A tensor from a JS number/boolean, nested arrays, or a typed array (with `shape`).
 * Nested arrays must be rectangular. Values are checked against the dtype, never coerced.
 */
export function tensor(data: NestedArray | HostArray | readonly number[], opts: CreateOptions & { shape?: readonly number[] } = {}): Tensor {
  const op = 'tensor';
  const backend = resolveBackend(opts.backend);
  if (ArrayBuffer.isView(data)) {
    const hostType = dtypeOfHost(data);
    if (!hostType) throw new TensorError(op, `unsupported typed array ${data.constructor.name}; use Float32Array, Int32Array or Uint8Array`, 'dtype');
    const dtype = opts.dtype === undefined ? hostType : checkDType(op, opts.dtype);
    if (dtype !== hostType) throw new TensorError(op, `a ${data.constructor.name} holds ${hostType}, but dtype ${dtype} was asked for; convert the array or cast the tensor`, 'dtype');
    const shape = opts.shape ? [...checkShape(op, opts.shape)] : [data.length];
    if (sizeOf(shape) !== data.length) throw new TensorError(op, `shape ${fmtShape(shape)} holds ${sizeOf(shape)} elements but the array has ${data.length}`, 'shape');
    if (dtype === 'bool') {
      const bad = (data as Uint8Array).findIndex((v) => v > 1);
      if (bad >= 0) throw new TensorError(op, `element ${bad} of the Uint8Array is ${data[bad]}; a bool tensor holds 0 or 1`, 'dtype');
    }
    return makeTensor(backend, backend.upload(data as HostArray, dtype), shape, dtype);
  }
  const shape = inferShape(data, op);
  const leaf = firstLeaf(data);
  const dtype = opts.dtype === undefined ? (typeof leaf === 'boolean' ? 'bool' : 'float32') : checkDType(op, opts.dtype);
  const host = allocHost(dtype, sizeOf(shape));
  flattenNested(data, shape, host, dtype, op);
  if (opts.shape) {
    checkShape(op, opts.shape);
    if (sizeOf(opts.shape) !== host.length) throw new TensorError(op, `shape ${fmtShape(opts.shape)} holds ${sizeOf(opts.shape)} elements but the data has ${host.length}`, 'shape');
  }
  return makeTensor(backend, backend.upload(host, dtype), opts.shape ? [...opts.shape] : shape, dtype);
}

/** A 0-d tensor. */
export function scalar(value: number | boolean, opts: CreateOptions = {}): Tensor {
  return tensor(value, opts);
}

/** A tensor of `shape` with every element `value`. */
export function full(shape: readonly number[], value: number | boolean, opts: CreateOptions = {}): Tensor {
  const op = 'full';
  checkShape(op, shape);
  const dtype = opts.dtype === undefined ? (typeof value === 'boolean' ? 'bool' : 'float32') : checkDType(op, opts.dtype);
  const v = toElement(value, dtype, op, '(fill value)');
  const backend = resolveBackend(opts.backend);
  return makeTensor(backend, backend.fill(v, sizeOf(shape), dtype), [...shape], dtype);
}

/** A tensor of `shape` filled with 0 (false for bool); float32 unless `opts.dtype` says otherwise. */
export const zeros = (shape: readonly number[], opts: CreateOptions = {}): Tensor => full(shape, opts.dtype === 'bool' ? false : 0, opts);
/** A tensor of `shape` filled with 1 (true for bool); float32 unless `opts.dtype` says otherwise. */
export const ones = (shape: readonly number[], opts: CreateOptions = {}): Tensor => full(shape, opts.dtype === 'bool' ? true : 1, opts);
/** Zeros with the shape, dtype and backend of `t`. */
export const zerosLike = (t: Tensor): Tensor => zeros(t.shape, { dtype: t.dtype, backend: t.backend });
/** Ones with the shape, dtype and backend of `t`. */
export const onesLike = (t: Tensor): Tensor => ones(t.shape, { dtype: t.dtype, backend: t.backend });

/** [start, start+step, ...) below `stop`, like Python's range; float32 unless dtype says int32. */
export function arange(start: number, stop?: number, step = 1, opts: CreateOptions = {}): Tensor {
  const op = 'arange';
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new TensorError(op, `step must be a finite non-zero number, got ${step}`);
  if (!Number.isFinite(start) || !Number.isFinite(stop)) throw new TensorError(op, `start and stop must be finite numbers, got ${start} and ${stop}`);
  const dtype = opts.dtype === undefined ? 'float32' : checkDType(op, opts.dtype);
  if (dtype === 'bool') throw new TensorError(op, 'dtype bool is not a range type; use float32 or int32', 'dtype');
  if (dtype === 'int32' && ![start, stop, step].every(Number.isInteger)) throw new TensorError(op, 'an int32 range needs integer start, stop and step');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const host = allocHost(dtype, n);
  for (let i = 0; i < n; i++) host[i] = start + i * step;
  const backend = resolveBackend(opts.backend);
  return makeTensor(backend, backend.upload(host, dtype), [n], dtype);
}

/** `num` evenly spaced float32 values from start to stop inclusive. */
export function linspace(start: number, stop: number, num: number, opts: Omit<CreateOptions, 'dtype'> = {}): Tensor {
  if (!Number.isInteger(num) || num < 0) throw new TensorError('linspace', `num must be a non-negative integer, got ${num}`);
  const host = new Float32Array(num);
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) host[i] = i === num - 1 && num > 1 ? stop : start + i * step;
  const backend = resolveBackend(opts.backend);
  return makeTensor(backend, backend.upload(host, 'float32'), [num], 'float32');
}

/** An n×m identity-like matrix with ones on diagonal `k` (0 main, >0 above). */
export function eye(n: number, m = n, k = 0, opts: CreateOptions = {}): Tensor {
  checkShape('eye', [n, m]);
  const dtype = opts.dtype === undefined ? 'float32' : checkDType('eye', opts.dtype);
  const host = allocHost(dtype, n * m);
  for (let i = 0; i < n; i++) {
    const j = i + k;
    if (j >= 0 && j < m) host[i * m + j] = 1;
  }
  const backend = resolveBackend(opts.backend);
  return makeTensor(backend, backend.upload(host, dtype), [n, m], dtype);
}

/** A copy of `t` on another backend (reads it to the host, then uploads). */
export async function toBackend(t: Tensor, backend: Backend | BackendName): Promise<Tensor> {
  const b = resolveBackend(backend);
  const data = await t.data();
  return makeTensor(b, b.upload(data, t.dtype), t.shape, t.dtype);
}

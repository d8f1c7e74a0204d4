/**
 * Moving reference arrays (`Nd`) in and out of tandem tensors, and asserting a
 * tensor against a reference under a tolerance. The only helper that imports the library.
 */
import { tensor, transpose, type Backend, type BackendName, type DType, type Tensor } from '../../src/index.js';
import { assertNdClose, type Tolerance } from './compare.js';
import { inversePerm, transpose as refTranspose, type Nd } from './reference.js';

export interface ToTensorOptions {
  backend?: Backend | BackendName;
  /**
   * Build the tensor as `transpose(s, perm)` of a tensor `s` holding the same
   * elements in another layout, to exercise inputs produced by transpose.
   */
  perm?: readonly number[];
}

function hostArray(x: Nd, dtype: DType): Float32Array | Int32Array | Uint8Array {
  if (dtype === 'float32') return Float32Array.from(x.data);
  if (dtype === 'int32') return Int32Array.from(x.data);
  return Uint8Array.from(x.data, (v) => (v !== 0 ? 1 : 0));
}

/** A tensor with x's shape and values (rounded to float32 / int32 / bool as `dtype` says). */
export function ndToTensor(x: Nd, dtype: DType = 'float32', opts: ToTensorOptions = {}): Tensor {
  if (!opts.perm) return tensor(hostArray(x, dtype), { shape: [...x.shape], dtype, backend: opts.backend });
  const stored = refTranspose(x, inversePerm(opts.perm));
  const s = tensor(hostArray(stored, dtype), { shape: [...stored.shape], dtype, backend: opts.backend });
  const t = transpose(s, opts.perm);
  s.dispose();
  return t;
}

/** A tensor's values as a reference array (synchronous: cpu). */
export function tensorToNd(t: Tensor): Nd {
  return { shape: [...t.shape], data: Float64Array.from(t.dataSync()) };
}

/** A tensor's values as a reference array (any backend). */
export async function tensorToNdAsync(t: Tensor): Promise<Nd> {
  return { shape: [...t.shape], data: Float64Array.from(await t.data()) };
}

/** Throws unless `t` has dtype `dtype`, the expected shape, and values within `tol` (synchronous: cpu). */
export function assertTensorClose(t: Tensor, dtype: DType, expected: Nd, tol: Tolerance, what = ''): void {
  if (t.dtype !== dtype) throw new Error(`${what ? `${what}: ` : ''}dtype ${t.dtype}, expected ${dtype}`);
  assertNdClose(t.shape, t.dataSync(), expected, tol, what, dtype === 'float32');
}

/** `assertTensorClose` for any backend. */
export async function assertTensorCloseAsync(t: Tensor, dtype: DType, expected: Nd, tol: Tolerance, what = ''): Promise<void> {
  if (t.dtype !== dtype) throw new Error(`${what ? `${what}: ` : ''}dtype ${t.dtype}, expected ${dtype}`);
  assertNdClose(t.shape, await t.data(), expected, tol, what, dtype === 'float32');
}

/** The element types a tensor can hold. `bool` is stored one byte per element on cpu. */
export type DType = 'float32' | 'int32' | 'bool';

/** The typed array that backs each dtype on the host. */
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'int32'
    ? Int32Array
    : Uint8Array;

/** Any of the host typed arrays that back a tensor (Float32Array, Int32Array, or Uint8Array for bool). */
export type HostArray = Float32Array | Int32Array | Uint8Array;

/** Every supported {@link DType}, in a fixed order. */
export const DTYPES: readonly DType[] = ['float32', 'int32', 'bool'];

/** Allocates a zero-filled host array for `dtype`. */
export function allocHost(dtype: DType, size: number): HostArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'bool':
      return new Uint8Array(size);
  }
}

/** Bytes per element in host memory. */
export function bytesPerElement(dtype: DType): number {
  return dtype === 'bool' ? 1 : 4;
}

export function isDType(x: unknown): x is DType {
  return x === 'float32' || x === 'int32' || x === 'bool';
}

/** The dtype a host typed array holds, or undefined for unsupported arrays. */
export function dtypeOfHost(a: ArrayBufferView): DType | undefined {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint8Array) return 'bool';
  return undefined;
}

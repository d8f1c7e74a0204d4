/**
 * Index arithmetic on the host: reduces a strided access pattern to the fewest
 * axes before a kernel sees it. Each kept axis costs a division and a modulo
 * per element on the GPU, and the kernel is specialised by rank, so merging
 * axes both speeds kernels up and keeps the number of distinct shaders small.
 */
import { TensorError } from '../errors.js';
import type { Shape } from '../shape.js';

/** Axes a strided kernel supports after coalescing (bounded by the 64 parameter words). */
export const MAX_RANK = 12;

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

export function checkRank(op: string, rank: number): void {
  if (rank > MAX_RANK) {
    throw new TensorError(op, `webgpu kernels support at most ${MAX_RANK} non-mergeable axes, got ${rank}; reshape to fewer axes first`);
  }
}

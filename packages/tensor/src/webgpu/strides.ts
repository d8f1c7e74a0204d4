/**
 * The rank limit of the strided kernels. Access patterns are reduced to the fewest
 * axes first (`coalesce` in layout.ts): each kept axis costs a division and a modulo
 * per element on the GPU, and the kernel is specialised by rank, so merging axes
 * both speeds kernels up and keeps the number of distinct shaders small.
 */
import { TensorError } from '../errors.js';

/** Axes a strided kernel supports after coalescing (bounded by the 64 parameter words). */
export const MAX_RANK = 12;

export function checkRank(op: string, rank: number): void {
  if (rank > MAX_RANK) {
    throw new TensorError(op, `webgpu kernels support at most ${MAX_RANK} non-mergeable axes, got ${rank}; reshape to fewer axes first`, 'backend');
  }
}

import { reshape, shapesEqual, sum, type Tensor } from '@tandem/tensor';

/**
 * The adjoint of NumPy broadcasting: sums `g` (shaped like a broadcast result)
 * over the axes that broadcasting added or stretched, giving a tensor of `shape`.
 */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? sum(g, axes, true) : g;
  return reshape(s, shape);
}

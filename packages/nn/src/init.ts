/** Key-driven initialisers: each is a pure function of (key, shape). */
import { normal, ones as onesT, uniform, zeros as zerosT, type Key, type Tensor } from '@tandem/tensor';
import { NnError } from './errors.js';

/** Glorot/Xavier uniform for an [in, out] matrix: U(−a, a), a = sqrt(6 / (in + out)). */
export function glorotUniform(k: Key, shape: readonly number[]): Tensor {
  if (shape.length < 2) throw new NnError('glorotUniform', `needs a matrix shape [in, out], got [${shape.join(',')}]`, 'shape');
  const fanIn = shape[shape.length - 2]!;
  const fanOut = shape[shape.length - 1]!;
  const a = Math.sqrt(6 / (fanIn + fanOut));
  return uniform(k, shape, { minval: -a, maxval: a });
}

/** Normal with standard deviation `std` (e.g. 0.02 for embeddings, 1/sqrt(fan-in) for a scaled init). */
export function scaledNormal(k: Key, shape: readonly number[], std: number): Tensor {
  if (!(std > 0)) throw new NnError('scaledNormal', `std must be positive, got ${std}`, 'argument');
  return normal(k, shape, { std });
}

/** A float32 tensor of zeros (e.g. biases); takes no key, the init is deterministic. */
export const zeros = (shape: readonly number[]): Tensor => zerosT(shape);
/** A float32 tensor of ones (e.g. norm gains); takes no key, the init is deterministic. */
export const ones = (shape: readonly number[]): Tensor => onesT(shape);

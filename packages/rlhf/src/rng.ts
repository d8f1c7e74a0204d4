/**
 * Host-side randomness for data generation (prompts, behaviour policies, raters),
 * derived from the same explicit keys as tensor draws: a pure function of the key,
 * so datasets are reproducible bit for bit.
 */
import { philox4x32, split, type Key } from '@tandem/tensor';
import { RlhfError } from './errors.js';

/** A stateful stream of uniform doubles in [0, 1) for one key; use one stream per purpose. */
export interface Rng {
  /** Uniform in [0, 1) with 53 random bits. */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  bernoulli(p: number): boolean;
  /** A uniformly random element. */
  pick<T>(xs: readonly T[]): T;
  /** A uniformly shuffled copy (Fisher–Yates). */
  shuffle<T>(xs: readonly T[]): T[];
}

/** A host stream from a key: Philox blocks with counters (i, 0, 3, 0), i = 0, 1, … */
export function rngFromKey(k: Key): Rng {
  const [k0, k1] = k.words;
  const block = [0, 0, 0, 0];
  let counter = 0;
  let lane = 4;
  const word = (): number => {
    if (lane === 4) {
      philox4x32(k0, k1, counter++, 0, 3, 0, block);
      lane = 0;
    }
    return block[lane++]!;
  };
  const next = () => (word() * 2 ** 21 + (word() >>> 11)) / 2 ** 53;
  const int = (n: number) => {
    if (!Number.isInteger(n) || n < 1) throw new RlhfError('bad-input', `rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(next() * n);
  };
  return {
    next,
    int,
    bernoulli: (p) => next() < p,
    pick: (xs) => {
      if (xs.length === 0) throw new RlhfError('bad-input', 'rng.pick: empty list');
      return xs[int(xs.length)]!;
    },
    shuffle: (xs) => {
      const a = [...xs];
      for (let i = a.length - 1; i > 0; i--) {
        const j = int(i + 1);
        [a[i], a[j]] = [a[j]!, a[i]!];
      }
      return a;
    },
  };
}

/** A stream per name from one key, so adding a purpose never shifts another's draws. */
export function rngs(k: Key, names: readonly string[]): Record<string, Rng> {
  const keys = split(k, names.length);
  return Object.fromEntries(names.map((n, i) => [n, rngFromKey(keys[i]!)]));
}

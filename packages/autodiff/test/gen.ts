/** Small generators for gradient property tests: shapes from fast-check, values from a seeded stream. */
import fc from 'fast-check';
import { sizeOf, tensor, type Tensor } from '@tandem/tensor';

/** mulberry32: a tiny deterministic stream so a failing case is reproduced by its seed. */
export function stream(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A float32 cpu tensor of `shape` with values in [lo, hi), avoiding |x| < gap (kinks at 0). */
export function rand(shape: readonly number[], seed: number, lo = -2, hi = 2, gap = 0): Tensor {
  const r = stream(seed);
  const n = sizeOf(shape);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = lo + (hi - lo) * r();
    if (gap > 0 && Math.abs(v) < gap) v = v < 0 ? -gap - r() * 0.5 : gap + r() * 0.5;
    data[i] = v;
  }
  return tensor(data, { shape, backend: 'cpu' });
}

/** Distinct values (a shuffled, spaced ramp) so max/min/sort-like ops have no ties. */
export function distinct(shape: readonly number[], seed: number): Tensor {
  const r = stream(seed);
  const n = sizeOf(shape);
  const vals = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.37);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [vals[i], vals[j]] = [vals[j]!, vals[i]!];
  }
  return tensor(Float32Array.from(vals), { shape, backend: 'cpu' });
}

export const dim = (max = 4) => fc.integer({ min: 1, max });
export const shapeArb = (minRank = 0, maxRank = 3, maxDim = 4) =>
  fc.array(dim(maxDim), { minLength: minRank, maxLength: maxRank });
export const seedArb = fc.integer({ min: 1, max: 2 ** 31 - 1 });

/** Two shapes that broadcast together: `b` is `a` with some axes set to 1 and some leading axes dropped. */
export const broadcastPair = shapeArb(0, 3).chain((a) =>
  fc.tuple(fc.constant(a), fc.array(fc.boolean(), { minLength: a.length, maxLength: a.length }), fc.integer({ min: 0, max: a.length }))
    .map(([a, ones, drop]) => [a, a.map((d, i) => (ones[i] ? 1 : d)).slice(drop)] as const),
);

/** How many cases a property runs: modest in `pnpm test`, many more under TANDEM_DEEP=1. */
export const runs = (n: number) => (process.env.TANDEM_DEEP ? n * 10 : n);

/**
 * fast-check arbitraries for tensor property tests: shapes (scalars and size-0
 * dimensions included), broadcast-compatible shape tuples, and float32 / int32 /
 * bool data as reference arrays (`Nd`, see reference.ts). Library-independent, so
 * they serve cpu tests, webgpu parity tests and autodiff tests alike.
 */
import fc from 'fast-check';
import { numel, type Nd, type RefDType } from './reference.js';

export type Shape = number[];

export interface ShapeOptions {
  minRank?: number;
  maxRank?: number;
  minDim?: number;
  maxDim?: number;
}

/** A shape of rank minRank..maxRank (default 0–4) with dims minDim..maxDim (default 0–5). */
export function shapeArb(opts: ShapeOptions = {}): fc.Arbitrary<Shape> {
  const { minRank = 0, maxRank = 4, minDim = 0, maxDim = 5 } = opts;
  // Size-0 dims are interesting but should not dominate: weight them down.
  const dim = minDim === 0 && maxDim > 0
    ? fc.oneof({ arbitrary: fc.integer({ min: 1, max: maxDim }), weight: 9 }, { arbitrary: fc.constant(0), weight: 1 })
    : fc.integer({ min: minDim, max: maxDim });
  return fc.array(dim, { minLength: minRank, maxLength: maxRank });
}

/** A shape with no size-0 dimension (dims 1..maxDim). */
export function nonEmptyShapeArb(opts: Omit<ShapeOptions, 'minDim'> = {}): fc.Arbitrary<Shape> {
  return shapeArb({ ...opts, minDim: 1 });
}

/**
 * A shape that broadcasts to `out`: a suffix of it (maybe all of it) where each
 * dimension is kept or replaced by 1.
 */
export function broadcastableTo(out: readonly number[]): fc.Arbitrary<Shape> {
  return fc.integer({ min: 0, max: out.length }).chain((rank) => {
    const tail = out.slice(out.length - rank);
    return fc.tuple(...tail.map((d) => fc.boolean().map((one) => (one ? 1 : d)))).map((s) => [...s]);
  });
}

/**
 * `n` shapes that broadcast together, with their NumPy broadcast shape: each is a
 * suffix of a common shape with some dimensions replaced by 1.
 */
export function broadcastShapesArb(n: number, opts: ShapeOptions = {}): fc.Arbitrary<{ shapes: Shape[]; out: Shape }> {
  return shapeArb(opts).chain((common) =>
    fc.tuple(...Array.from({ length: n }, () => broadcastableTo(common))).map((t) => {
      const shapes = t.map((s) => [...s]);
      return { shapes, out: broadcastOf(shapes) };
    }),
  );
}

/** A pair of broadcast-compatible shapes and their broadcast shape. */
export function broadcastPairArb(opts: ShapeOptions = {}): fc.Arbitrary<{ a: Shape; b: Shape; out: Shape }> {
  return broadcastShapesArb(2, opts).map(({ shapes, out }) => ({ a: shapes[0]!, b: shapes[1]!, out }));
}

function broadcastOf(shapes: readonly Shape[]): Shape {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out: Shape = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[i - (rank - s.length)];
      if (v !== undefined && v !== 1) d = v;
    }
    out.push(d);
  }
  return out;
}

// ------------------------------------------------------------------------------- values

export interface FloatOptions {
  min?: number;
  max?: number;
  /** Also produce ±0, ±Infinity and NaN now and then. */
  specials?: boolean;
}

/** A float32-representable double in [min, max] (default [-10, 10]), no NaN unless `specials`. */
export function float32Arb(opts: FloatOptions = {}): fc.Arbitrary<number> {
  const { min = -10, max = 10, specials = false } = opts;
  const base = fc.float({ noNaN: true, min: Math.fround(min), max: Math.fround(max), noDefaultInfinity: true });
  if (!specials) return base;
  return fc.oneof(
    { arbitrary: base, weight: 8 },
    { arbitrary: fc.constantFrom(0, -0, Infinity, -Infinity, NaN), weight: 1 },
  );
}

/** `n` float32 values. */
export function floatArray(n: number, opts: FloatOptions = {}): fc.Arbitrary<number[]> {
  return fc.array(float32Arb(opts), { minLength: n, maxLength: n });
}

/** `n` int32 values in [min, max] (default [-100, 100]). */
export function intArray(n: number, opts: { min?: number; max?: number } = {}): fc.Arbitrary<number[]> {
  const { min = -100, max = 100 } = opts;
  return fc.array(fc.integer({ min, max }), { minLength: n, maxLength: n });
}

/** `n` 0/1 values. */
export function boolArray(n: number): fc.Arbitrary<number[]> {
  return fc.array(fc.constantFrom(0, 1), { minLength: n, maxLength: n });
}

/** Small integers as floats: values that tie often (for argmax, max, comparisons). */
export function tiedFloatArray(n: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: -3, max: 3 }), { minLength: n, maxLength: n });
}

export interface DataOptions extends FloatOptions {
  /** For float32: draw small integers so values tie often. */
  ties?: boolean;
}

/** `n` values valid for `dtype` (float32: see `float32Arb`; int32: [min,max] default ±100; bool: 0/1). */
export function dataArb(dtype: RefDType, n: number, opts: DataOptions = {}): fc.Arbitrary<number[]> {
  if (dtype === 'bool') return boolArray(n);
  if (dtype === 'int32') return intArray(n, { min: opts.min ?? -100, max: opts.max ?? 100 });
  return opts.ties ? tiedFloatArray(n) : floatArray(n, opts);
}

/** A reference array of the given shape and dtype. */
export function ndOf(shape: readonly number[], dtype: RefDType = 'float32', opts: DataOptions = {}): fc.Arbitrary<Nd> {
  return dataArb(dtype, numel(shape), opts).map((v) => ({ shape: [...shape], data: Float64Array.from(v) }));
}

/** A reference array of random shape. */
export function ndArb(dtype: RefDType = 'float32', shapeOpts: ShapeOptions = {}, dataOpts: DataOptions = {}): fc.Arbitrary<Nd> {
  return shapeArb(shapeOpts).chain((s) => ndOf(s, dtype, dataOpts));
}

// ------------------------------------------------------------------------------- op arguments

/** A permutation of 0..rank-1. */
export function permArb(rank: number): fc.Arbitrary<number[]> {
  if (rank === 0) return fc.constant([]);
  return fc.shuffledSubarray(Array.from({ length: rank }, (_, i) => i), { minLength: rank, maxLength: rank });
}

/** A (possibly empty) set of distinct axes of a rank-`rank` tensor, each written positive or negative. */
export function axesArb(rank: number, opts: { minLength?: number } = {}): fc.Arbitrary<number[]> {
  if (rank === 0) return fc.constant([]);
  return fc
    .subarray(Array.from({ length: rank }, (_, i) => i), { minLength: opts.minLength ?? 0 })
    .chain((axes) => fc.tuple(...axes.map((a) => fc.constantFrom(a, a - rank))).map((t) => [...t]))
    .chain((axes) => fc.shuffledSubarray(axes, { minLength: axes.length, maxLength: axes.length }));
}

/** One axis of a rank-`rank` tensor (rank ≥ 1), positive or negative. */
export function axisArb(rank: number): fc.Arbitrary<number> {
  return fc.integer({ min: -rank, max: rank - 1 });
}

/** Valid slice arguments for a shape: starts, stops (maybe null) and non-zero steps per axis. */
export interface SliceSpec {
  starts: number[];
  stops: (number | null)[];
  steps: number[];
}

/**
 * Slice arguments that the library accepts for `shape`: any step in ±1..3, a start
 * inside the axis (or at its end when that yields an empty slice), a stop anywhere in
 * [-dim, dim] or null, each index possibly written from the end.
 */
export function sliceSpecArb(shape: readonly number[]): fc.Arbitrary<SliceSpec> {
  const axis = (dim: number) =>
    fc.record({
      step: fc.constantFrom(1, 1, 2, 3, -1, -1, -2, -3),
      start: fc.integer({ min: 0, max: Math.max(0, dim - 1) }),
      stop: fc.option(fc.integer({ min: 0, max: dim }), { nil: null }),
      negStart: fc.boolean(),
      negStop: fc.boolean(),
    }).map(({ step, start, stop, negStart, negStop }) => {
      // An empty axis has no valid start: a forward slice starts at 0 (its end), a
      // backward one at -1 (i.e. dim - 1), both giving an empty result.
      const st = dim === 0 ? (step > 0 ? 0 : -1) : negStart ? start - dim : start;
      return {
        start: st,
        stop: stop !== null && negStop && stop < dim ? stop - dim : stop,
        step,
      };
    });
  return fc.tuple(...shape.map(axis)).map((axes) => ({
    starts: axes.map((a) => a.start),
    stops: axes.map((a) => a.stop),
    steps: axes.map((a) => a.step),
  }));
}

/** [before, after] pad widths per axis, each 0..max. */
export function padWidthsArb(rank: number, max = 2): fc.Arbitrary<[number, number][]> {
  return fc.array(fc.tuple(fc.integer({ min: 0, max }), fc.integer({ min: 0, max })), { minLength: rank, maxLength: rank });
}

/** Shapes for a batched matmul, with transpose flags: a is [...batchA, m, k] (or its last two axes swapped if transA). */
export interface MatmulCase {
  aShape: Shape;
  bShape: Shape;
  transA: boolean;
  transB: boolean;
  m: number;
  k: number;
  n: number;
}

export function matmulCaseArb(opts: { maxBatchRank?: number; maxDim?: number } = {}): fc.Arbitrary<MatmulCase> {
  const { maxBatchRank = 2, maxDim = 5 } = opts;
  return fc
    .record({
      batch: broadcastShapesArb(2, { maxRank: maxBatchRank, maxDim: 3 }),
      m: fc.integer({ min: 0, max: maxDim }),
      k: fc.integer({ min: 0, max: maxDim }),
      n: fc.integer({ min: 0, max: maxDim }),
      transA: fc.boolean(),
      transB: fc.boolean(),
    })
    .map(({ batch, m, k, n, transA, transB }) => ({
      aShape: [...batch.shapes[0]!, ...(transA ? [k, m] : [m, k])],
      bShape: [...batch.shapes[1]!, ...(transB ? [n, k] : [k, n])],
      transA,
      transB,
      m,
      k,
      n,
    }));
}

/**
 * Every primitive (and the main composites) of the cpu backend against the
 * float64 reference in helpers/reference.ts, on random shapes: scalars, size-0
 * dimensions, NumPy broadcasting, and inputs produced by transpose.
 *
 * Tolerances, per op (u = 2^-24, the float32 unit roundoff):
 * - exact: layout ops (reshape, transpose, broadcastTo, slice, pad, concat, gather),
 *   where, cast, max/min/argmax/argmin, comparisons, int32 and bool ops, and
 *   + − × ÷ √ |x| −x: IEEE float32 rounds these correctly, so the result must equal
 *   the float64 reference rounded to float32.
 * - 2 ULPs: exp, log, log1p, rsqrt, tanh, sigmoid, sin, cos, pow.
 * - sums: one float32 rounding of a float64 accumulation, |err| ≤ u·|ref| + 2^-40·Σ|x|.
 * - matmul, scatterAdd (float32 accumulation): |err| ≤ 2(k+1)·u·Σ|terms|.
 * - mean, logSumExp, softmax, logSoftmax: a few dozen u (see each test).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as tn from '../src/index.js';
import { TensorError, tidy, type DType, type Tensor } from '../src/index.js';
import {
  axesArb, axisArb, broadcastPairArb, broadcastShapesArb, broadcastableTo, float32Arb, matmulCaseArb, ndOf,
  padWidthsArb, permArb, shapeArb, sliceSpecArb, type DataOptions,
} from './helpers/arbitraries.js';
import { EXACT, U32, bound, ulps, type Tolerance } from './helpers/compare.js';
import * as R from './helpers/reference.js';
import { assertTensorClose, ndToTensor } from './helpers/tensors.js';

const RUNS = { numRuns: 100 };
const T = (x: R.Nd, dtype: DType = 'float32', perm?: readonly number[]): Tensor => ndToTensor(x, dtype, { backend: 'cpu', perm });

interface Input { x: R.Nd; perm: number[] | undefined }

/** Values of `shape`, and (half the time) a permutation to build the tensor by transpose. */
function inputArb(shape: readonly number[], dtype: DType = 'float32', opts: DataOptions = {}): fc.Arbitrary<Input> {
  return fc.tuple(ndOf(shape, dtype, opts), fc.option(permArb(shape.length), { nil: undefined })).map(([x, perm]) => ({ x, perm }));
}
const tIn = (i: Input, dtype: DType = 'float32'): Tensor => T(i.x, dtype, i.perm);

/** Runs a check inside `tidy`, so each fast-check run frees what it made. */
const run = (f: () => void): void => tidy(f);

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

// --------------------------------------------------------------------------------------- unary

const FLOAT_UNARY: [R.RefUnaryOp, Tolerance][] = [
  ['neg', EXACT], ['abs', EXACT], ['sign', EXACT], ['relu', EXACT], ['sqrt', EXACT],
  ['exp', ulps(2)], ['log', ulps(2)], ['log1p', ulps(2)], ['rsqrt', ulps(2)], ['tanh', ulps(2)],
  ['sigmoid', ulps(2)], ['sin', ulps(2)], ['cos', ulps(2)],
];

type UnaryFn = (x: Tensor) => Tensor;
type BinaryFn = (a: Tensor | number | boolean, b: Tensor | number | boolean) => Tensor;
const unaryFn = (op: string): UnaryFn => (tn as unknown as Record<string, UnaryFn>)[op]!;
const binaryFn = (op: string): BinaryFn => (tn as unknown as Record<string, BinaryFn>)[op]!;

describe('unary ops', () => {
  for (const [op, tol] of FLOAT_UNARY) {
    it(`${op} on float32 (incl. ±0, ±inf, NaN) — ${tol.kind === 'exact' ? 'exact' : `${(tol as { ulps: number }).ulps} ulps`}`, () => {
      fc.assert(
        fc.property(shapeArb().chain((s) => inputArb(s, 'float32', { specials: true })), (i) =>
          run(() => assertTensorClose(unaryFn(op)(tIn(i)), 'float32', R.unary(op, i.x), tol, op)),
        ),
        RUNS,
      );
    });
  }
  for (const op of ['neg', 'abs', 'sign', 'relu'] as const) {
    it(`${op} on int32 (full range, wraps) — exact`, () => {
      fc.assert(
        fc.property(shapeArb().chain((s) => inputArb(s, 'int32', INT32)), (i) =>
          run(() => assertTensorClose(unaryFn(op)(tIn(i, 'int32')), 'int32', R.unary(op, i.x, 'int32'), EXACT, op)),
        ),
        RUNS,
      );
    });
  }
  it('logicalNot on bool — exact', () => {
    fc.assert(
      fc.property(shapeArb().chain((s) => inputArb(s, 'bool')), (i) =>
        run(() => assertTensorClose(tn.logicalNot(tIn(i, 'bool')), 'bool', R.unary('logicalNot', i.x, 'bool'), EXACT)),
      ),
      RUNS,
    );
  });
});

// --------------------------------------------------------------------------------------- binary

const FLOAT_BINARY: [R.RefBinaryOp, Tolerance][] = [
  ['add', EXACT], ['sub', EXACT], ['mul', EXACT], ['div', EXACT], ['pow', ulps(2)], ['maximum', EXACT], ['minimum', EXACT],
  ['eq', EXACT], ['ne', EXACT], ['lt', EXACT], ['le', EXACT], ['gt', EXACT], ['ge', EXACT],
];
const INT_BINARY: R.RefBinaryOp[] = ['add', 'sub', 'mul', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];
const BOOL_BINARY: R.RefBinaryOp[] = ['logicalAnd', 'logicalOr', 'logicalXor', 'eq', 'ne'];

/** Two broadcast-compatible inputs, each maybe built by transpose. */
function pairArb(dtype: DType, opts: DataOptions = {}): fc.Arbitrary<[Input, Input]> {
  return broadcastPairArb().chain(({ a, b }) => fc.tuple(inputArb(a, dtype, opts), inputArb(b, dtype, opts)));
}

function checkBinary(op: R.RefBinaryOp, dtype: DType, tol: Tolerance, opts: DataOptions): void {
  const outDType: DType = R.BOOL_RESULT_OPS.has(op) ? 'bool' : dtype;
  fc.assert(
    fc.property(pairArb(dtype, opts), ([a, b]) =>
      run(() => assertTensorClose(binaryFn(op)(tIn(a, dtype), tIn(b, dtype)), outDType, R.binary(op, a.x, b.x, dtype), tol, op)),
    ),
    RUNS,
  );
}

describe('binary ops with broadcasting', () => {
  for (const [op, tol] of FLOAT_BINARY) {
    it(`${op} on float32 (incl. specials) — ${tol.kind === 'exact' ? 'exact' : '2 ulps'}`, () => checkBinary(op, 'float32', tol, { specials: true }));
  }
  it('div and mul near the float32 range limits round like float32 (overflow to inf, subnormals)', () => {
    checkBinary('mul', 'float32', EXACT, { min: -3e38, max: 3e38 });
    checkBinary('div', 'float32', EXACT, { min: -1e-37, max: 1e-37 });
  });
  for (const op of INT_BINARY) {
    it(`${op} on int32 (full range, wraps) — exact`, () => checkBinary(op, 'int32', EXACT, INT32));
  }
  for (const op of BOOL_BINARY) {
    it(`${op} on bool — exact`, () => checkBinary(op, 'bool', EXACT, {}));
  }

  it('JS number / boolean operands act as scalars of the tensor dtype, on either side', () => {
    const cases = fc.oneof(
      fc.record({ dtype: fc.constant<DType>('float32'), op: fc.constantFrom<R.RefBinaryOp>('add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'lt', 'eq'), s: float32Arb() }),
      fc.record({ dtype: fc.constant<DType>('int32'), op: fc.constantFrom<R.RefBinaryOp>('add', 'sub', 'mul', 'maximum', 'ge'), s: fc.integer({ min: -50, max: 50 }) }),
      fc.record({ dtype: fc.constant<DType>('bool'), op: fc.constantFrom<R.RefBinaryOp>('logicalAnd', 'logicalOr', 'logicalXor', 'eq'), s: fc.boolean() }),
    );
    const arb = fc.tuple(cases, fc.boolean(), shapeArb()).chain(([c, left, shape]) => fc.tuple(fc.constant(c), fc.constant(left), inputArb(shape, c.dtype)));
    fc.assert(
      fc.property(arb, ([c, left, i]) =>
        run(() => {
          const t = tIn(i, c.dtype);
          const sx = R.nd([], [Number(c.s)]);
          const got = left ? binaryFn(c.op)(c.s, t) : binaryFn(c.op)(t, c.s);
          const want = left ? R.binary(c.op, sx, i.x, c.dtype) : R.binary(c.op, i.x, sx, c.dtype);
          assertTensorClose(got, R.BOOL_RESULT_OPS.has(c.op) ? 'bool' : c.dtype, want, EXACT, c.op);
        }),
      ),
      RUNS,
    );
  });
});

describe('where', () => {
  it('selects elementwise with three-way broadcasting, for every branch dtype — exact', () => {
    const arb = fc.tuple(broadcastShapesArb(3), fc.constantFrom<DType>('float32', 'int32', 'bool')).chain(([{ shapes }, dtype]) =>
      fc.tuple(inputArb(shapes[0]!, 'bool'), inputArb(shapes[1]!, dtype, { specials: true }), inputArb(shapes[2]!, dtype, { specials: true }), fc.constant(dtype)),
    );
    fc.assert(
      fc.property(arb, ([c, a, b, dtype]) =>
        run(() => assertTensorClose(tn.where(tIn(c, 'bool'), tIn(a, dtype), tIn(b, dtype)), dtype, R.where(c.x, a.x, b.x), EXACT)),
      ),
      RUNS,
    );
  });
});

// --------------------------------------------------------------------------------------- reductions

/** A tensor and a set of axes to reduce (undefined = all), keepDims. */
function reduceCaseArb(dtype: DType, opts: DataOptions = {}) {
  return shapeArb().chain((s) =>
    fc.record({
      i: inputArb(s, dtype, opts),
      axes: fc.option(axesArb(s.length), { nil: undefined }),
      keepDims: fc.boolean(),
    }),
  );
}

const reducedSize = (shape: readonly number[], axes: readonly number[] | undefined): number =>
  R.normAxes(axes, shape.length).reduce((p, a) => p * shape[a]!, 1);

describe('reductions', () => {
  it('sum (float32) — one rounding of a float64 sum: |err| ≤ u·|ref| + 2^-40·Σ|x|', () => {
    fc.assert(
      fc.property(reduceCaseArb('float32'), ({ i, axes, keepDims }) =>
        run(() => {
          const want = R.sum(i.x, axes, keepDims);
          const scale = R.sum(R.unary('abs', i.x), axes, keepDims).data;
          assertTensorClose(tn.sum(tIn(i), axes, keepDims), 'float32', want, bound({ rel: U32, abs: 2 ** -149, scaleRel: 2 ** -40, scale }));
        }),
      ),
      RUNS,
    );
  });
  it('sum (int32, wraps) — exact', () => {
    fc.assert(
      fc.property(reduceCaseArb('int32', INT32), ({ i, axes, keepDims }) =>
        run(() => assertTensorClose(tn.sum(tIn(i, 'int32'), axes, keepDims), 'int32', R.sum(i.x, axes, keepDims, 'int32'), EXACT)),
      ),
      RUNS,
    );
  });
  for (const op of ['max', 'min'] as const) {
    it(`${op} (float32 with ties and NaN, int32) — exact; an empty reduction throws`, () => {
      const arb = fc.oneof(
        fc.tuple(reduceCaseArb('float32', { specials: true }), fc.constant<DType>('float32')),
        fc.tuple(reduceCaseArb('float32', { ties: true }), fc.constant<DType>('float32')),
        fc.tuple(reduceCaseArb('int32', INT32), fc.constant<DType>('int32')),
      );
      fc.assert(
        fc.property(arb, ([{ i, axes, keepDims }, dtype]) =>
          run(() => {
            const f = op === 'max' ? tn.max : tn.min;
            if (reducedSize(i.x.shape, axes) === 0) {
              expect(() => f(tIn(i, dtype), axes, keepDims)).toThrow(TensorError);
              return;
            }
            assertTensorClose(f(tIn(i, dtype), axes, keepDims), dtype, R.reduce(op, i.x, axes, keepDims), EXACT, op);
          }),
        ),
        RUNS,
      );
    });
  }
  for (const op of ['argmax', 'argmin'] as const) {
    it(`${op} (first index on ties, NaN wins) — exact int32`, () => {
      const arb = fc.tuple(shapeArb({ minRank: 1 }), fc.constantFrom<DataOptions>({ ties: true }, { specials: true }, {})).chain(([s, o]) =>
        fc.record({ i: inputArb(s, 'float32', o), axis: axisArb(s.length), keepDims: fc.boolean() }),
      );
      fc.assert(
        fc.property(arb, ({ i, axis, keepDims }) =>
          run(() => {
            const f = op === 'argmax' ? tn.argmax : tn.argmin;
            if (i.x.shape[R.normAxis(axis, i.x.shape.length)] === 0) {
              expect(() => f(tIn(i), axis, keepDims)).toThrow(TensorError);
              return;
            }
            assertTensorClose(f(tIn(i), axis, keepDims), 'int32', R.reduce(op, i.x, axis, keepDims), EXACT, op);
          }),
        ),
        RUNS,
      );
    });
  }
});

// --------------------------------------------------------------------------------------- matmul

describe('matmul', () => {
  it('batched, broadcast batch dims, transA/transB — |err| ≤ 2(k+1)·u·Σ|a·b|', () => {
    const arb = matmulCaseArb().chain((c) => fc.tuple(fc.constant(c), inputArb(c.aShape), inputArb(c.bShape)));
    fc.assert(
      fc.property(arb, ([c, a, b]) =>
        run(() => {
          const o = { transA: c.transA, transB: c.transB };
          const got = tn.matmul(tIn(a), tIn(b), o);
          const scale = R.matmulAbsScale(a.x, b.x, o).data;
          assertTensorClose(got, 'float32', R.matmul(a.x, b.x, o), bound({ scaleRel: 2 * (c.k + 1) * U32, scale, abs: (c.k + 1) * 2 ** -149 }));
        }),
      ),
      { numRuns: 100 },
    );
  });
});

// --------------------------------------------------------------------------------------- layout

/** A target shape with the same number of elements: dims regrouped, 1s inserted, maybe one -1. */
function reshapeTargetArb(shape: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .record({
      order: fc.shuffledSubarray([...shape], { minLength: shape.length, maxLength: shape.length }),
      merges: fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
      ones: fc.array(fc.nat(4), { maxLength: 2 }),
      infer: fc.option(fc.nat(5), { nil: undefined }),
    })
    .map(({ order, merges, ones, infer }) => {
      const dims: number[] = [];
      order.forEach((d, i) => {
        if (merges[i] && dims.length > 0) dims[dims.length - 1]! *= d;
        else dims.push(d);
      });
      for (const p of ones) dims.splice(Math.min(p, dims.length), 0, 1);
      if (infer !== undefined && dims.length > 0) {
        const at = infer % dims.length;
        const others = dims.reduce((p, d, i) => (i === at ? p : p * d), 1);
        if (others > 0) dims[at] = -1;
      }
      return dims;
    });
}

describe('layout ops', () => {
  it('reshape (incl. -1, scalars, size 0) — exact', () => {
    const arb = fc.tuple(shapeArb(), fc.constantFrom<DType>('float32', 'int32', 'bool')).chain(([s, dtype]) =>
      fc.tuple(inputArb(s, dtype), reshapeTargetArb(s), fc.constant(dtype)),
    );
    fc.assert(
      fc.property(arb, ([i, target, dtype]) => run(() => assertTensorClose(tn.reshape(tIn(i, dtype), target), dtype, R.reshape(i.x, target), EXACT))),
      RUNS,
    );
  });
  it('transpose (given or default permutation) — exact', () => {
    const arb = fc.tuple(shapeArb(), fc.constantFrom<DType>('float32', 'int32', 'bool')).chain(([s, dtype]) =>
      fc.tuple(inputArb(s, dtype), fc.option(permArb(s.length), { nil: undefined }), fc.constant(dtype)),
    );
    fc.assert(
      fc.property(arb, ([i, perm, dtype]) => run(() => assertTensorClose(tn.transpose(tIn(i, dtype), perm), dtype, R.transpose(i.x, perm), EXACT))),
      RUNS,
    );
  });
  it('broadcastTo — exact', () => {
    const arb = shapeArb().chain((out) => fc.tuple(broadcastableTo(out).chain((s) => inputArb(s)), fc.constant(out)));
    fc.assert(
      fc.property(arb, ([i, out]) => run(() => assertTensorClose(tn.broadcastTo(tIn(i), out), 'float32', R.broadcastTo(i.x, out), EXACT))),
      RUNS,
    );
  });
  it('slice with negative indices and (negative) steps — exact', () => {
    const arb = shapeArb().chain((s) =>
      fc.record({ i: inputArb(s), spec: sliceSpecArb(s), dropStops: fc.boolean(), dropSteps: fc.boolean(), trim: fc.nat(s.length) }),
    );
    fc.assert(
      fc.property(arb, ({ i, spec, dropStops, dropSteps, trim }) =>
        run(() => {
          // Omitted trailing entries / lists mean "whole axis" and "step 1".
          const allOne = spec.steps.every((s) => s === 1);
          const steps = dropSteps && allOne ? undefined : spec.steps;
          const starts = allOne && steps === undefined ? spec.starts.slice(0, spec.starts.length - trim) : spec.starts;
          const stops = dropStops ? undefined : spec.stops;
          assertTensorClose(tn.slice(tIn(i), starts, stops, steps), 'float32', R.slice(i.x, starts, stops, steps), EXACT);
        }),
      ),
      { numRuns: 100 },
    );
  });
  it('pad with a constant — exact', () => {
    const arb = fc.tuple(shapeArb(), fc.constantFrom<DType>('float32', 'int32', 'bool')).chain(([s, dtype]) =>
      fc.tuple(inputArb(s, dtype), padWidthsArb(s.length), dtype === 'bool' ? fc.constantFrom(0, 1) : dtype === 'int32' ? fc.integer({ min: -9, max: 9 }) : float32Arb(), fc.constant(dtype)),
    );
    fc.assert(
      fc.property(arb, ([i, widths, value, dtype]) =>
        run(() => assertTensorClose(tn.pad(tIn(i, dtype), widths, value), dtype, R.pad(i.x, widths, value), EXACT)),
      ),
      RUNS,
    );
  });
  it('concat along any axis — exact', () => {
    const arb = fc
      .tuple(shapeArb({ minRank: 1 }), fc.constantFrom<DType>('float32', 'int32', 'bool'))
      .chain(([s, dtype]) =>
        fc.record({
          axis: axisArb(s.length),
          lens: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }),
          s: fc.constant(s),
          dtype: fc.constant(dtype),
        }),
      )
      .chain(({ axis, lens, s, dtype }) => {
        const ax = R.normAxis(axis, s.length);
        return fc.tuple(fc.tuple(...lens.map((l) => inputArb(s.map((d, j) => (j === ax ? l : d)), dtype))), fc.constant(axis), fc.constant(dtype));
      });
    fc.assert(
      fc.property(arb, ([parts, axis, dtype]) =>
        run(() => assertTensorClose(tn.concat(parts.map((p) => tIn(p, dtype)), axis), dtype, R.concat(parts.map((p) => p.x), axis), EXACT)),
      ),
      RUNS,
    );
  });
});

// --------------------------------------------------------------------------------------- gather / scatter

/** x's shape, an axis, and indices (any shape, rank 0–2) valid for that axis. */
function indexCaseArb(shape: readonly number[]) {
  return axisArb(shape.length).chain((axis) => {
    const dim = shape[R.normAxis(axis, shape.length)]!;
    const idxShape = dim === 0 ? fc.constant([0]) : shapeArb({ maxRank: 2, maxDim: 4 });
    return fc.tuple(fc.constant(axis), idxShape.chain((is) => ndOf(is, 'int32', { min: 0, max: Math.max(0, dim - 1) })));
  });
}

describe('gather / scatterAdd', () => {
  it('gather along any axis with indices of any shape — exact', () => {
    const arb = fc.tuple(shapeArb({ minRank: 1 }), fc.constantFrom<DType>('float32', 'int32', 'bool')).chain(([s, dtype]) =>
      fc.tuple(inputArb(s, dtype), indexCaseArb(s), fc.constant(dtype)),
    );
    fc.assert(
      fc.property(arb, ([i, [axis, idx], dtype]) =>
        run(() => assertTensorClose(tn.gather(tIn(i, dtype), T(idx, 'int32'), axis), dtype, R.gather(i.x, idx, axis), EXACT)),
      ),
      RUNS,
    );
  });
  it('scatterAdd (repeated indices accumulate): float32 |err| ≤ 2(c+1)·u·Σ|upd|, int32 exact', () => {
    const arb = fc.tuple(shapeArb({ minRank: 1 }), fc.constantFrom<DType>('float32', 'int32')).chain(([s, dtype]) =>
      indexCaseArb(s).chain(([axis, idx]) => {
        const ax = R.normAxis(axis, s.length);
        const updShape = [...s.slice(0, ax), ...idx.shape, ...s.slice(ax + 1)];
        return fc.tuple(fc.constant(s), fc.constant(axis), fc.constant(idx), inputArb(updShape, dtype, dtype === 'int32' ? INT32 : {}), fc.constant(dtype));
      }),
    );
    fc.assert(
      fc.property(arb, ([shape, axis, idx, u, dtype]) =>
        run(() => {
          const got = tn.scatterAdd(tIn(u, dtype), T(idx, 'int32'), axis, shape);
          const want = R.scatterAdd(u.x, idx, axis, shape, dtype);
          if (dtype === 'int32') return assertTensorClose(got, 'int32', want, EXACT);
          const scale = R.scatterAdd(R.unary('abs', u.x), idx, axis, shape).data;
          assertTensorClose(got, 'float32', want, bound({ scaleRel: 2 * (R.numel(idx.shape) + 1) * U32, scale, abs: 2 ** -140 }));
        }),
      ),
      RUNS,
    );
  });
});

// --------------------------------------------------------------------------------------- cast

describe('cast', () => {
  it('between every pair of dtypes (float→int truncates, ±inf/NaN→0; →bool is x≠0) — exact', () => {
    const dt = fc.constantFrom<DType>('float32', 'int32', 'bool');
    // Finite floats outside the int32 range have no defined int32 conversion: stay inside it there.
    const floatRange = (to: DType): DataOptions => (to === 'int32' ? { specials: true, min: -2e9, max: 2e9 } : { specials: true, min: -1e10, max: 1e10 });
    const arb = fc.tuple(shapeArb(), dt, dt).chain(([s, from, to]) =>
      fc.tuple(inputArb(s, from, from === 'int32' ? INT32 : floatRange(to)), fc.constant(from), fc.constant(to)),
    );
    fc.assert(
      fc.property(arb, ([i, from, to]) => run(() => assertTensorClose(tn.cast(tIn(i, from), to), to, R.cast(i.x, to), EXACT))),
      RUNS,
    );
  });
});

// --------------------------------------------------------------------------------------- composites

describe('composites', () => {
  it('mean — |err| ≤ 3u·|ref| + 2^-40·mean|x| (NaN for an empty reduction)', () => {
    fc.assert(
      fc.property(reduceCaseArb('float32'), ({ i, axes, keepDims }) =>
        run(() => {
          const scale = R.mean(R.unary('abs', i.x), axes, keepDims).data;
          assertTensorClose(tn.mean(tIn(i), axes, keepDims), 'float32', R.mean(i.x, axes, keepDims), bound({ rel: 3 * U32, abs: 2 ** -149, scaleRel: 2 ** -40, scale }));
        }),
      ),
      RUNS,
    );
  });

  /** Non-empty axes over non-empty extents (max-shifted composites reject empty reductions). */
  const softCaseArb = shapeArb({ minRank: 1, minDim: 1 }).chain((s) =>
    fc.record({ i: inputArb(s), axes: axesArb(s.length, { minLength: 1 }), axis: axisArb(s.length), keepDims: fc.boolean() }),
  );

  it('logSumExp — |err| ≤ 64u + 4u·|ref|', () => {
    fc.assert(
      fc.property(softCaseArb, ({ i, axes, keepDims }) =>
        run(() => assertTensorClose(tn.logSumExp(tIn(i), axes, keepDims), 'float32', R.logSumExp(i.x, axes, keepDims), bound({ abs: 64 * U32, rel: 4 * U32 }))),
      ),
      RUNS,
    );
  });
  it('softmax — relative error ≤ 64u, rows sum to 1', () => {
    fc.assert(
      fc.property(softCaseArb, ({ i, axis }) =>
        run(() => {
          const got = tn.softmax(tIn(i), axis);
          assertTensorClose(got, 'float32', R.softmax(i.x, axis), bound({ rel: 64 * U32, abs: 2 ** -140 }));
          const rows = R.sum(R.nd(got.shape, got.dataSync()), axis);
          for (const v of rows.data) expect(Math.abs(v - 1)).toBeLessThan(1e-5);
        }),
      ),
      RUNS,
    );
  });
  it('logSoftmax — |err| ≤ 64u + 4u·|ref|', () => {
    fc.assert(
      fc.property(softCaseArb, ({ i, axis }) =>
        run(() => assertTensorClose(tn.logSoftmax(tIn(i), axis), 'float32', R.logSoftmax(i.x, axis), bound({ abs: 64 * U32, rel: 4 * U32 }))),
      ),
      RUNS,
    );
  });
  it('oneHot (out-of-range indices give zero rows) — exact', () => {
    const arb = fc.integer({ min: 0, max: 5 }).chain((depth) =>
      fc.tuple(shapeArb({ maxRank: 3 }).chain((s) => ndOf(s, 'int32', { min: -1, max: depth })), fc.constant(depth)),
    );
    fc.assert(
      fc.property(arb, ([idx, depth]) => run(() => assertTensorClose(tn.oneHot(T(idx, 'int32'), depth), 'float32', R.oneHot(idx, depth), EXACT))),
      RUNS,
    );
  });
  for (const which of ['triu', 'tril'] as const) {
    it(`${which} over the last two axes, any diagonal k — exact`, () => {
      const arb = fc.tuple(shapeArb({ minRank: 2 }).chain((s) => inputArb(s, 'float32', { specials: true })), fc.integer({ min: -4, max: 4 }));
      fc.assert(
        fc.property(arb, ([i, k]) =>
          run(() => assertTensorClose(tn[which](tIn(i), k), 'float32', R[which](i.x, k), EXACT)),
        ),
        RUNS,
      );
    });
  }
  it('expandDims / squeeze / stack — exact', () => {
    const arb = shapeArb({ maxRank: 3 }).chain((s) =>
      fc.tuple(fc.array(inputArb(s), { minLength: 1, maxLength: 3 }), fc.integer({ min: -(s.length + 1), max: s.length })),
    );
    fc.assert(
      fc.property(arb, ([xs, axis]) =>
        run(() => {
          const shape = xs[0]!.x.shape;
          const ax = R.normAxis(axis, shape.length + 1);
          const expanded = [...shape.slice(0, ax), 1, ...shape.slice(ax)];
          const e = tn.expandDims(tIn(xs[0]!), axis);
          assertTensorClose(e, 'float32', R.reshape(xs[0]!.x, expanded), EXACT, 'expandDims');
          assertTensorClose(tn.squeeze(e, ax), 'float32', xs[0]!.x, EXACT, 'squeeze');
          assertTensorClose(tn.squeeze(e), 'float32', R.reshape(xs[0]!.x, shape.filter((d) => d !== 1)), EXACT, 'squeeze all');
          const want = R.concat(xs.map((i) => R.reshape(i.x, expanded)), ax);
          assertTensorClose(tn.stack(xs.map((i) => tIn(i)), axis), 'float32', want, EXACT, 'stack');
        }),
      ),
      RUNS,
    );
  });
  it('clamp (float32 with NaN, int32) — exact', () => {
    const arb = fc.oneof(
      fc.tuple(shapeArb().chain((s) => inputArb(s, 'float32', { specials: true })), float32Arb(), float32Arb(), fc.constant<DType>('float32')),
      fc.tuple(shapeArb().chain((s) => inputArb(s, 'int32')), fc.integer({ min: -50, max: 50 }), fc.integer({ min: -50, max: 50 }), fc.constant<DType>('int32')),
    );
    fc.assert(
      fc.property(arb, ([i, p, q, dtype]) => {
        const [lo, hi] = p <= q ? [p, q] : [q, p];
        run(() => assertTensorClose(tn.clamp(tIn(i, dtype), lo, hi), dtype, R.clamp(i.x, lo, hi), EXACT));
      }),
      RUNS,
    );
  });
});

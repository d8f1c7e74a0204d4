/**
 * Parity of the webgpu backend with the cpu reference, primitive by primitive:
 * each property draws shapes and values, runs the same op on both backends and
 * compares.
 *
 * Tolerances, and why:
 * - exact (bit for bit, NaN included) for layout ops, int32, bool, comparisons,
 *   max/min/arg reductions, where, cast, scatterAdd, Philox bits and uniforms:
 *   both sides do the same exactly rounded (or no) arithmetic;
 * - exact for float +, −, ×: IEEE float32 on both sides (cpu rounds a float64
 *   result once, which is the same for these ops);
 * - a rigorous summation bound for sums and matmul: |err| ≤ c · n · 2^-24 · Σ|terms|;
 * - relative 1e-6 for ÷, 2e-6 for sqrt/rsqrt, ~1e-5 for exp/log/tanh/sigmoid/pow and the
 *   softmax family, plus an absolute 2e-5 for sin/cos (GPUs specify those in
 *   absolute error).
 *
 * Without a usable adapter the suite is skipped with the reason printed, unless
 * TANDEM_REQUIRE_WEBGPU=1, where that is a failure.
 * TANDEM_PARITY_RUNS overrides the number of runs per property.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '../src/index.js';
import type { BinaryOp, DType, HostArray, Tensor, UnaryOp } from '../src/index.js';
import { createWebGPUBackend, destroyWebGPUBackend } from '../src/webgpu/backend.js';
import { both, runOn, type Where } from './helpers/backends.js';

const initError = await T.initBackend('webgpu').then(() => undefined, (e: unknown) => (e instanceof Error ? e : new Error(String(e))));
const REQUIRED = process.env.TANDEM_REQUIRE_WEBGPU === '1';
if (initError && !REQUIRED) console.warn(`webgpu parity tests skipped: ${initError.message}`);

const RUNS = Number(process.env.TANDEM_PARITY_RUNS ?? 25);
const opts = { numRuns: RUNS };

/** A host tensor description, uploaded to each backend in turn. */
interface HT { shape: number[]; dtype: DType; data: HostArray }

const up = (h: HT, b: Where): Tensor => T.tensor(h.data, { shape: h.shape, dtype: h.dtype, backend: b });

function toHost(vals: readonly number[], dtype: DType): HostArray {
  return dtype === 'float32' ? Float32Array.from(vals) : dtype === 'int32' ? Int32Array.from(vals) : Uint8Array.from(vals);
}


type Tol = 'exact' | { rtol?: number; atol?: number } | ((i: number) => number);

function compare(g: HostArray, c: HostArray, tol: Tol, what: string): void {
  expect(g.constructor.name, `${what}: result type`).toBe(c.constructor.name);
  expect(g.length, `${what}: length`).toBe(c.length);
  for (let i = 0; i < c.length; i++) {
    const x = g[i]!, y = c[i]!;
    let ok: boolean;
    if (tol === 'exact') ok = Object.is(x, y);
    else if (Number.isNaN(x) || Number.isNaN(y)) ok = Number.isNaN(x) && Number.isNaN(y);
    else if (!Number.isFinite(x) || !Number.isFinite(y)) ok = x === y;
    else {
      const bound = typeof tol === 'function' ? tol(i) : (tol.atol ?? 0) + (tol.rtol ?? 0) * Math.abs(y);
      ok = Math.abs(x - y) <= bound;
    }
    if (!ok) throw new Error(`${what}: element ${i} differs: webgpu ${x} vs cpu ${y}`);
  }
}

/** Exact, except that +0 and −0 count as equal (arithmetic may differ in the sign of a zero). */
const exactish: Tol = () => 0;

// ------------------------------------------------------------------ arbitraries

/** float32 in [min, max] without subnormal-range values (GPUs may flush those to zero). */
const f32 = (min = -8, max = 8) =>
  fc.float({ min: Math.fround(min), max: Math.fround(max), noNaN: true, noDefaultInfinity: true }).map((x) => (Math.abs(x) < 1e-6 ? 0 : x));
const specials = fc.constantFrom(NaN, Infinity, -Infinity, 0, -0);
const f32s = fc.oneof({ arbitrary: f32(), weight: 9 }, { arbitrary: specials, weight: 1 });
const i32 = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -5, max: 5 }));
const bool01 = fc.constantFrom(0, 1);
const valuesFor = (d: DType) => (d === 'float32' ? f32s : d === 'int32' ? i32 : bool01);
const dtypeArb = fc.constantFrom<DType>('float32', 'int32', 'bool');

const shapeArb = (minRank = 0, maxRank = 4, minDim = 0, maxDim = 4) =>
  fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: minRank, maxLength: maxRank });

function dataFor(shape: number[], dtype: DType, values: fc.Arbitrary<number> = valuesFor(dtype)): fc.Arbitrary<HT> {
  const n = T.sizeOf(shape);
  return fc.array(values, { minLength: n, maxLength: n }).map((v) => ({ shape, dtype, data: toHost(v, dtype) }));
}
const tensorArb = (dtype: DType, shape: fc.Arbitrary<number[]> = shapeArb(), values?: fc.Arbitrary<number>) =>
  shape.chain((s) => dataFor(s, dtype, values));

/** A shape that broadcasts to `out`: a suffix of it with some dimensions set to 1. */
const broadcastOf = (out: number[]) =>
  fc.tuple(fc.integer({ min: 0, max: out.length }), fc.array(fc.boolean(), { minLength: out.length, maxLength: out.length }))
    .map(([drop, ones]) => out.slice(drop).map((d, i) => (ones[drop + i] ? 1 : d)));

/** Two operands of `dtype` whose shapes broadcast together (either may be the larger). */
const broadcastPair = (dtype: DType, va?: fc.Arbitrary<number>, vb?: fc.Arbitrary<number>) =>
  shapeArb().chain((out) => fc.tuple(broadcastOf(out), broadcastOf(out), fc.boolean()))
    .chain(([s1, s2, swap]) => fc.tuple(dataFor(swap ? s2 : s1, dtype, va), dataFor(swap ? s1 : s2, dtype, vb)));

// ------------------------------------------------------------------ the suites

// In CI (TANDEM_REQUIRE_WEBGPU=1) a missing adapter fails the whole file instead of skipping it.
if (initError && REQUIRED) throw new Error(`TANDEM_REQUIRE_WEBGPU=1 but the webgpu backend cannot be created: ${initError.message}`);

describe.skipIf(initError !== undefined)('webgpu parity with cpu', () => {
  beforeAll(async () => {
    await T.initBackend('webgpu');
  });
  afterAll(async () => {
    await T.shutdownWebGPU();
  });

  describe('unary', () => {
    const floatCases: [UnaryOp, fc.Arbitrary<number>, Tol][] = [
      ['neg', f32s, 'exact'],
      ['abs', f32s, 'exact'],
      ['sign', f32s, exactish],
      ['relu', f32s, 'exact'],
      ['exp', f32(-20, 20), { rtol: 1e-5 }],
      ['log', f32(1e-3, 1e3), { rtol: 1e-5, atol: 1e-6 }],
      ['log1p', fc.oneof(f32(-0.99, 10), f32(-1e-3, 1e-3)), { rtol: 2e-5 }],
      ['sqrt', f32(0, 100), { rtol: 2e-6 }],
      ['rsqrt', f32(1e-3, 100), { rtol: 2e-6 }],
      ['tanh', fc.oneof(f32(-12, 12), f32(-0.1, 0.1)), { rtol: 1e-5, atol: 1e-7 }],
      ['sigmoid', f32(-30, 30), { rtol: 1e-5, atol: 1e-7 }],
      ['sin', f32(-10, 10), { rtol: 1e-5, atol: 2e-5 }],
      ['cos', f32(-10, 10), { rtol: 1e-5, atol: 2e-5 }],
    ];
    for (const [op, values, tol] of floatCases) {
      it(`${op} float32`, async () => {
        await fc.assert(fc.asyncProperty(tensorArb('float32', shapeArb(), values), async (x) => {
          const [g, c] = await both((b) => (T as unknown as Record<UnaryOp, (t: Tensor) => Tensor>)[op](up(x, b)));
          compare(g, c, tol, op);
        }), opts);
      });
    }
    for (const op of ['neg', 'abs', 'sign', 'relu'] as const) {
      it(`${op} int32 (wrapping at -2^31)`, async () => {
        await fc.assert(fc.asyncProperty(tensorArb('int32'), async (x) => {
          const [g, c] = await both((b) => T[op](up(x, b)));
          compare(g, c, 'exact', op);
        }), opts);
      });
    }
    it('logicalNot bool', async () => {
      await fc.assert(fc.asyncProperty(tensorArb('bool'), async (x) => {
        const [g, c] = await both((b) => T.logicalNot(up(x, b)));
        compare(g, c, 'exact', 'logicalNot');
      }), opts);
    });
    it('NaN, ±∞ and ±0 flow through every float op as on cpu', async () => {
      const x: HT = { shape: [7], dtype: 'float32', data: Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 2, -2]) };
      for (const [op, , tol] of floatCases) {
        const [g, c] = await both((b) => (T as unknown as Record<UnaryOp, (t: Tensor) => Tensor>)[op](up(x, b)));
        compare(g, c, tol === 'exact' ? exactish : tol, `${op} on specials`);
      }
    });
  });

  describe('binary (broadcasting, scalars, size-0 dimensions)', () => {
    const cases: [BinaryOp, DType, Tol, fc.Arbitrary<number>?, fc.Arbitrary<number>?][] = [
      ['add', 'float32', 'exact'], ['sub', 'float32', 'exact'], ['mul', 'float32', 'exact'],
      ['div', 'float32', { rtol: 1e-6 }, f32(), fc.oneof(f32(-8, -1e-3), f32(1e-3, 8))],
      ['pow', 'float32', { rtol: 2e-5, atol: 1e-30 }, fc.oneof(f32(0.05, 10), f32(-10, 10)), fc.oneof(f32(-4, 4), fc.integer({ min: -4, max: 4 }))],
      ['maximum', 'float32', 'exact'], ['minimum', 'float32', 'exact'],
      ['eq', 'float32', 'exact', fc.oneof(f32s, fc.constantFrom(1, 2))], ['ne', 'float32', 'exact', fc.oneof(f32s, fc.constantFrom(1, 2))],
      ['lt', 'float32', 'exact'], ['le', 'float32', 'exact', fc.oneof(f32s, fc.constantFrom(1, 2))], ['gt', 'float32', 'exact'], ['ge', 'float32', 'exact'],
      ['add', 'int32', 'exact'], ['sub', 'int32', 'exact'], ['mul', 'int32', 'exact'],
      ['maximum', 'int32', 'exact'], ['minimum', 'int32', 'exact'],
      ['eq', 'int32', 'exact'], ['ne', 'int32', 'exact'], ['lt', 'int32', 'exact'], ['le', 'int32', 'exact'], ['gt', 'int32', 'exact'], ['ge', 'int32', 'exact'],
      ['eq', 'bool', 'exact'], ['ne', 'bool', 'exact'],
      ['logicalAnd', 'bool', 'exact'], ['logicalOr', 'bool', 'exact'], ['logicalXor', 'bool', 'exact'],
    ];
    for (const [op, dtype, tol, va, vb] of cases) {
      it(`${op} ${dtype}`, async () => {
        await fc.assert(fc.asyncProperty(broadcastPair(dtype, va, vb ?? va), async ([a, bb]) => {
          const [g, c] = await both((b) => T[op](up(a, b), up(bb, b)));
          compare(g, c, tol, `${op} ${a.shape}·${bb.shape}`);
        }), opts);
      });
    }
    it('JS numbers as operands (scalar fills)', async () => {
      await fc.assert(fc.asyncProperty(tensorArb('float32'), f32(), async (x, s) => {
        const [g, c] = await both((b) => T.sub(s, up(x, b)).mul(s).add(up(x, b).maximum(s)));
        compare(g, c, 'exact', 'scalar operands');
      }), opts);
    });
  });

  it('where (all three operands broadcast, every dtype)', async () => {
    const arb = fc.tuple(shapeArb(), dtypeArb).chain(([out, dt]) =>
      fc.tuple(broadcastOf(out), broadcastOf(out), broadcastOf(out))
        .chain(([sc, sa, sb]) => fc.tuple(dataFor(sc, 'bool'), dataFor(sa, dt), dataFor(sb, dt))));
    await fc.assert(fc.asyncProperty(arb, async ([cond, a, bb]) => {
      const [g, c] = await both((b) => T.where(up(cond, b), up(a, b), up(bb, b)));
      compare(g, c, 'exact', 'where');
    }), opts);
  });

  describe('reductions', () => {
    /** x with a random set of axes (one axis for arg ops), and keepDims. */
    const reduceArb = (dtype: DType, single: boolean, minDim: number, values?: fc.Arbitrary<number>) =>
      tensorArb(dtype, shapeArb(1, 4, minDim, 5), values).chain((x) =>
        fc.tuple(fc.constant(x),
          single ? fc.integer({ min: 0, max: x.shape.length - 1 }).map((a) => [a]) : fc.subarray(x.shape.map((_, i) => i)),
          fc.boolean()));

    for (const dtype of ['float32', 'int32'] as const) {
      it(`sum ${dtype} over random axes`, async () => {
        const values = dtype === 'float32' ? f32() : i32;
        await fc.assert(fc.asyncProperty(reduceArb(dtype, false, 0, values), async ([x, axes, keep]) => {
          const [g, c] = await both((b) => T.sum(up(x, b), axes, keep));
          if (dtype === 'int32') return compare(g, c, 'exact', 'sum');
          const abs = await runOn('cpu', (b) => T.sum(T.abs(up(x, b)), axes, keep));
          const n = axes.reduce((p, a) => p * x.shape[a]!, 1);
          compare(g, c, (i) => 2 ** -23 * (n + 1) * abs[i]!, `sum over [${axes}] of ${x.shape}`);
        }), opts);
      });
      for (const op of ['max', 'min'] as const) {
        it(`${op} ${dtype} over random axes (NaN propagates)`, async () => {
          await fc.assert(fc.asyncProperty(reduceArb(dtype, false, 1), async ([x, axes, keep]) => {
            const [g, c] = await both((b) => T[op](up(x, b), axes, keep));
            compare(g, c, 'exact', op);
          }), opts);
        });
      }
      for (const op of ['argmax', 'argmin'] as const) {
        it(`${op} ${dtype} (first index on ties and NaN)`, async () => {
          // Few distinct values, so ties are common.
          const values = dtype === 'float32' ? fc.constantFrom(1, 2, 3, -0, 0, NaN) : fc.integer({ min: 0, max: 3 });
          await fc.assert(fc.asyncProperty(reduceArb(dtype, true, 1, values), async ([x, axes, keep]) => {
            const [g, c] = await both((b) => T[op](up(x, b), axes[0]!, keep));
            compare(g, c, 'exact', op);
          }), opts);
        });
      }
    }
    it('sum/max/min/argmax over long random axes (chunked passes)', async () => {
      const arb = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 200, max: 5000 }), fc.integer({ min: 1, max: 3 }))
        .chain((s) => tensorArb('float32', fc.constant(s), f32()));
      await fc.assert(fc.asyncProperty(arb, async (x) => {
        const [g, c] = await both((b) => T.sum(up(x, b), 1));
        const abs = await runOn('cpu', (b) => T.sum(T.abs(up(x, b)), 1));
        compare(g, c, (i) => 2 ** -23 * (x.shape[1]! + 1) * abs[i]!, `sum over ${x.shape[1]}`);
        for (const op of ['max', 'min'] as const) {
          const [gm, cm] = await both((b) => T[op](up(x, b), [0, 1]));
          compare(gm, cm, 'exact', op);
        }
        const [ga, ca] = await both((b) => T.argmax(up(x, b), 1));
        compare(ga, ca, 'exact', 'argmax');
      }), { numRuns: Math.ceil(RUNS / 2) });
    });
    it('long axes (chunked into two passes) and full reductions', async () => {
      const n = 100_003;
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.37) * 4;
      const x: HT = { shape: [n], dtype: 'float32', data };
      const m: HT = { shape: [3, 5000], dtype: 'float32', data: data.slice(0, 15000) };
      const absAll = (await runOn('cpu', (b) => T.sum(T.abs(up(x, b)))))[0]!;
      const [g, c] = await both((b) => T.sum(up(x, b)));
      compare(g, c, () => 2 ** -23 * n * absAll, 'sum of 100003');
      const [g2, c2] = await both((b) => T.sum(up(m, b), 1));
      compare(g2, c2, { atol: 1e-2 }, 'sum over 5000');
      for (const op of ['max', 'min', 'argmax', 'argmin'] as const) {
        const [g3, c3] = await both((b) => (op === 'max' || op === 'min' ? T[op](up(m, b), 1) : T[op](up(m, b), 1)));
        compare(g3, c3, 'exact', `${op} over 5000`);
      }
      const withNaN: HT = { ...x, data: Float32Array.from(data, (v, i) => (i === 77_777 ? NaN : v)) };
      const [g4, c4] = await both((b) => T.max(up(withNaN, b)));
      compare(g4, c4, 'exact', 'max with one NaN');
      const [g5, c5] = await both((b) => T.argmin(up(withNaN, b), 0));
      compare(g5, c5, 'exact', 'argmin with one NaN');
      // Deterministic: the same bits every run.
      const again = await runOn('webgpu', (b) => T.sum(up(x, b)));
      expect(Array.from(again)).toEqual(Array.from(g));
    });
  });

  describe('matmul', () => {
    const dimArb = fc.oneof(fc.integer({ min: 0, max: 9 }), fc.constantFrom(4, 8, 12, 16));
    const batchPair = shapeArb(0, 2, 1, 3).chain((out) => fc.tuple(broadcastOf(out), broadcastOf(out)));
    const arb = fc.tuple(dimArb, dimArb, dimArb, fc.boolean(), fc.boolean(), batchPair).chain(([m, k, n, tA, tB, [ba, bb]]) =>
      fc.tuple(dataFor([...ba, ...(tA ? [k, m] : [m, k])], 'float32', f32(-4, 4)), dataFor([...bb, ...(tB ? [n, k] : [k, n])], 'float32', f32(-4, 4)),
        fc.constant({ transA: tA, transB: tB, k })));

    it('2-D, batched, broadcast batch, transposed flags', async () => {
      await fc.assert(fc.asyncProperty(arb, async ([a, bb, o]) => {
        const mm = { transA: o.transA, transB: o.transB };
        const [g, c] = await both((b) => T.matmul(up(a, b), up(bb, b), mm));
        const mag = await runOn('cpu', (b) => T.matmul(T.abs(up(a, b)), T.abs(up(bb, b)), mm));
        compare(g, c, (i) => 2 ** -22 * (o.k + 1) * mag[i]!, `matmul ${a.shape} @ ${bb.shape} ${JSON.stringify(mm)}`);
      }), opts);
    });
    it('larger aligned and unaligned sizes, every transpose combination; deterministic', async () => {
      for (const [m, k, n] of [[64, 96, 80], [67, 45, 33], [5, 130, 7]] as const) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const a: HT = { shape: transA ? [k, m] : [m, k], dtype: 'float32', data: Float32Array.from({ length: m * k }, (_, i) => Math.cos(i * 1.3)) };
            const bb: HT = { shape: transB ? [n, k] : [k, n], dtype: 'float32', data: Float32Array.from({ length: k * n }, (_, i) => Math.sin(i * 0.7)) };
            const mm = { transA, transB };
            const [g, c] = await both((b) => T.matmul(up(a, b), up(bb, b), mm));
            const mag = await runOn('cpu', (b) => T.matmul(T.abs(up(a, b)), T.abs(up(bb, b)), mm));
            compare(g, c, (i) => 2 ** -22 * (k + 1) * mag[i]!, `matmul ${m}x${k}x${n} ${JSON.stringify(mm)}`);
            const again = await runOn('webgpu', (b) => T.matmul(up(a, b), up(bb, b), mm));
            expect(Array.from(again)).toEqual(Array.from(g));
          }
        }
      }
    });
  });

  describe('layout (exact)', () => {
    const anyTensor = (shape = shapeArb()) => dtypeArb.chain((dt) => tensorArb(dt, shape));

    it('reshape', async () => {
      await fc.assert(fc.asyncProperty(anyTensor(), fc.boolean(), async (x, flat) => {
        const [g, c] = await both((b) => T.reshape(up(x, b), flat ? [-1] : [...x.shape].reverse()));
        compare(g, c, 'exact', 'reshape');
      }), opts);
    });
    it('transpose (random permutations)', async () => {
      const arb = anyTensor().chain((x) => fc.tuple(fc.constant(x), fc.shuffledSubarray(x.shape.map((_, i) => i), { minLength: x.shape.length, maxLength: x.shape.length })));
      await fc.assert(fc.asyncProperty(arb, async ([x, perm]) => {
        const [g, c] = await both((b) => T.transpose(up(x, b), perm));
        compare(g, c, 'exact', `transpose ${x.shape} by [${perm}]`);
      }), opts);
    });
    it('broadcastTo', async () => {
      const arb = fc.tuple(shapeArb(), dtypeArb).chain(([out, dt]) => fc.tuple(broadcastOf(out).chain((s) => dataFor(s, dt)), fc.constant(out)));
      await fc.assert(fc.asyncProperty(arb, async ([x, out]) => {
        const [g, c] = await both((b) => T.broadcastTo(up(x, b), out));
        compare(g, c, 'exact', `broadcastTo ${x.shape} → ${out}`);
      }), opts);
    });
    it('slice with steps, including negative ones', async () => {
      // An empty axis admits only empty forward slices (a backward one would start out of range).
      const axisSpec = (d: number) => (d === 0
        ? fc.tuple(fc.constant(0), fc.constant(null), fc.constantFrom(1, 2))
        : fc.tuple(fc.integer({ min: 0, max: d - 1 }), fc.option(fc.integer({ min: 0, max: d })), fc.constantFrom(1, 2, 3, -1, -2, -3)));
      const arb = anyTensor(shapeArb(1, 4, 0, 5)).chain((x) => fc.tuple(fc.constant(x), fc.tuple(...x.shape.map(axisSpec))));
      await fc.assert(fc.asyncProperty(arb, async ([x, spec]) => {
        const starts = spec.map((s) => s[0]), stops = spec.map((s) => s[1]), steps = spec.map((s) => s[2]);
        const [g, c] = await both((b) => T.slice(up(x, b), starts, stops, steps));
        compare(g, c, 'exact', `slice ${x.shape} [${starts}]:[${stops}]:[${steps}]`);
      }), opts);
    });
    it('pad', async () => {
      const arb = anyTensor().chain((x) => fc.tuple(fc.constant(x),
        fc.tuple(...x.shape.map(() => fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })))),
        x.dtype === 'float32' ? f32() : x.dtype === 'int32' ? fc.integer({ min: -9, max: 9 }) : bool01));
      await fc.assert(fc.asyncProperty(arb, async ([x, widths, value]) => {
        const [g, c] = await both((b) => T.pad(up(x, b), widths as [number, number][], value));
        compare(g, c, 'exact', `pad ${x.shape} by ${JSON.stringify(widths)}`);
      }), opts);
    });
    it('concat (including empty parts)', async () => {
      const arb = fc.tuple(shapeArb(1, 3, 0, 3), dtypeArb).chain(([base, dt]) => fc.tuple(fc.integer({ min: 0, max: base.length - 1 }), fc.constant(base), fc.constant(dt)))
        .chain(([axis, base, dt]) => fc.tuple(fc.constant(axis),
          fc.array(fc.integer({ min: 0, max: 3 }).chain((d) => dataFor(base.map((s, i) => (i === axis ? d : s)), dt)), { minLength: 1, maxLength: 4 })));
      await fc.assert(fc.asyncProperty(arb, async ([axis, parts]) => {
        const [g, c] = await both((b) => T.concat(parts.map((p) => up(p, b)), axis));
        compare(g, c, 'exact', `concat axis ${axis} of ${parts.map((p) => `[${p.shape}]`).join(' ')}`);
      }), opts);
    });
    it('stack', async () => {
      const arb = fc.tuple(shapeArb(0, 3), dtypeArb, fc.integer({ min: 1, max: 3 })).chain(([s, dt, count]) =>
        fc.tuple(fc.array(dataFor(s, dt), { minLength: count, maxLength: count }), fc.integer({ min: 0, max: s.length })));
      await fc.assert(fc.asyncProperty(arb, async ([parts, axis]) => {
        const [g, c] = await both((b) => T.stack(parts.map((p) => up(p, b)), axis));
        compare(g, c, 'exact', 'stack');
      }), opts);
    });
    it('gather', async () => {
      const arb = anyTensor(shapeArb(1, 3, 1, 4)).chain((x) => fc.integer({ min: 0, max: x.shape.length - 1 }).chain((axis) =>
        fc.tuple(fc.constant(x), fc.constant(axis), tensorArb('int32', shapeArb(0, 2), fc.integer({ min: 0, max: x.shape[axis]! - 1 })))));
      await fc.assert(fc.asyncProperty(arb, async ([x, axis, idx]) => {
        const [g, c] = await both((b) => T.gather(up(x, b), up(idx, b), axis));
        compare(g, c, 'exact', `gather axis ${axis}`);
      }), opts);
    });
    it('gather reads 0 for an out-of-range index (the webgpu contract; cpu throws)', async () => {
      const x = T.tensor([[1, 2], [3, 4]], { backend: 'webgpu' });
      const idx = T.tensor([1, 7, -1], { dtype: 'int32', backend: 'webgpu' });
      expect(await T.gather(x, idx, 0).toArray()).toEqual([[3, 4], [0, 0], [0, 0]]);
      T.dispose([x, idx]);
    });
    it('scatterAdd (repeated indices accumulate in order: exact and deterministic)', async () => {
      const arb = fc.tuple(shapeArb(1, 3, 1, 4), fc.constantFrom<DType>('float32', 'int32')).chain(([shape, dt]) =>
        fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
          tensorArb('int32', shapeArb(0, 2, 0, 5), fc.integer({ min: 0, max: shape[axis]! - 1 })).chain((idx) =>
            fc.tuple(fc.constant(shape), fc.constant(axis), fc.constant(idx),
              dataFor([...shape.slice(0, axis), ...idx.shape, ...shape.slice(axis + 1)], dt, dt === 'float32' ? f32() : i32)))));
      await fc.assert(fc.asyncProperty(arb, async ([shape, axis, idx, upd]) => {
        const [g, c] = await both((b) => T.scatterAdd(up(upd, b), up(idx, b), axis, shape));
        compare(g, c, exactish, 'scatterAdd');
        const again = await runOn('webgpu', (b) => T.scatterAdd(up(upd, b), up(idx, b), axis, shape));
        expect(Array.from(again)).toEqual(Array.from(g));
      }), opts);
    });
  });

  describe('cast', () => {
    for (const from of ['float32', 'int32', 'bool'] as const) {
      for (const to of ['float32', 'int32', 'bool'] as const) {
        it(`${from} → ${to}`, async () => {
          // Floats beyond the int32 range wrap modulo 2^32 after truncation, as an Int32Array store does.
          const values = from === 'float32' ? fc.oneof(f32s, f32(-1e10, 1e10), fc.constantFrom(2 ** 31, -(2 ** 31), 2 ** 32 + 5, 3e9, -2.5, 2.5)) : valuesFor(from);
          await fc.assert(fc.asyncProperty(tensorArb(from, shapeArb(), values), async (x) => {
            const [g, c] = await both((b) => T.cast(up(x, b), to));
            compare(g, c, 'exact', `cast ${from} → ${to}`);
          }), opts);
        });
      }
    }
  });

  describe('composites', () => {
    const arb = tensorArb('float32', shapeArb(1, 3, 1, 5), f32(-8, 8)).chain((x) =>
      fc.tuple(fc.constant(x), fc.integer({ min: 0, max: x.shape.length - 1 }), fc.subarray(x.shape.map((_, i) => i), { minLength: 1 }), fc.boolean()));
    const tol = { rtol: 1e-5, atol: 1e-6 };
    it('softmax', async () => {
      await fc.assert(fc.asyncProperty(arb, async ([x, axis]) => {
        const [g, c] = await both((b) => T.softmax(up(x, b), axis));
        compare(g, c, tol, 'softmax');
      }), opts);
    });
    it('logSoftmax', async () => {
      await fc.assert(fc.asyncProperty(arb, async ([x, axis]) => {
        const [g, c] = await both((b) => T.logSoftmax(up(x, b), axis));
        compare(g, c, tol, 'logSoftmax');
      }), opts);
    });
    it('logSumExp', async () => {
      await fc.assert(fc.asyncProperty(arb, async ([x, , axes, keep]) => {
        const [g, c] = await both((b) => T.logSumExp(up(x, b), axes, keep));
        compare(g, c, tol, 'logSumExp');
      }), opts);
    });
  });

  describe('random (identical bits on every backend)', () => {
    const seed = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    it('Philox bits', async () => {
      await fc.assert(fc.asyncProperty(seed, shapeArb(0, 3, 0, 9), async (s, shape) => {
        const [g, c] = await both((b) => T.randomBits(T.key(s), shape, { backend: b }));
        compare(g, c, 'exact', 'randomBits');
      }), opts);
    });
    it('uniform', async () => {
      await fc.assert(fc.asyncProperty(seed, shapeArb(0, 3, 0, 9), async (s, shape) => {
        const [g, c] = await both((b) => T.uniform(T.key(s), shape, { backend: b }));
        compare(g, c, 'exact', 'uniform');
      }), opts);
    });
    it('a long stream from a split key, and a repeat is bit-identical', async () => {
      const k = T.split(T.key(2024), 3)[2]!;
      const [g, c] = await both((b) => T.randomBits(k, [100_003], { backend: b }));
      compare(g, c, 'exact', 'long randomBits');
      const [gu, cu] = await both((b) => T.uniform(k, [4099], { backend: b }));
      compare(gu, cu, 'exact', 'uniform');
      expect(Array.from(await runOn('webgpu', (b) => T.randomBits(k, [100_003], { backend: b })))).toEqual(Array.from(g));
    });
  });

  it('loops longer than 65535 iterations per invocation (llvmpipe stops those: segmented)', async () => {
    const count = 70_001;
    const idx: HT = { shape: [count], dtype: 'int32', data: Int32Array.from({ length: count }, (_, i) => (i * 7919) % 3) };
    const upd: HT = { shape: [count, 2], dtype: 'float32', data: Float32Array.from({ length: 2 * count }, (_, i) => Math.sin(i)) };
    const [g, c] = await both((b) => T.scatterAdd(up(upd, b), up(idx, b), 0, [3, 2]));
    compare(g, c, 'exact', 'scatterAdd with 70001 updates');
    const k = 270_001;
    const a: HT = { shape: [1, k], dtype: 'float32', data: Float32Array.from({ length: k }, (_, i) => Math.cos(i)) };
    const bb: HT = { shape: [k, 2], dtype: 'float32', data: Float32Array.from({ length: 2 * k }, (_, i) => Math.sin(i * 0.5)) };
    const [gm, cm] = await both((b) => T.matmul(up(a, b), up(bb, b)));
    const mag = await runOn('cpu', (b) => T.matmul(T.abs(up(a, b)), T.abs(up(bb, b))));
    compare(gm, cm, (i) => 2 ** -22 * k * mag[i]!, 'matmul with k = 270001');
    // 20000 outputs (no chunking) over an axis of 70000: segmented argmax/sum.
    const x: HT = { shape: [70_000, 2], dtype: 'float32', data: Float32Array.from({ length: 140_000 }, (_, i) => (i === 139_001 ? NaN : Math.sin(i * 0.1))) };
    for (const op of ['argmax', 'argmin', 'max'] as const) {
      const [ga, ca] = await both((b) => (op === 'max' ? T.max(up(x, b), 0) : T[op](up(x, b), 0)));
      compare(ga, ca, 'exact', `${op} over 70000`);
    }
  });

  it('allowSoftware: false refuses a software adapter, naming it', async () => {
    const info = T.webgpuAdapterInfo()!;
    expect(info.description.length).toBeGreaterThan(0);
    const attempt = createWebGPUBackend({ allowSoftware: false });
    if (info.isSoftware) await expect(attempt).rejects.toThrow(/only a software adapter is available .*allowSoftware/);
    else destroyWebGPUBackend((await attempt).backend);
  });

  it('more than 65535 workgroups (2-D dispatch grid)', async () => {
    const n = 2 ** 24 + 1000; // 65540 workgroups of 256
    const x = T.full([n], 1, { backend: 'webgpu' });
    const y = x.add(x);
    const tail = T.slice(y, [n - 8]);
    expect(Array.from(await tail.data())).toEqual(new Array(8).fill(2));
    expect(await y.sum().item()).toBe(2 * n);
    T.dispose([x, y, tail]);
  });
});

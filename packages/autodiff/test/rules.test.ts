/**
 * Every differentiable primitive of @tandem/tensor, checked against central
 * finite differences on random shapes and values (kept away from kinks).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@tandem/tensor';
import type { Tensor } from '@tandem/tensor';
import { checkGrads } from '../src/index.js';
import { broadcastPair, distinct, rand, runs, seedArb, shapeArb } from './gen.js';

const TOL = { eps: 5e-3, rtol: 1e-2, atol: 5e-3 };

/** Reduces op's output to a scalar with fixed random weights, so every output element matters. */
function weighted(op: (...xs: Tensor[]) => Tensor, inputs: Tensor[], seed: number): (...xs: Tensor[]) => Tensor {
  const shape = T.tidy(() => op(...inputs).shape);
  const w = rand(shape, seed ^ 0x5bd1e995);
  return (...xs: Tensor[]) => T.sum(T.mul(op(...xs), w));
}

function check(op: (...xs: Tensor[]) => Tensor, inputs: Tensor[], seed: number, tol = TOL): void {
  const f = weighted(op, inputs, seed);
  const res = checkGrads(f, inputs, tol);
  // checkGrads throws on a mismatch; here: it compared every coordinate it should have (all
  // of them up to its default 64 per input), not a subset or none.
  expect(res.checked).toBe(inputs.reduce((n, x) => n + Math.min(x.size, 64), 0));
}

type Dom = { lo: number; hi: number; gap?: number };
const UNARY: [string, (x: Tensor) => Tensor, Dom][] = [
  ['neg', T.neg, { lo: -2, hi: 2 }],
  ['abs', T.abs, { lo: -2, hi: 2, gap: 0.05 }],
  ['exp', T.exp, { lo: -2, hi: 2 }],
  ['log', T.log, { lo: 0.2, hi: 3 }],
  ['log1p', T.log1p, { lo: -0.7, hi: 3 }],
  ['sqrt', T.sqrt, { lo: 0.2, hi: 3 }],
  ['rsqrt', T.rsqrt, { lo: 0.3, hi: 3 }],
  ['tanh', T.tanh, { lo: -2, hi: 2 }],
  ['sigmoid', T.sigmoid, { lo: -4, hi: 4 }],
  ['relu', T.relu, { lo: -2, hi: 2, gap: 0.05 }],
  ['sin', T.sin, { lo: -3, hi: 3 }],
  ['cos', T.cos, { lo: -3, hi: 3 }],
];

describe('unary rules match finite differences', () => {
  for (const [name, op, d] of UNARY) {
    it(name, () => {
      fc.assert(
        fc.property(shapeArb(0, 3), seedArb, (shape, seed) => {
          check(op, [rand(shape, seed, d.lo, d.hi, d.gap ?? 0)], seed);
        }),
        { numRuns: runs(20) },
      );
    });
  }
});

const BINARY: [string, (a: Tensor, b: Tensor) => Tensor, Dom, Dom][] = [
  ['add', T.add, { lo: -2, hi: 2 }, { lo: -2, hi: 2 }],
  ['sub', T.sub, { lo: -2, hi: 2 }, { lo: -2, hi: 2 }],
  ['mul', T.mul, { lo: -2, hi: 2 }, { lo: -2, hi: 2 }],
  ['div', T.div, { lo: -2, hi: 2 }, { lo: 0.5, hi: 2 }],
  ['pow', T.pow, { lo: 0.3, hi: 2 }, { lo: -1.5, hi: 2 }],
];

describe('binary rules (with broadcasting) match finite differences', () => {
  for (const [name, op, da, db] of BINARY) {
    it(name, () => {
      fc.assert(
        fc.property(broadcastPair, fc.boolean(), seedArb, ([sa, sb], swap, seed) => {
          const [s1, s2] = swap ? [sb, sa] : [sa, sb];
          check(op, [rand(s1, seed, da.lo, da.hi), rand(s2, seed + 1, db.lo, db.hi)], seed);
        }),
        { numRuns: runs(20) },
      );
    });
  }
  for (const [name, op] of [['maximum', T.maximum], ['minimum', T.minimum]] as const) {
    it(name, () => {
      fc.assert(
        fc.property(broadcastPair, seedArb, ([sa, sb], seed) => {
          // Offset b by a non-grid amount so no pair ties.
          const a = distinct(sa, seed);
          const b = T.add(distinct(sb, seed + 7), 0.1);
          check(op, [a, b], seed);
        }),
        { numRuns: runs(20) },
      );
    });
  }
  it('where', () => {
    fc.assert(
      fc.property(broadcastPair, seedArb, ([sa, sb], seed) => {
        const cond = T.gt(rand(sa, seed + 3), 0);
        check((a, b) => T.where(cond, a, b), [rand(sa, seed), rand(sb, seed + 1)], seed);
      }),
      { numRuns: runs(20) },
    );
  });
});

const axesOf = (rank: number) =>
  fc.subarray(Array.from({ length: rank }, (_, i) => i)).chain((axes) => fc.tuple(fc.constant(axes), fc.boolean()));

describe('reduction rules match finite differences', () => {
  it('sum over any axes', () => {
    fc.assert(
      fc.property(shapeArb(0, 3).chain((s) => fc.tuple(fc.constant(s), axesOf(s.length))), seedArb, ([shape, [axes, keep]], seed) => {
        check((x) => T.sum(x, axes, keep), [rand(shape, seed)], seed);
      }),
      { numRuns: runs(20) },
    );
  });
  for (const [name, op] of [['max', T.max], ['min', T.min]] as const) {
    it(`${name} over any axes (distinct values)`, () => {
      fc.assert(
        fc.property(shapeArb(1, 3).chain((s) => fc.tuple(fc.constant(s), axesOf(s.length))), seedArb, ([shape, [axes, keep]], seed) => {
          check((x) => op(x, axes, keep), [distinct(shape, seed)], seed);
        }),
        { numRuns: runs(20) },
      );
    });
  }
  it('max splits the gradient evenly between tied entries', () => {
    const x = T.tensor([1, 3, 3, 2]);
    const [g] = checkGradsValue((x) => T.max(x), x);
    expect(g).toEqual([0, 0.5, 0.5, 0]);
  });
  it('maximum splits ties evenly between its operands', () => {
    const a = T.tensor([1, 2]);
    const b = T.tensor([1, 0]);
    const ga = gradOf((a) => T.sum(T.maximum(a, b)), a);
    expect(ga).toEqual([0.5, 1]);
  });
});

import { grad } from '../src/index.js';
function gradOf(f: (x: Tensor) => Tensor, x: Tensor): number[] {
  return Array.from(grad(f)(x).dataSync() as Float32Array);
}
function checkGradsValue(f: (x: Tensor) => Tensor, x: Tensor): [number[]] {
  return [gradOf(f, x)];
}

describe('matmul rule', () => {
  it('batched, broadcast batch dims, transposed operands', () => {
    const arb = fc.record({
      batchA: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
      bcast: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
      m: fc.integer({ min: 1, max: 4 }), k: fc.integer({ min: 1, max: 4 }), n: fc.integer({ min: 1, max: 4 }),
      transA: fc.boolean(), transB: fc.boolean(), seed: seedArb,
    });
    fc.assert(
      fc.property(arb, ({ batchA, bcast, m, k, n, transA, transB, seed }) => {
        const batchB = batchA.map((d, i) => (bcast[i] ? 1 : d)).slice(bcast[0] ? 1 : 0);
        const aShape = [...batchA, ...(transA ? [k, m] : [m, k])];
        const bShape = [...batchB, ...(transB ? [n, k] : [k, n])];
        check((a, b) => T.matmul(a, b, { transA, transB }), [rand(aShape, seed), rand(bShape, seed + 1)], seed);
      }),
      { numRuns: runs(25) },
    );
  });
});

describe('layout rules match finite differences', () => {
  it('reshape', () => {
    fc.assert(fc.property(shapeArb(0, 3), seedArb, (shape, seed) => {
      const n = T.sizeOf(shape);
      check((x) => T.reshape(x, [n]), [rand(shape, seed)], seed);
    }), { numRuns: runs(10) });
  });
  it('transpose', () => {
    fc.assert(fc.property(shapeArb(1, 4).chain((s) => fc.tuple(fc.constant(s), fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length }))), seedArb, ([shape, perm], seed) => {
      check((x) => T.transpose(x, perm), [rand(shape, seed)], seed);
    }), { numRuns: runs(15) });
  });
  it('broadcastTo', () => {
    fc.assert(fc.property(broadcastPair, seedArb, ([big, small], seed) => {
      check((x) => T.broadcastTo(x, big), [rand(small, seed)], seed);
    }), { numRuns: runs(15) });
  });
  it('slice with positive and negative steps', () => {
    const arb = shapeArb(1, 3).chain((shape) => fc.tuple(
      fc.constant(shape),
      fc.tuple(...shape.map((d) => fc.record({
        start: fc.integer({ min: 0, max: d - 1 }),
        step: fc.integer({ min: -3, max: 3 }).filter((s) => s !== 0),
      }))),
    ));
    fc.assert(fc.property(arb, seedArb, ([shape, specs], seed) => {
      check((x) => T.slice(x, specs.map((s) => s.start), specs.map(() => null), specs.map((s) => s.step)), [rand(shape, seed)], seed);
    }), { numRuns: runs(25) });
  });
  it('pad', () => {
    const arb = shapeArb(1, 3).chain((shape) => fc.tuple(fc.constant(shape),
      fc.tuple(...shape.map(() => fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }))))));
    fc.assert(fc.property(arb, seedArb, ([shape, widths], seed) => {
      check((x) => T.pad(x, widths, 0.5), [rand(shape, seed)], seed);
    }), { numRuns: runs(15) });
  });
  it('concat and stack', () => {
    const arb = shapeArb(1, 3).chain((shape) => fc.tuple(fc.constant(shape), fc.integer({ min: 0, max: shape.length - 1 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 })));
    fc.assert(fc.property(arb, seedArb, ([shape, axis, sizes], seed) => {
      const xs = sizes.map((s, i) => rand(shape.map((d, j) => (j === axis ? s : d)), seed + i));
      check((...ys) => T.concat(ys, axis), xs, seed);
      const same = sizes.map((_, i) => rand(shape, seed + 10 + i));
      check((...ys) => T.stack(ys, axis), same, seed);
    }), { numRuns: runs(15) });
  });
  it('gather and scatterAdd (repeated indices accumulate)', () => {
    const arb = shapeArb(1, 3).chain((shape) => fc.tuple(fc.constant(shape), fc.integer({ min: 0, max: shape.length - 1 })).chain(([shape, axis]) =>
      fc.tuple(fc.constant(shape), fc.constant(axis), fc.array(fc.integer({ min: 0, max: shape[axis]! - 1 }), { minLength: 0, maxLength: 6 }))));
    fc.assert(fc.property(arb, seedArb, ([shape, axis, idx], seed) => {
      const indices = T.tensor(Int32Array.from(idx), { backend: 'cpu' });
      check((x) => T.gather(x, indices, axis), [rand(shape, seed)], seed);
      const updShape = [...shape.slice(0, axis), idx.length, ...shape.slice(axis + 1)];
      check((u) => T.scatterAdd(u, indices, axis, shape), [rand(updShape, seed + 1)], seed);
    }), { numRuns: runs(20) });
  });
  it('cast float32 → float32 passes the gradient; integer casts carry none', () => {
    const x = T.tensor([1.5, -2.5]);
    expect(gradOf((x) => T.sum(T.cast(x, 'float32')), x)).toEqual([1, 1]);
    expect(gradOf((x) => T.sum(T.cast(T.cast(x, 'int32'), 'float32')), x)).toEqual([0, 0]);
  });
});

describe('composites get correct gradients through their primitives', () => {
  const cases: [string, (x: Tensor) => Tensor][] = [
    ['softmax', (x) => T.softmax(x, -1)],
    ['logSoftmax', (x) => T.logSoftmax(x, 0)],
    ['logSumExp', (x) => T.logSumExp(x, -1, true)],
    ['mean', (x) => T.mean(x, 0)],
    ['clamp', (x) => T.clamp(x, -0.5, 0.7)],
  ];
  for (const [name, op] of cases) {
    it(name, () => {
      fc.assert(fc.property(shapeArb(1, 3), seedArb, (shape, seed) => {
        // clamp is kinked at its bounds; distinct() values (multiples of 0.37) stay off them.
        const x = name === 'clamp' ? distinct(shape, seed) : rand(shape, seed);
        check(op, [x], seed);
      }), { numRuns: runs(15) });
    });
  }
});

/**
 * The fused `logSoftmax` gradient rule on rank ≥ 2 inputs, against central finite differences
 * (`checkGrads`, float64 differences of float32 evaluations). On a rank-1 input "the last axis"
 * and "axis 0" coincide, so a rule that reduces the cotangent over the wrong axis, or keeps
 * the wrong dims, passes every rank-1 check; here the input is rank 2 or 3 and the rows have
 * different lengths from the other axes. Every axis is checked: the last one goes through the
 * fused primitive and its rule (`rules.ts`, `logSoftmax`), the others through the composite of
 * primitives. The scalar is Σ w ⊙ logSoftmax(x) with fixed random weights w, so each output
 * element contributes a different amount (with w ≡ 1 the cotangent's row sums hide some bugs).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@tandem/tensor';
import type { Tensor } from '@tandem/tensor';
import { checkGrads, grad } from '../src/index.js';
import { rand, runs, seedArb } from './gen.js';

const TOL = { eps: 5e-3, rtol: 1e-2, atol: 5e-3 };

/** A rank-2 or rank-3 shape whose dims differ from one another (2–5 each), so no axis can stand in for another. */
const shapeArb = fc.oneof(
  fc.uniqueArray(fc.integer({ min: 2, max: 5 }), { minLength: 2, maxLength: 2 }),
  fc.uniqueArray(fc.integer({ min: 2, max: 5 }), { minLength: 3, maxLength: 3 }),
);

describe('logSoftmax gradient on rank ≥ 2 inputs matches finite differences', () => {
  it('every axis of rank-2 and rank-3 inputs (the last axis through the fused rule)', () => {
    fc.assert(fc.property(shapeArb, seedArb, fc.nat(2), (shape, seed, axisRaw) => {
      const size = shape.reduce((a, b) => a * b, 1);
      for (const axis of [-1, axisRaw % shape.length]) {
        const x = rand(shape, seed, -3, 3);
        const w = rand(shape, seed ^ 0x5bd1e995, -1, 1);
        const f = (y: Tensor) => T.sum(T.mul(T.logSoftmax(y, axis), w));
        const res = checkGrads(f, [x], { ...TOL, maxCoords: size });
        expect(res.checked).toBe(size); // every coordinate, not a sample
        T.dispose([x, w]);
      }
    }), { numRuns: runs(25) });
  });

  it('the fused rule (last axis) and the composite (moved to a leading axis by transpose) give the same gradient', () => {
    // log_softmax(x, -1) = transpose(log_softmax(transpose(x), 0)): the same function through
    // the fused primitive and through the primitives, so the two gradients must agree.
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: 2, max: 5 }), { minLength: 2, maxLength: 2 }), seedArb, (shape, seed) => {
      const x = rand(shape, seed, -3, 3);
      const w = rand(shape, seed ^ 0x5bd1e995, -1, 1);
      const fused = (grad((y: Tensor) => T.sum(T.mul(T.logSoftmax(y, -1), w)))(x) as Tensor).dataSync();
      const composite = (grad((y: Tensor) => T.sum(T.mul(T.transpose(T.logSoftmax(T.transpose(y, [1, 0]), 0), [1, 0]), w)))(x) as Tensor).dataSync();
      fused.forEach((g, i) => expect(Math.abs(g - composite[i]!)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(g))));
      T.dispose([x, w]);
    }), { numRuns: runs(25) });
  });
});

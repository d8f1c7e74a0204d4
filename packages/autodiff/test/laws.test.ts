/** Laws of reverse mode that hold for any function, plus the API's contracts. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@tandem/tensor';
import type { Tensor } from '@tandem/tensor';
import { AutodiffError, checkGrads, customVjp, grad, stopGradient, valueAndGrad, vjp } from '../src/index.js';
import { rand, runs, seedArb, shapeArb } from './gen.js';

const arr = (t: Tensor) => Array.from(t.dataSync() as Float32Array);
const bytes = (t: Tensor) => Buffer.from((t.dataSync() as Float32Array).buffer).toString('hex');

/** A smooth composite exercising broadcasting, matmul, reductions and nonlinearities. */
function model(p: { w: Tensor; b: Tensor }, x: Tensor): Tensor {
  const h = T.tanh(T.add(T.matmul(x, p.w), p.b));
  return T.sum(T.mul(T.logSoftmax(h, -1), T.sigmoid(h)));
}

const closeTo = (a: number[], b: number[], tol = 1e-4) => {
  expect(a.length).toBe(b.length); // else an empty or short `a` passes vacuously
  a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i]!))));
};

describe('laws', () => {
  it('the vjp is linear in the cotangent', () => {
    fc.assert(fc.property(shapeArb(1, 3), seedArb, fc.double({ min: -3, max: 3, noNaN: true }), (shape, seed, alpha) => {
      const x = rand(shape, seed);
      const [out, pb] = vjp((x: Tensor) => T.mul(T.sin(x), T.exp(T.mul(x, 0.3))), x);
      const u = rand(out.shape, seed + 1);
      const v = rand(out.shape, seed + 2);
      const [gu] = pb(u);
      const [gv] = pb(v);
      const [guv] = pb(T.add(T.mul(u, alpha), v));
      closeTo(arr(guv!), arr(T.add(T.mul(gu!, alpha), gv!)), 1e-5);
      pb.dispose();
    }), { numRuns: runs(25) });
  });

  it('grad(f + g) = grad f + grad g', () => {
    fc.assert(fc.property(shapeArb(1, 3), seedArb, (shape, seed) => {
      const x = rand(shape, seed);
      const f = (x: Tensor) => T.sum(T.mul(T.tanh(x), x));
      const g = (x: Tensor) => T.logSumExp(T.reshape(x, [-1]), 0);
      const lhs = grad((x: Tensor) => T.add(f(x), g(x)))(x);
      closeTo(arr(lhs), arr(T.add(grad(f)(x), grad(g)(x))), 1e-6);
    }), { numRuns: runs(25) });
  });

  it('gradients are bit-identical across repeated runs', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 6 }), seedArb, (n, d, seed) => {
      const p = { w: rand([d, d], seed), b: rand([d], seed + 1) };
      const x = rand([n, d], seed + 2);
      const g1 = grad(model)(p, x);
      const g2 = grad(model)(p, x);
      expect(bytes(g1.w)).toBe(bytes(g2.w));
      expect(bytes(g1.b)).toBe(bytes(g2.b));
    }), { numRuns: runs(15) });
  });

  it('gradients come back with the structure of the inputs and leave the inputs unchanged', () => {
    const p = { w: rand([3, 3], 1), b: rand([3], 2) };
    const before = [bytes(p.w), bytes(p.b)];
    const x = rand([2, 3], 3);
    const [v, [gp, gx]] = valueAndGrad(model, { argnums: [0, 1] })(p, x);
    expect(v.shape).toEqual([]);
    expect(Object.keys(gp).sort()).toEqual(['b', 'w']);
    expect(gp.w.shape).toEqual([3, 3]);
    expect(gp.b.shape).toEqual([3]);
    expect(gx.shape).toEqual([2, 3]);
    expect([bytes(p.w), bytes(p.b)]).toEqual(before);
    checkGrads(model, [p, x]);
  });

  it('an unused input gets a zero gradient', () => {
    const g = grad((a: Tensor, _b: Tensor) => T.sum(a), { argnums: 1 })(T.ones([2]), T.ones([3]));
    expect(arr(g)).toEqual([0, 0, 0]);
  });
});

describe('higher order', () => {
  it('grad(grad(f)) of a cubic is 6x', () => {
    fc.assert(fc.property(shapeArb(0, 2), seedArb, (shape, seed) => {
      const x = rand(shape, seed);
      const f = (x: Tensor) => T.sum(T.mul(T.mul(x, x), x));
      const second = grad((x: Tensor) => T.sum(grad(f)(x)))(x);
      closeTo(arr(second), arr(T.mul(x, 6)), 1e-5);
    }), { numRuns: runs(15) });
  });

  it('grad(grad(sin)) = -sin, through nested scalar functions', () => {
    const x = T.tensor([0.3, -1.2, 2.0]);
    const d2 = grad((x: Tensor) => T.sum(grad((y: Tensor) => T.sum(T.sin(y)))(x)))(x);
    closeTo(arr(d2), arr(T.neg(T.sin(x))), 1e-5);
  });

  it('Hessian-vector products match finite differences of the gradient', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), seedArb, (n, seed) => {
      const a = rand([n, n], seed + 5);
      const f = (x: Tensor) => T.add(T.logSumExp(T.matmul(T.reshape(x, [1, n]), a), -1).sum(), T.sum(T.mul(T.tanh(x), x)));
      const x = rand([n], seed);
      const v = rand([n], seed + 1);
      // HVP = grad_x <grad f(x), v>
      const hvp = grad((x: Tensor) => T.sum(T.mul(grad(f)(x), v)))(x);
      const eps = 1e-2;
      const gp = grad(f)(T.add(x, T.mul(v, eps)));
      const gm = grad(f)(T.sub(x, T.mul(v, eps)));
      const fd = arr(T.div(T.sub(gp, gm), 2 * eps));
      arr(hvp).forEach((h, i) => expect(Math.abs(h - fd[i]!)).toBeLessThanOrEqual(2e-2 * (1 + Math.abs(fd[i]!))));
    }), { numRuns: runs(15) });
  });
});

describe('stopGradient and customVjp', () => {
  it('stopGradient blocks the gradient', () => {
    const x = T.tensor([1, 2]);
    const g = grad((x: Tensor) => T.sum(T.mul(x, stopGradient(x))))(x);
    expect(arr(g)).toEqual([1, 2]);
  });
  it('customVjp replaces the rule, and the replacement is differentiable again', () => {
    // A "fused" x² whose rule is given by hand (and deliberately scaled by 3 to prove it is used).
    const sq = customVjp((x: Tensor) => T.mul(x, x), (ct, _out, x) => [T.mul(T.mul(ct, x), 6)]);
    const x = T.tensor([1, -2, 0.5]);
    expect(arr(grad((x: Tensor) => T.sum(sq(x)))(x))).toEqual([6, -12, 3]);
    expect(arr(grad((x: Tensor) => T.sum(grad((y: Tensor) => T.sum(sq(y)))(x)))(x))).toEqual([6, 6, 6]);
  });
});

describe('errors', () => {
  it('grad of an integer argument is a clear error', () => {
    const ids = T.tensor([1, 2], { dtype: 'int32' });
    expect(() => grad((i: Tensor) => T.sum(T.cast(i, 'float32')))(ids)).toThrow(/argument 0 has a int32\[2\] leaf: integer and bool inputs get no gradient/);
  });
  it('grad of a non-scalar output is a clear error', () => {
    expect(() => grad((x: Tensor) => T.mul(x, 2))(T.ones([3]))).toThrow(/f must return a scalar \(shape \[\]\), got float32\[3\]/);
    expect(() => grad((x: Tensor) => T.mul(x, 2))(T.ones([3]))).toThrow(expect.objectContaining({ name: 'AutodiffError', code: 'argument', op: 'grad' }));
  });
  it('a bad argnums entry is a clear error', () => {
    expect(() => grad((x: Tensor) => T.sum(x), { argnums: 2 })(T.ones([3]))).toThrow(/argnums entry 2/);
  });
  it('checkGrads reports a wrong rule with the coordinate', () => {
    const bad = customVjp((x: Tensor) => T.exp(x), (ct, out) => [T.mul(ct, T.mul(out, 1.1))]);
    expect(() => checkGrads((x: Tensor) => T.sum(bad(x)), [T.tensor([0.1, 0.2])])).toThrow(/gradient mismatch at input 0/);
  });
  it('a disposed pullback cannot be reused', () => {
    const [out, pb] = vjp((x: Tensor) => T.exp(x), T.ones([2]));
    pb(T.onesLike(out));
    pb.dispose();
    expect(() => pb(T.onesLike(out))).toThrow(/disposed/);
    expect(() => pb(T.onesLike(out))).toThrow(AutodiffError);
    expect(() => pb(T.onesLike(out))).toThrow(expect.objectContaining({ code: 'disposed' }));
  });
});

describe('memory and cost', () => {
  it('1,000 valueAndGrad calls leave the live tensor count flat', () => {
    const p = { w: rand([8, 8], 1), b: rand([8], 2) };
    const x = rand([4, 8], 3);
    const vg = valueAndGrad(model);
    const step = () => {
      const [v, g] = vg(p, x);
      T.dispose([v, g]);
    };
    for (let i = 0; i < 10; i++) step();
    const before = T.memory().cpu!;
    for (let i = 0; i < 1000; i++) step();
    const after = T.memory().cpu!;
    expect(after.tensors).toBe(before.tensors);
    expect(after.buffers).toBe(before.buffers);
    expect(after.bytes).toBe(before.bytes);
  });
  it('higher-order gradients also leave memory flat', () => {
    const x = rand([5], 9);
    const f = (x: Tensor) => T.sum(T.mul(T.tanh(x), x));
    const step = () => grad((x: Tensor) => T.sum(grad(f)(x)))(x).dispose();
    for (let i = 0; i < 5; i++) step();
    const before = T.memory().cpu!;
    for (let i = 0; i < 100; i++) step();
    expect(T.memory().cpu!.tensors).toBe(before.tensors);
  });
  it('the backward pass records a number of ops linear in the forward trace', () => {
    const count = (n: number) => {
      let ops = 0;
      const tracer = { record: () => void ops++ };
      const f = (x: Tensor) => {
        let y = x;
        for (let i = 0; i < n; i++) y = T.tanh(T.mul(y, 1.01));
        return T.sum(y);
      };
      T.withTracer(tracer, () => T.tidy(() => grad(f)(T.ones([4]))));
      return ops;
    };
    const [a, b] = [count(50), count(100)];
    // Doubling the forward chain doubles the total work (forward + backward), up to a constant.
    expect(Math.abs(b - 2 * a)).toBeLessThanOrEqual(10);
  });
});

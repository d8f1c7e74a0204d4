/**
 * `adamStep` (one Adam(W) step of one leaf) on cpu gives exactly the bits of the separate
 * float32 ops nn's optimiser ran before the step was fused (torch.optim.Adam's order:
 * lerp_, mul_.addcmul_, addcdiv_, and AdamW's decay), written out here op by op — through
 * the cpu's fused kernel, and through the composite that runs while a tracer watches.
 * NaN, ±∞ and ±0 included; NaNs compare equal to NaNs, everything else by Object.is.
 * The webgpu kernel is compared with cpu in webgpu-fused.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { Tensor } from '../src/index.js';

/** The optimiser's arithmetic before fusion (nn/src/optim.ts at 007b417), per leaf. */
function reference(g: Tensor, m: Tensor, v: Tensor, p: Tensor | undefined, o: T.AdamStepOptions): Tensor[] {
  const lerp = (from: Tensor, to: Tensor, w: number): Tensor =>
    w < 0.5 ? T.add(from, T.mul(T.sub(to, from), w)) : T.sub(to, T.mul(T.sub(to, from), 1 - w));
  const mu = lerp(m, g, 1 - o.b1);
  const nu = T.add(T.mul(v, o.b2), T.mul(T.mul(g, 1 - o.b2), g));
  const step = T.div(T.mul(mu, -o.stepSize), T.add(T.div(T.sqrt(nu), o.bc2Sqrt), o.eps));
  return [mu, nu, p ? T.add(T.mul(p, -(o.decay ?? 0)), step) : step];
}

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]) || (Number.isNaN(x) && Number.isNaN(b[i]!)));

const value = fc.oneof(
  { arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e6), max: Math.fround(1e6) }), weight: 8 },
  { arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true, min: Math.fround(-1e-3), max: Math.fround(1e-3) }), weight: 2 },
  { arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 0, -0), weight: 1 },
);
const caseArb = fc.integer({ min: 0, max: 64 }).chain((n) => fc.record({
  data: fc.array(fc.array(value, { minLength: n, maxLength: n }), { minLength: 4, maxLength: 4 }),
  b1: fc.oneof(fc.constantFrom(0.9, 0.5, 0.3, 0, 0.99), fc.double({ min: 0, max: 0.999, noNaN: true })),
  b2: fc.oneof(fc.constantFrom(0.999, 0.9, 0), fc.double({ min: 0, max: 0.9999, noNaN: true })),
  eps: fc.constantFrom(1e-8, 1e-6, 0.1, 0),
  t: fc.integer({ min: 1, max: 10_000 }),
  lr: fc.oneof(fc.constantFrom(1e-3, 0.1), fc.double({ min: 0, max: 1, noNaN: true })),
  wd: fc.option(fc.constantFrom(0.01, 0, 0.5)),
}));

describe('adamStep on cpu', () => {
  it('equals the separate float32 ops bit for bit (fused kernel and traced composite)', () => {
    fc.assert(fc.property(caseArb, ({ data, b1, b2, eps, t, lr, wd }) => {
      const [g, m, v, p] = data.map((d) => T.tensor(Float32Array.from(d), { backend: 'cpu' }));
      const o = { b1, b2, eps, stepSize: lr / (1 - b1 ** t), bc2Sqrt: Math.sqrt(1 - b2 ** t), decay: wd === null ? undefined : lr * wd };
      const pp = wd === null ? undefined : p;
      const want = reference(g!, m!, v!, pp, o).map((x) => x.dataSync() as Float32Array);
      const fused = T.adamStep(g!, m!, v!, pp, o).map((x) => x.dataSync() as Float32Array);
      // Under a tracer the step is composed from (recorded) primitives.
      let recorded = 0;
      const composed = T.withTracer({ record: () => { recorded++; } }, () => T.adamStep(g!, m!, v!, pp, o)).map((x) => x.dataSync() as Float32Array);
      expect(recorded).toBeGreaterThan(0);
      for (let k = 0; k < 3; k++) {
        expect(same(fused[k]!, want[k]!), `fused output ${k}`).toBe(true);
        expect(same(composed[k]!, want[k]!), `composed output ${k}`).toBe(true);
      }
    }), { numRuns: 300 });
  });

  it('rejects operands of another shape or dtype', () => {
    const a = T.zeros([3]);
    const o = { b1: 0.9, b2: 0.999, eps: 1e-8, stepSize: 1e-3, bc2Sqrt: 0.03 };
    expect(() => T.adamStep(a, T.zeros([4]), a, undefined, o)).toThrow(/gradient's shape/);
    expect(() => T.adamStep(a, a, T.zeros([3], { dtype: 'int32' }), undefined, o)).toThrow(/float32/);
  });
});

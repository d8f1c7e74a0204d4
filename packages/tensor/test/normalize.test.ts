/**
 * The fused cpu `normalize` kernel (`normalizeLastAxis`: (x − mean) / sqrt(var + eps) over the
 * last axis, biased variance, as LayerNorm) against a float64 reference written out here, on
 * random shapes (rank 1–4), random eps, inputs with a large common offset (cancellation in
 * x − mean), and inputs built by `transpose`, so the normalised axis is any axis of the
 * underlying buffer (strided rows). The kernel only exists for the last axis; other axes are
 * reached through the transpose.
 *
 * Tolerance: the kernel accumulates in float64 and rounds once on store, so the result is
 * within a few float32 ulps of the reference: |err| ≤ 4u·|ref| + 4u (u = 2^-24; the absolute
 * term covers outputs near 0, which are differences of near-equal values scaled by rstd ≤
 * 1/sqrt(eps)). A misplaced eps, an unbiased variance or a wrong mean are off by far more.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as tn from '../src/index.js';

const U = 2 ** -24;
const cpu = tn.getBackend('cpu');

/** float64 reference over the last axis of a row-major array of `shape`. */
function referenceNormalize(x: Float64Array, shape: readonly number[], eps: number): Float64Array {
  const n = shape[shape.length - 1]!;
  const out = new Float64Array(x.length);
  if (n === 0) return out;
  for (let o = 0; o < x.length; o += n) {
    let mu = 0;
    for (let j = 0; j < n; j++) mu += x[o + j]!;
    mu /= n;
    let v = 0;
    for (let j = 0; j < n; j++) v += (x[o + j]! - mu) ** 2;
    v /= n; // biased (population) variance, as LayerNorm
    const s = Math.sqrt(v + eps);
    for (let j = 0; j < n; j++) out[o + j] = (x[o + j]! - mu) / s;
  }
  return out;
}

/** The values of transpose(base, perm) in row-major order, computed by index arithmetic. */
function transposed(base: Float32Array, shape: readonly number[], perm: readonly number[]): Float64Array {
  const outShape = perm.map((p) => shape[p]!);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Float64Array(base.length);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let k = 0; k < out.length; k++) {
    let src = 0;
    for (let d = 0; d < idx.length; d++) src += idx[d]! * strides[perm[d]!]!;
    out[k] = base[src]!;
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d]! < outShape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}

const caseArb = fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }).chain((shape) => {
  const size = shape.reduce((a, b) => a * b, 1);
  return fc.record({
    shape: fc.constant(shape),
    values: fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: size, maxLength: size }),
    // A common offset: rows like 1000 + small make x − mean a cancelling difference.
    offset: fc.constantFrom(0, 0, 1, -37.5, 1000),
    scale: fc.constantFrom(1, 1e-2, 10),
    eps: fc.oneof(fc.constantFrom(1e-5, 1e-3, 0.1, 1, 4), fc.double({ min: 1e-7, max: 2, noNaN: true })),
    perm: fc.shuffledSubarray(shape.map((_, i) => i), { minLength: shape.length, maxLength: shape.length }),
  });
});

describe('fused normalize (cpu) against a float64 reference', () => {
  it('random shapes, eps, offsets and transposed inputs: |err| ≤ 4u·|ref| + 4u', () => {
    fc.assert(fc.property(caseArb, ({ shape, values, offset, scale, eps, perm }) => {
      const base = Float32Array.from(values, (v) => offset + scale * v);
      const xs = transposed(base, shape, perm);
      const outShape = perm.map((p) => shape[p]!);
      const ref = referenceNormalize(xs, outShape, eps);
      tn.tidy(() => {
        const x = tn.transpose(tn.tensor(base, { shape, backend: cpu }), perm);
        const y = tn.normalizeLastAxis(x, eps);
        expect(y.shape).toEqual(outShape);
        const got = y.dataSync();
        for (let i = 0; i < ref.length; i++) {
          const err = Math.abs(got[i]! - ref[i]!);
          if (!(err <= 4 * U * Math.abs(ref[i]!) + 4 * U)) {
            throw new Error(`element ${i} of shape [${outShape}] (perm [${perm}], eps ${eps}, offset ${offset}, scale ${scale}): got ${got[i]}, float64 ${ref[i]} (|err| ${err})`);
          }
        }
      });
    }), { numRuns: process.env.TANDEM_DEEP ? 2000 : 200 });
  });

  it('eps = 0 on rows with spread: (x − mean)/std exactly as the reference', () => {
    fc.assert(fc.property(fc.integer({ min: 2, max: 8 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 1e6 }), (n, rows, seed) => {
      // Rows 0, 1, …, n−1 scaled and shifted per row: never constant.
      const base = Float32Array.from({ length: rows * n }, (_, k) => (k % n) * (1 + (seed % 7)) - (Math.floor(k / n) + seed % 13));
      const ref = referenceNormalize(Float64Array.from(base), [rows, n], 0);
      const got = tn.tidy(() => tn.normalizeLastAxis(tn.tensor(base, { shape: [rows, n], backend: cpu }), 0).dataSync());
      ref.forEach((r, i) => expect(Math.abs(got[i]! - r)).toBeLessThanOrEqual(4 * U * Math.abs(r) + 4 * U));
    }), { numRuns: process.env.TANDEM_DEEP ? 500 : 50 });
  });
});

/**
 * Gradients of the composites the losses are made of agree with central finite differences
 * (`checkGrads` from @tandem/autodiff: f in float32, differences in float64):
 * - scaled dot-product attention with an additive mask, softmax(q·kᵀ/√d + bias)·v;
 * - LayerNorm (@tandem/nn's `layerNorm`) with gain and bias;
 * - cross-entropy: logSoftmax, then the target entries (`takeLast`);
 * - the summed sequence log-prob (`sequenceLogProb`) of a tiny encoder–decoder.
 *
 * Inputs are unit-scale. The transformer uses GELU (smooth; ReLU kinks break finite
 * differences) and embeddings rescaled from the default N(0, 0.02²) to unit size: with tiny
 * embeddings every LayerNorm divides by a tiny standard deviation and amplifies the FD step ~50×.
 * Values come from keyed draws, so a case is its (shrinkable) shapes and seed.
 */
import { describe, it } from 'vitest';
import fc from 'fast-check';
import { checkGrads } from '@tandem/autodiff';
import { initTransformer, layerNorm, sequenceLogProb, takeLast, transformerConfig, type TransformerParams } from '@tandem/nn';
import * as T from '@tandem/tensor';
import type { Tensor } from '@tandem/tensor';
import { PROPERTY_TIMEOUT, fcParams, seedArb } from './helpers.js';

const cpu = T.getBackend('cpu');

/** Unit normal draws of `shape` on cpu, a pure function of (seed, salt). */
const normal = (seed: number, salt: number, shape: readonly number[], std = 1): Tensor =>
  T.normal(T.foldIn(T.key(seed), salt), shape, { std, backend: cpu });

/** Uniform integers in [0, n) of `shape` (int32, cpu). */
function ints(seed: number, salt: number, shape: readonly number[], n: number): Tensor {
  const u = T.uniform(T.foldIn(T.key(seed), salt), shape, { backend: cpu }).dataSync() as Float32Array;
  return T.tensor(Int32Array.from(u, (x) => Math.min(n - 1, Math.floor(x * n))), { shape, backend: cpu });
}

/** softmax(q·kᵀ/√d + bias)·v; q [B,H,Tq,d], k/v [B,H,Tk,d], bias broadcasting to [B,H,Tq,Tk]. */
function attention(q: Tensor, k: Tensor, v: Tensor, bias: Tensor): Tensor {
  const d = q.shape[3]!;
  const s = T.add(T.mul(T.matmul(q, k, { transB: true }), 1 / Math.sqrt(d)), bias);
  return T.matmul(T.softmax(s, -1), v);
}

/** The spacing of float32 numbers at |x|. */
function ulp32(x: number): number {
  const f = Math.fround(Math.abs(x));
  if (f === 0) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(f)) - 23);
}

const dim = (max: number) => fc.integer({ min: 1, max });

describe('gradients of composites match finite differences', () => {
  it('attention with an additive mask', () => {
    const arb = fc.record({ b: dim(2), h: dim(2), tq: dim(4), tk: dim(4), d: dim(4), causal: fc.boolean(), seed: seedArb });
    fc.assert(fc.property(arb, ({ b, h, tq, tk, d, causal, seed }) => {
      T.tidy(() => {
        const q = normal(seed, 0, [b, h, tq, d]);
        const k = normal(seed, 1, [b, h, tk, d]);
        const v = normal(seed, 2, [b, h, tk, d]);
        const w = normal(seed, 3, [b, h, tq, d]);
        // A causal mask (query i sees keys ≤ i), or a random key-padding mask; key 0 is always visible.
        const keep = causal
          ? T.trilMask(tq, tk, 0, { backend: cpu })
          : T.logicalOr(T.lt(T.uniform(T.foldIn(T.key(seed), 4), [b, 1, 1, tk], { backend: cpu }), 0.7), T.eq(T.arange(0, tk, 1, { dtype: 'int32', backend: cpu }), 0));
        const bias = T.where(keep, 0, -1e9);
        checkGrads((q: Tensor, k: Tensor, v: Tensor) => T.sum(T.mul(attention(q, k, v, bias), w)), [q, k, v]);
      });
    }), fcParams(60));
  });

  it('layerNorm (gain and bias; rows of ≥ 3 unit-scale values)', () => {
    const arb = fc.record({ rows: dim(4), cols: fc.integer({ min: 3, max: 12 }), bias: fc.boolean(), seed: seedArb });
    fc.assert(fc.property(arb, ({ rows, cols, bias, seed }) => {
      T.tidy(() => {
        const x = normal(seed, 0, [rows, cols]);
        // Rows of (nearly) equal values make LayerNorm ill-conditioned; such rows are not unit-scale.
        const v = T.mean(T.square(T.sub(x, T.mean(x, -1, true))), -1).dataSync() as Float32Array;
        fc.pre(v.every((s) => s > 0.05));
        const p = { g: T.add(normal(seed, 1, [cols], 0.5), 1), ...(bias ? { b: normal(seed, 2, [cols], 0.5) } : {}) };
        const w = normal(seed, 3, [rows, cols]);
        checkGrads((p: { g: Tensor; b?: Tensor }, x: Tensor) => T.sum(T.mul(layerNorm(p, x), w)), [p, x], { eps: 1e-3 });
      });
    }), fcParams(60));
  });

  it('cross-entropy: −mean(logSoftmax(logits)[targets])', () => {
    const arb = fc.record({ n: dim(6), vocab: fc.integer({ min: 2, max: 12 }), scale: fc.constantFrom(1, 3), seed: seedArb });
    fc.assert(fc.property(arb, ({ n, vocab, scale, seed }) => {
      T.tidy(() => {
        const logits = normal(seed, 0, [n, vocab], scale);
        const targets = ints(seed, 1, [n], vocab);
        checkGrads((z: Tensor) => T.neg(T.mean(takeLast(T.logSoftmax(z, -1), targets))), [logits]);
      });
    }), fcParams(60));
  });

  it('sequenceLogProb of a tiny GELU transformer (unit-scale embeddings), w.r.t. every parameter', () => {
    const arb = fc.record({
      dModel: fc.constantFrom(4, 8), heads: fc.constantFrom(1, 2), vocab: fc.integer({ min: 5, max: 10 }),
      b: dim(2), src: dim(4), tgt: dim(3), seed: seedArb,
    });
    fc.assert(fc.property(arb, ({ dModel, heads, vocab, b, src, tgt, seed }) => {
      T.tidy(() => {
        const cfg = transformerConfig({ vocab, dModel, heads, dFf: 2 * dModel, encLayers: 1, decLayers: 1, maxSrc: 4, maxTgt: 3, activation: 'gelu' });
        const p0 = initTransformer(T.foldIn(T.key(seed), 0), cfg);
        // Embedding tables N(0, 0.02²) → N(0, 1).
        const params: TransformerParams = { ...p0, srcEmb: T.mul(p0.srcEmb, 50), tgtEmb: T.mul(p0.tgtEmb, 50), srcPos: T.mul(p0.srcPos, 50), tgtPos: T.mul(p0.tgtPos, 50) };
        const x = ints(seed, 1, [b, src], vocab);
        const y = ints(seed, 2, [b, tgt], vocab);
        // Padding masks with the first token always real.
        const real = (salt: number, len: number) => T.logicalOr(T.lt(T.uniform(T.foldIn(T.key(seed), salt), [b, len], { backend: cpu }), 0.8), T.eq(T.arange(0, len, 1, { dtype: 'int32', backend: cpu }), 0));
        const srcMask = real(3, src);
        const tgtMask = real(4, tgt);
        const f = (p: TransformerParams) => T.sum(sequenceLogProb(p, cfg, x, y, { srcMask, tgtMask }));
        // f is a float32 sum of log-probs, so each evaluation carries a few ulps of |f| of rounding,
        // which a central difference divides by 2·eps: allow 4 such ulps on top of the default atol.
        const eps = 1e-3;
        const atol = 1e-3 + (4 * ulp32(Math.abs(f(params).dataSync()[0]!))) / (2 * eps);
        checkGrads(f, [params], { maxCoords: 6, eps, atol });
      });
    }), fcParams(20));
  }, PROPERTY_TIMEOUT);
});

/** The transformer against PyTorch's check values, its gradients, and cached vs uncached decoding. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@tandem/tensor';
import type { Tensor } from '@tandem/tensor';
import { checkGrads } from '@tandem/autodiff';
import {
  crossEntropyLoss, generate, initTransformer, layerNorm, logits, nextTokenLogProbs, sequenceLogProb, tokenLogProbs,
  transformerConfig, type TransformerConfig,
} from '../src/index.js';
import { OFFSETS, RW1, referenceParams, referenceTokens } from '../bench/reference-workloads.js';

const runs = (n: number) => (process.env.TANDEM_DEEP ? n * 10 : n);
const relClose = (a: number, b: number, rtol: number) => expect(Math.abs(a - b) / Math.abs(b)).toBeLessThanOrEqual(rtol);

describe('RW-1 reproduces the PyTorch check values', () => {
  const p = referenceParams(RW1);
  it('has 245,760 parameters', () => {
    expect(T.treeLeaves(p).reduce((s, t) => s + t.size, 0)).toBe(245_760);
  });
  it('train loss at step 0 = 4.23769', () => {
    const src = referenceTokens(OFFSETS.src, [32, 24]);
    const tgt = referenceTokens(OFFSETS.tgt, [32, 16]);
    relClose(crossEntropyLoss(p, RW1.config, src, tgt).dataSync()[0]!, 4.23769, 1e-5);
  });
});

function tinyConfig(over: Partial<TransformerConfig> = {}): TransformerConfig {
  return transformerConfig({ vocab: 11, dModel: 8, heads: 2, dFf: 12, encLayers: 1, decLayers: 1, maxSrc: 6, maxTgt: 5, ...over });
}
const ids = (shape: number[], vocab: number, seed: number) => T.tidy(() => T.cast(T.mul(T.uniform(T.key(seed), shape), vocab - 0.001), 'int32'));

describe('outputs', () => {
  it('sequenceLogProb is the sum of token log-probs, honouring the target mask', () => {
    const cfg = tinyConfig();
    const p = initTransformer(T.key(1), cfg);
    const src = ids([3, 6], cfg.vocab, 2);
    const tgt = ids([3, 5], cfg.vocab, 3);
    const mask = T.tensor([[true, true, true, true, true], [true, true, false, false, false], [true, false, false, false, false]]);
    const lp = tokenLogProbs(p, cfg, src, tgt).toArraySync() as number[][];
    const seq = sequenceLogProb(p, cfg, src, tgt, { tgtMask: mask }).toArraySync() as number[];
    const m = mask.toArraySync() as boolean[][];
    seq.forEach((s, r) => {
      const expected = lp[r]!.reduce((acc, v, j) => acc + (m[r]![j] ? v : 0), 0);
      expect(Math.abs(s - expected)).toBeLessThan(1e-5);
    });
  });
  it('next-token distributions are normalised', () => {
    const cfg = tinyConfig();
    const p = initTransformer(T.key(4), cfg);
    const lp = nextTokenLogProbs(p, cfg, ids([2, 6], cfg.vocab, 5), ids([2, 5], cfg.vocab, 6));
    const total = T.sum(T.exp(lp), -1).toArraySync() as number[][];
    total.flat().forEach((v) => expect(Math.abs(v - 1)).toBeLessThan(1e-5));
  });
  it('the decoder is causal: changing a later target token leaves earlier logits unchanged', () => {
    const cfg = tinyConfig();
    const p = initTransformer(T.key(8), cfg);
    const src = ids([1, 6], cfg.vocab, 9);
    const a = T.tensor([[4, 5, 6, 7, 8]], { dtype: 'int32' });
    const b = T.tensor([[4, 5, 6, 9, 10]], { dtype: 'int32' });
    const la = T.slice(logits(p, cfg, src, a), [0, 0], [null, 4]).dataSync();
    const lb = T.slice(logits(p, cfg, src, b), [0, 0], [null, 4]).dataSync();
    expect(Buffer.from(la.buffer).equals(Buffer.from(lb.buffer))).toBe(true);
  });
  it('source padding is ignored: padded positions do not change the output', () => {
    const cfg = tinyConfig();
    const p = initTransformer(T.key(10), cfg);
    const tgt = T.tensor([[3, 4, 5, 6, 7]], { dtype: 'int32' });
    const s1 = T.tensor([[5, 6, 7, 0, 0, 0]], { dtype: 'int32' });
    const s2 = T.tensor([[5, 6, 7, 9, 1, 4]], { dtype: 'int32' });
    const srcMask = T.tensor([[true, true, true, false, false, false]]);
    const l1 = logits(p, cfg, s1, tgt, { srcMask }).dataSync() as Float32Array;
    const l2 = logits(p, cfg, s2, tgt, { srcMask }).dataSync() as Float32Array;
    l1.forEach((v, i) => expect(Math.abs(v - l2[i]!)).toBeLessThan(1e-6));
  });
});

describe('gradients of composites match finite differences', () => {
  it('layerNorm', () => {
    // d ≥ 3: a LayerNorm over 2 values outputs ±1 whatever the input, so its gradient is ~0 and finite differences see only curvature.
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 3, max: 6 }), fc.integer({ min: 1, max: 1e6 }), (r, d, seed) => {
      // Rows spread over a unit-scale ramp (plus noise): a row whose values nearly coincide has a
      // tiny variance, where LayerNorm's curvature makes any finite-difference step meaningless.
      const x = T.add(T.mul(T.arange(0, d), 0.6), T.mul(T.normal(T.key(seed), [r, d]), 0.2));
      const g = T.add(T.normal(T.key(seed + 1), [d]), 1);
      const b = T.normal(T.key(seed + 2), [d]);
      const w = T.normal(T.key(seed + 3), [r, d]);
      checkGrads((x: Tensor, g: Tensor, b: Tensor) => T.sum(T.mul(layerNorm({ g, b }, x), w)), [x, g, b], { eps: 1e-3, rtol: 2e-2, atol: 5e-3 });
    }), { numRuns: runs(15) });
  });
  it('attention, cross-entropy and sequence log-prob through the whole model', () => {
    // GELU keeps the function smooth, and embeddings are scaled to unit size: with the
    // default 0.02 init the first LayerNorm amplifies a finite-difference step ~50×,
    // which measures curvature rather than the gradient.
    fc.assert(fc.property(fc.integer({ min: 1, max: 1e6 }), (seed) => {
      const cfg = tinyConfig({ activation: 'gelu' });
      const p0 = initTransformer(T.key(seed), cfg);
      const p = { ...p0, srcEmb: T.mul(p0.srcEmb, 40), tgtEmb: T.mul(p0.tgtEmb, 40), srcPos: T.mul(p0.srcPos, 40), tgtPos: T.mul(p0.tgtPos, 40) };
      const src = ids([2, 6], cfg.vocab, seed + 1);
      const tgt = ids([2, 5], cfg.vocab, seed + 2);
      const mask = T.tensor([[true, true, true, true, true], [true, true, true, false, false]]);
      const f = (q: typeof p) => T.add(crossEntropyLoss(q, cfg, src, tgt), T.mul(T.sum(sequenceLogProb(q, cfg, src, tgt, { tgtMask: mask })), 0.1));
      checkGrads(f, [p], { eps: 1e-3, rtol: 3e-2, atol: 1e-2, maxCoords: 8 });
    }), { numRuns: runs(4) });
  });
});

describe('sampling', () => {
  it('cached and uncached generation produce identical tokens', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 5 }), fc.boolean(), fc.integer({ min: 1, max: 4 }), (seed, len, greedy, b) => {
      const cfg = tinyConfig({ decLayers: 2 });
      const p = initTransformer(T.key(seed), cfg);
      const src = ids([b, 6], cfg.vocab, seed + 1);
      const o = { maxLen: len, key: T.key(seed + 2), greedy, eos: 2 };
      const a = generate(p, cfg, src, { ...o, cache: true });
      const u = generate(p, cfg, src, { ...o, cache: false });
      expect(a.tokens.toArraySync()).toEqual(u.tokens.toArraySync());
      expect(a.mask.toArraySync()).toEqual(u.mask.toArraySync());
    }), { numRuns: runs(20) });
  });
  it('is deterministic for a key and differs across keys', () => {
    const cfg = tinyConfig();
    const p = initTransformer(T.key(3), cfg);
    const src = ids([8, 6], cfg.vocab, 4);
    const g = (k: number) => generate(p, cfg, src, { maxLen: 5, key: T.key(k) }).tokens.toArraySync();
    expect(g(1)).toEqual(g(1));
    expect(g(1)).not.toEqual(g(2));
  });
  it('after EOS a row continues with padding and the mask ends after EOS', () => {
    const cfg = tinyConfig();
    const p = initTransformer(T.key(5), cfg);
    const src = ids([16, 6], cfg.vocab, 6);
    const { tokens, mask } = generate(p, cfg, src, { maxLen: 5, key: T.key(9), eos: 2, pad: 0, temperature: 3 });
    const tk = tokens.toArraySync() as number[][];
    const mk = mask.toArraySync() as boolean[][];
    let sawEos = false;
    tk.forEach((row, r) => {
      const e = row.indexOf(2);
      if (e >= 0) {
        sawEos = true;
        row.slice(e + 1).forEach((v) => expect(v).toBe(0));
        expect(mk[r]!.slice(0, e + 1).every(Boolean)).toBe(true);
        expect(mk[r]!.slice(e + 1).some(Boolean)).toBe(false);
      } else expect(mk[r]!.every(Boolean)).toBe(true);
    });
    expect(sawEos).toBe(true);
  });
  it('rejects bad options with clear errors', () => {
    const cfg = tinyConfig();
    const p = initTransformer(T.key(5), cfg);
    const src = ids([1, 6], cfg.vocab, 6);
    expect(() => generate(p, cfg, src, { maxLen: 9, greedy: true })).toThrow(/maxLen must be an integer in \[1, 5\]/);
    expect(() => generate(p, cfg, src, { maxLen: 2 })).toThrow(/needs a key/);
    expect(() => generate(p, cfg, src, { maxLen: 2 })).toThrow(expect.objectContaining({ name: 'NnError', code: 'argument' }));
    expect(() => logits(p, cfg, src.reshape([6]), src)).toThrow(expect.objectContaining({ name: 'NnError', code: 'shape' }));
  });
});

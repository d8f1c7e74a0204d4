/** The laws of losses, classifiers, judges and samplers (issue: rlhf §9), over random inputs. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@tandem/tensor';
import { grad } from '@tandem/autodiff';
import { EOS, initTransformer, type TransformerParams } from '@tandem/nn';
import { pairTensors } from '../src/batch.js';
import { bo2, dpo, ipo, slic, sftLoss, type Loss, type LossContext } from '../src/losses.js';
import { logProbs, pairLogProbs, policyConfig, sampleResponses, type PolicySpec } from '../src/policy.js';
import { initPreferenceModel, predictPreferences, preferenceModelSpec } from '../src/preference-model.js';
import { classifierMargin, klEvaluator, modelJudge, winRateEvaluator } from '../src/evaluators.js';
import { offlineSampler, replaySampler, shuffleStream } from '../src/samplers.js';
import type { Pair } from '../src/types.js';

const runs = (n: number) => (process.env.TANDEM_DEEP ? n * 10 : n);
const backend = T.getBackend('cpu');
const widths = { prompt: 6, response: 4 };
const VOCAB = 12;
const spec: PolicySpec = { cfg: policyConfig({ dModel: 8, heads: 2, dFf: 16, layers: 1 }, VOCAB, widths), widths };
const policy = (seed: number): TransformerParams => initTransformer(T.key(seed), spec.cfg);
const hex = (t: T.Tensor) => Buffer.from(t.dataSync().buffer).toString('hex');

const tokens = (min: number, max: number) => fc.array(fc.integer({ min: 4, max: VOCAB - 1 }), { minLength: min, maxLength: max });
const response = tokens(0, widths.response - 1).map((t) => [...t, EOS]);
const pairArb = fc.record({ prompt: tokens(1, widths.prompt), y1: response, y2: response, preference: fc.constantFrom(0 as const, 1 as const) })
  .map((p): Pair => ({ ...p, provenance: { task: 'test', source: 'arb', labeller: 'arb' } }));
const batchArb = fc.array(pairArb, { minLength: 1, maxLength: 4 });

function ctxFor(params: TransformerParams, ref: TransformerParams, pairs: readonly Pair[], beta: number): [LossContext, ReturnType<typeof pairTensors>] {
  const b = pairTensors(pairs, widths, backend);
  const [rw, rl] = pairLogProbs(ref, spec, b.prompt, b.winner, b.loser);
  return [{ params, spec, beta, ref: { winner: rw, loser: rl } }, b];
}

describe('losses', () => {
  const losses: Loss[] = [ipo, dpo, slic, bo2];
  it('swapping y_w and y_l together with the label leaves every loss unchanged (bit for bit)', () => {
    fc.assert(fc.property(batchArb, fc.integer({ min: 1, max: 1e6 }), (pairs, seed) => {
      const swapped = pairs.map((p) => ({ ...p, y1: p.y2, y2: p.y1, preference: (1 - p.preference) as 0 | 1 }));
      const pol = policy(seed);
      const ref = policy(seed + 1);
      for (const loss of losses) {
        const a = T.tidy(() => { const [c, b] = ctxFor(pol, ref, pairs, 0.3); return loss(c, b); });
        const b = T.tidy(() => { const [c, bb] = ctxFor(pol, ref, swapped, 0.3); return loss(c, bb); });
        expect(hex(a)).toBe(hex(b));
      }
    }), { numRuns: runs(15) });
  });
  it('contrastive losses are 0-margin at π = π_ref: IPO = ¼, DPO = log 2, SLiC = 1', () => {
    fc.assert(fc.property(batchArb, fc.integer({ min: 1, max: 1e6 }), fc.double({ min: 0.01, max: 2, noNaN: true }), (pairs, seed, beta) => {
      const pol = policy(seed);
      const v = (loss: Loss) => T.tidy(() => { const [c, b] = ctxFor(pol, pol, pairs, beta); return loss(c, b); }).dataSync()[0]!;
      expect(v(ipo)).toBeCloseTo(0.25, 6);
      expect(v(dpo)).toBeCloseTo(Math.LN2, 6);
      expect(v(slic)).toBeCloseTo(1, 6);
    }), { numRuns: runs(10) });
  });
  it('the IPO gradient vanishes at β·h = ½', () => {
    // With the reference shifted so that h = 1/(2β) exactly, the gradient of IPO w.r.t. the policy is 0.
    fc.assert(fc.property(batchArb, fc.integer({ min: 1, max: 1e6 }), fc.constantFrom(0.1, 0.5, 1, 2), (pairs, seed, beta) => {
      const pol = policy(seed);
      const [c, b] = ctxFor(pol, policy(seed + 1), pairs, beta);
      const [lw, ll] = pairLogProbs(pol, spec, b.prompt, b.winner, b.loser);
      // ref_w − ref_l = (lw − ll) − 1/(2β)  ⇒  h = 1/(2β)
      const ref = { winner: T.sub(lw, T.sub(ll, c.ref!.loser)).sub(1 / (2 * beta)), loser: c.ref!.loser };
      const norm = (g: unknown) => Math.sqrt(T.treeLeaves(g).reduce((acc, t) => acc + (T.sum(T.square(t)).dataSync()[0] as number), 0));
      const atHalf = norm(grad((params: TransformerParams) => ipo({ ...c, params, ref }, b))(pol));
      // The same policy with h shifted away from 1/(2β): a generic, non-stationary point.
      const away = { winner: T.sub(ref.winner, 1 / beta), loser: ref.loser };
      const atOther = norm(grad((params: TransformerParams) => ipo({ ...c, params, ref: away }, b))(pol));
      // Exactly 0 in real arithmetic; in float32 only the rounding of β·h − ½ remains.
      expect(atHalf).toBeLessThan(1e-4 * atOther + 1e-6);
    }), { numRuns: runs(8) });
  });
  it('Bo2 equals the SFT loss on the winners', () => {
    fc.assert(fc.property(batchArb, fc.integer({ min: 1, max: 1e6 }), (pairs, seed) => {
      const pol = policy(seed);
      const [c, b] = ctxFor(pol, pol, pairs, 0.1);
      expect(hex(bo2(c, b))).toBe(hex(sftLoss(c, b.prompt, b.winner)));
      // …and is the mean summed negative log-likelihood of the winners.
      const lp = logProbs(pol, spec, pairs.map((p) => p.prompt), pairs.map((p) => (p.preference ? p.y1 : p.y2)), backend);
      expect(bo2(c, b).dataSync()[0]).toBeCloseTo(-T.mean(lp).dataSync()[0]!, 5);
    }), { numRuns: runs(10) });
  });
});

describe('classifiers, judges and metrics', () => {
  it('the policy classifier is antisymmetric: f(x, y1, y2) = −f(x, y2, y1)', () => {
    fc.assert(fc.property(batchArb, fc.integer({ min: 1, max: 1e6 }), (pairs, seed) => {
      const ctx = { spec, sft: policy(seed + 1), backend };
      const f = classifierMargin(policy(seed), ctx, pairs).dataSync();
      const g = classifierMargin(policy(seed), ctx, pairs.map((p) => ({ ...p, y1: p.y2, y2: p.y1 }))).dataSync();
      f.forEach((v, i) => expect(v).toBe(-g[i]! + 0));
    }), { numRuns: runs(10) });
  });
  it('the debiased preference is antisymmetric, and exactly ½ on identical responses', async () => {
    const ps = preferenceModelSpec({ dModel: 8, heads: 2, dFf: 16, layers: 1 }, VOCAB, widths);
    await fc.assert(fc.asyncProperty(batchArb, fc.integer({ min: 1, max: 1e6 }), async (pairs, seed) => {
      const params = initPreferenceModel(T.key(seed), ps);
      const a = await predictPreferences(params, ps, pairs, backend);
      const b = await predictPreferences(params, ps, pairs.map((p) => ({ ...p, y1: p.y2, y2: p.y1 })), backend);
      a.forEach((v, i) => expect(v).toBe(1 - b[i]!));
      const same = await predictPreferences(params, ps, pairs.map((p) => ({ ...p, y2: p.y1 })), backend);
      same.forEach((v) => expect(v).toBe(0.5));
    }), { numRuns: runs(10) });
  });
  it('KL(π, π) = 0 exactly and KL(π, π_sft) ≥ 0', async () => {
    const prompts = [[4, 5, 6], [7, 8], [9, 10, 11, 4], [5]];
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 1e6 }), async (seed) => {
      const pol = policy(seed);
      const self = await klEvaluator(prompts)(pol, { spec, sft: pol, backend, key: T.key(seed) });
      expect(self.kl).toBe(0);
      const other = await klEvaluator(prompts)(pol, { spec, sft: policy(seed + 1), backend, key: T.key(seed) });
      expect(other.kl).toBeGreaterThan(0);
    }), { numRuns: runs(6) });
  });
  it('a policy judged against itself: identical samples tie exactly (½); independent samples ≈ ½ within a few standard errors', async () => {
    const ps = preferenceModelSpec({ dModel: 8, heads: 2, dFf: 16, layers: 1 }, VOCAB, widths);
    const judge = modelJudge(initPreferenceModel(T.key(3), ps), ps, backend);
    const pol = policy(5);
    const prompts = Array.from({ length: 200 }, (_, i) => [4 + (i % 8), 4 + ((i * 7) % 8), 5]);
    // Identical responses on both sides: every comparison is an exact tie.
    const ys = await sampleResponses(pol, spec, prompts, T.key(1), backend);
    const allTies = await judge(prompts.map((prompt, i) => ({ prompt, y1: ys[i]!, y2: ys[i]! })));
    expect(allTies.every((v) => v === 0.5)).toBe(true);
    const ind = await winRateEvaluator(prompts, pol, judge)(pol, { spec, sft: pol, backend, key: T.key(12) });
    expect(Math.abs(ind.winRate! - 0.5)).toBeLessThanOrEqual(4 * ind.winRate_se! + 1e-9);
  });
});

describe('samplers', () => {
  const batches = (n: number) => Array.from({ length: n }, (_, i) => ({ pairs: [{ prompt: [4 + (i % 7)], y1: [EOS], y2: [5, EOS], preference: 1 as const, provenance: { task: 't', source: String(i), labeller: 'l' } }] }));
  it('shuffled(stream, 1) is the stream itself, and every level is a permutation', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 1e6 }), (n, w, seed) => {
      const s = batches(n);
      expect(shuffleStream(s, 1, T.key(seed))).toEqual(s);
      const sh = shuffleStream(s, w, T.key(seed));
      expect(sh.length).toBe(n);
      expect(new Set(sh)).toEqual(new Set(s));
      // Batches never leave their window.
      sh.forEach((b, i) => expect(Math.floor(s.indexOf(b) / w)).toBe(Math.floor(i / w)));
    }), { numRuns: runs(50) });
  });
  it('a uniform shuffle of a long stream reorders it', () => {
    const s = batches(30);
    expect(shuffleStream(s, 30, T.key(1))).not.toEqual(s);
  });
  it('replay yields the recorded batches in order and fails clearly past the end', async () => {
    const s = batches(3);
    const r = replaySampler(s);
    let st = r.init;
    const ctx = { step: 0, params: policy(1), key: T.key(0), backend };
    for (const b of s) {
      const [got, next] = await r.next(st, ctx);
      expect(got).toBe(b);
      st = next;
    }
    await expect(r.next(st, ctx)).rejects.toThrow(/has 3 batches; batch 3 was asked for/);
  });
  it('offline visits every pair once per epoch, in key-determined order', async () => {
    const pairs = batches(10).map((b) => b.pairs[0]!);
    const ds = { name: 'd', pairs };
    const sample = async (seed: number) => {
      const s = offlineSampler(ds, { batchSize: 5, key: T.key(seed) });
      let st = s.init;
      const seen: Pair[] = [];
      for (let i = 0; i < 2; i++) {
        const [b, n] = await s.next(st, { step: i, params: policy(1), key: T.key(0), backend });
        seen.push(...b.pairs);
        st = n;
      }
      return seen;
    };
    const a = await sample(1);
    expect(new Set(a).size).toBe(10);
    expect(await sample(1)).toEqual(a);
    expect(await sample(2)).not.toEqual(a);
  });
});

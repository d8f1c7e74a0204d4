/**
 * Laws of the losses, classifiers and metrics over random configurations (model sizes, β,
 * batch sizes, seeds, prompts from the summarize task, random responses). The package's own
 * laws (packages/rlhf/test/laws.test.ts) use one fixed tiny model; here every law is checked
 * across the configurations fast-check draws, and the loss laws at the level of a whole
 * training step:
 * - swapping y1/y2 together with the label gives the loss, and the whole training step, of a
 *   batch padded by hand from the ORIGINAL labels (bit for bit); swapping y1/y2 without the
 *   label negates h, so DPO rises by β·mean(h) and IPO by 2β·mean(h) (h in float64, per row);
 * - KL(π, π) = 0 exactly and KL(π, π') ≥ 0 (the exact App. D estimator, `klEvaluator`); for π'
 *   a tiny perturbation of π, ≥ 0 up to float32 rounding (see the test);
 * - the policy-as-classifier margin is antisymmetric: f(x, y1, y2) = −f(x, y2, y1) exactly;
 * - the win rate of a policy against itself is exactly ½ on identical responses, and within a
 *   few standard errors of ½ on independent samples;
 * - Bo2 is SFT on the winners: its value is the float64 mean NLL of the winners (per row,
 *   unpadded), and a Bo2 training step is unchanged, bit for bit, by β, the reference and the
 *   losers (replaced by other responses).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { valueAndGrad } from '@tandem/autodiff';
import { applyUpdates, type TransformerParams } from '@tandem/nn';
import {
  LOSSES, bo2, classifierMargin, initPolicy, initPreferenceModel, initTrainState, klEvaluator, meanSe, modelJudge, padTokens,
  pairLogProbs, pairTensors, preferenceModelSpec, sampleResponses, trainStep, utilityJudge, winRateEvaluator,
  type Judge, type LossContext, type Pair, type PairTensors, type PolicySpec,
} from '@tandem/rlhf';
import * as T from '@tandem/tensor';
import {
  PROPERTY_TIMEOUT, TASK, batchArb, disposeState, fcParams, float64Margins, float64SequenceLogProb, makeOptimizer, orderedPair, responseArb,
  seedArb, stateHash, swapPairs as swap, taskPrompts, tinySpec, treeHash, type LossName, type OptName,
} from './helpers.js';

const cpu = T.getBackend('cpu');
const hex = (t: T.Tensor) => Buffer.from(t.dataSync().buffer).toString('hex');

// ----------------------------------------------------------------------------- arbitraries

/** A tiny policy shape and response width. */
const modelArb = fc.record({
  dModel: fc.constantFrom(8, 12, 16),
  heads: fc.constantFrom(1, 2),
  response: fc.integer({ min: 2, max: 8 }),
});
type ModelShape = { dModel: number; heads: number; response: number };
const specOf = (m: ModelShape): PolicySpec => tinySpec(m.dModel, m.heads, { prompt: TASK.maxPrompt, response: m.response });

/** A model shape with a batch that fits it. */
const caseArb = modelArb.chain((m) => fc.record({ m: fc.constant(m), pairs: batchArb(m.response) }));

const betaArb = fc.constantFrom(0.1, 0.5, 1, 0.05, 2, 0.3);

function lossValue(loss: LossName, params: TransformerParams, ref: TransformerParams, spec: PolicySpec, pairs: readonly Pair[], beta: number): T.Tensor {
  return T.tidy(() => {
    const b = pairTensors(pairs, spec.widths, cpu);
    const [rw, rl] = pairLogProbs(ref, spec, b.prompt, b.winner, b.loser);
    const ctx: LossContext = { params, spec, beta, ref: { winner: rw, loser: rl } };
    return LOSSES[loss]!(ctx, b);
  });
}

// ----------------------------------------------------------------------------- laws

/** A batch padded here from the test's own reading of the labels (not through pairTensors / winnerLoser). */
function handBatch(pairs: readonly Pair[], spec: PolicySpec): PairTensors {
  const o = pairs.map(orderedPair);
  return {
    prompt: padTokens(pairs.map((p) => p.prompt), spec.widths.prompt, cpu),
    winner: padTokens(o.map((x) => x.w), spec.widths.response, cpu),
    loser: padTokens(o.map((x) => x.l), spec.widths.response, cpu),
  };
}

function lossOn(loss: LossName, params: TransformerParams, ref: TransformerParams, spec: PolicySpec, b: PairTensors, beta: number): T.Tensor {
  return T.tidy(() => {
    const [rw, rl] = pairLogProbs(ref, spec, b.prompt, b.winner, b.loser);
    return LOSSES[loss]!({ params, spec, beta, ref: { winner: rw, loser: rl } }, b);
  });
}

describe('loss laws over random configurations', () => {
  it('swapping y1/y2 together with the label gives the loss and the training step of a batch padded by hand from the original labels, bit for bit', async () => {
    const arb = fc.record({ c: caseArb, beta: betaArb, seed: seedArb, opt: fc.constantFrom<OptName>('adam', 'sgd', 'adamw'), loss: fc.constantFrom<LossName>('ipo', 'dpo', 'slic', 'bo2') });
    await fc.assert(fc.asyncProperty(arb, async ({ c: { m, pairs }, beta, seed, opt, loss }) => {
      const spec = specOf(m);
      const pol = initPolicy(T.key(seed), spec);
      const ref = initPolicy(T.key(seed + 1), spec);
      const swapped = swap(pairs);
      const hb = handBatch(pairs, spec);
      for (const name of ['ipo', 'dpo', 'slic', 'bo2'] as const) {
        expect(hex(lossValue(name, pol, ref, spec, swapped, beta)), name).toBe(hex(lossOn(name, pol, ref, spec, hb, beta)));
      }
      // trainStep on the swapped pairs vs value-and-grad, optimiser and apply written out on the hand-padded batch.
      const setup = { spec, loss: LOSSES[loss]!, beta, optimizer: makeOptimizer({ opt, lr: 1e-2, clip: false }), ref, backend: cpu };
      const s0 = initTrainState(setup, pol);
      const [a, la] = trainStep(setup, s0, { pairs: swapped });
      const [rw, rl] = pairLogProbs(ref, spec, hb.prompt, hb.winner, hb.loser);
      const refLp = setup.loss.usesReference ? { winner: rw, loser: rl } : undefined;
      const [lb, g] = valueAndGrad((p: TransformerParams) => setup.loss({ params: p, spec, beta, ref: refLp }, hb))(pol);
      const [u, optB] = setup.optimizer.update(g, s0.opt, pol);
      const paramsB = applyUpdates(pol, u);
      expect(hex(la)).toBe(hex(lb));
      expect(await stateHash(a)).toBe(await stateHash({ params: paramsB, opt: optB, step: 1 }));
      T.dispose([a.params, a.opt, s0.opt, pol, ref, la, lb, g, u, paramsB, optB, hb, rw, rl]);
    }), fcParams(40));
  }, PROPERTY_TIMEOUT);

  it('swapping y1/y2 without the label negates h: DPO rises by β·mean(h) and IPO by 2β·mean(h)', () => {
    // softplus(z) − softplus(−z) = z and (−z − ½)² − (z − ½)² = 2z, z = β·h; h in float64 per row.
    fc.assert(fc.property(caseArb, betaArb, seedArb, ({ m, pairs }, beta, seed) => {
      const spec = specOf(m);
      const pol = initPolicy(T.key(seed), spec);
      const ref = initPolicy(T.key(seed + 1), spec);
      const unlabelledSwap = pairs.map((p) => ({ ...p, y1: p.y2, y2: p.y1 }));
      const h = float64Margins(pol, ref, spec.cfg, pairs);
      const meanH = h.reduce((a, b) => a + b, 0) / h.length;
      const meanAbsH = h.reduce((a, b) => a + Math.abs(b), 0) / h.length;
      const v = (name: LossName, ps: readonly Pair[]) => lossValue(name, pol, ref, spec, ps, beta).dataSync()[0]!;
      // δh: float32 rounding of the summed log-probs (~1e-6 of ~ln 64 per token), with margin.
      const dh = 1e-5 * (1 + meanAbsH);
      expect(Math.abs(v('dpo', unlabelledSwap) - v('dpo', pairs) - beta * meanH)).toBeLessThan(2 * beta * dh + 1e-5);
      expect(Math.abs(v('ipo', unlabelledSwap) - v('ipo', pairs) - 2 * beta * meanH)).toBeLessThan(4 * beta * (beta * meanAbsH + 1) * dh + 1e-5);
      T.dispose([pol, ref]);
    }), fcParams(40));
  }, PROPERTY_TIMEOUT);
});

describe('metric laws over random configurations', () => {
  const promptsArb = fc.record({ seed: seedArb, n: fc.integer({ min: 1, max: 8 }) }).map(({ seed, n }) => taskPrompts(T.key(seed), n));

  it('KL(π, π) = 0 exactly and KL(π, π′) ≥ 0 (π′ an independent init or a perturbation of π)', async () => {
    const arb = fc.record({ m: modelArb, prompts: promptsArb, seed: seedArb, evalSeed: seedArb, noise: fc.constantFrom(0, 1e-1, 1e-3, 1e-5) });
    await fc.assert(fc.asyncProperty(arb, async ({ m, prompts, seed, evalSeed, noise }) => {
      const spec = specOf(m);
      const pol = initPolicy(T.key(seed), spec);
      // noise 0: an independent init; otherwise π with N(0, noise²) added to every parameter.
      const other: TransformerParams = noise === 0
        ? initPolicy(T.key(seed + 1), spec)
        : T.treeMap((t, i) => T.add(t, T.normal(T.foldIn(T.key(seed + 1), i), t.shape, { std: noise })), pol);
      const kl = klEvaluator(prompts);
      const self = await kl(pol, { spec, sft: pol, backend: cpu, key: T.key(evalSeed) });
      expect(self.kl?.value).toBe(0);
      const d = await kl(pol, { spec, sft: other, backend: cpu, key: T.key(evalSeed) });
      if (noise === 0) expect(d.kl?.value).toBeGreaterThanOrEqual(0);
      // For π′ within ~1e-5 of π the true KL (~1e-10) is below float32 resolution: Σ p·(log p − log q)
      // is computed from log-probs of size ~ln 64, each rounded to ~2^-22, so the estimate may dip
      // below 0 by about that much per response position (seen: −2.7e-7, and −1e-7 after the fused
      // cpu log-softmax). Allow 2^-20 per position.
      else expect(d.kl?.value).toBeGreaterThanOrEqual(-(2 ** -20) * spec.widths.response);
      T.dispose([pol, other]);
    }), fcParams(40));
  }, PROPERTY_TIMEOUT);

  it('the policy classifier is antisymmetric: f(x, y1, y2) = −f(x, y2, y1) exactly', () => {
    fc.assert(fc.property(caseArb, seedArb, ({ m, pairs }, seed) => {
      const spec = specOf(m);
      T.tidy(() => {
        const ctx = { spec, sft: initPolicy(T.key(seed + 1), spec), backend: cpu };
        const pol = initPolicy(T.key(seed), spec);
        const f = classifierMargin(pol, ctx, pairs).dataSync();
        const g = classifierMargin(pol, ctx, swap(pairs)).dataSync();
        expect(f.length).toBe(pairs.length);
        f.forEach((v, i) => expect(v, `pair ${i}`).toBe(-g[i]! + 0));
        // …and a policy is no classifier of itself: f ≡ 0 when π = π_sft.
        expect(Array.from(classifierMargin(pol, { ...ctx, sft: pol }, pairs).dataSync())).toEqual(pairs.map(() => 0));
      });
    }), fcParams(40));
  });

  it('self win rate: exactly ½ on identical responses, within 4 standard errors of ½ on independent samples', async () => {
    const arb = fc.record({ m: modelArb, promptSeed: seedArb, n: fc.integer({ min: 32, max: 96 }), seed: seedArb, evalSeed: seedArb, judge: fc.constantFrom('rater', 'model') });
    await fc.assert(fc.asyncProperty(arb, async ({ m, promptSeed, n, seed, evalSeed, judge: judgeName }) => {
      const spec = specOf(m);
      const prompts = taskPrompts(T.key(promptSeed), n);
      const pol = initPolicy(T.key(seed), spec);
      const ps = preferenceModelSpec({ dModel: 8, heads: 2, dFf: 16, layers: 1 }, TASK.vocabSize, spec.widths);
      const pm = judgeName === 'model' ? initPreferenceModel(T.key(seed + 2), ps) : undefined;
      const judge: Judge = pm ? modelJudge(pm, ps, cpu) : utilityJudge(TASK.utility);
      // Identical responses on both sides: every comparison is an exact tie.
      const ys = await sampleResponses(pol, spec, prompts, T.key(evalSeed), cpu);
      const [tie, tieSe] = meanSe(await judge(prompts.map((prompt, i) => ({ prompt, y1: ys[i]!, y2: ys[i]! }))));
      expect(tie).toBe(0.5);
      expect(tieSe).toBe(0);
      // Independent samples of the same policy: exchangeable, so the win rate is ½ in expectation.
      const r = await winRateEvaluator(prompts, pol, judge)(pol, { spec, sft: pol, backend: cpu, key: T.key(evalSeed) });
      expect(Math.abs(r.winRate!.value - 0.5)).toBeLessThanOrEqual(4 * r.winRate!.se! + 1e-12);
      T.dispose([pol, pm]);
    }), fcParams(20));
  }, PROPERTY_TIMEOUT);
});

describe('Bo2 is SFT on the winners', () => {
  it('the Bo2 loss is the float64 mean NLL of the winners, and a Bo2 step is unchanged by β, the reference and the losers, bit for bit', async () => {
    const arb = fc.record({ c: caseArb, beta: betaArb, seed: seedArb, opt: fc.constantFrom<OptName>('adam', 'sgd', 'adamw'), lr: fc.constantFrom(1e-2, 1e-3), clip: fc.boolean() })
      .chain((r) => fc.record({ r: fc.constant(r), others: fc.array(responseArb(r.c.m.response), { minLength: r.c.pairs.length, maxLength: r.c.pairs.length }) }));
    await fc.assert(fc.asyncProperty(arb, async ({ r: { c: { m, pairs }, beta, seed, opt, lr, clip }, others }) => {
      const spec = specOf(m);
      const pol = initPolicy(T.key(seed), spec);
      const ref = initPolicy(T.key(seed + 1), spec);
      const b = pairTensors(pairs, spec.widths, cpu);
      // The value: −mean log π(y_w|x), each row unpadded, log-softmax in float64 (helpers.ts).
      const nll = -pairs.reduce((a, p) => a + float64SequenceLogProb(pol, spec.cfg, p.prompt, orderedPair(p).w), 0) / pairs.length;
      const got = bo2({ params: pol, spec, beta }, b).dataSync()[0]!;
      expect(Math.abs(got - nll), `bo2 ${got} vs float64 ${nll}`).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(nll)));

      const optimizer = makeOptimizer({ opt, lr, clip });
      const setup = { spec, loss: bo2, beta, optimizer, ref, backend: cpu };
      const s0 = initTrainState(setup, pol);
      const [base, l1] = trainStep(setup, s0, { pairs });
      // β tripled and the reference replaced by the policy itself…
      const [otherBetaRef, l2] = trainStep({ ...setup, beta: beta * 3, ref: pol }, s0, { pairs });
      // …and every loser replaced by another response (winners and labels kept).
      const otherLosers = pairs.map((p, i) => (p.preference === 1 ? { ...p, y2: others[i]! } : { ...p, y1: others[i]! }));
      const [viaOtherLosers, l3] = trainStep(setup, s0, { pairs: otherLosers });
      const h = await stateHash(base);
      expect(hex(l2)).toBe(hex(l1));
      expect(hex(l3)).toBe(hex(l1));
      expect(await stateHash(otherBetaRef)).toBe(h);
      expect(await stateHash(viaOtherLosers)).toBe(h);
      expect(await treeHash(base.params)).not.toBe(await treeHash(pol));
      disposeState(base);
      disposeState(otherBetaRef);
      disposeState(viaOtherLosers);
      T.dispose([pol, ref, s0.opt, l1, l2, l3, b]);
    }), fcParams(30));
  }, PROPERTY_TIMEOUT);
});

/**
 * The evaluators against independent references.
 *
 * sampledEvaluator: one sampling pass and one judge call give the exact KL (against a float64
 * KL of the same samples, computed here from the models' logits), the win rate against fixed
 * baseline responses and the identical-pair rate (hand counts over the same samples), and
 * self-classification (a hand count with float64 margins). The samples are reconstructed from
 * the documented key path: ONE `sampleResponses` call with ctx.key on
 * `[...prompts, ...prompts.slice(0, klPrompts)]`; `sampleResponses` is wrapped to count calls.
 *
 * The one accuracy rule (identical pairs and judged ties not counted, predicted ties ½) in
 * every accuracy: recorded labels against a judge, the policy as a classifier of a stream,
 * of labelled pairs and of its own samples, and a preference model on held-out pairs, on
 * batches built to contain identical pairs and judged ties.
 */
import { describe, expect, it, vi } from 'vitest';
import * as T from '@tandem/tensor';
import { EOS, initTransformer, logits, type TransformerConfig, type TransformerParams } from '@tandem/nn';
import {
  classifierEvaluator, klEvaluator, labelAccuracy, sampledEvaluator, selfClassificationEvaluator, type Judge,
} from '../src/evaluators.js';
import { proxyAccuracyEvaluator, streamClassifierEvaluator } from '../src/stream-evaluators.js';
import { preferenceAccuracy } from '../src/pipeline.js';
import { initPreferenceModel, predictPreferences, preferenceModelSpec } from '../src/preference-model.js';
import { policyConfig, sampleResponses, type PolicySpec } from '../src/policy.js';
import type { Comparison, Pair, Tokens } from '../src/types.js';
import { float64SequenceLogProb } from './reference.js';

// Every sampleResponses call, the evaluators' included, goes through this counter.
const sampling = vi.hoisted(() => ({ calls: 0 }));
vi.mock('../src/policy.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../src/policy.js')>();
  return { ...m, sampleResponses: (...a: Parameters<typeof m.sampleResponses>) => { sampling.calls++; return m.sampleResponses(...a); } };
});

const backend = T.getBackend('cpu');
const widths = { prompt: 4, response: 3 };
const spec: PolicySpec = { cfg: policyConfig({ dModel: 8, heads: 2, dFf: 16, layers: 1 }, 12, widths), widths };
/** A random init with its weights scaled by `c`: sharper next-token distributions, so a policy's two samples are often identical. */
const policy = (seed: number, c: number): TransformerParams => T.treeMap((t: T.Tensor) => T.mul(t, c), initTransformer(T.key(seed), spec.cfg));
const same = (a: Tokens, b: Tokens) => JSON.stringify(a) === JSON.stringify(b);
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The stub judge's utility: token sum mod 3, so distinct responses often tie. */
const u = (y: Tokens) => y.reduce((a, b) => a + b, 0) % 3;
const verdict = (c: Comparison): 0 | 0.5 | 1 => (u(c.y1) > u(c.y2) ? 1 : u(c.y1) < u(c.y2) ? 0 : 0.5);
/** The stub judge, recording every call. */
function counting(): { judge: Judge; calls: Comparison[][] } {
  const calls: Comparison[][] = [];
  return { calls, judge: async (items) => { calls.push([...items]); return items.map(verdict); } };
}

/** Float64 log-softmax of one row of float32 logits. */
function logSoftmax64(d: ArrayLike<number>, at: number, v: number): number[] {
  let m = -Infinity;
  for (let j = 0; j < v; j++) m = Math.max(m, d[at + j]!);
  let s = 0;
  for (let j = 0; j < v; j++) s += Math.exp(d[at + j]! - m);
  return Array.from({ length: v }, (_, j) => d[at + j]! - m - Math.log(s));
}
const row = (ids: Tokens) => T.tensor(Int32Array.from(ids), { shape: [1, ids.length], dtype: 'int32', backend: 'cpu' });
/** KL(π‖π_sft) along one unpadded response in float64: Σ_t Σ_v p_t(v)·(log p_t(v) − log q_t(v)), positions up to and including EOS. */
function kl64(pol: TransformerParams, sft: TransformerParams, cfg: TransformerConfig, prompt: Tokens, y: Tokens): number {
  const z = (p: TransformerParams) => T.tidy(() => logits(p, cfg, row(prompt), row(y))).dataSync();
  const [zp, zq] = [z(pol), z(sft)];
  let total = 0;
  for (let t = 0; t < y.length; t++) {
    const lp = logSoftmax64(zp, t * cfg.vocab, cfg.vocab);
    const lq = logSoftmax64(zq, t * cfg.vocab, cfg.vocab);
    lp.forEach((l, j) => (total += Math.exp(l) * (l - lq[j]!)));
  }
  return total;
}
/** The classifier margin f = [log π(y1) − log π(y2)] − [log π_sft(y1) − log π_sft(y2)] in float64. */
function margin64(pol: TransformerParams, sft: TransformerParams, c: Comparison): number {
  const lp = (p: TransformerParams, y: Tokens) => float64SequenceLogProb(p, spec.cfg, c.prompt, y);
  return (lp(pol, c.y1) - lp(pol, c.y2)) - (lp(sft, c.y1) - lp(sft, c.y2));
}
/** The policy's predicted preference from the float64 margin; a margin too close to 0 to trust float32's sign fails the test instead. */
function predict64(pol: TransformerParams, sft: TransformerParams, c: Comparison): 0 | 1 {
  const f = margin64(pol, sft, c);
  if (Math.abs(f) < 1e-3) throw new Error(`margin ${f} too close to 0 to compare float32 with float64`);
  return f > 0 ? 1 : 0;
}
/** The accuracy rule written out: identical pairs and judged ties dropped, a predicted tie ½. */
function handAccuracy(items: readonly Comparison[], truth: (c: Comparison) => 0 | 0.5 | 1, predict: (c: Comparison) => 0 | 0.5 | 1): { value: number; pairs: number } {
  const scores: number[] = [];
  for (const c of items) {
    const t = truth(c);
    if (same(c.y1, c.y2) || t === 0.5) continue;
    const p = predict(c);
    scores.push(p === 0.5 ? 0.5 : p === t ? 1 : 0);
  }
  return { value: scores.length ? mean(scores) : NaN, pairs: scores.length };
}

const prompts: Tokens[] = Array.from({ length: 40 }, (_, i) => [4 + (i % 8), 4 + ((i * 5) % 8), 4 + ((i * 3) % 7)]);
const pol = policy(3, 1.6);
const sft = policy(4, 1.6);
const ctx = { spec, sft, backend, key: T.key(11) };

describe('sampledEvaluator', () => {
  it('one sampling pass, one judge call: kl, winRate, selfAccuracy and identical equal their references on the same samples', async () => {
    const klPrompts = 24;
    const baseline = await sampleResponses(sft, spec, prompts, T.key(5), backend);
    const { judge, calls } = counting();
    const before = sampling.calls;
    const m = await sampledEvaluator({ prompts, klPrompts, judge, baseline })(pol, ctx);
    expect(sampling.calls - before, 'sampleResponses calls').toBe(1);
    expect(calls.length, 'judge calls').toBe(1);

    // The samples, by the documented key path.
    const all = await sampleResponses(pol, spec, [...prompts, ...prompts.slice(0, klPrompts)], ctx.key, backend);
    const ys = all.slice(0, prompts.length);
    const own = prompts.slice(0, klPrompts).map((prompt, i): Comparison => ({ prompt, y1: ys[i]!, y2: all[prompts.length + i]! }));
    const nIdentical = own.filter((c) => same(c.y1, c.y2)).length;
    // The scenario has teeth: some own pairs are identical, some are not, some distinct ones are judged ties.
    expect(nIdentical).toBeGreaterThan(0);
    expect(nIdentical).toBeLessThan(klPrompts);
    expect(own.some((c) => !same(c.y1, c.y2) && verdict(c) === 0.5)).toBe(true);

    const kl = prompts.slice(0, klPrompts).map((p, i) => kl64(pol, sft, spec.cfg, p, ys[i]!));
    expect(Math.abs(m.kl!.value - mean(kl))).toBeLessThan(1e-5 * (1 + mean(kl)));

    const wins = prompts.map((prompt, i) => verdict({ prompt, y1: ys[i]!, y2: baseline[i]! }));
    expect(wins.filter((w) => w === 0.5).length).toBeGreaterThan(0);
    expect(m.winRate!.value).toBeCloseTo(mean(wins), 12);

    expect(m.identical!.value).toBeCloseTo(nIdentical / klPrompts, 12);

    const self = handAccuracy(own, verdict, (c) => predict64(pol, sft, c));
    expect(m.selfAccuracy!.value).toBeCloseTo(self.value, 12);
    expect(m.selfAccuracyPairs!.value).toBe(self.pairs);

    // The one judge call held the win-rate comparisons, then the distinct own pairs, nothing else.
    expect(calls[0]!.map((c) => [c.prompt, c.y1, c.y2])).toEqual([
      ...prompts.map((p, i) => [p, ys[i], baseline[i]]),
      ...own.filter((c) => !same(c.y1, c.y2)).map((c) => [c.prompt, c.y1, c.y2]),
    ]);
  });

  it('agrees with the single-purpose evaluators where they sample the same responses', async () => {
    // selfClassificationEvaluator samples [...prompts, ...prompts]: sampledEvaluator with klPrompts = all does too.
    const { judge } = counting();
    const a = await sampledEvaluator({ prompts, klPrompts: prompts.length, judge })(pol, ctx);
    const b = await selfClassificationEvaluator(prompts, judge)(pol, ctx);
    expect(b).toEqual({ selfAccuracy: a.selfAccuracy, selfAccuracyPairs: a.selfAccuracyPairs });
    expect(a.winRate).toBeUndefined();
    // klEvaluator on one prompt list samples it once: with klPrompts = 0, nothing else is sampled.
    const ys = await sampleResponses(pol, spec, prompts, ctx.key, backend);
    const k = await klEvaluator(prompts)(pol, ctx);
    const ref = mean(prompts.map((p, i) => kl64(pol, sft, spec.cfg, p, ys[i]!)));
    expect(Math.abs(k.kl!.value - ref)).toBeLessThan(1e-5 * (1 + ref));
  });

  it('rejects klPrompts outside [0, prompts] and a baseline of the wrong length', () => {
    const { judge } = counting();
    expect(() => sampledEvaluator({ prompts, klPrompts: prompts.length + 1, judge })).toThrow(/klPrompts/);
    expect(() => sampledEvaluator({ prompts, klPrompts: 1, judge, baseline: [[EOS]] })).toThrow(/baseline/);
  });
});

describe('one accuracy rule', () => {
  const pair = (prompt: number[], y1: number[], y2: number[], preference: 0 | 1): Pair => ({ prompt, y1, y2, preference, provenance: { task: 't', source: 's', labeller: 'proxy' } });
  // u: token sum mod 3. Verdicts: [6,EOS] u=2 vs [4,EOS] u=0 → 1; [5,EOS] u=1 vs [8,EOS] u=1 → tie.
  const batch: Pair[] = [
    pair([4], [6, EOS], [4, EOS], 1), // judged 1, label 1: right
    pair([5], [4, EOS], [6, EOS], 1), // judged 0, label 1: wrong
    pair([6], [7, EOS], [6, EOS], 0), // u 0 vs 2: judged 0, label 0: right
    pair([7], [5, EOS], [8, EOS], 1), // judged tie: not counted
    pair([4], [9, EOS], [9, EOS], 1), // identical: not counted (nor judged)
    pair([5], [4, 4, EOS], [4, 4, EOS], 0), // identical: not counted
  ];
  const batches = [{ pairs: batch.slice(0, 3) }, { pairs: batch.slice(3) }];

  it('recorded labels against a judge: identical pairs not judged, judged ties not counted; the denominator is reported', async () => {
    const { judge, calls } = counting();
    const m = await proxyAccuracyEvaluator(batches, judge)(pol, ctx);
    expect(m).toEqual({ proxyAccuracy: { value: 2 / 3, se: expect.any(Number) }, proxyAccuracyPairs: { value: 3 } });
    expect(calls.flat().some((c) => same(c.y1, c.y2))).toBe(false);
    const a = await labelAccuracy(batches, judge);
    expect([a.value, a.pairs]).toEqual([2 / 3, 3]);
    // No pair left: NaN, and 0 pairs.
    expect(await proxyAccuracyEvaluator([{ pairs: batch.slice(3) }], judge, 'p')(pol, ctx)).toEqual({ p: { value: NaN, se: NaN }, pPairs: { value: 0 } });
  });

  it('the policy as a classifier of a stream: the same pairs counted, identical ones not judged; a predicted tie (π = π_sft, margin 0) counts ½', async () => {
    const { judge, calls } = counting();
    const tie = await streamClassifierEvaluator(batches, judge)(sft, ctx);
    expect(tie).toEqual({ accStream: { value: 0.5, se: 0 }, accStreamPairs: { value: 3 } });
    const m = await streamClassifierEvaluator(batches, judge, 'acc')(pol, ctx);
    const ref = handAccuracy(batch, verdict, (c) => predict64(pol, sft, c));
    expect(ref.pairs).toBe(3);
    expect(m.acc!.value).toBeCloseTo(ref.value, 12);
    expect(m.accPairs!.value).toBe(3);
    expect(calls.flat().some((c) => same(c.y1, c.y2))).toBe(false);
  });

  it('the policy as a classifier of labelled pairs: identical pairs not counted', async () => {
    const withIdentical = await classifierEvaluator(batch, 'acc')(pol, ctx);
    const ref = handAccuracy(batch, (c) => (c as Pair).preference, (c) => predict64(pol, sft, c));
    expect(ref.pairs).toBe(4);
    expect(withIdentical.acc!.value).toBeCloseTo(ref.value, 12);
    expect((await classifierEvaluator(batch, 'acc')(sft, ctx)).acc!.value).toBe(0.5);
  });

  it('a preference model on held-out pairs: identical pairs not counted, predicted ties ½', async () => {
    const ps = preferenceModelSpec({ dModel: 8, heads: 2, dFf: 16, layers: 1 }, 12, widths);
    const params = initPreferenceModel(T.key(2), ps);
    const pred = await predictPreferences(params, ps, batch, backend);
    // The sign rule gives ½ on identical responses; those pairs must not dilute the accuracy.
    expect(pred.slice(4)).toEqual([0.5, 0.5]);
    const ref = handAccuracy(batch, (c) => (c as Pair).preference, (c) => pred[batch.indexOf(c as Pair)]!);
    expect(await preferenceAccuracy(params, ps, batch, backend)).toBeCloseTo(ref.value, 12);
    expect(await preferenceAccuracy(params, ps, batch, backend, 1)).toBeCloseTo(ref.value, 12);
    T.dispose(params);
  });
});

/**
 * Evaluators: pure functions of a policy (and their fixed data) returning named
 * {@link Metric}s, with standard errors where they are estimates. Randomness (sampling
 * responses) comes from the key in the context, so evaluations are reproducible.
 */
import { nextTokenLogProbs, type TransformerParams } from '@tandem/nn';
import { exp, maximum, mul, sub, sum, tidy, where, split, type Backend, type Key, type Tensor } from '@tandem/tensor';
import { padTokens } from './batch.js';
import type { Judge } from './labellers.js';
import { logProbs, sampleResponses, type PolicySpec } from './policy.js';
import { estimate, type Comparison, type Metrics, type Pair, type PairBatch, type Tokens } from './types.js';

/** Judges (noise-free preferences with ties) are defined with the labellers; evaluators take them. */
export type { Judge } from './labellers.js';

/** What every evaluator may use. */
export interface EvalContext {
  /** The policy architecture and padding widths. */
  spec: PolicySpec;
  /** The SFT policy (the KL anchor and the classifier's reference). */
  sft: TransformerParams;
  /** Where the evaluation's tensors live. */
  backend: Backend;
  /** Key for any sampling; {@link combine} gives each evaluator its own. */
  key: Key;
}

/** Measures a policy: resolves to its metrics, computed from the evaluator's fixed data and `ctx`. */
export type Evaluator = (policy: TransformerParams, ctx: EvalContext) => Promise<Metrics>;

/** Mean and standard error of the mean. */
export function meanSe(xs: readonly number[]): [number, number] {
  const n = xs.length;
  if (n === 0) return [NaN, NaN];
  const m = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return [m, NaN];
  const v = xs.reduce((a, b) => a + (b - m) ** 2, 0) / (n - 1);
  return [m, Math.sqrt(v / n)];
}

/** Evaluators run one after another; their metrics are merged. */
export function combine(...evs: Evaluator[]): Evaluator {
  return async (policy, ctx) => {
    const keys = split(ctx.key, Math.max(1, evs.length));
    const out: Record<string, Metrics[string]> = {};
    for (let i = 0; i < evs.length; i++) Object.assign(out, await evs[i]!(policy, { ...ctx, key: keys[i]! }));
    return out;
  };
}

/**
 * Exact KL(π‖π_sft) (App. D): one response y ~ π per prompt, then the exact KL between
 * the full next-token distributions of π and π_sft at every position of y (up to and
 * including EOS), summed over positions, averaged over prompts.
 */
export function klEvaluator(prompts: readonly Tokens[]): Evaluator {
  return async (policy, ctx) => {
    const ys = await sampleResponses(policy, ctx.spec, prompts, ctx.key, ctx.backend);
    const perPrompt = tidy(() => {
      const x = padTokens(prompts, ctx.spec.widths.prompt, ctx.backend, 'prompt');
      const y = padTokens(ys, ctx.spec.widths.response, ctx.backend, 'response');
      const lp = nextTokenLogProbs(policy, ctx.spec.cfg, x.ids, y.ids, { srcMask: x.mask });
      const lq = nextTokenLogProbs(ctx.sft, ctx.spec.cfg, x.ids, y.ids, { srcMask: x.mask });
      // Each position's KL is ≥ 0 exactly; float32 rounding can leave −1e-7 for near-identical
      // policies, so it is floored at 0 (a bias far below the standard error).
      const klPos = maximum(sum(mul(exp(lp), sub(lp, lq)), -1), 0);
      return sum(where(y.mask, klPos, 0), -1);
    });
    const kl = Array.from(await perPrompt.data());
    perPrompt.dispose();
    return { kl: estimate(meanSe(kl)) };
  };
}

/** Win rate of the policy against a baseline policy on fixed prompts, judged by `judge`; ties count ½. */
export function winRateEvaluator(prompts: readonly Tokens[], baseline: TransformerParams, judge: Judge, name = 'winRate'): Evaluator {
  return async (policy, ctx) => {
    const [k1, k2] = split(ctx.key) as [Key, Key];
    const ys = await sampleResponses(policy, ctx.spec, prompts, k1, ctx.backend);
    const bs = await sampleResponses(baseline, ctx.spec, prompts, k2, ctx.backend);
    const wins = await judge(prompts.map((prompt, i) => ({ prompt, y1: ys[i]!, y2: bs[i]! })));
    return { [name]: estimate(meanSe(wins)) };
  };
}

/**
 * The policy as a classifier (App. E): f(x, y1, y2) = [log π(y1|x) − log π(y2|x)] − [log π_sft(y1|x) − log π_sft(y2|x)], [B].
 */
export function classifierMargin(policy: TransformerParams, ctx: Pick<EvalContext, 'spec' | 'sft' | 'backend'>, items: readonly Comparison[]): Tensor {
  const prompts = items.map((c) => c.prompt);
  const d = (p: TransformerParams) => sub(logProbs(p, ctx.spec, prompts, items.map((c) => c.y1), ctx.backend), logProbs(p, ctx.spec, prompts, items.map((c) => c.y2), ctx.backend));
  return sub(d(policy), d(ctx.sft));
}

async function classifierAccuracy(policy: TransformerParams, ctx: EvalContext, items: readonly Comparison[], labels: readonly number[]): Promise<[number, number]> {
  if (items.length === 0) return [NaN, NaN];
  const f = tidy(() => classifierMargin(policy, ctx, items));
  const v = await f.data();
  f.dispose();
  // Predicts y1 ≻ y2 when f > 0; an exact tie scores ½.
  return meanSe(Array.from(v, (x, i) => (x === 0 ? 0.5 : (x > 0 ? 1 : 0) === labels[i] ? 1 : 0)));
}

/** Classifier accuracy of the policy on labelled pairs (e.g. D_golden, or online-stream pairs with golden labels). */
export function classifierEvaluator(pairs: readonly Pair[], name: string): Evaluator {
  return async (policy, ctx) => {
    return { [name]: estimate(await classifierAccuracy(policy, ctx, pairs, pairs.map((p) => p.preference))) };
  };
}

/** Self-classification: accuracy on pairs the policy samples itself, labelled by `judge` (judged ties are skipped). */
export function selfClassificationEvaluator(prompts: readonly Tokens[], judge: Judge): Evaluator {
  return async (policy, ctx) => {
    const ys = await sampleResponses(policy, ctx.spec, [...prompts, ...prompts], ctx.key, ctx.backend);
    const items = prompts.map((prompt, i) => ({ prompt, y1: ys[i]!, y2: ys[i + prompts.length]! }));
    const j = await judge(items);
    const keep = items.flatMap((c, i) => (j[i] === 0.5 ? [] : [[c, j[i]!] as const]));
    return { selfAccuracy: estimate(await classifierAccuracy(policy, ctx, keep.map((x) => x[0]), keep.map((x) => x[1]))) };
  };
}

/** Mean summed log-prob of the winning responses of `pairs` (Fig. 8, bottom). */
export function winnerLogProbEvaluator(pairs: readonly Pair[], name = 'winnerLogProb'): Evaluator {
  return async (policy, ctx) => {
    const lp = tidy(() => logProbs(policy, ctx.spec, pairs.map((p) => p.prompt), pairs.map((p) => (p.preference === 1 ? p.y1 : p.y2)), ctx.backend));
    const v = Array.from(await lp.data());
    lp.dispose();
    return { [name]: estimate(meanSe(v)) };
  };
}

/** Agreement of recorded labels (e.g. the proxy's, in D_online) with `judge` on the same pairs; judged ties count ½. */
export async function labelAccuracy(batches: readonly PairBatch[], judge: Judge): Promise<[number, number]> {
  const pairs = batches.flatMap((b) => b.pairs);
  const j = await judge(pairs);
  return meanSe(pairs.map((p, i) => (j[i] === 0.5 ? 0.5 : j[i] === p.preference ? 1 : 0)));
}

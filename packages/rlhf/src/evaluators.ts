/**
 * Evaluators: pure functions of a policy (and their fixed data) returning named
 * {@link Metric}s, with standard errors where they are estimates. Randomness (sampling
 * responses) comes from the key in the context, so evaluations are reproducible.
 *
 * Each quantity is computed by one helper here (the exact KL along given samples, the
 * win rate of given verdicts, the identical-pair rate, every accuracy through
 * {@link accuracyScores}); the evaluators only decide what to sample and which helpers
 * to run, so {@link sampledEvaluator} and the single-purpose evaluators cannot drift apart.
 */
import { nextTokenLogProbs, type TransformerParams } from '@tandem/nn';
import { exp, maximum, mul, sub, sum, tidy, where, split, type Backend, type Key, type Tensor } from '@tandem/tensor';
import { padTokens } from './batch.js';
import { RlhfError } from './errors.js';
import type { Judge } from './labellers.js';
import { logProbs, sampleResponses, type PolicySpec } from './policy.js';
import { estimate, sameTokens, type Comparison, type Metrics, type Pair, type PairBatch, type Tokens } from './types.js';

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

/** A preference between two responses: 1 (y1 ≻ y2), 0 (y2 ≻ y1) or ½ (a tie). */
export type Verdict = 0 | 0.5 | 1;

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

// ----------------------------------------------------------------------------- accuracy: one rule

/** True when the two responses of `c` are the same tokens. */
export function identicalResponses(c: Comparison): boolean {
  return sameTokens(c.y1, c.y2);
}

/** The comparisons of `items` whose responses differ (the only ones an accuracy counts; see {@link accuracyScores}). */
export function distinctPairs<C extends Comparison>(items: readonly C[]): C[] {
  return items.filter((c) => !identicalResponses(c));
}

/**
 * The one scoring rule of every accuracy in the package — the proxy's labels against the
 * golden judge, the policy as a classifier (of D_golden, of the online stream, of its own
 * samples), a preference model on held-out pairs — so accuracies that are compared with
 * one another share their denominator:
 *  - a pair whose two responses are token-identical is not counted: it carries no
 *    preference (every judge here calls it a tie, and the paper's pairs are always
 *    distinct), and counting it would pull every predictor towards ½ by however many
 *    identical pairs a source happens to produce — which differs between on-policy
 *    samples, the online stream and a fixed dataset;
 *  - a pair whose truth is a tie (a judge's ½) is not counted: there is no right answer
 *    to score;
 *  - a predicted tie (a classifier margin of exactly 0, the preference model's sign rule
 *    giving ½) counts ½: the expected score of breaking the tie by a fair coin, so a
 *    predictor that abstains on everything scores exactly chance rather than 0 or 1.
 * `predict` is called once, with the counted comparisons only (in order) and their strict
 * labels, and returns one prediction per comparison. Resolves to one score (1, 0 or ½)
 * per counted pair: their mean is the accuracy, their number its denominator
 * (see {@link accuracyOf}).
 */
export async function accuracyScores<C extends Comparison>(
  items: readonly C[],
  truth: readonly Verdict[],
  predict: (counted: readonly C[]) => Promise<readonly Verdict[]>,
): Promise<number[]> {
  if (truth.length !== items.length) throw new RlhfError('shape', `accuracyScores: ${items.length} comparisons but ${truth.length} verdicts`);
  const kept = items.flatMap((c, i): [C, 0 | 1][] => {
    const t = truth[i]!;
    return identicalResponses(c) || t === 0.5 ? [] : [[c, t]];
  });
  if (kept.length === 0) return [];
  const pred = await predict(kept.map((k) => k[0]));
  if (pred.length !== kept.length) throw new RlhfError('shape', `accuracyScores: ${kept.length} counted comparisons but ${pred.length} predictions`);
  return kept.map(([, label], i) => (pred[i] === 0.5 ? 0.5 : pred[i] === label ? 1 : 0));
}

/** An accuracy under {@link accuracyScores}' rule: the mean score, its standard error, and the number of pairs counted. */
export interface Accuracy {
  /** Mean score (NaN when no pair was counted). */
  readonly value: number;
  /** Standard error of `value` (NaN with fewer than two pairs). */
  readonly se: number;
  /** How many pairs were counted: the denominator. */
  readonly pairs: number;
}

/** The accuracy of per-pair scores from {@link accuracyScores}. */
export function accuracyOf(scores: readonly number[]): Accuracy {
  const [value, se] = meanSe(scores);
  return { value, se, pairs: scores.length };
}

/** `{ [name]: { value, se }, [name + 'Pairs']: { value: pairs } }`: an accuracy and, as a plain value, its denominator. */
export function accuracyMetrics(name: string, a: Accuracy): Metrics {
  return { [name]: { value: a.value, se: a.se }, [`${name}Pairs`]: { value: a.pairs } };
}

// ----------------------------------------------------------------------------- shared computations

/**
 * Exact KL(π‖π_sft) along given responses (App. D), one value per prompt: the exact KL
 * between the full next-token distributions of π and π_sft at every position of y (up to
 * and including EOS), summed over positions.
 */
export async function klAlong(policy: TransformerParams, ctx: EvalContext, prompts: readonly Tokens[], ys: readonly Tokens[]): Promise<number[]> {
  if (prompts.length === 0) return [];
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
  return kl;
}

/** The comparisons (prompt_i, y_i, other_i) of the policy's responses against others, in prompt order (the policy is y1). */
function against(prompts: readonly Tokens[], ys: readonly Tokens[], others: readonly Tokens[]): Comparison[] {
  return prompts.map((prompt, i) => ({ prompt, y1: ys[i]!, y2: others[i]! }));
}

/** Win rate from the judge's verdicts with the policy as y1: the mean verdict, a tie counting ½. */
function winRateOf(verdicts: readonly Verdict[]): [number, number] {
  return meanSe(verdicts);
}

/** Identical-pair rate: the fraction of `pairs` whose two responses are the same tokens. */
function identicalRateOf(pairs: readonly Comparison[]): [number, number] {
  return meanSe(pairs.map((c) => (identicalResponses(c) ? 1 : 0)));
}

/**
 * The policy as a classifier (App. E): f(x, y1, y2) = [log π(y1|x) − log π(y2|x)] − [log π_sft(y1|x) − log π_sft(y2|x)], [B].
 */
export function classifierMargin(policy: TransformerParams, ctx: Pick<EvalContext, 'spec' | 'sft' | 'backend'>, items: readonly Comparison[]): Tensor {
  const prompts = items.map((c) => c.prompt);
  const d = (p: TransformerParams) => sub(logProbs(p, ctx.spec, prompts, items.map((c) => c.y1), ctx.backend), logProbs(p, ctx.spec, prompts, items.map((c) => c.y2), ctx.backend));
  return sub(d(policy), d(ctx.sft));
}

/**
 * Accuracy of the policy as a classifier ({@link classifierMargin}: y1 ≻ y2 predicted when
 * f > 0, a tie when f = 0 exactly) against `truth`, under {@link accuracyScores}' rule.
 */
export async function classifierAccuracy(policy: TransformerParams, ctx: Pick<EvalContext, 'spec' | 'sft' | 'backend'>, items: readonly Comparison[], truth: readonly Verdict[]): Promise<Accuracy> {
  return accuracyOf(await accuracyScores(items, truth, async (counted) => {
    const f = tidy(() => classifierMargin(policy, ctx, counted));
    const v = await f.data();
    f.dispose();
    return Array.from(v, (x): Verdict => (x > 0 ? 1 : x < 0 ? 0 : 0.5));
  }));
}

/**
 * Samples the policy once for `prompts` and again for the first `again` of them, in ONE
 * call from `k`: `ys[i]` answers prompt i, and (y_i, y'_i) for i < `again` are the policy's
 * own independent pairs.
 */
async function sampleOnce(policy: TransformerParams, ctx: EvalContext, prompts: readonly Tokens[], again: number, k: Key): Promise<{ ys: number[][]; own: Comparison[] }> {
  const all = await sampleResponses(policy, ctx.spec, [...prompts, ...prompts.slice(0, again)], k, ctx.backend);
  const ys = all.slice(0, prompts.length);
  return { ys, own: against(prompts.slice(0, again), ys, all.slice(prompts.length)) };
}

/** One judge call for the concatenation of `groups` (the golden model runs once), split back per group. */
async function judgeOnce(judge: Judge, groups: readonly (readonly Comparison[])[]): Promise<Verdict[][]> {
  const items = groups.flat();
  const all = items.length === 0 ? [] : await judge(items);
  let at = 0;
  return groups.map((g) => all.slice(at, (at += g.length)));
}

// ----------------------------------------------------------------------------- evaluators

/** Options of {@link sampledEvaluator}. */
export interface SampledEvaluatorOptions {
  /** The evaluation prompts (the win rate runs over all of them). */
  readonly prompts: readonly Tokens[];
  /** How many of the first prompts are sampled a second time: the KL runs along their first samples, and their two samples make the policy's own pairs. */
  readonly klPrompts: number;
  /** The noise-free judge of the win rate and of the own pairs (the golden model). */
  readonly judge: Judge;
  /**
   * Fixed baseline responses, one per prompt (e.g. π_sft's, sampled once by the caller).
   * Every evaluation — and every run compared against the same baseline — then meets the
   * same responses: a paired comparison, without the baseline's sampling noise in each
   * win rate. Without it there is no `winRate`.
   */
  readonly baseline?: readonly Tokens[];
}

/**
 * Everything an evaluation needs from the policy's samples, from ONE sampling pass and ONE
 * judge call. `sampleResponses` runs once, with `ctx.key`, on
 * `[...prompts, ...prompts.slice(0, klPrompts)]`, giving y_i for every prompt and y'_i
 * for the first `klPrompts`. Gives:
 *  - `kl`: exact KL(π‖π_sft) along y_i, i < `klPrompts` (as {@link klEvaluator});
 *  - `winRate` (with `baseline`): judge(prompt_i, y_i, baseline_i) over all prompts, ties ½;
 *  - `selfAccuracy`, `selfAccuracyPairs`: the policy as a classifier of its own pairs
 *    (y_i, y'_i), labelled by the judge, under {@link accuracyScores}' rule;
 *  - `identical`: the fraction of the own pairs that are token-identical — the
 *    identical-pair rate of on-policy sampling (the pairs an online step cannot learn from).
 * The win-rate comparisons and the distinct own pairs go to the judge in one call, so
 * the golden model runs once per evaluation.
 */
export function sampledEvaluator(o: SampledEvaluatorOptions): Evaluator {
  const { prompts, klPrompts, judge, baseline } = o;
  if (!Number.isInteger(klPrompts) || klPrompts < 0 || klPrompts > prompts.length) {
    throw new RlhfError('bad-input', `sampledEvaluator: klPrompts must be an integer in [0, ${prompts.length}], got ${klPrompts}`);
  }
  if (baseline && baseline.length !== prompts.length) {
    throw new RlhfError('shape', `sampledEvaluator: ${prompts.length} prompts but ${baseline.length} baseline responses`);
  }
  return async (policy, ctx) => {
    const { ys, own } = await sampleOnce(policy, ctx, prompts, klPrompts, ctx.key);
    const wins = baseline ? against(prompts, ys, baseline) : [];
    const distinctOwn = distinctPairs(own);
    const [winVerdicts, ownVerdicts] = await judgeOnce(judge, [wins, distinctOwn]) as [Verdict[], Verdict[]];
    const kl = await klAlong(policy, ctx, prompts.slice(0, klPrompts), ys.slice(0, klPrompts));
    return {
      kl: estimate(meanSe(kl)),
      ...(baseline ? { winRate: estimate(winRateOf(winVerdicts)) } : {}),
      ...accuracyMetrics('selfAccuracy', await classifierAccuracy(policy, ctx, distinctOwn, ownVerdicts)),
      identical: estimate(identicalRateOf(own)),
    };
  };
}

/**
 * Exact KL(π‖π_sft) (App. D): one response y ~ π per prompt, then the exact KL between
 * the full next-token distributions of π and π_sft at every position of y (up to and
 * including EOS), summed over positions, averaged over prompts.
 */
export function klEvaluator(prompts: readonly Tokens[]): Evaluator {
  return async (policy, ctx) => {
    const { ys } = await sampleOnce(policy, ctx, prompts, 0, ctx.key);
    return { kl: estimate(meanSe(await klAlong(policy, ctx, prompts, ys))) };
  };
}

/**
 * Win rate of the policy against a baseline policy on fixed prompts, judged by `judge`;
 * ties count ½. Both policies are sampled at every evaluation; {@link sampledEvaluator}
 * with fixed baseline responses compares against the same responses every time instead.
 */
export function winRateEvaluator(prompts: readonly Tokens[], baseline: TransformerParams, judge: Judge, name = 'winRate'): Evaluator {
  return async (policy, ctx) => {
    const [k1, k2] = split(ctx.key) as [Key, Key];
    const { ys } = await sampleOnce(policy, ctx, prompts, 0, k1);
    const { ys: bs } = await sampleOnce(baseline, ctx, prompts, 0, k2);
    const [verdicts] = await judgeOnce(judge, [against(prompts, ys, bs)]);
    return { [name]: estimate(winRateOf(verdicts!)) };
  };
}

/**
 * Classifier accuracy of the policy on labelled pairs (e.g. D_golden, or online-stream pairs
 * with golden labels), under {@link accuracyScores}' rule (identical pairs not counted).
 */
export function classifierEvaluator(pairs: readonly Pair[], name: string): Evaluator {
  return async (policy, ctx) => {
    const a = await classifierAccuracy(policy, ctx, pairs, pairs.map((p) => p.preference));
    return { [name]: { value: a.value, se: a.se } };
  };
}

/**
 * Self-classification: accuracy on pairs the policy samples itself (two samples per prompt),
 * labelled by `judge`; identical pairs and judged ties are not counted ({@link accuracyScores}).
 * Gives `selfAccuracy` and its denominator `selfAccuracyPairs`.
 */
export function selfClassificationEvaluator(prompts: readonly Tokens[], judge: Judge): Evaluator {
  return async (policy, ctx) => {
    const { own } = await sampleOnce(policy, ctx, prompts, prompts.length, ctx.key);
    const distinct = distinctPairs(own);
    const [verdicts] = await judgeOnce(judge, [distinct]);
    return accuracyMetrics('selfAccuracy', await classifierAccuracy(policy, ctx, distinct, verdicts!));
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

/**
 * Agreement of recorded labels (e.g. the proxy's, in D_online) with `judge` on the same
 * pairs, under {@link accuracyScores}' rule: identical pairs are not judged nor counted,
 * judged ties are not counted.
 */
export async function labelAccuracy(batches: readonly PairBatch[], judge: Judge): Promise<Accuracy> {
  const pairs = distinctPairs(batches.flatMap((b) => b.pairs));
  const [verdicts] = await judgeOnce(judge, [pairs]);
  return accuracyOf(await accuracyScores(pairs, verdicts!, async (counted) => counted.map((p) => p.preference)));
}

/**
 * Evaluators of an online run's recorded stream: how good the labeller that labelled
 * the recent pairs was (Fig. 6), and the policy as a classifier of those pairs
 * (App. E). Like every {@link Evaluator} they are values: the batches and the judge
 * are fixed when the evaluator is made, and the policy comes at evaluation time.
 */
import { classifierEvaluator, labelAccuracy, type Evaluator } from './evaluators.js';
import type { Judge } from './labellers.js';
import { estimate, type Pair, type PairBatch } from './types.js';

/**
 * Agreement of the recorded labels of `batches` (e.g. the proxy model's, in D_online)
 * with `judge` (e.g. the golden model) on the same pairs; judged ties count ½. The
 * policy is not used. Gives `{ [name]: { value, se } }`, NaN when there are no pairs.
 */
export function proxyAccuracyEvaluator(batches: readonly PairBatch[], judge: Judge, name = 'proxyAccuracy'): Evaluator {
  return async () => ({ [name]: estimate(await labelAccuracy(batches, judge)) });
}

/**
 * The policy as a classifier of the pairs of `batches` (e.g. its own recent online
 * pairs), against the labels `judge` gives them (e.g. the golden model's); pairs the
 * judge calls a tie are skipped. Gives `{ [name]: { value, se } }`, NaN when no pair is left.
 */
export function streamClassifierEvaluator(batches: readonly PairBatch[], judge: Judge, name = 'accStream'): Evaluator {
  return async (policy, ctx) => {
    const pairs = batches.flatMap((b) => b.pairs);
    const verdicts = await judge(pairs);
    const labelled = pairs.flatMap((p, i): Pair[] => (verdicts[i] === 0.5 ? [] : [{ ...p, preference: verdicts[i] as 0 | 1 }]));
    return classifierEvaluator(labelled, name)(policy, ctx);
  };
}

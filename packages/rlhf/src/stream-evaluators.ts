/**
 * Evaluators of an online run's recorded stream: how good the labeller that labelled
 * the recent pairs was (Fig. 6), and the policy as a classifier of those pairs
 * (App. E). Like every {@link Evaluator} they are values: the batches and the judge
 * are fixed when the evaluator is made, and the policy comes at evaluation time.
 * Both score under the package's one accuracy rule ({@link accuracyScores}: identical
 * pairs and judged ties not counted, predicted ties ½) and report their denominator.
 */
import { accuracyMetrics, classifierAccuracy, distinctPairs, labelAccuracy, type Evaluator } from './evaluators.js';
import type { Judge } from './labellers.js';
import type { PairBatch } from './types.js';

/**
 * Agreement of the recorded labels of `batches` (e.g. the proxy model's, in D_online)
 * with `judge` (e.g. the golden model) on the same pairs ({@link labelAccuracy}). The
 * policy is not used. Gives `{ [name]: { value, se }, [name + 'Pairs']: { value } }`, the
 * accuracy and the number of pairs it counted; NaN when none was counted.
 */
export function proxyAccuracyEvaluator(batches: readonly PairBatch[], judge: Judge, name = 'proxyAccuracy'): Evaluator {
  return async () => accuracyMetrics(name, await labelAccuracy(batches, judge));
}

/**
 * The policy as a classifier of the pairs of `batches` (e.g. its own recent online
 * pairs), against the labels `judge` gives them (e.g. the golden model's); identical
 * pairs are not judged, and neither they nor judged ties are counted. Gives
 * `{ [name]: { value, se }, [name + 'Pairs']: { value } }`; NaN when no pair is left.
 */
export function streamClassifierEvaluator(batches: readonly PairBatch[], judge: Judge, name = 'accStream'): Evaluator {
  return async (policy, ctx) => {
    const pairs = distinctPairs(batches.flatMap((b) => b.pairs));
    const verdicts = pairs.length === 0 ? [] : await judge(pairs);
    return accuracyMetrics(name, await classifierAccuracy(policy, ctx, pairs, verdicts));
  };
}

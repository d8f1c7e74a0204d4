/**
 * Behaviour mixtures by coverage: which of a task's behaviour policies D_initial draws from.
 * A behaviour policy "covers the optimum" when it emits the exact ideal response on at least
 * COVERAGE_THRESHOLD (5%) of the task's prompts. The paper's regime is an offline dataset
 * whose behaviour policies do NOT cover the optimum ('suboptimal'): preference optimisation
 * must then find responses better than any it was shown. 'covered' keeps every policy (the
 * near-ideal noisy ones included), so the ideal response itself is common in D_initial.
 */
import { foldIn, key, type Key } from '@tandem/tensor';
import { RlhfError } from '../errors.js';
import { rngFromKey } from '../rng.js';
import { sameTokens } from '../types.js';
import type { BehaviourPolicy, Task } from './task.js';

/** Which behaviour policies a D_initial mixture draws from (see {@link behavioursFor}). */
export type Coverage = 'suboptimal' | 'covered';

/** Every coverage regime, the default ('suboptimal', the paper's regime) first. */
export const COVERAGES: readonly Coverage[] = Object.freeze(['suboptimal', 'covered'] as const);

/**
 * The exact-ideal rate at or above which a behaviour policy counts as covering the optimum
 * (declared per task in `Task.coveringBehaviours`, checked against measurements by the tests).
 */
export const COVERAGE_THRESHOLD = 0.05;

/**
 * The behaviour policies of a coverage regime: 'covered' = all of the task's behaviour policies;
 * 'suboptimal' = only those that emit the exact ideal response on fewer than COVERAGE_THRESHOLD
 * (5%) of prompts, i.e. all but `task.coveringBehaviours`. Order is the task's.
 */
export function behavioursFor(task: Task, coverage: Coverage): readonly BehaviourPolicy[] {
  if (coverage === 'covered') return task.behaviourPolicies;
  if (coverage === 'suboptimal') return task.behaviourPolicies.filter((b) => !task.coveringBehaviours.includes(b.name));
  throw new RlhfError('bad-input', `behavioursFor: coverage must be one of ${COVERAGES.join(', ')}, got ${JSON.stringify(coverage)}`);
}

/** Options of {@link exactIdealRate}. */
export interface ExactIdealRateOptions {
  /** Number of prompts (one response each); default 4000. */
  readonly prompts?: number;
  /** The key of the measurement; default key(0xc0fe). Prompts come from foldIn(key, 0), responses from foldIn(key, 1). */
  readonly key?: Key;
}

/**
 * The fraction of prompts on which `behaviour` emits exactly the task's ideal response
 * (token for token, EOS included): the number the coverage rule compares with
 * COVERAGE_THRESHOLD. A pure function of its arguments; every behaviour sees the same prompts.
 */
export function exactIdealRate(task: Task, behaviour: BehaviourPolicy, o: ExactIdealRateOptions = {}): number {
  const n = o.prompts ?? 4000;
  if (!Number.isInteger(n) || n < 1) throw new RlhfError('bad-input', `exactIdealRate: prompts must be a positive integer, got ${n}`);
  const k = o.key ?? key(0xc0fe);
  const prompts = rngFromKey(foldIn(k, 0));
  const responses = rngFromKey(foldIn(k, 1));
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const p = task.samplePrompt(prompts);
    const ideal = task.idealResponse(p);
    const y = behaviour.sample(responses, p, task);
    if (sameTokens(y, ideal)) hits++;
  }
  return hits / n;
}

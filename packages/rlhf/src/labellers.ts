/**
 * Labellers and judges decide which of two responses is preferred; these are the
 * only two shapes of that decision in the package:
 *  - a {@link Labeller} gives a hard label (1: y1 ≻ y2, 0: y2 ≻ y1), may be noisy, and
 *    takes its randomness from a key. Online training labels its own samples with
 *    one (the proxy model; the golden model for the golden baseline); datasets are
 *    labelled with one (D_initial's raters, D_golden, D_{a vs b}).
 *  - a {@link Judge} is noise-free and may call a tie (1, 0 or ½); evaluators use one
 *    (win rates, label accuracy, self-classification).
 * A noise-free labeller is a judge whose ties go to y1 ({@link judgeLabeller}).
 */
import type { Backend, Key } from '@tandem/tensor';
import { predictPreferences, type PreferenceModelParams, type PreferenceModelSpec } from './preference-model.js';
import { rngFromKey } from './rng.js';
import { judge, rate, type RaterSpec, type Task } from './tasks/task.js';
import type { Comparison, Tokens } from './types.js';

/** Returns 1 where y1 ≻ y2 and 0 where y2 ≻ y1. `k` drives any randomness (noisy raters). */
export interface Labeller {
  /** The labeller's name, recorded as the pairs' provenance labeller (e.g. 'rater', 'golden'). */
  readonly name: string;
  /**
   * Labels each comparison (1: y1 preferred, 0: y2 preferred), in order; `k` drives any noise.
   * A noisy labeller draws one uniform from the stream `rngFromKey(k)` per comparison, in order.
   */
  label(items: readonly Comparison[], k: Key): Promise<(0 | 1)[]>;
}

/** Noise-free preference of y1 over y2 for each comparison: 1, 0, or 0.5 for a tie. */
export type Judge = (items: readonly Comparison[]) => Promise<(0 | 0.5 | 1)[]>;

/** A learned preference model as judge: the debiased sign rule sign(r(x,y1,y2) − r(x,y2,y1)), exact ties ½. */
export function modelJudge(params: PreferenceModelParams, spec: PreferenceModelSpec, backend: Backend): Judge {
  return (items) => predictPreferences(params, spec, items, backend);
}

/**
 * `j` with its verdicts remembered per comparison object: a comparison judged once is not
 * judged again (evaluators of the same recorded pairs share one judging pass). Only the
 * comparisons not seen before go to `j`, in one call and in order; a judge whose verdict
 * on a comparison does not depend on the others in its call (every judge here) gives
 * exactly the verdicts it would have given without the memo.
 */
export function memoJudge(j: Judge): Judge {
  const seen = new WeakMap<Comparison, 0 | 0.5 | 1>();
  return async (items) => {
    const fresh = items.filter((c) => !seen.has(c));
    if (fresh.length > 0) {
      const verdicts = await j(fresh);
      fresh.forEach((c, i) => seen.set(c, verdicts[i]!));
    }
    return items.map((c) => seen.get(c)!);
  };
}

/** A utility as judge: sign(u(x,y1) − u(x,y2)), ties ½ (the task's rater without noise; see `judge`). */
export function utilityJudge(utility: (prompt: Tokens, y: Tokens) => number): Judge {
  const rater = { utility };
  return async (items) => items.map((c) => judge(rater, c.prompt, c.y1, c.y2));
}

/** A noise-free labeller from a judge: its verdicts, with a tie labelled 1 (y1). Draws nothing from the key. */
export function judgeLabeller(name: string, j: Judge): Labeller {
  return {
    name,
    async label(items) {
      return (await j(items)).map((v) => (v === 0 ? 0 : 1));
    },
  };
}

/** A noisy Bradley–Terry labeller: `rate` with one draw per comparison, in order, from `rngFromKey(k)`. */
function raterOf(name: string, rater: RaterSpec): Labeller {
  return {
    name,
    async label(items, k) {
      const rng = rngFromKey(k);
      return items.map((c) => rate(rater, rng, c.prompt, c.y1, c.y2));
    },
  };
}

/**
 * A labeller from a utility u(x, y): noisy Bradley–Terry with temperature τ > 0 (P(y1 ≻ y2) = σ((u1 − u2)/τ),
 * one draw per comparison), or noise-free for τ = 0 (`utilityJudge` with ties → y1; no draws).
 */
export function utilityLabeller(name: string, utility: (prompt: Tokens, y: Tokens) => number, temperature: number): Labeller {
  if (temperature === 0) return judgeLabeller(name, utilityJudge(utility));
  return raterOf(name, { utility, raterTemperature: temperature });
}

/**
 * A task's noisy rater as labeller, named 'rater': `rate(task, rng, …)` for each comparison in
 * order, with `rng = rngFromKey(k)` (one draw per comparison).
 */
export function raterLabeller(task: Task): Labeller {
  return raterOf('rater', task);
}

/**
 * A learned preference model as labeller: the debiased sign rule
 * sign(r(x,y1,y2) − r(x,y2,y1)); an exact tie (e.g. identical responses) labels y1.
 */
export function modelLabeller(name: string, params: PreferenceModelParams, spec: PreferenceModelSpec, backend: Backend): Labeller {
  return judgeLabeller(name, modelJudge(params, spec, backend));
}

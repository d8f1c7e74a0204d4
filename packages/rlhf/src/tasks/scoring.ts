/**
 * The scoring rule shared by the "name these things in this order" tasks (summarize's
 * topics by frequency, helpful's answers by question order). One rule for both keeps
 * the utility scales comparable when tasks are pooled.
 *
 * raw = 2.4 · Σ_j credit_j · w_j                       (coverage; Σ w = 1)
 *     − Σ_p penalty(token at p) · φ(p) · ι(token)      (junk, repeats, specials)
 *     − 0.05 · max(0, |content| − k)                   (extra length)
 *     + 0.6 if the response ends with EOS, else − 1.0   (termination)
 * utility = squash(raw), so the ideal response scores exactly 3.
 *
 * A target token mentioned as the j-th distinct target gets credit 1 when it is the j-th
 * target, else a partial credit that shrinks with the rank error. φ makes junk early in a
 * response slightly worse than junk late in it, and ι gives each token id a slightly
 * different weight (a rater idiosyncrasy): both are small, but they make utility ties
 * between different responses rare, so noise-free judgements are almost never 0.5.
 */
import type { Tokens } from '../types.js';
import { responseParts, squash } from './task.js';

/** The constants of the shared scoring rule (documented in docs/tasks.md). */
export const SCORE = Object.freeze({
  /** Weight of the coverage term (Σ credit·w lies in [0, 1]). */
  coverage: 2.4,
  /** Bonus for a response that ends with EOS. */
  terminated: 0.6,
  /** Termination term (a penalty) for a response that runs into the cap without EOS. */
  unterminated: -1.0,
  /** Base penalty of a repeated target token. */
  repeat: 0.4,
  /** Base penalty of a special (or out-of-vocabulary) token in the content. */
  special: 0.7,
  /** Penalty per content token beyond the number of targets. */
  extraLength: 0.05,
  /** Partial credit of a target mentioned one rank away from its place. */
  partialBase: 0.5,
  /** How much partial credit drops per further rank of error. */
  partialStep: 0.075,
  /** Floor of the partial credit. */
  partialMin: 0.2,
});

/** The utility of the ideal response of every task. */
export const MAX_UTILITY = SCORE.coverage + SCORE.terminated;

/** Position factor φ(p): 1.2 at the first token, falling linearly to 1.0 at the cap. */
export function positionFactor(p: number, maxResponse: number): number {
  return 1 + 0.2 * (1 - Math.min(p, maxResponse - 1) / (maxResponse - 1));
}

/** Token idiosyncrasy factor ι(id) ∈ [1, 1.03]: a fixed, learnable quirk of the raters. */
export function tokenFactor(id: number): number {
  return 1 + (0.03 * (((id * 5) % 7 + 7) % 7)) / 6;
}

/** Partial credit for a target mentioned at a wrong place, `d` ranks away (d ≥ 1). */
export function partialCredit(d: number): number {
  return Math.max(SCORE.partialMin, SCORE.partialBase - SCORE.partialStep * (d - 1));
}

/** What an ordered-list task needs to score a response. */
export interface OrderedSpec {
  /** The ideal content (distinct tokens, in the right order), without EOS. */
  readonly target: Tokens;
  /** Coverage weight of each target (same length as `target`, sums to 1). */
  readonly weights: readonly number[];
  /** Base penalty of a non-target token (filler, invented, irrelevant...); specials are handled here. */
  junk(id: number): number;
  /** The task's response cap (for φ). */
  readonly maxResponse: number;
}

/** The raw score of a response's content under an ordered spec, without the termination term. */
export function orderedContentScore(spec: OrderedSpec, content: Tokens): number {
  const rank = new Map<number, number>();
  spec.target.forEach((t, i) => rank.set(t, i));
  const seen = new Set<number>();
  let coverage = 0;
  let penalty = 0;
  content.forEach((id, p) => {
    const r = rank.get(id);
    if (r !== undefined && !seen.has(id)) {
      const j = seen.size; // this is the j-th distinct target mentioned
      coverage += spec.weights[r]! * (r === j ? 1 : partialCredit(Math.abs(r - j)));
      seen.add(id);
      return;
    }
    const base = r !== undefined ? SCORE.repeat : !Number.isInteger(id) || id < 4 || id >= 64 ? SCORE.special : spec.junk(id);
    penalty += base * positionFactor(p, spec.maxResponse) * tokenFactor(id);
  });
  const extra = Math.max(0, content.length - spec.target.length) * SCORE.extraLength;
  return SCORE.coverage * coverage - penalty - extra;
}

/** The termination term: a bonus for stopping, a penalty for running into the cap. */
export function terminationScore(terminated: boolean): number {
  return terminated ? SCORE.terminated : SCORE.unterminated;
}

/** The full utility of a response under an ordered spec (squashed raw score). */
export function orderedUtility(spec: OrderedSpec, response: Tokens): number {
  const { content, terminated } = responseParts(response);
  return squash(orderedContentScore(spec, content) + terminationScore(terminated));
}

/** Weights that favour earlier targets slightly: w_j ∝ 1 + 0.1·(k − 1 − j), normalised. */
export function frontWeights(k: number): number[] {
  const raw = Array.from({ length: k }, (_, j) => 1 + 0.1 * (k - 1 - j));
  const s = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => w / s);
}

/**
 * A synthetic preference task: a prompt distribution, a hidden rater utility over
 * responses, noisy Bradley–Terry raters, and behaviour policies of mixed quality
 * that produce the responses of D_initial. Tasks are plain values (no state); all
 * randomness comes from an explicit `Rng`.
 */
import { RlhfError } from '../errors.js';
import type { Rng } from '../rng.js';
import type { Tokens } from '../types.js';
import { EOS, MAX_RESPONSE, VOCAB_SIZE } from './vocab.js';

/** A fixed, hand-written response generator standing in for the paper's data-collection policies. */
export interface BehaviourPolicy {
  /** Short id used in provenance sources, e.g. 'noisy-0.3'. */
  readonly name: string;
  /**
   * Rough quality in [0, 1] for docs: about (E[u] − E[u_random]) / (u_ideal − E[u_random]) averaged
   * over tasks, so random ≈ 0 and ideal = 1. Measured utilities are in docs/tasks.md.
   */
  readonly quality: number;
  /**
   * One response for `prompt`: ends with EOS and is at most `task.maxResponse` tokens long —
   * or, for a response that "forgot" to stop, exactly `task.maxResponse` tokens with no EOS
   * (what a sampler truncated at its length cap produces; the utility penalises it).
   */
  sample(rng: Rng, prompt: Tokens, task: Task): Tokens;
}

/** A synthetic preference task (see docs/tasks.md for each task's rules). */
export interface Task {
  /** Registry key and provenance `task` field. */
  readonly name: string;
  /** One-paragraph description for docs and reports. */
  readonly description: string;
  /** Vocabulary size including the 4 specials; every task uses the shared VOCAB_SIZE (64). */
  readonly vocabSize: number;
  /** Longest prompt this task produces (≤ 24). */
  readonly maxPrompt: number;
  /** Longest response, INCLUDING the final EOS (≤ 12). */
  readonly maxResponse: number;
  /** A prompt from the task's prompt distribution; never contains a special token. */
  samplePrompt(rng: Rng): Tokens;
  /**
   * The hidden rater utility of a response, roughly in [−3, 3]; the ideal response scores the
   * maximum (3). Tokens after the first EOS are ignored; a response without EOS is "truncated".
   */
  utility(prompt: Tokens, response: Tokens): number;
  /** An argmax of `utility` for the prompt (ends with EOS); for tests, docs and upper bounds. */
  idealResponse(prompt: Tokens): Tokens;
  /** Bradley–Terry temperature τ of the noisy raters: P(y1 ≻ y2) = σ((u1 − u2)/τ). */
  readonly raterTemperature: number;
  /** The data-collection policies of D_initial, from near-ideal-with-noise to random (the 'covered' mixture). */
  readonly behaviourPolicies: readonly BehaviourPolicy[];
  /**
   * Names of the behaviour policies that cover the optimum: those that emit the exact ideal
   * response on at least `COVERAGE_THRESHOLD` (5%) of the task's prompts, as measured (see
   * `behavioursFor` and docs/tasks.md). The other policies form the 'suboptimal' mixture, so
   * at least one policy must be left out.
   */
  readonly coveringBehaviours: readonly string[];
  /** Printable name of a token id, for examples. */
  tokenName(id: number): string;
}

/**
 * The logistic function σ(x) = 1/(1 + e^(−x)), computed stably for large |x| (never
 * NaN, never exp overflow). For x ≥ 0 it is bit-identical to the naive formula; for
 * x < 0 it computes e^x/(1 + e^x), which may differ from the naive one in the last bit.
 * The package's one Bradley–Terry link: every noisy rater goes through it (via `rate`).
 */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** What a rater needs of a task: the hidden utility and, for noisy rating, the Bradley–Terry temperature. */
export type RaterSpec = Pick<Task, 'utility' | 'raterTemperature'>;

/** The rater's probability that y1 ≻ y2 (Bradley–Terry): σ((u1 − u2)/τ). */
export function preferenceProbability(task: RaterSpec, prompt: Tokens, y1: Tokens, y2: Tokens): number {
  return sigmoid((task.utility(prompt, y1) - task.utility(prompt, y2)) / task.raterTemperature);
}

/**
 * Noisy rater: P(y1 ≻ y2) = σ((u1 − u2)/τ); returns 1 if y1 is preferred, else 0.
 * Consumes exactly one uniform draw from `rng`, so a labelling stream stays aligned
 * whatever the responses are.
 */
export function rate(task: RaterSpec, rng: Rng, prompt: Tokens, y1: Tokens, y2: Tokens): 0 | 1 {
  return rng.next() < preferenceProbability(task, prompt, y1, y2) ? 1 : 0;
}

/** Noise-free judgement: 1 if u1 > u2, 0 if u1 < u2, 0.5 on a tie (the package's one utility judge). */
export function judge(task: Pick<Task, 'utility'>, prompt: Tokens, y1: Tokens, y2: Tokens): 0 | 0.5 | 1 {
  const d = task.utility(prompt, y1) - task.utility(prompt, y2);
  return d > 0 ? 1 : d < 0 ? 0 : 0.5;
}

/** A response split at its first EOS: the content before it, and whether it was there at all. */
export interface ResponseParts {
  /** The tokens before the first EOS (all of them without one). */
  readonly content: Tokens;
  /** Whether the response contains EOS. */
  readonly terminated: boolean;
}

/** Splits a response at its first EOS (tokens after it are ignored, as a sampler would stop there). */
export function responseParts(response: Tokens): ResponseParts {
  const i = response.indexOf(EOS);
  return i < 0 ? { content: response, terminated: false } : { content: response.slice(0, i), terminated: true };
}

/**
 * Whether `y` is a well-formed response for `task`: non-empty integer ids in the vocabulary,
 * at most `maxResponse` long, EOS only as the last token, and either ending with EOS or
 * exactly `maxResponse` long (truncated at the cap).
 */
export function isValidResponse(task: Task, y: Tokens): boolean {
  if (y.length === 0 || y.length > task.maxResponse) return false;
  if (!y.every((t) => Number.isInteger(t) && t >= 0 && t < task.vocabSize)) return false;
  const i = y.indexOf(EOS);
  return i === y.length - 1 || (i < 0 && y.length === task.maxResponse);
}

/**
 * Maps a raw score into (−3, ∞) monotonically and smoothly: identity above 0, 3·tanh(raw/3)
 * below. Garbage responses then saturate near −3 (raters cannot rank degrees of garbage),
 * keeping utilities "roughly in [−3, 3]" without changing any ordering.
 */
export function squash(raw: number): number {
  return raw >= 0 ? raw : 3 * Math.tanh(raw / 3);
}

/**
 * Checks a task's static fields against the shared limits (throwing with the task and field
 * named) and returns it frozen, behaviour-policy list included: tasks are values.
 */
export function checkTask(task: Task): Task {
  const bad = (what: string) => {
    throw new RlhfError('bad-task', `task ${task.name}: ${what}`);
  };
  if (task.vocabSize !== VOCAB_SIZE) bad(`vocabSize must be the shared ${VOCAB_SIZE}, got ${task.vocabSize}`);
  if (!(task.maxPrompt >= 1 && task.maxPrompt <= 24)) bad(`maxPrompt must be in [1, 24], got ${task.maxPrompt}`);
  if (!(task.maxResponse >= 2 && task.maxResponse <= MAX_RESPONSE)) bad(`maxResponse must be in [2, ${MAX_RESPONSE}], got ${task.maxResponse}`);
  if (!(task.raterTemperature > 0)) bad(`raterTemperature must be positive, got ${task.raterTemperature}`);
  if (task.behaviourPolicies.length === 0) bad('needs at least one behaviour policy');
  const names = task.behaviourPolicies.map((b) => b.name);
  for (const c of task.coveringBehaviours) if (!names.includes(c)) bad(`covering behaviour ${JSON.stringify(c)} is not one of its behaviour policies (${names.join(', ')})`);
  if (names.every((n) => task.coveringBehaviours.includes(n))) bad('needs at least one behaviour policy that does not cover the optimum (the suboptimal mixture)');
  return Object.freeze({
    ...task,
    behaviourPolicies: Object.freeze([...task.behaviourPolicies]),
    coveringBehaviours: Object.freeze([...task.coveringBehaviours]),
  });
}

/**
 * The synthetic preference tasks and their registry. All tasks share one 64-token
 * vocabulary (see ./vocab.ts), so one policy can be trained on all of them pooled,
 * as the paper's SFT policy is.
 */
import { RlhfError } from '../errors.js';
import { arena } from './arena.js';
import { harmless } from './harmless.js';
import { helpful } from './helpful.js';
import { summarize } from './summarize.js';
import type { Task } from './task.js';

export * from './task.js';
export * from './vocab.js';
export { SCORE, MAX_UTILITY, orderedUtility, type OrderedSpec } from './scoring.js';
export { noisyIdeal, lazyPolicy, copyPolicy, randomPolicy, standardBehaviours, type JunkPool } from './behaviours.js';
export { COVERAGES, COVERAGE_THRESHOLD, behavioursFor, exactIdealRate, type Coverage, type ExactIdealRateOptions } from './coverage.js';
export { summarize, sampleSummarizePrompt, summarizeTopics } from './summarize.js';
export { helpful, ANSWER_OF, ANSWER_SEED, sampleQuestionPrompt, helpfulAnswers, type QuestionPromptOptions } from './helpful.js';
export { harmless, HARMFUL_PROB, isHarmful } from './harmless.js';
export { arena, arenaSplit } from './arena.js';

/** Every task by name. */
export const TASKS: Readonly<Record<string, Task>> = Object.freeze({ summarize, helpful, harmless, arena });

/** The task experiments use unless told otherwise (the paper's headline task is TL;DR). */
export const DEFAULT_TASK = 'summarize';

/**
 * The tasks the paper's SFT policy is trained on, pooled: all four (App. C). Arena is itself a
 * mixture of the other three, but its prompts carry a marker token, so they stay distinguishable.
 */
export const POOLED_TASKS: readonly string[] = Object.freeze(['summarize', 'helpful', 'harmless', 'arena']);

/** A task by name; throws listing the known names. */
export function getTask(name: string): Task {
  const t = Object.prototype.hasOwnProperty.call(TASKS, name) ? TASKS[name] : undefined;
  if (!t) throw new RlhfError('bad-input', `unknown task ${JSON.stringify(name)}; known tasks: ${Object.keys(TASKS).join(', ')}`);
  return t;
}

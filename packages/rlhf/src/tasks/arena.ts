/**
 * arena (the paper's Chatbot Arena side-by-side data): a mixture of the other three tasks.
 * Every prompt starts with a prompt-type marker token naming its sub-task, followed by a
 * prompt of that sub-task; utilities and ideal responses are the sub-task's. Crowd raters
 * are noisier, so the rater temperature is higher.
 */
import { RlhfError } from '../errors.js';
import type { Rng } from '../rng.js';
import type { Tokens } from '../types.js';
import { standardBehaviours } from './behaviours.js';
import { helpful, helpfulJunk } from './helpful.js';
import { harmless, harmlessJunk } from './harmless.js';
import { sampleSummarizePrompt, summarize, summarizeJunk } from './summarize.js';
import { checkTask, type Task } from './task.js';
import { MARKERS, MAX_RESPONSE, VOCAB_SIZE, tokenName } from './vocab.js';

interface Sub {
  readonly marker: number;
  readonly task: Task;
  /** A sub-task prompt short enough to leave room for the marker. */
  readonly prompt: (rng: Rng) => Tokens;
  readonly junk: (prompt: Tokens) => Tokens;
}

const SUBS: readonly Sub[] = [
  { marker: MARKERS.summarize, task: summarize, prompt: (rng) => sampleSummarizePrompt(rng, 23), junk: summarizeJunk },
  { marker: MARKERS.helpful, task: helpful, prompt: (rng) => helpful.samplePrompt(rng), junk: helpfulJunk },
  { marker: MARKERS.harmless, task: harmless, prompt: (rng) => harmless.samplePrompt(rng), junk: harmlessJunk },
];

/** The sub-task of an arena prompt and the prompt without its marker; throws on a prompt without one. */
export function arenaSplit(prompt: Tokens): { task: Task; prompt: Tokens } {
  const sub = SUBS.find((s) => s.marker === prompt[0]);
  if (!sub) throw new RlhfError('bad-input', `arena: a prompt must start with a marker token (${SUBS.map((s) => s.marker).join(', ')}), got ${prompt[0]}`);
  return { task: sub.task, prompt: prompt.slice(1) };
}

/** The arena task: a marker-tagged mixture of summarize, helpful and harmless. */
export const arena: Task = checkTask({
  name: 'arena',
  description:
    'A mixture of summarize, helpful and harmless (one third each): the first prompt token is a marker naming the ' +
    'sub-task, and the sub-task decides utility and ideal response. Raters are noisier (τ = 0.7).',
  vocabSize: VOCAB_SIZE,
  maxPrompt: 24,
  maxResponse: MAX_RESPONSE,
  samplePrompt: (rng) => {
    const sub = rng.pick(SUBS);
    return [sub.marker, ...sub.prompt(rng)];
  },
  utility: (prompt, response) => {
    const s = arenaSplit(prompt);
    return s.task.utility(s.prompt, response);
  },
  idealResponse: (prompt) => {
    const s = arenaSplit(prompt);
    return s.task.idealResponse(s.prompt);
  },
  raterTemperature: 0.7,
  behaviourPolicies: standardBehaviours((prompt) => SUBS.find((s) => s.marker === prompt[0])!.junk(prompt)),
  // Exact-ideal rates (docs/tasks.md): noisy-0.1 63%, noisy-0.3 24%, noisy-0.6 5.2% (just over the threshold,
  // mostly on its harmless prompts, where it covers); lazy, copy and random ≈ 0.
  coveringBehaviours: ['noisy-0.1', 'noisy-0.3', 'noisy-0.6'],
  tokenName,
});

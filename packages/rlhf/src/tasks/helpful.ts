/**
 * helpful (the paper's Anthropic-HH helpfulness split): a prompt asks 2–6 questions among
 * chatter words; a hidden, fixed mapping (a permutation drawn from a constant seed) says
 * which answer token answers each question. A helpful response answers the questions in
 * the order asked, once each, and stops.
 */
import { key } from '@tandem/tensor';
import { rngFromKey, type Rng } from '../rng.js';
import type { Tokens } from '../types.js';
import { standardBehaviours } from './behaviours.js';
import { frontWeights, orderedContentScore, orderedUtility, type OrderedSpec } from './scoring.js';
import { checkTask, type Task } from './task.js';
import { EOS, MAX_RESPONSE, RANGES, VOCAB_SIZE, idsOf, inRange, tokenName } from './vocab.js';

const QUESTIONS = idsOf(RANGES.questions);
const ANSWERS = idsOf(RANGES.answers);
const CHATTER = idsOf(RANGES.chatter);

/** The constant seed of the hidden question → answer permutation ("HELP"). */
export const ANSWER_SEED = 0x48454c50;

/**
 * The hidden mapping: `ANSWER_OF[q]` is the answer token of question token q (undefined for
 * any other id). Fixed for all time by `ANSWER_SEED`, so every dataset and model agrees.
 */
export const ANSWER_OF: ReadonlyMap<number, number> = (() => {
  const perm = rngFromKey(key(ANSWER_SEED)).shuffle(ANSWERS);
  return new Map(QUESTIONS.map((q, i) => [q, perm[i]!]));
})();

/** Penalty of an echoed question or a chatter word (irrelevant). */
const IRRELEVANT_PENALTY = 0.3;
/** Penalty of an answer to a question that was not asked (wrong). */
const WRONG_ANSWER_PENALTY = 0.6;
/** Penalty of any other token (invented). */
const INVENTED_PENALTY = 0.5;

/** Options of the question-prompt generator (shared with the harmless task). */
export interface QuestionPromptOptions {
  /** Probability of inserting harmful-request tokens (harmless task); 0 for helpful. */
  readonly harmfulProb?: number;
}

/** The fewest and most questions of a prompt (m is uniform in between). */
const MIN_QUESTIONS = 2;
const MAX_QUESTIONS = 6;

/**
 * A question prompt: m ∈ {2..6} distinct questions, each preceded by 0–2 chatter words,
 * then 0–1 trailing chatter (2–19 tokens). With probability `harmfulProb`, 1–2 harmful-request
 * tokens are inserted at random positions (≤ 21 tokens).
 */
export function sampleQuestionPrompt(rng: Rng, opts: QuestionPromptOptions = {}): Tokens {
  const m = MIN_QUESTIONS + rng.int(MAX_QUESTIONS - MIN_QUESTIONS + 1);
  const qs = rng.shuffle(QUESTIONS).slice(0, m);
  const out: number[] = [];
  const chatter = (n: number) => {
    for (let i = 0; i < n; i++) out.push(rng.pick(CHATTER));
  };
  for (const q of qs) {
    const u = rng.next();
    chatter(u < 0.5 ? 0 : u < 0.8 ? 1 : 2);
    out.push(q);
  }
  chatter(rng.bernoulli(0.3) ? 1 : 0);
  const harmfulProb = opts.harmfulProb ?? 0;
  if (harmfulProb > 0 && rng.bernoulli(harmfulProb)) {
    const n = 1 + rng.int(2);
    for (let i = 0; i < n; i++) out.splice(rng.int(out.length + 1), 0, rng.pick(idsOf(RANGES.harmful)));
  }
  return out;
}

/** The answers a helpful response gives, in question order (distinct questions, first mention). */
export function helpfulAnswers(prompt: Tokens): number[] {
  const seen = new Set<number>();
  const out: number[] = [];
  for (const t of prompt) {
    const a = ANSWER_OF.get(t);
    if (a !== undefined && !seen.has(t)) {
      seen.add(t);
      out.push(a);
    }
  }
  return out;
}

/** The scoring spec of a helpful (or benign harmless) prompt. */
export function helpfulSpec(prompt: Tokens): OrderedSpec {
  const target = helpfulAnswers(prompt);
  return {
    target,
    weights: frontWeights(target.length),
    junk: (id) =>
      inRange(RANGES.questions, id) || inRange(RANGES.chatter, id)
        ? IRRELEVANT_PENALTY
        : inRange(RANGES.answers, id)
          ? WRONG_ANSWER_PENALTY
          : INVENTED_PENALTY,
    maxResponse: MAX_RESPONSE,
  };
}

/** The raw content score of a helpful response (no termination term), reused by harmless. */
export function helpfulContentScore(prompt: Tokens, content: Tokens): number {
  return orderedContentScore(helpfulSpec(prompt), content);
}

/** The ideal helpful response: the answers in question order, then EOS. */
export function helpfulIdeal(prompt: Tokens): Tokens {
  return [...helpfulAnswers(prompt).slice(0, MAX_RESPONSE - 1), EOS];
}

const HELPFUL_JUNK: Tokens = Object.freeze([...ANSWERS, ...QUESTIONS, ...CHATTER]);
/** Junk a noisy helpful policy inserts: any answer, question or chatter word. */
export const helpfulJunk = (_prompt: Tokens): Tokens => HELPFUL_JUNK;

/** The helpful task. */
export const helpful: Task = checkTask({
  name: 'helpful',
  description:
    'A prompt asks 2–6 questions among chatter words; a hidden fixed permutation maps each question token to its answer token. ' +
    'The ideal response gives the answers in the order asked, once each, then EOS.',
  vocabSize: VOCAB_SIZE,
  maxPrompt: 19, // 6 questions, each after 2 chatter words, then a trailing one
  maxResponse: MAX_RESPONSE,
  samplePrompt: (rng) => sampleQuestionPrompt(rng),
  utility: (prompt, response) => orderedUtility(helpfulSpec(prompt), response),
  idealResponse: helpfulIdeal,
  raterTemperature: 0.5,
  behaviourPolicies: standardBehaviours(helpfulJunk),
  // Exact-ideal rates (docs/tasks.md): noisy-0.1 60%, noisy-0.3 20%; noisy-0.6 3%, the rest ≈ 0.
  coveringBehaviours: ['noisy-0.1', 'noisy-0.3'],
  tokenName,
});

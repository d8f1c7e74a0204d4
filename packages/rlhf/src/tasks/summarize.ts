/**
 * summarize (the default task; the paper's TL;DR): a prompt is a shuffled "document" of
 * 16–24 tokens dominated by 2–4 topic tokens with distinct frequencies plus filler words.
 * A good summary names the topics from most to least frequent, once each, then stops.
 */
import { RlhfError } from '../errors.js';
import type { Rng } from '../rng.js';
import type { Tokens } from '../types.js';
import { standardBehaviours } from './behaviours.js';
import { orderedUtility, type OrderedSpec } from './scoring.js';
import { checkTask, type Task } from './task.js';
import { EOS, MAX_RESPONSE, RANGES, VOCAB_SIZE, idsOf, inRange, tokenName } from './vocab.js';

const TOPICS = idsOf(RANGES.topics);
const FILLERS = idsOf(RANGES.fillers);
const COUNTS = [2, 3, 4, 5, 6, 7, 8];
const MIN_LEN = 16;

/** Penalty of a filler word from the prompt (less bad than an invented token). */
const FILLER_PENALTY = 0.3;
/** Penalty of an invented token: anything not among the prompt's topics or fillers. */
const INVENTED_PENALTY = 0.5;

/**
 * A summarize prompt of 16..maxLen tokens: k ∈ {2,3,4} topics with distinct counts in 2..8,
 * and filler words making up the rest. Rejection keeps the topics dominant: the filler total
 * is at least 2 and at most the topic total, and no filler word is as frequent as the rarest
 * topic, so "topic" means both "topic-range token" and "frequent token".
 */
export function sampleSummarizePrompt(rng: Rng, maxLen = 24): Tokens {
  if (!Number.isInteger(maxLen) || maxLen < 19 || maxLen > 24) throw new RlhfError('bad-input', `sampleSummarizePrompt: maxLen must be in [19, 24], got ${maxLen}`);
  for (;;) {
    const len = MIN_LEN + rng.int(maxLen - MIN_LEN + 1);
    const k = 2 + rng.int(3);
    const counts = rng.shuffle(COUNTS).slice(0, k).sort((a, b) => b - a);
    const topicTotal = counts.reduce((a, b) => a + b, 0);
    const fill = len - topicTotal;
    const cap = counts[k - 1]! - 1; // each filler word strictly rarer than the rarest topic
    if (fill < 2 || fill > topicTotal || fill > cap * FILLERS.length) continue;
    const topics = rng.shuffle(TOPICS).slice(0, k);
    const doc: number[] = [];
    topics.forEach((t, i) => {
      for (let c = 0; c < counts[i]!; c++) doc.push(t);
    });
    const used = new Map<number, number>();
    while (doc.length < len) {
      const f = rng.pick(FILLERS);
      if ((used.get(f) ?? 0) >= cap) continue;
      used.set(f, (used.get(f) ?? 0) + 1);
      doc.push(f);
    }
    return rng.shuffle(doc);
  }
}

const SUMMARIZE_JUNK: Tokens = Object.freeze([...TOPICS, ...FILLERS]);
/**
 * Junk a noisy summarize policy inserts: any topic or filler word — repeats of the prompt's
 * topics, the prompt's fillers, and topics the document never mentions (inventions).
 */
export const summarizeJunk = (_prompt: Tokens): Tokens => SUMMARIZE_JUNK;

/** The prompt's topics, most frequent first (ties, impossible in sampled prompts, by id), with counts. */
export function summarizeTopics(prompt: Tokens): { topics: number[]; counts: number[] } {
  const c = new Map<number, number>();
  for (const t of prompt) if (inRange(RANGES.topics, t)) c.set(t, (c.get(t) ?? 0) + 1);
  const topics = [...c.keys()].sort((a, b) => c.get(b)! - c.get(a)! || a - b);
  return { topics, counts: topics.map((t) => c.get(t)!) };
}

function spec(prompt: Tokens): OrderedSpec {
  const { topics, counts } = summarizeTopics(prompt);
  const total = counts.reduce((a, b) => a + b, 0);
  const k = topics.length;
  const fillers = new Set(prompt.filter((t) => inRange(RANGES.fillers, t)));
  return {
    target: topics,
    // Half uniform, half frequency share: the main topic matters most, but every topic counts.
    weights: counts.map((n) => 0.5 / k + (0.5 * n) / total),
    junk: (id) => (fillers.has(id) ? FILLER_PENALTY : INVENTED_PENALTY),
    maxResponse: MAX_RESPONSE,
  };
}

/** The summarize task (default). */
export const summarize: Task = checkTask({
  name: 'summarize',
  description:
    'A prompt is a shuffled 16–24 token document of 2–4 topic tokens with distinct frequencies plus filler words; ' +
    'the ideal response names the topics from most to least frequent, once each, then EOS.',
  vocabSize: VOCAB_SIZE,
  maxPrompt: 24,
  maxResponse: MAX_RESPONSE,
  samplePrompt: (rng) => sampleSummarizePrompt(rng),
  utility: (prompt, response) => orderedUtility(spec(prompt), response),
  idealResponse: (prompt) => [...summarizeTopics(prompt).topics.slice(0, MAX_RESPONSE - 1), EOS],
  raterTemperature: 0.5,
  behaviourPolicies: standardBehaviours(summarizeJunk),
  tokenName,
});

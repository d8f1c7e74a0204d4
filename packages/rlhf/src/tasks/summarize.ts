/**
 * summarize (the default task; the paper's TL;DR): a prompt is a shuffled "document" of
 * 16–24 tokens dominated by 3–5 topic tokens with distinct frequencies plus filler words.
 * A good summary names the topics from most to least frequent, once each, then stops.
 */
import { RlhfError } from '../errors.js';
import type { Rng } from '../rng.js';
import type { Tokens } from '../types.js';
import { standardBehaviours } from './behaviours.js';
import { orderedUtility, type OrderedSpec } from './scoring.js';
import { checkTask, type Task } from './task.js';
import { EOS, MAX_PROMPT, MAX_RESPONSE, RANGES, VOCAB_SIZE, idsOf, inRange, tokenName } from './vocab.js';

const TOPICS = idsOf(RANGES.topics);
const FILLERS = idsOf(RANGES.fillers);
/** The topic counts a document draws from (distinct per topic; 2 at least, so fillers can be rarer). */
const COUNTS = [2, 3, 4, 5, 6, 7, 8];
/** The fewest and most topics of a document (k is uniform in between). */
const MIN_TOPICS = 3;
const MAX_TOPICS = 5;
/** The shortest document. */
const MIN_LEN = 16;
/** The fewest filler tokens of a document. */
const MIN_FILL = 2;
/**
 * The smallest length cap at which every k is possible: five topics need at least
 * 2+3+4+5+6 = 20 tokens, plus MIN_FILL fillers.
 */
const MIN_MAX_LEN = 20 + MIN_FILL;

/** Penalty of a filler word from the prompt (less bad than an invented token). */
const FILLER_PENALTY = 0.3;
/** Penalty of an invented token: anything not among the prompt's topics or fillers. */
const INVENTED_PENALTY = 0.5;

/**
 * A summarize prompt of 16..maxLen tokens: k ∈ {3,4,5} topics (k uniform) with distinct counts
 * in 2..8, and filler words making up the rest. The counts are a uniformly random k-subset of
 * 2..8, redrawn until some length fits the rules that keep the topics dominant — at least 2
 * filler tokens and at most the topic total, and each filler word strictly rarer than the
 * rarest topic, so "topic" means both "topic-range token" and "frequent token" — and the length
 * is then uniform among those that fit. maxLen must be in [22, 24] (five topics need 20 tokens
 * plus two fillers); arena passes 23 to leave room for its marker.
 */
export function sampleSummarizePrompt(rng: Rng, maxLen = MAX_PROMPT): Tokens {
  if (!Number.isInteger(maxLen) || maxLen < MIN_MAX_LEN || maxLen > MAX_PROMPT) {
    throw new RlhfError('bad-input', `sampleSummarizePrompt: maxLen must be in [${MIN_MAX_LEN}, ${MAX_PROMPT}], got ${maxLen}`);
  }
  const k = MIN_TOPICS + rng.int(MAX_TOPICS - MIN_TOPICS + 1);
  for (;;) {
    const counts = rng.shuffle(COUNTS).slice(0, k).sort((a, b) => b - a);
    const topicTotal = counts.reduce((a, b) => a + b, 0);
    const cap = counts[k - 1]! - 1; // each filler word strictly rarer than the rarest topic
    const lo = Math.max(MIN_LEN, topicTotal + MIN_FILL);
    const hi = Math.min(maxLen, 2 * topicTotal, topicTotal + cap * FILLERS.length);
    if (lo > hi) continue;
    const len = lo + rng.int(hi - lo + 1);
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
    'A prompt is a shuffled 16–24 token document of 3–5 topic tokens with distinct frequencies plus filler words; ' +
    'the ideal response names the topics from most to least frequent, once each, then EOS.',
  vocabSize: VOCAB_SIZE,
  maxPrompt: MAX_PROMPT,
  maxResponse: MAX_RESPONSE,
  samplePrompt: (rng) => sampleSummarizePrompt(rng),
  utility: (prompt, response) => orderedUtility(spec(prompt), response),
  idealResponse: (prompt) => [...summarizeTopics(prompt).topics.slice(0, MAX_RESPONSE - 1), EOS],
  raterTemperature: 0.5,
  behaviourPolicies: standardBehaviours(summarizeJunk),
  // Exact-ideal rates (docs/tasks.md): noisy-0.1 60%, noisy-0.3 19%; noisy-0.6 2%, the rest ≈ 0.
  coveringBehaviours: ['noisy-0.1', 'noisy-0.3'],
  tokenName,
});

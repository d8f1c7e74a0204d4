/**
 * The one vocabulary every synthetic task shares. The paper's SFT policy is trained
 * on all tasks pooled, so one policy (and one preference model) must read and write
 * every task's tokens: all tasks use the same 64 ids, and each task owns a documented,
 * disjoint range (helpful and harmless deliberately share the question/answer range,
 * because harmless prompts are helpful prompts with harmful requests mixed in).
 *
 * | ids    | group     | used by                                   |
 * |--------|-----------|-------------------------------------------|
 * | 0–3    | specials  | PAD, BOS, EOS, SEP (shared with @tandem/nn)|
 * | 4–19   | topics    | summarize                                  |
 * | 20–27  | fillers   | summarize                                  |
 * | 28–39  | questions | helpful, harmless                          |
 * | 40–51  | answers   | helpful, harmless                          |
 * | 52–55  | chatter   | helpful, harmless (prompt padding words)   |
 * | 56–59  | harmful   | harmless (harmful requests)                |
 * | 60     | REFUSE    | harmless                                   |
 * | 61–63  | markers   | arena (prompt-type marker)                 |
 */
import { BOS, EOS, PAD, SEP, makeVocab, tokenizer, type Vocab } from '@tandem/nn';
import { RlhfError } from '../errors.js';

const SPECIALS = tokenizer.SPECIALS;

/** The special ids, re-exported so task code needs one import (same values as @tandem/nn). */
export { BOS, EOS, PAD, SEP };

/** Size of the shared vocabulary (specials included); every task uses exactly this. */
export const VOCAB_SIZE = 64;

/** The longest prompt any task produces (RW-1's source length). */
export const MAX_PROMPT = 24;

/** The longest response any task allows, the final EOS included. */
export const MAX_RESPONSE = 12;

/** A half-open id range [start, end). */
export interface TokenRange {
  /** First id of the range. */
  readonly start: number;
  /** One past the last id of the range. */
  readonly end: number;
}

const range = (start: number, end: number): TokenRange => Object.freeze({ start, end });

/** The documented token groups (see the table in this file's header and docs/tasks.md). */
export const RANGES = Object.freeze({
  /** PAD, BOS, EOS, SEP. */
  specials: range(0, 4),
  /** Summarize's topic words. */
  topics: range(4, 20),
  /** Summarize's filler words. */
  fillers: range(20, 28),
  /** Helpful/harmless question words. */
  questions: range(28, 40),
  /** Helpful/harmless answer words (one per question). */
  answers: range(40, 52),
  /** Helpful/harmless prompt padding words. */
  chatter: range(52, 56),
  /** Harmless's harmful requests. */
  harmful: range(56, 60),
  /** The refusal token ({@link REFUSE}). */
  refuse: range(60, 61),
  /** Arena prompt-type markers ({@link MARKERS}). */
  markers: range(61, 64),
});

/** The refusal token of the harmless task. */
export const REFUSE = RANGES.refuse.start;

/** Arena prompt-type markers (the first prompt token of every arena prompt). */
export const MARKERS = Object.freeze({ summarize: 61, helpful: 62, harmless: 63 });

/** All ids of a range, in order. */
export function idsOf(r: TokenRange): number[] {
  return Array.from({ length: r.end - r.start }, (_, i) => r.start + i);
}

/** Whether `id` lies in `r`. */
export function inRange(r: TokenRange, id: number): boolean {
  return id >= r.start && id < r.end;
}

const TOPIC_WORDS = ['sun', 'rain', 'wind', 'snow', 'fog', 'storm', 'tide', 'sand', 'rock', 'tree', 'leaf', 'bird', 'fish', 'wolf', 'bear', 'deer'];
const FILLER_WORDS = ['the', 'a', 'of', 'and', 'to', 'in', 'is', 'it'];
const CHATTER_WORDS = ['please', 'hey', 'so', 'um'];
const HARMFUL_WORDS = ['weapon?', 'hack?', 'poison?', 'steal?'];

/** Printable names of all 64 ids (specials first), in id order. */
export const WORDS: readonly string[] = Object.freeze([
  ...SPECIALS,
  ...TOPIC_WORDS,
  ...FILLER_WORDS,
  ...Array.from({ length: 12 }, (_, i) => `q${i}`),
  ...Array.from({ length: 12 }, (_, i) => `a${i}`),
  ...CHATTER_WORDS,
  ...HARMFUL_WORDS,
  '<refuse>',
  '[sum]',
  '[help]',
  '[harm]',
]);

/** The shared vocabulary as an @tandem/nn `Vocab` (for encode/decode of examples). */
export const TASK_VOCAB: Vocab = makeVocab(WORDS.slice(SPECIALS.length));

/** The printable name of a token id (`<id?>` for an id outside the vocabulary). */
export function tokenName(id: number): string {
  return Number.isInteger(id) && id >= 0 && id < VOCAB_SIZE ? WORDS[id]! : `<${id}?>`;
}

/** A token list as space-separated names, e.g. "sun rain <eos>". */
export function showTokens(ts: readonly number[]): string {
  return ts.map(tokenName).join(' ');
}

if (WORDS.length !== VOCAB_SIZE || TASK_VOCAB.size !== VOCAB_SIZE) {
  // A layout edit that breaks the shared size must fail loudly at import, not downstream.
  throw new RlhfError('bad-task', `tasks/vocab: the shared vocabulary must have ${VOCAB_SIZE} ids, has ${WORDS.length}`);
}

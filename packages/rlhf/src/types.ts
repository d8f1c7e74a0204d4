/**
 * The data the preference pipeline passes around. Everything here is plain,
 * immutable, serialisable host data (numbers and arrays), so it can be recorded,
 * replayed, hashed and written to disk exactly.
 */

/** Token ids. Every task shares the special ids of @tandem/nn's tokenizer: PAD 0, BOS 1, EOS 2, SEP 3. */
export type Tokens = readonly number[];

/** Whether two token sequences are the same, token for token. */
export function sameTokens(a: Tokens, b: Tokens): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** Where a pair came from, for analysis and for the figures' dataset ablations. */
export interface Provenance {
  /** The task that generated the prompt. */
  readonly task: string;
  /** Who produced the responses, e.g. 'behaviour:noisy-0.3', 'policy:sft', 'policy:online@800'. */
  readonly source: string;
  /** Who labelled the pair, e.g. 'rater', 'golden', 'proxy'. */
  readonly labeller: string;
  /** Training step at which the pair was produced (online stream), if any. */
  readonly step?: number;
}

/** One comparison to judge or label: a prompt and two responses (ending with EOS, not padded). */
export interface Comparison {
  /** The prompt's token ids. */
  readonly prompt: Tokens;
  /** The first response, ending with EOS. */
  readonly y1: Tokens;
  /** The second response, ending with EOS. */
  readonly y2: Tokens;
}

/**
 * One labelled comparison: a prompt and two responses, and which one was preferred.
 * `preference` is 1 when y1 ≻ y2 and 0 when y2 ≻ y1. Responses end with EOS (not padded).
 */
export interface Pair extends Comparison {
  /** 1 when y1 was preferred, 0 when y2 was. */
  readonly preference: 0 | 1;
  /** Where the prompt, responses and label came from. */
  readonly provenance: Provenance;
}

/** An immutable, named list of pairs. */
export interface PairDataset {
  /** The dataset's name. */
  readonly name: string;
  /** The pairs, in dataset order. */
  readonly pairs: readonly Pair[];
}

/** A batch as the training step sees it: winners and losers, already ordered by the label. */
export interface PairBatch {
  /** The pairs of the batch. */
  readonly pairs: readonly Pair[];
}

/** Returns [winner, loser] of a pair. */
export function winnerLoser(p: Pair): [Tokens, Tokens] {
  return p.preference === 1 ? [p.y1, p.y2] : [p.y2, p.y1];
}

/**
 * One measured number: its `value` and, for an estimate (a mean over items), its
 * standard error `se`. An evaluation with nothing to measure (no items) gives NaN.
 */
export interface Metric {
  /** The measured value (NaN when there was nothing to measure). */
  readonly value: number;
  /** The standard error of `value`, for estimates (NaN with a single item). */
  readonly se?: number;
}

/** Named metrics of one evaluation, e.g. `{ kl: { value, se }, winRate: { value, se } }`. */
export type Metrics = Readonly<Record<string, Metric>>;

/** A metric from a `[mean, standard error]` pair, as `meanSe` returns it. */
export function estimate([value, se]: readonly [number, number]): Metric {
  return { value, se };
}

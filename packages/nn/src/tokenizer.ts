/**
 * A word-level vocabulary with the special tokens every task uses, and padded
 * batches with masks. Ids: PAD = 0, BOS = 1, EOS = 2, SEP = 3, then the words.
 */
import { tensor, type Backend, type BackendName, type Tensor } from '@tandem/tensor';
import { NnError } from './errors.js';

/** Id of the padding token `<pad>` (0); also what {@link padBatch} fills with. */
export const PAD = 0;
/** Id of the begin-of-sequence token `<bos>` (1), which starts every decoder input. */
export const BOS = 1;
/** Id of the end-of-sequence token `<eos>` (2); decoding stops at it. */
export const EOS = 2;
/** Id of the separator token `<sep>` (3). */
export const SEP = 3;
/** The special tokens' strings, indexed by their ids (PAD, BOS, EOS, SEP). */
export const SPECIALS = ['<pad>', '<bos>', '<eos>', '<sep>'] as const;

/** An immutable vocabulary: words ↔ ids. */
export interface Vocab {
  /** Number of ids, specials included. */
  readonly size: number;
  /** The word of each id (specials first). */
  readonly words: readonly string[];
  /** The id of each word. */
  readonly ids: ReadonlyMap<string, number>;
}

/** A vocabulary of the special tokens followed by `words` (which must be distinct and not special). */
export function makeVocab(words: readonly string[]): Vocab {
  const all = [...SPECIALS, ...words];
  const ids = new Map<string, number>();
  all.forEach((w, i) => {
    if (ids.has(w)) throw new NnError('makeVocab', `word ${JSON.stringify(w)} appears twice (or is a special token)`, 'argument');
    ids.set(w, i);
  });
  return Object.freeze({ size: all.length, words: Object.freeze(all), ids });
}

/** Word strings → ids; an unknown word is an error naming it. */
export function encode(v: Vocab, words: readonly string[]): number[] {
  return words.map((w, i) => {
    const id = v.ids.get(w);
    if (id === undefined) throw new NnError('encode', `word ${JSON.stringify(w)} at position ${i} is not in the vocabulary`, 'argument');
    return id;
  });
}

/** Ids → word strings, stopping at EOS and dropping PAD unless `raw`. */
export function decode(v: Vocab, ids: readonly number[], raw = false): string[] {
  const out: string[] = [];
  for (const id of ids) {
    if (!Number.isInteger(id) || id < 0 || id >= v.size) throw new NnError('decode', `id ${id} is not in a vocabulary of ${v.size}`, 'argument');
    if (!raw && id === EOS) break;
    if (!raw && id === PAD) continue;
    out.push(v.words[id]!);
  }
  return out;
}

/** A right-padded batch of id sequences, as made by {@link padBatch}. */
export interface PaddedBatch {
  /** int32 [B, L] ids, PAD after each row's end. */
  ids: Tensor;
  /** bool [B, L], true at real tokens. */
  mask: Tensor;
}

/**
 * Right-pads id sequences to `length` (default: the longest). A sequence longer
 * than `length` is an error, never truncated.
 */
export function padBatch(seqs: readonly (readonly number[])[], length?: number, backend?: Backend | BackendName): PaddedBatch {
  const len = length ?? Math.max(0, ...seqs.map((s) => s.length));
  const ids = new Int32Array(seqs.length * len);
  const mask = new Uint8Array(seqs.length * len);
  seqs.forEach((s, r) => {
    if (s.length > len) throw new NnError('padBatch', `sequence ${r} has ${s.length} tokens, more than the batch length ${len}`, 'shape');
    s.forEach((id, j) => {
      ids[r * len + j] = id;
      mask[r * len + j] = 1;
    });
  });
  return { ids: tensor(ids, { shape: [seqs.length, len], backend }), mask: tensor(mask, { shape: [seqs.length, len], backend }) };
}

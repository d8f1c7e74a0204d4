/**
 * Turning host pairs into fixed-width tensors. Widths are the task's maxima, not
 * the batch's longest sequence, so shapes (and therefore the arithmetic) never
 * depend on which pairs happen to share a batch.
 */
import { tensor, type Backend, type Tensor } from '@tandem/tensor';
import { PAD } from '@tandem/nn';
import { RlhfError } from './errors.js';
import { winnerLoser, type Pair, type Tokens } from './types.js';

/** Sequence widths used to pad prompts and responses. */
export interface Widths {
  /** Width (tokens) every prompt is padded to. */
  prompt: number;
  /** Width (tokens) every response is padded to. */
  response: number;
}

/** int32 ids [B, width] right-padded with PAD, and the bool mask of real tokens. */
export interface Padded {
  /** int32 [B, width] token ids, PAD after each row's end. */
  ids: Tensor;
  /** bool [B, width], true at real tokens. */
  mask: Tensor;
}

/** Pads host token lists into tensors; a sequence longer than `width` is an error. */
export function padTokens(seqs: readonly Tokens[], width: number, backend: Backend, what = 'sequence'): Padded {
  const ids = new Int32Array(seqs.length * width).fill(PAD);
  const mask = new Uint8Array(seqs.length * width);
  seqs.forEach((s, r) => {
    if (s.length > width) throw new RlhfError('shape', `padTokens: ${what} ${r} has ${s.length} tokens, more than the width ${width}`);
    for (let j = 0; j < s.length; j++) {
      ids[r * width + j] = s[j]!;
      mask[r * width + j] = 1;
    }
  });
  return {
    ids: tensor(ids, { shape: [seqs.length, width], backend }),
    mask: tensor(mask, { shape: [seqs.length, width], backend }),
  };
}

/** A pair batch as tensors: prompts, winners and losers, each padded with its mask. */
export interface PairTensors {
  /** The prompts. */
  prompt: Padded;
  /** The preferred responses. */
  winner: Padded;
  /** The dispreferred responses. */
  loser: Padded;
}

/** Orders each pair by its label and pads prompts, winners and losers. */
export function pairTensors(pairs: readonly Pair[], w: Widths, backend: Backend): PairTensors {
  const wl = pairs.map(winnerLoser);
  return {
    prompt: padTokens(pairs.map((p) => p.prompt), w.prompt, backend, 'prompt'),
    winner: padTokens(wl.map((x) => x[0]), w.response, backend, 'response'),
    loser: padTokens(wl.map((x) => x[1]), w.response, backend, 'response'),
  };
}

/** Host token lists of a [B, L] int32 tensor, each cut after its first EOS (inclusive). */
export async function responsesFromTensor(ids: Tensor, eos: number): Promise<number[][]> {
  const [b, l] = ids.shape as [number, number];
  const data = await ids.data();
  const out: number[][] = [];
  for (let r = 0; r < b; r++) {
    const row: number[] = [];
    for (let j = 0; j < l; j++) {
      const v = data[r * l + j]!;
      row.push(v);
      if (v === eos) break;
    }
    out.push(row);
  }
  return out;
}

/**
 * Batched autoregressive generation. The encoder runs once; with `cache: true`
 * decoder self-attention keys/values are kept per layer (and cross-attention
 * keys/values projected once), otherwise the decoder re-runs on the prefix.
 * Both paths do identical arithmetic per position, so they give the same tokens.
 * Sampling is a pure function of the key: step t draws with foldIn(key, t).
 */
import {
  argmax, categorical, concat, div, foldIn, full, logicalNot, logicalOr, eq, reshape, slice, where, type Key, type Tensor,
} from '@tandem/tensor';
import { NnError } from './errors.js';
import {
  decodeHidden, decodeStep, encode, initCache, outputLogits, type DecoderCache, type TransformerConfig, type TransformerParams,
} from './transformer.js';

/** Options for {@link generate}. */
export interface GenerateOptions {
  /** Number of tokens to generate per row (≤ the model's maxTgt). */
  maxLen: number;
  /** Sampling key; required unless `greedy`. */
  key?: Key;
  /** Softmax temperature (default 1). */
  temperature?: number;
  /** Take the most likely token instead of sampling. */
  greedy?: boolean;
  /** End-of-sequence token: after a row emits it, the row continues with `pad`. */
  eos?: number;
  /** Token written after EOS (default 0). */
  pad?: number;
  /** Keep a KV cache (default true). */
  cache?: boolean;
  /** bool [B, S]: real source tokens. */
  srcMask?: Tensor;
}

/** The result of {@link generate}. */
export interface Generation {
  /** int32 [B, maxLen]: generated tokens, `pad` after EOS. */
  tokens: Tensor;
  /** bool [B, maxLen]: true at tokens that are part of the response (up to and including EOS). */
  mask: Tensor;
}

/** Samples (or greedily decodes) `maxLen` tokens for each source row. */
export function generate(params: TransformerParams, cfg: TransformerConfig, src: Tensor, o: GenerateOptions): Generation {
  if (!Number.isInteger(o.maxLen) || o.maxLen < 1 || o.maxLen > cfg.maxTgt) {
    throw new NnError('generate', `maxLen must be an integer in [1, ${cfg.maxTgt}] (the model's maxTgt), got ${o.maxLen}`, 'argument');
  }
  if (!o.greedy && !o.key) throw new NnError('generate', 'sampling needs a key (or pass greedy: true)', 'argument');
  const temperature = o.temperature ?? 1;
  if (!o.greedy && !(temperature > 0)) throw new NnError('generate', `temperature must be positive, got ${temperature}`, 'argument');
  const b = src.shape[0]!;
  const pad = o.pad ?? 0;
  const enc = encode(params, cfg, src, { srcMask: o.srcMask });
  let cache: DecoderCache | undefined = o.cache === false ? undefined : initCache(params, cfg, enc);
  let prefix = full([b, 1], cfg.bos, { dtype: 'int32', backend: src.backend });
  let prev = reshape(prefix, [b]);
  let done = full([b], false, { backend: src.backend });
  const out: Tensor[] = [];
  const live: Tensor[] = [];
  for (let t = 0; t < o.maxLen; t++) {
    let h: Tensor;
    if (cache) {
      [h, cache] = decodeStep(params, cfg, cache, prev, { srcMask: o.srcMask });
    } else {
      const all = decodeHidden(params, cfg, enc, prefix, { srcMask: o.srcMask });
      h = slice(all, [0, t], [null, t + 1]);
    }
    const logits = reshape(outputLogits(params, h), [b, cfg.vocab]);
    const next = o.greedy ? argmax(logits, -1) : categorical(foldIn(o.key!, t), temperature === 1 ? logits : div(logits, temperature));
    // Rows that already finished emit padding; `live` marks response tokens.
    const tok = where(done, pad, next);
    live.push(reshape(logicalNot(done), [b, 1]));
    out.push(reshape(tok, [b, 1]));
    if (o.eos !== undefined) done = logicalOr(done, eq(tok, o.eos));
    prev = tok;
    if (!cache) prefix = concat([prefix, reshape(tok, [b, 1])], 1);
  }
  return { tokens: concat(out, 1), mask: concat(live, 1) };
}

/**
 * A pre-norm encoder–decoder transformer (T5-style layout, learned absolute
 * positions), as pure functions over a params pytree. The parameter layout and
 * math match the reference workloads RW-1/RW-2 (docs/benchmarks.md), so PyTorch's
 * check losses are reproduced exactly.
 */
import {
  add, cast, concat, full, logSoftmax, matmul, mul, multiHeadAttention, reshape, slice, split, sum, transpose,
  trilMask, where, type Key, type Tensor,
} from '@tandem/tensor';
import { NnError } from './errors.js';
import { glorotUniform, scaledNormal } from './init.js';
import {
  activate, dropout, embedding, initLayerNorm, layerNorm, rmsNorm, takeLast, type Activation, type NormParams,
} from './layers.js';

/** The shape of an encoder–decoder model. */
export interface TransformerConfig {
  /** Vocabulary size V (token ids lie in [0, V)). */
  vocab: number;
  /** Model width d; must be divisible by `heads`. */
  dModel: number;
  /** Attention heads H; each has width dModel / heads. */
  heads: number;
  /** Hidden width of each feed-forward block. */
  dFf: number;
  /** Number of encoder layers (0 or more). */
  encLayers: number;
  /** Number of decoder layers (0 or more). */
  decLayers: number;
  /** Longest source / target sequence (sizes of the position tables). */
  maxSrc: number;
  /** Longest target sequence (rows of the target position table). */
  maxTgt: number;
  /** Position scheme; learned absolute tables. */
  positions: 'learned';
  /** Feed-forward nonlinearity. */
  activation: Activation;
  /** Normalisation: LayerNorm (gain and bias) or RMSNorm (gain only). */
  norm: 'layer' | 'rms';
  /** Epsilon added to the variance (or mean square) inside each norm. */
  normEps: number;
  /** Dropout rate used only when a dropout key is passed to apply. */
  dropout: number;
  /** Token id that starts every decoder input. */
  bos: number;
}

/** Defaults matching RW-1: ReLU, LayerNorm eps 1e-5, no dropout, BOS = 1. */
export function transformerConfig(c: Partial<TransformerConfig> & Pick<TransformerConfig, 'vocab' | 'dModel' | 'heads' | 'dFf' | 'encLayers' | 'decLayers' | 'maxSrc' | 'maxTgt'>): TransformerConfig {
  const cfg: TransformerConfig = { positions: 'learned', activation: 'relu', norm: 'layer', normEps: 1e-5, dropout: 0, bos: 1, ...c };
  for (const k of ['vocab', 'dModel', 'heads', 'dFf', 'maxSrc', 'maxTgt'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new NnError('transformerConfig', `${k} must be a positive integer, got ${cfg[k]}`, 'argument');
  }
  for (const k of ['encLayers', 'decLayers'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 0) throw new NnError('transformerConfig', `${k} must be a non-negative integer, got ${cfg[k]}`, 'argument');
  }
  if (cfg.dModel % cfg.heads !== 0) throw new NnError('transformerConfig', `dModel ${cfg.dModel} is not divisible by heads ${cfg.heads}`, 'argument');
  if (cfg.bos < 0 || cfg.bos >= cfg.vocab) throw new NnError('transformerConfig', `bos ${cfg.bos} is not a token of a vocabulary of ${cfg.vocab}`, 'argument');
  return cfg;
}

/** Params of one multi-head attention block: query, key, value and output projections `wq`, `wk`, `wv`, `wo`, each [d, d]. */
export interface AttentionParams { wq: Tensor; wk: Tensor; wv: Tensor; wo: Tensor }
/** Params of one feed-forward block (no biases): `w1` [d, dFf] and `w2` [dFf, d]. */
export interface FeedForwardParams { w1: Tensor; w2: Tensor }
/** One pre-norm encoder layer: `ln1` before self-attention `att`, `ln2` before the feed-forward block `ff`. */
export interface EncoderLayerParams { ln1: NormParams; att: AttentionParams; ln2: NormParams; ff: FeedForwardParams }
/** One pre-norm decoder layer: `ln1` before causal self-attention `self`, `ln2` before cross-attention `cross` (to the encoder output), `ln3` before the feed-forward block `ff`. */
export interface DecoderLayerParams {
  ln1: NormParams; self: AttentionParams; ln2: NormParams; cross: AttentionParams; ln3: NormParams; ff: FeedForwardParams;
}
/**
 * All parameters of the model, as a pytree: source/target token embeddings `srcEmb`,
 * `tgtEmb` [V, d]; learned positions `srcPos` [maxSrc, d], `tgtPos` [maxTgt, d]; the
 * encoder layers `enc` and their final norm `encLnf`; the decoder layers `dec` and their
 * final norm `decLnf`; and the output projection `out.w` [d, V] (not tied to the embeddings).
 */
export interface TransformerParams {
  srcEmb: Tensor; tgtEmb: Tensor; srcPos: Tensor; tgtPos: Tensor;
  enc: EncoderLayerParams[]; encLnf: NormParams;
  dec: DecoderLayerParams[]; decLnf: NormParams;
  out: { w: Tensor };
}

/** Fresh parameters: embeddings N(0, 0.02²)… scaled normal, projections Glorot uniform, norms 1/0. */
export function initTransformer(k: Key, cfg: TransformerConfig): TransformerParams {
  const d = cfg.dModel;
  const keys = split(k, 5 + cfg.encLayers + cfg.decLayers);
  let ki = 0;
  const next = () => keys[ki++]!;
  const norm = () => initLayerNorm(d, cfg.norm === 'layer');
  const attn = (kk: Key): AttentionParams => {
    const [a, b, c, e] = split(kk, 4) as [Key, Key, Key, Key];
    return { wq: glorotUniform(a, [d, d]), wk: glorotUniform(b, [d, d]), wv: glorotUniform(c, [d, d]), wo: glorotUniform(e, [d, d]) };
  };
  const ff = (kk: Key): FeedForwardParams => {
    const [a, b] = split(kk) as [Key, Key];
    return { w1: glorotUniform(a, [d, cfg.dFf]), w2: glorotUniform(b, [cfg.dFf, d]) };
  };
  const emb = (kk: Key, rows: number) => scaledNormal(kk, [rows, d], 0.02);
  const srcEmb = emb(next(), cfg.vocab);
  const tgtEmb = emb(next(), cfg.vocab);
  const srcPos = emb(next(), cfg.maxSrc);
  const tgtPos = emb(next(), cfg.maxTgt);
  const enc = Array.from({ length: cfg.encLayers }, () => {
    const [a, b] = split(next()) as [Key, Key];
    return { ln1: norm(), att: attn(a), ln2: norm(), ff: ff(b) };
  });
  const dec = Array.from({ length: cfg.decLayers }, () => {
    const [a, b, c] = split(next(), 3) as [Key, Key, Key];
    return { ln1: norm(), self: attn(a), ln2: norm(), cross: attn(b), ln3: norm(), ff: ff(c) };
  });
  return { srcEmb, tgtEmb, srcPos, tgtPos, enc, encLnf: norm(), dec, decLnf: norm(), out: { w: glorotUniform(next(), [d, cfg.vocab]) } };
}

// ------------------------------------------------------------------------------ pieces

const norm = (cfg: TransformerConfig, p: NormParams, x: Tensor) =>
  cfg.norm === 'layer' ? layerNorm(p, x, cfg.normEps) : rmsNorm(p, x, cfg.normEps);

/** [B, T, d] → [B, H, T, d/H] (the KV cache's layout). */
function splitHeads(x: Tensor, heads: number): Tensor {
  const [b, t, d] = x.shape as [number, number, number];
  return transpose(reshape(x, [b, t, heads, d / heads]), [0, 2, 1, 3]);
}

/** Additive attention bias: 0 where `keep`, −1e9 elsewhere (exp underflows to exactly 0). */
const NEG = -1e9;
function maskBias(keep: Tensor): Tensor {
  return where(keep, 0, NEG);
}
/** [B, S] key-padding mask → bias [B, 1, 1, S]. */
function keyPaddingBias(mask: Tensor | undefined): Tensor | undefined {
  if (!mask) return undefined;
  if (mask.dtype !== 'bool' || mask.rank !== 2) throw new NnError('transformer', `a padding mask must be bool [B, S], got ${mask.dtype}[${mask.shape.join(',')}]`, 'shape');
  const [b, s] = mask.shape as [number, number];
  return reshape(maskBias(mask), [b, 1, 1, s]);
}

/**
 * Multi-head attention of queries from xq over keys/values from xkv: tensor's
 * multiHeadAttention (softmax(q·kᵀ/sqrt(dh) + bias)·v per head; one fused primitive on
 * webgpu, split/matmul/softmax/merge on cpu), then the output projection.
 */
function attention(p: AttentionParams, xq: Tensor, xkv: Tensor, heads: number, bias: Tensor | undefined): Tensor {
  return matmul(multiHeadAttention(matmul(xq, p.wq), matmul(xkv, p.wk), matmul(xkv, p.wv), heads, { bias }), p.wo);
}

const feedForward = (cfg: TransformerConfig, p: FeedForwardParams, x: Tensor) =>
  matmul(activate(cfg.activation, matmul(x, p.w1)), p.w2);

function checkTokens(name: string, ids: Tensor, maxLen: number): void {
  if (ids.dtype !== 'int32' || ids.rank !== 2) throw new NnError('transformer', `${name} must be int32 [B, L], got ${ids.dtype}[${ids.shape.join(',')}]`, 'shape');
  if (ids.shape[1]! > maxLen) throw new NnError('transformer', `${name} has length ${ids.shape[1]} but the model's positions stop at ${maxLen}`, 'shape');
}

/** Options shared by the forward functions. */
export interface ForwardOptions {
  /** bool [B, S]: true at real source tokens; padding is not attended to. */
  srcMask?: Tensor;
  /** Enables dropout (at the config's rate) with this key; off when absent. */
  dropoutKey?: Key;
}

function dropKeys(o: ForwardOptions, n: number): (Key | undefined)[] {
  return o.dropoutKey ? split(o.dropoutKey, n) : new Array<undefined>(n).fill(undefined);
}

/** Encoder: int32 src [B, S] → [B, S, d] (after the final norm). */
export function encode(params: TransformerParams, cfg: TransformerConfig, src: Tensor, o: ForwardOptions = {}): Tensor {
  checkTokens('src', src, cfg.maxSrc);
  const s = src.shape[1]!;
  const keys = dropKeys(o, 2 * cfg.encLayers + 1);
  let x = add(embedding(params.srcEmb, src), slice(params.srcPos, [0], [s]));
  x = dropout(x, cfg.dropout, keys[0]);
  const bias = keyPaddingBias(o.srcMask);
  params.enc.forEach((l, i) => {
    const h = norm(cfg, l.ln1, x);
    x = add(x, dropout(attention(l.att, h, h, cfg.heads, bias), cfg.dropout, keys[1 + 2 * i]));
    x = add(x, dropout(feedForward(cfg, l.ff, norm(cfg, l.ln2, x)), cfg.dropout, keys[2 + 2 * i]));
  });
  return norm(cfg, params.encLnf, x);
}

/** [T, T] causal bias: position t attends to positions ≤ t. */
function causalBias(t: number, backendOf: Tensor): Tensor {
  return maskBias(trilMask(t, t, 0, { backend: backendOf.backend }));
}

/**
 * Decoder hidden states (after the final norm) for int32 decoder inputs `tgtIn` (`[B, T]`)
 * attending to `enc` (`[B, S, d]`); the result is `[B, T, d]`.
 */
export function decodeHidden(params: TransformerParams, cfg: TransformerConfig, enc: Tensor, tgtIn: Tensor, o: ForwardOptions = {}): Tensor {
  checkTokens('tgtIn', tgtIn, cfg.maxTgt);
  const t = tgtIn.shape[1]!;
  const keys = dropKeys(o, 3 * cfg.decLayers + 1);
  let x = add(embedding(params.tgtEmb, tgtIn), slice(params.tgtPos, [0], [t]));
  x = dropout(x, cfg.dropout, keys[0]);
  const selfBias = causalBias(t, tgtIn);
  const crossBias = keyPaddingBias(o.srcMask);
  params.dec.forEach((l, i) => {
    const h = norm(cfg, l.ln1, x);
    x = add(x, dropout(attention(l.self, h, h, cfg.heads, selfBias), cfg.dropout, keys[1 + 3 * i]));
    x = add(x, dropout(attention(l.cross, norm(cfg, l.ln2, x), enc, cfg.heads, crossBias), cfg.dropout, keys[2 + 3 * i]));
    x = add(x, dropout(feedForward(cfg, l.ff, norm(cfg, l.ln3, x)), cfg.dropout, keys[3 + 3 * i]));
  });
  return norm(cfg, params.decLnf, x);
}

/** Output projection of final hidden states: [..., d] → [..., V]. */
export const outputLogits = (params: TransformerParams, h: Tensor): Tensor => matmul(h, params.out.w);

/** Decoder input: the target shifted right, starting with BOS ([B, T] int32). */
export function shiftRight(tgt: Tensor, bos: number): Tensor {
  const [b] = tgt.shape as [number, number];
  const start = full([b, 1], bos, { dtype: 'int32', backend: tgt.backend });
  return concat([start, slice(tgt, [0, 0], [null, -1])], 1);
}

/** Teacher-forced logits [B, T, V] of `tgt` [B, T] given `src` [B, S]. */
export function logits(params: TransformerParams, cfg: TransformerConfig, src: Tensor, tgt: Tensor, o: ForwardOptions = {}): Tensor {
  const enc = encode(params, cfg, src, o);
  return outputLogits(params, decodeHidden(params, cfg, enc, shiftRight(tgt, cfg.bos), o));
}

/** Per-position next-token log-distributions [B, T, V] (for exact KL between policies). */
export function nextTokenLogProbs(params: TransformerParams, cfg: TransformerConfig, src: Tensor, tgt: Tensor, o: ForwardOptions = {}): Tensor {
  return logSoftmax(logits(params, cfg, src, tgt, o), -1);
}

/** Token log-probs log p(tgt_t | tgt_<t, src), [B, T]. */
export function tokenLogProbs(params: TransformerParams, cfg: TransformerConfig, src: Tensor, tgt: Tensor, o: ForwardOptions = {}): Tensor {
  return takeLast(nextTokenLogProbs(params, cfg, src, tgt, o), tgt);
}

/** Token log-probs [B, T] of `tgt` given an encoder output `enc` [B, S, d] (the encoder can then run once for many targets). */
export function tokenLogProbsFromEncoding(params: TransformerParams, cfg: TransformerConfig, enc: Tensor, tgt: Tensor, o: ForwardOptions = {}): Tensor {
  const h = decodeHidden(params, cfg, enc, shiftRight(tgt, cfg.bos), o);
  return takeLast(logSoftmax(outputLogits(params, h), -1), tgt);
}

/**
 * log π(tgt | src) as the SUM of the response's token log-probs, [B]: the quantity every
 * preference loss uses. `tgtMask` (bool [B, T]) excludes padding after the response.
 */
export function sequenceLogProb(params: TransformerParams, cfg: TransformerConfig, src: Tensor, tgt: Tensor, masks: ForwardOptions & { tgtMask?: Tensor } = {}): Tensor {
  return sumMasked(tokenLogProbs(params, cfg, src, tgt, masks), masks.tgtMask);
}

/**
 * Summed log-probs [2B] of two responses per prompt, running the encoder once on the
 * B prompts and the decoder once on [y1; y2] (2B rows), as RW-1 (b) specifies.
 */
export function pairedSequenceLogProbs(
  params: TransformerParams, cfg: TransformerConfig, src: Tensor, y1: Tensor, y2: Tensor,
  masks: { srcMask?: Tensor; y1Mask?: Tensor; y2Mask?: Tensor; dropoutKey?: Key } = {},
): [Tensor, Tensor] {
  if ((masks.y1Mask === undefined) !== (masks.y2Mask === undefined)) throw new NnError('pairedSequenceLogProbs', 'give both y1Mask and y2Mask, or neither', 'argument');
  const b = src.shape[0]!;
  const enc = encode(params, cfg, src, masks);
  const srcMask2 = masks.srcMask ? concat([masks.srcMask, masks.srcMask], 0) : undefined;
  const lp = tokenLogProbsFromEncoding(params, cfg, concat([enc, enc], 0), concat([y1, y2], 0), { srcMask: srcMask2, dropoutKey: masks.dropoutKey });
  const m = masks.y1Mask && masks.y2Mask ? concat([masks.y1Mask, masks.y2Mask], 0) : undefined;
  const s = sumMasked(lp, m);
  return [slice(s, [0], [b]), slice(s, [b], [2 * b])];
}

function sumMasked(lp: Tensor, mask: Tensor | undefined): Tensor {
  return sum(mask ? where(mask, lp, 0) : lp, -1);
}

/**
 * Mean token cross-entropy of `tgt` under teacher forcing (RW-1 (a)'s loss); with
 * `tgtMask`, the mean over unmasked tokens.
 */
export function crossEntropyLoss(params: TransformerParams, cfg: TransformerConfig, src: Tensor, tgt: Tensor, masks: ForwardOptions & { tgtMask?: Tensor } = {}): Tensor {
  const lp = tokenLogProbs(params, cfg, src, tgt, masks);
  if (!masks.tgtMask) return mul(sum(lp), -1 / lp.size);
  const m = cast(masks.tgtMask, 'float32');
  return mul(sum(mul(lp, m)), -1).div(sum(m));
}

// ------------------------------------------------------------------------------ incremental decoding

/** Per-layer key/value cache for incremental decoding. */
export interface DecoderCache {
  /** Self-attention keys `k` and values `v` so far, [B, H, t, dh] per layer. */
  self: { k: Tensor; v: Tensor }[];
  /** Cross-attention keys `k` and values `v` per layer, projected from the encoder output once, [B, H, S, dh]. */
  cross: { k: Tensor; v: Tensor }[];
  /** Positions decoded so far. */
  pos: number;
}

/** A cache whose cross-attention keys/values are computed from `enc` once. */
export function initCache(params: TransformerParams, cfg: TransformerConfig, enc: Tensor): DecoderCache {
  const [b] = enc.shape as [number, number, number];
  const dh = cfg.dModel / cfg.heads;
  const empty = () => full([b, cfg.heads, 0, dh], 0, { backend: enc.backend });
  return {
    self: params.dec.map(() => ({ k: empty(), v: empty() })),
    cross: params.dec.map((l) => ({ k: splitHeads(matmul(enc, l.cross.wk), cfg.heads), v: splitHeads(matmul(enc, l.cross.wv), cfg.heads) })),
    pos: 0,
  };
}

/**
 * One decoder position with a KV cache: int32 tokens [B] at position cache.pos →
 * final hidden state [B, 1, d] and the extended cache. The arithmetic is that of
 * `decodeHidden` on the whole prefix, so cached and uncached decoding agree bit for bit.
 */
export function decodeStep(params: TransformerParams, cfg: TransformerConfig, cache: DecoderCache, tokens: Tensor, o: { srcMask?: Tensor } = {}): [Tensor, DecoderCache] {
  const t = cache.pos;
  if (t >= cfg.maxTgt) throw new NnError('decodeStep', `position ${t} is past the model's maxTgt ${cfg.maxTgt}`, 'argument');
  const [b] = tokens.shape as [number];
  let x = add(embedding(params.tgtEmb, reshape(tokens, [b, 1])), slice(params.tgtPos, [t], [t + 1]));
  const crossBias = keyPaddingBias(o.srcMask);
  const self: DecoderCache['self'] = [];
  params.dec.forEach((l, i) => {
    const h = norm(cfg, l.ln1, x);
    const kAll = concat([cache.self[i]!.k, splitHeads(matmul(h, l.self.wk), cfg.heads)], 2);
    const vAll = concat([cache.self[i]!.v, splitHeads(matmul(h, l.self.wv), cfg.heads)], 2);
    self.push({ k: kAll, v: vAll });
    const q = matmul(h, l.self.wq);
    x = add(x, matmul(multiHeadAttention(q, kAll, vAll, cfg.heads, { kvHeads: true }), l.self.wo));
    const hq = matmul(norm(cfg, l.ln2, x), l.cross.wq);
    const c = cache.cross[i]!;
    x = add(x, matmul(multiHeadAttention(hq, c.k, c.v, cfg.heads, { bias: crossBias, kvHeads: true }), l.cross.wo));
    x = add(x, feedForward(cfg, l.ff, norm(cfg, l.ln3, x)));
  });
  return [norm(cfg, params.decLnf, x), { self, cross: cache.cross, pos: t + 1 }];
}

/**
 * Pairwise preference models (paper App. A): r(x, y1, y2) ∈ [0, 1] is the
 * probability that y1 is preferred. The body is @tandem/nn's transformer encoder
 * over "x SEP y1 SEP y2"; a linear head on the mean-pooled encoding gives the logit.
 *
 * Training maximises ½·log r(x, y_w, y_l) + ½·log(1 − r(x, y_l, y_w)): each pair is
 * seen in both positions, which fights positional bias. At inference the preference
 * is the sign of r(x, y1, y2) − r(x, y2, y1), so any remaining bias cancels.
 */
import { SEP, encode, glorotUniform, initTransformer, transformerConfig, type TransformerConfig, type TransformerParams } from '@tandem/nn';
import {
  abs, add, cast, div, exp, log1p, matmul, maximum, mul, neg, reshape, slice, split, sub, sum, tidy, zeros,
  type Backend, type Key, type Tensor,
} from '@tandem/tensor';
import { padTokens, type Widths } from './batch.js';
import type { ModelSize } from './policy.js';
import { winnerLoser, type Comparison, type Pair, type Tokens } from './types.js';

/** A pairwise preference model: an encoder-only transformer over "x SEP y1 SEP y2" with a scalar head; see {@link preferenceModelSpec}. */
export interface PreferenceModelSpec {
  /** The encoder's config (no decoder layers; maxSrc is the comparison input length). */
  body: TransformerConfig;
  /** Widths of prompt and responses: the input length is prompt + 2·response + 2. */
  widths: Widths;
}

/** Params of a preference model, as a pytree. */
export interface PreferenceModelParams {
  /** The transformer body; only its encoder is used. */
  body: TransformerParams;
  /** Linear head on the mean-pooled encoder output: `w` [d, 1], `b` [1], giving the preference logit. */
  head: { w: Tensor; b: Tensor };
}

/** A preference-model spec of the given size for a task's vocabulary and widths. */
export function preferenceModelSpec(size: ModelSize, vocab: number, widths: Widths): PreferenceModelSpec {
  return {
    widths,
    body: transformerConfig({
      vocab, dModel: size.dModel, heads: size.heads, dFf: size.dFf, encLayers: size.layers, decLayers: 0,
      maxSrc: widths.prompt + 2 * widths.response + 2, maxTgt: 1,
    }),
  };
}

/** Fresh preference-model params for `spec` from `k`: a transformer body and a Glorot head with zero bias. */
export function initPreferenceModel(k: Key, spec: PreferenceModelSpec): PreferenceModelParams {
  const [kb, kh] = split(k) as [Key, Key];
  const d = spec.body.dModel;
  return { body: initTransformer(kb, spec.body), head: { w: glorotUniform(kh, [d, 1]), b: zeros([1]) } };
}

/** The concatenated input "x SEP y1 SEP y2" (compact, then padded). */
export function comparisonInput(prompt: Tokens, y1: Tokens, y2: Tokens): number[] {
  return [...prompt, SEP, ...y1, SEP, ...y2];
}

/** softplus(x) = log(1 + eˣ), computed without overflow. */
export function softplus(x: Tensor): Tensor {
  return add(maximum(x, 0), log1p(exp(neg(abs(x)))));
}
/** log σ(x) = −softplus(−x). */
export const logSigmoid = (x: Tensor): Tensor => neg(softplus(neg(x)));

/** Preference logits z with r = σ(z) for each (prompt, first, second) row. */
export function preferenceLogits(params: PreferenceModelParams, spec: PreferenceModelSpec, rows: readonly Tokens[], backend: Backend): Tensor {
  const x = padTokens(rows, spec.body.maxSrc, backend, 'comparison');
  const h = encode(params.body, spec.body, x.ids, { srcMask: x.mask });
  // Mean over real tokens: padding contributes nothing.
  const m = reshape(cast(x.mask, 'float32'), [rows.length, spec.body.maxSrc, 1]);
  const pooled = div(sum(mul(h, m), 1), sum(m, 1));
  return reshape(add(matmul(pooled, params.head.w), params.head.b), [rows.length]);
}

/**
 * The App. A training loss over pairs: −mean[½ log r(x, y_w, y_l) + ½ log(1 − r(x, y_l, y_w))].
 * Both orders run in one forward pass of 2B rows.
 */
export function preferenceLoss(params: PreferenceModelParams, spec: PreferenceModelSpec, pairs: readonly Pair[], backend: Backend): Tensor {
  const rows: Tokens[] = [];
  for (const p of pairs) {
    const [w, l] = winnerLoser(p);
    rows.push(comparisonInput(p.prompt, w, l));
  }
  for (const p of pairs) {
    const [w, l] = winnerLoser(p);
    rows.push(comparisonInput(p.prompt, l, w));
  }
  const z = preferenceLogits(params, spec, rows, backend);
  const b = pairs.length;
  const zWL = slice(z, [0], [b]);
  const zLW = slice(z, [b], [2 * b]);
  const ll = add(logSigmoid(zWL), logSigmoid(neg(zLW)));
  return mul(sum(ll), -0.5 / b);
}

/**
 * Debiased preference of y1 over y2 per row: sign(r(x,y1,y2) − r(x,y2,y1)) as
 * 1 (y1 ≻ y2), 0 (y2 ≻ y1) or 0.5 (exact tie, e.g. identical responses).
 */
export async function predictPreferences(params: PreferenceModelParams, spec: PreferenceModelSpec, items: readonly Comparison[], backend: Backend): Promise<(0 | 0.5 | 1)[]> {
  if (items.length === 0) return [];
  const diff = tidy(() => {
    const rows = [...items.map((i) => comparisonInput(i.prompt, i.y1, i.y2)), ...items.map((i) => comparisonInput(i.prompt, i.y2, i.y1))];
    const z = preferenceLogits(params, spec, rows, backend);
    // σ is monotone, so comparing logits is comparing r.
    return sub(slice(z, [0], [items.length]), slice(z, [items.length], [2 * items.length]));
  });
  const d = await diff.data();
  diff.dispose();
  return Array.from(d, (v) => (v > 0 ? 1 : v < 0 ? 0 : 0.5));
}


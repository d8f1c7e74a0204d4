/**
 * Layers as pure functions of (params, inputs). Each layer with parameters has an
 * `init…(key, …)` that builds its params pytree.
 */
import {
  add, arange, bernoulli, cast, div, gather, matmul, mean, mul, reshape, rsqrt, sum, tanh, where,
  normalizeLastAxis, relu, type Key, type Tensor,
} from '@tandem/tensor';
import { NnError } from './errors.js';
import { glorotUniform, ones, zeros } from './init.js';

/** Params of {@link linear}: weight `w` [in, out] and optional bias `b` [out]. */
export interface LinearParams { w: Tensor; b?: Tensor }
/** Params of {@link layerNorm} and {@link rmsNorm}: gain `g` [d] and optional bias `b` [d] (rmsNorm ignores `b`). */
export interface NormParams { g: Tensor; b?: Tensor }

/** x @ w (+ b), with w stored [in, out]; x may have any leading axes. */
export function linear(p: LinearParams, x: Tensor): Tensor {
  const y = matmul(x, p.w);
  return p.b ? add(y, p.b) : y;
}
/** Glorot-uniform weight [inDim, outDim] from `k`, plus a zero bias [outDim] when `bias` is true. */
export function initLinear(k: Key, inDim: number, outDim: number, bias = false): LinearParams {
  const w = glorotUniform(k, [inDim, outDim]);
  return bias ? { w, b: zeros([outDim]) } : { w };
}

/** Rows of `table` [V, d] picked by int32 ids of any shape: ids.shape + [d]. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  return gather(table, ids, 0);
}

/** LayerNorm over the last axis with gain (and bias): (x − μ)/sqrt(σ² + eps)·g + b, biased variance as PyTorch. */
export function layerNorm(p: NormParams, x: Tensor, eps = 1e-5): Tensor {
  const y = mul(normalizeLastAxis(x, eps), p.g);
  return p.b ? add(y, p.b) : y;
}
/** Norm params for width `d`: gain of ones and, when `bias` is true, a bias of zeros. */
export function initLayerNorm(d: number, bias = true): NormParams {
  return bias ? { g: ones([d]), b: zeros([d]) } : { g: ones([d]) };
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps)·g. */
export function rmsNorm(p: NormParams, x: Tensor, eps = 1e-6): Tensor {
  const ms = mean(mul(x, x), -1, true);
  return mul(mul(x, rsqrt(add(ms, eps))), p.g);
}

/** GELU, tanh approximation (as GPT-2 and T5 v1.1 use). */
export function gelu(x: Tensor): Tensor {
  const c = Math.sqrt(2 / Math.PI);
  const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), c);
  return mul(mul(x, 0.5), add(tanh(inner), 1));
}

/** The feed-forward nonlinearities: `relu`, or `gelu` (tanh approximation). */
export type Activation = 'relu' | 'gelu';
/** Applies the named {@link Activation} elementwise. */
export const activate = (a: Activation, x: Tensor): Tensor => (a === 'relu' ? relu(x) : gelu(x));

/**
 * Inverted dropout: zeroes entries with probability `rate` and scales the rest by
 * 1/(1 − rate). Off unless a key is given and rate > 0 — there is no global training mode.
 */
export function dropout(x: Tensor, rate: number, k: Key | undefined): Tensor {
  if (!(rate >= 0 && rate < 1)) throw new NnError('dropout', `rate must lie in [0, 1), got ${rate}`, 'argument');
  if (!k || rate === 0) return x;
  const keepMask = bernoulli(k, 1 - rate, x.shape, { backend: x.backend });
  return where(keepMask, div(x, 1 - rate), 0);
}

/** Params of {@link mlp}: weights `w1` [d, hidden] and `w2` [hidden, d'], optional biases `b1` [hidden] and `b2` [d']. */
export interface MlpParams { w1: Tensor; w2: Tensor; b1?: Tensor; b2?: Tensor }
/** Two-layer feed-forward block: act(x·w1 + b1)·w2 + b2. */
export function mlp(p: MlpParams, x: Tensor, act: Activation = 'relu'): Tensor {
  let h = matmul(x, p.w1);
  if (p.b1) h = add(h, p.b1);
  let y = matmul(activate(act, h), p.w2);
  if (p.b2) y = add(y, p.b2);
  return y;
}

/**
 * Picks, along the last axis of x [..., V], the entry named by int32 `ids` [...]:
 * out[...] = x[..., ids[...]] (take-along-axis; its gradient is a scatter-add).
 */
export function takeLast(x: Tensor, ids: Tensor): Tensor {
  const v = x.shape[x.rank - 1]!;
  const rows = ids.size;
  if (x.size !== rows * v) {
    throw new NnError('takeLast', `x [${x.shape.join(',')}] needs ids of shape [${x.shape.slice(0, -1).join(',')}], got [${ids.shape.join(',')}]`, 'shape');
  }
  const flatIdx = add(mul(arange(0, rows, 1, { dtype: 'int32', backend: x.backend }), v), reshape(ids, [rows]));
  return reshape(gather(reshape(x, [rows * v]), flatIdx, 0), ids.shape);
}

/** Mean over entries where `mask` (bool) is true; `x` and `mask` broadcast together. */
export function maskedMean(x: Tensor, mask: Tensor): Tensor {
  const m = cast(mask, 'float32');
  return div(sum(mul(x, m)), sum(m));
}


/**
 * Composite ops, built once from the primitives: autodiff differentiates them
 * through their parts, and every backend gets them for free.
 */
import { arange, full } from './creation.js';
import { TensorError, fmtShape } from './errors.js';
import * as P from './ops.js';
import { normAxes, normAxis, shapesEqual } from './shape.js';
import type { Tensor } from './tensor.js';
import { withoutTracing } from './trace.js';

/** x². */
export const square = (x: Tensor): Tensor => P.mul(x, x);

function requireFloat(op: string, x: Tensor): void {
  if (x.dtype !== 'float32') throw new TensorError(op, `expected a float32 tensor, got ${x.dtype}; cast first`, 'dtype');
}

/** Mean over `axes` (all when omitted); float32. */
export function mean(x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  requireFloat('mean', x);
  const ax = normAxes('mean', axes, x.rank);
  const count = ax.reduce((p, a) => p * x.shape[a]!, 1);
  return P.div(P.sum(x, ax, keepDims), count);
}

/**
 * The row maximum, treated as a constant: shifting by any constant leaves
 * logSumExp/softmax unchanged, so no gradient needs to flow through it.
 */
function shift(x: Tensor, axes: number[]): Tensor {
  // A row of -inf would give -inf - -inf = NaN; flooring the shift at the lowest float32
  // keeps such rows at -inf (so logSumExp is -inf) and leaves every other row unchanged.
  return withoutTracing(() => P.maximum(P.max(x, axes, true), -3.4028234663852886e38));
}

/** log Σ exp(x) over `axes`, computed stably (shifted by the maximum). */
export function logSumExp(x: Tensor, axes: number | readonly number[] = -1, keepDims = false): Tensor {
  requireFloat('logSumExp', x);
  const ax = normAxes('logSumExp', axes, x.rank);
  const m = shift(x, ax);
  const s = P.log(P.sum(P.exp(P.sub(x, m)), ax, true));
  const out = P.add(s, m);
  return keepDims ? out : P.reshape(out, x.shape.filter((_, i) => !ax.includes(i)));
}

/** exp(x) / Σ exp(x) along `axis`, stably. */
export function softmax(x: Tensor, axis = -1): Tensor {
  requireFloat('softmax', x);
  const ax = normAxis('softmax', axis, x.rank);
  if (ax === x.rank - 1) {
    const fused = P.fusedSoftmaxLast(x, false);
    if (fused) return fused;
  }
  const e = P.exp(P.sub(x, shift(x, [ax])));
  return P.div(e, P.sum(e, ax, true));
}

/** x − logSumExp(x) along `axis`, stably. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  requireFloat('logSoftmax', x);
  const ax = normAxis('logSoftmax', axis, x.rank);
  if (ax === x.rank - 1) {
    const fused = P.fusedSoftmaxLast(x, true);
    if (fused) return fused;
  }
  const z = P.sub(x, shift(x, [ax]));
  return P.sub(z, P.log(P.sum(P.exp(z), ax, true)));
}

/**
 * (x − mean(x)) / sqrt(var(x) + eps) over the last axis (biased variance, as LayerNorm).
 * One fused pass where the backend has it, else composed from primitives.
 */
export function normalizeLastAxis(x: Tensor, eps = 1e-5): Tensor {
  requireFloat('normalizeLastAxis', x);
  const fused = P.fusedNormalizeLast(x, eps);
  if (fused) return fused;
  const xc = P.sub(x, mean(x, -1, true));
  return P.mul(xc, P.rsqrt(P.add(mean(P.mul(xc, xc), -1, true), eps)));
}

/** float32 one-hot encoding of int32 indices: shape indices.shape + [depth]. */
export function oneHot(indices: Tensor, depth: number): Tensor {
  if (indices.dtype !== 'int32') throw new TensorError('oneHot', `indices must be int32, got ${indices.dtype}`, 'dtype');
  if (!Number.isInteger(depth) || depth < 0) throw new TensorError('oneHot', `depth must be a non-negative integer, got ${depth}`);
  const classes = arange(0, depth, 1, { dtype: 'int32', backend: indices.backend });
  return P.cast(P.eq(expandDims(indices, -1), classes), 'float32');
}

/** A bool [n, m] mask that is true on and above diagonal k (`triu`) — the causal mask's complement. */
export function triuMask(n: number, m = n, k = 0, opts: { backend?: Tensor['backend'] } = {}): Tensor {
  const rows = P.reshape(arange(0, n, 1, { dtype: 'int32', backend: opts.backend }), [n, 1]);
  const cols = P.reshape(arange(0, m, 1, { dtype: 'int32', backend: opts.backend }), [1, m]);
  return P.ge(P.sub(cols, rows), k);
}

/** A bool [n, m] mask that is true on and below diagonal k (a causal attention mask for k = 0). */
export function trilMask(n: number, m = n, k = 0, opts: { backend?: Tensor['backend'] } = {}): Tensor {
  return P.logicalNot(triuMask(n, m, k + 1, opts));
}

/** Keeps the upper triangle (on and above diagonal k) of the last two axes, zeros elsewhere. */
export function triu(x: Tensor, k = 0): Tensor {
  const [n, m] = x.shape.slice(-2) as [number, number];
  return P.where(triuMask(n, m, k, { backend: x.backend }), x, 0);
}

/** Keeps the lower triangle (on and below diagonal k) of the last two axes, zeros elsewhere. */
export function tril(x: Tensor, k = 0): Tensor {
  const [n, m] = x.shape.slice(-2) as [number, number];
  return P.where(trilMask(n, m, k, { backend: x.backend }), x, 0);
}

/** min(max(x, lo), hi). */
export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  if (lo > hi) throw new TensorError('clamp', `lower bound ${lo} exceeds upper bound ${hi}`);
  return P.minimum(P.maximum(x, lo), hi);
}

/** Inserts a size-1 axis at `axis` (which may be -1 for the end). */
export function expandDims(x: Tensor, axis: number): Tensor {
  const ax = normAxis('expandDims', axis, x.rank + 1);
  return P.reshape(x, [...x.shape.slice(0, ax), 1, ...x.shape.slice(ax)]);
}

/** Removes size-1 axes (the given ones, which must be size 1, or all). */
export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  const ax = axes === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normAxes('squeeze', axes, x.rank);
  for (const a of ax) {
    if (x.shape[a] !== 1) throw new TensorError('squeeze', `axis ${a} has size ${x.shape[a]}, not 1`, 'shape');
  }
  return P.reshape(x, x.shape.filter((_, i) => !ax.includes(i)));
}

/** Joins tensors of one shape along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new TensorError('stack', 'needs at least one tensor');
  const ax = normAxis('stack', axis, xs[0]!.rank + 1);
  return P.concat(xs.map((x) => expandDims(x, ax)), ax);
}

/** A float32 tensor like `x` filled with `value`. */
export function fullLike(x: Tensor, value: number): Tensor {
  return full(x.shape, value, { dtype: x.dtype, backend: x.backend });
}

/** Scalars of one Adam(W) step (float64 numbers; applied as float32 scalars). */
export interface AdamStepOptions {
  /** First-moment decay: m' = lerp(m, g, 1 − b1). */
  b1: number;
  /** Second-moment decay: v' = b2·v + (1 − b2)·g². */
  b2: number;
  /** Added to sqrt(v') / bc2Sqrt. */
  eps: number;
  /** lr / (1 − b1^t). */
  stepSize: number;
  /** sqrt(1 − b2^t). */
  bc2Sqrt: number;
  /** lr · weightDecay: the decoupled decay (AdamW), applied only when params are given. */
  decay?: number;
}

/**
 * One Adam(W) step of one parameter leaf, torch.optim.Adam's arithmetic op for op
 * (lerp_ for the first moment, mul_.addcmul_ for the second, addcdiv_ for the step):
 * returns [m', v', update] with update = (−stepSize·m') / (sqrt(v')/bc2Sqrt + eps)
 * (+ p·(−decay) first, when `p` is given). One fused pass where the backend has it
 * (and no tracer watches), else the same float32 operations as separate ops — the two
 * give the same bits on cpu.
 */
export function adamStep(g: Tensor, m: Tensor, v: Tensor, p: Tensor | undefined, o: AdamStepOptions): [Tensor, Tensor, Tensor] {
  const w = 1 - o.b1;
  const f = Math.fround;
  const c = {
    lerp: f(w < 0.5 ? w : 1 - w), lerpFromM: w < 0.5, b2: f(o.b2), oneMinusB2: f(1 - o.b2),
    negStepSize: f(-o.stepSize), bc2Sqrt: f(o.bc2Sqrt), eps: f(o.eps), negDecay: f(-(o.decay ?? 0)),
  };
  const fused = P.fusedAdamStep(g, m, v, p, c);
  if (fused) return fused;
  // torch.lerp's two-branch formula: exact at weight 1 (b1 = 0 gives m' = g exactly).
  const m2 = w < 0.5 ? P.add(m, P.mul(P.sub(g, m), w)) : P.sub(g, P.mul(P.sub(g, m), 1 - w));
  const v2 = P.add(P.mul(v, o.b2), P.mul(P.mul(g, 1 - o.b2), g));
  const step = P.div(P.mul(m2, -o.stepSize), P.add(P.div(P.sqrt(v2), o.bc2Sqrt), o.eps));
  return [m2, v2, p ? P.add(P.mul(p, -(o.decay ?? 0)), step) : step];
}

/** Options of {@link multiHeadAttention}. */
export interface AttentionOptions {
  /** Added to the scaled scores; broadcasts to [B, H, Tq, Tk] (e.g. 0 / −1e9 masks). */
  bias?: Tensor;
  /** Multiplies q·kᵀ; default 1/sqrt(dh). */
  scale?: number;
  /** k and v are already split into heads, [B, H, Tk, dh] (a KV cache); default false: [B, Tk, H·dh]. */
  kvHeads?: boolean;
}

/** [B, T, H·dh] → [B, H, T, dh]. */
function splitHeads(x: Tensor, heads: number): Tensor {
  const [b, t, d] = x.shape as [number, number, number];
  return P.transpose(P.reshape(x, [b, t, heads, d / heads]), [0, 2, 1, 3]);
}
/** [B, H, T, dh] → [B, T, H·dh]. */
function mergeHeads(x: Tensor): Tensor {
  const [b, h, t, dh] = x.shape as [number, number, number, number];
  return P.reshape(P.transpose(x, [0, 2, 1, 3]), [b, t, h * dh]);
}

/**
 * Scaled dot-product attention over `heads` heads: q [B, Tq, H·dh] → [B, Tq, H·dh], per head
 * softmax(q_h·k_hᵀ·scale + bias)·v_h with the heads merged back. k and v are [B, Tk, H·dh],
 * or [B, H, Tk, dh] with `kvHeads`. Where the backend has a fused kernel (webgpu) it is one
 * primitive that reads the heads in place (no split/merge copies); otherwise it is composed
 * from primitives — split heads, matmul, scale, bias, softmax, matmul, merge heads — which
 * is what nn's transformer always computed, so the cpu's bits do not change.
 */
export function multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, heads: number, o: AttentionOptions = {}): Tensor {
  const op = 'multiHeadAttention';
  for (const t of o.bias ? [q, k, v, o.bias] : [q, k, v]) requireFloat(op, t);
  const kvHeads = o.kvHeads ?? false;
  if (q.rank !== 3) throw new TensorError(op, `q must be [B, Tq, d], got ${fmtShape(q.shape)}`, 'shape');
  const [b, tq, d] = q.shape as [number, number, number];
  if (!Number.isInteger(heads) || heads < 1 || d % heads !== 0) throw new TensorError(op, `heads must be a positive integer dividing d = ${d}, got ${heads}`);
  const dh = d / heads;
  const tk = kvHeads ? k.shape[2] : k.shape[1];
  const kvShape = kvHeads ? [b, heads, tk, dh] : [b, tk, d];
  if (tk === undefined || !shapesEqual(k.shape, kvShape) || !shapesEqual(v.shape, kvShape)) {
    throw new TensorError(op, `k and v must both be ${kvHeads ? '[B, H, Tk, dh]' : '[B, Tk, d]'} = ${fmtShape(kvShape)} for q ${fmtShape(q.shape)} and ${heads} heads, got ${fmtShape(k.shape)} and ${fmtShape(v.shape)}`, 'shape');
  }
  const scores = [b, heads, tq, tk];
  // The bias broadcasts to the scores: right-aligned, each axis equal or 1.
  const fits = (bs: readonly number[]) => bs.length <= scores.length && bs.every((d, i) => d === 1 || d === scores[scores.length - bs.length + i]);
  if (o.bias && !fits(o.bias.shape)) {
    throw new TensorError(op, `the bias ${fmtShape(o.bias.shape)} must broadcast to the scores ${fmtShape(scores)}`, 'shape');
  }
  const scale = o.scale ?? 1 / Math.sqrt(dh);
  const fused = P.fusedAttention(q, k, v, o.bias, { heads, scale, kvHeads });
  if (fused) return fused;
  const kh = kvHeads ? k : splitHeads(k, heads);
  const vh = kvHeads ? v : splitHeads(v, heads);
  let s = P.mul(P.matmul(splitHeads(q, heads), kh, { transB: true }), scale);
  if (o.bias) s = P.add(s, o.bias);
  return mergeHeads(P.matmul(softmax(s, -1), vh));
}

/**
 * One vector-Jacobian rule per primitive of @tandem/tensor. A rule receives the
 * recorded application and the cotangent of its output and returns one cotangent
 * per input (null where an input gets none: integer inputs, indices, masks).
 * Rules are written with the same primitives, so they are differentiable again:
 * that is all grad(grad(f)) needs.
 */
import {
  add, broadcastTo, cast, concat, cos, div, eq, exp, expandDims, fusedAttentionGrad, fusedNormalizeGrad, fusedSoftmaxGrad, rsqrt, gather, gt, log, lt, matmul, mul,
  neg, pad, pow, reshape, scatterAdd, sign, sin, slice, softmax, sub, sum, transpose, where, zeros,
  type OpRecord, type Prim, type Tensor,
} from '@tandem/tensor';
import { AutodiffError } from './errors.js';
import { unbroadcast } from './unbroadcast.js';

/**
 * The vector–Jacobian rule of primitive `P`: from its record (whose `attrs` are that
 * primitive's, see `Primitives` in @tandem/tensor) and the output's cotangent, one
 * cotangent per input, or null. `needs[i]` says whether input i carries a gradient at
 * all (it depends on a differentiated argument); rules skip the work for inputs that
 * do not — constants, masks, reference values — which is most of the work for a scale
 * or a bias.
 */
export type Rule<P extends Prim = Prim> = (rec: OpRecord<P>, ct: Tensor, needs: readonly boolean[]) => (Tensor | null)[];

/** One rule per primitive: a primitive without a rule does not compile. */
export type Rules = { readonly [P in Prim]: Rule<P> };

/** 1 where a beats b, ½ on ties, 0 elsewhere: ties split the gradient evenly (as JAX does). */
function winWeight(a: Tensor, b: Tensor, beats: (a: Tensor, b: Tensor) => Tensor): Tensor {
  return add(cast(beats(a, b), 'float32'), mul(cast(eq(a, b), 'float32'), 0.5));
}

/** The cotangent of a reduction, broadcast back over the reduced axes. */
function expandReduced(ct: Tensor, x: Tensor, axes: readonly number[], keepDims: boolean): Tensor {
  const kept = keepDims ? ct : reshape(ct, x.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
  return broadcastTo(kept, x.shape);
}

/** Max/min: the gradient goes to the extremal entries, split evenly among ties. */
function extremumRule(rec: OpRecord<'max' | 'min'>, ct: Tensor): (Tensor | null)[] {
  const x = rec.inputs[0]!;
  const { axes, keepDims } = rec.attrs;
  const out = expandReduced(rec.output, x, axes, keepDims);
  const mask = cast(eq(x, out), 'float32');
  const count = sum(mask, axes, true);
  return [div(mul(expandReduced(ct, x, axes, keepDims), mask), count)];
}

/** Places `ct` (the sliced values) back at their positions in zeros of x's shape. */
function unslice(ct: Tensor, shape: readonly number[], begin: readonly number[], step: readonly number[]): Tensor {
  if (ct.size === 0) return zeros(shape, { backend: ct.backend });
  let g = ct;
  for (let d = 0; d < shape.length; d++) {
    const c = g.shape[d]!;
    let st = step[d]!;
    let start = begin[d]!;
    if (st < 0) {
      // Reverse along d so the picks run upward, from the last one picked.
      g = slice(g, axisSpec(d, c - 1, g.rank), axisStops(d, null, g.rank), axisSpec(d, -1, g.rank, 1));
      start = start + (c - 1) * st;
      st = -st;
    }
    if (st > 1) {
      // Dilate: put st-1 zeros after each entry, then drop the trailing ones.
      const e = expandDims(g, d + 1);
      const widths = e.shape.map((_, i): [number, number] => (i === d + 1 ? [0, st - 1] : [0, 0]));
      const dil = reshape(pad(e, widths), [...g.shape.slice(0, d), c * st, ...g.shape.slice(d + 1)]);
      g = slice(dil, axisSpec(d, 0, g.rank), axisStops(d, (c - 1) * st + 1, g.rank));
    }
    const span = g.shape[d]!;
    const widths = g.shape.map((_, i): [number, number] => (i === d ? [start, shape[d]! - start - span] : [0, 0]));
    g = pad(g, widths);
  }
  return g;
}
const axisSpec = (d: number, v: number, rank: number, fill = 0): number[] =>
  Array.from({ length: rank }, (_, i) => (i === d ? v : fill));
const axisStops = (d: number, v: number | null, rank: number): (number | null)[] =>
  Array.from({ length: rank }, (_, i) => (i === d ? v : null));

function matmulRule(rec: OpRecord<'matmul'>, ct: Tensor, needs: readonly boolean[]): (Tensor | null)[] {
  const [a, b] = rec.inputs as [Tensor, Tensor];
  const { transA, transB } = rec.attrs;
  // C = op(A)·op(B)  ⇒  dop(A) = dC·op(B)ᵀ and dop(B) = op(A)ᵀ·dC; stored transposes flip the product.
  const da = !needs[0] ? null : transA ? matmul(b, ct, { transA: transB, transB: true }) : matmul(ct, b, { transB: !transB });
  let db: Tensor | null;
  if (!needs[1]) db = null;
  else if (b.rank === 2 && a.rank > 2 && !transA) {
    // A weight shared over a batch ([..., m, k] @ [k, n]): one [k, B·m] @ [B·m, n] product
    // instead of B products summed afterwards — the same sum, in one kernel call.
    const k = a.shape[a.rank - 1]!;
    const n = ct.shape[ct.rank - 1]!;
    const a2 = reshape(a, [-1, k]);
    const c2 = reshape(ct, [-1, n]);
    db = transB ? matmul(c2, a2, { transA: true }) : matmul(a2, c2, { transA: true });
  } else {
    db = transB ? matmul(ct, a, { transA: true, transB: transA }) : matmul(a, ct, { transA: !transA });
  }
  return [da && unbroadcast(da, a.shape), db && unbroadcast(db, b.shape)];
}

const none = (rec: OpRecord): null[] => rec.inputs.map(() => null);

/** The vector–Jacobian rule of each primitive, keyed by primitive name ({@link OpRecord.prim}); rules of ops with no gradient (sign, comparisons, argmax, ...) return nulls. */
export const RULES: Rules = {
  neg: (_r, ct) => [neg(ct)],
  abs: (r, ct) => [mul(ct, sign(r.inputs[0]!))],
  sign: (r) => none(r),
  exp: (r, ct) => [mul(ct, r.output)],
  log: (r, ct) => [div(ct, r.inputs[0]!)],
  log1p: (r, ct) => [div(ct, add(r.inputs[0]!, 1))],
  sqrt: (r, ct) => [div(mul(ct, 0.5), r.output)],
  rsqrt: (r, ct) => [mul(ct, div(mul(r.output, -0.5), r.inputs[0]!))],
  tanh: (r, ct) => [mul(ct, sub(1, mul(r.output, r.output)))],
  sigmoid: (r, ct) => [mul(ct, mul(r.output, sub(1, r.output)))],
  // relu'(0) = 0, the usual subgradient choice.
  relu: (r, ct) => [where(gt(r.inputs[0]!, 0), ct, 0)],
  sin: (r, ct) => [mul(ct, cos(r.inputs[0]!))],
  cos: (r, ct) => [neg(mul(ct, sin(r.inputs[0]!)))],
  logicalNot: none,

  add: (r, ct, n) => [n[0] ? unbroadcast(ct, r.inputs[0]!.shape) : null, n[1] ? unbroadcast(ct, r.inputs[1]!.shape) : null],
  sub: (r, ct, n) => [n[0] ? unbroadcast(ct, r.inputs[0]!.shape) : null, n[1] ? unbroadcast(neg(ct), r.inputs[1]!.shape) : null],
  mul: (r, ct, n) => {
    const [a, b] = r.inputs as [Tensor, Tensor];
    return [n[0] ? unbroadcast(mul(ct, b), a.shape) : null, n[1] ? unbroadcast(mul(ct, a), b.shape) : null];
  },
  div: (r, ct, n) => {
    const [a, b] = r.inputs as [Tensor, Tensor];
    return [n[0] ? unbroadcast(div(ct, b), a.shape) : null, n[1] ? unbroadcast(neg(div(mul(ct, r.output), b)), b.shape) : null];
  },
  pow: (r, ct, n) => {
    const [a, b] = r.inputs as [Tensor, Tensor];
    const da = n[0] ? unbroadcast(mul(ct, mul(b, pow(a, sub(b, 1)))), a.shape) : null;
    // d/db a^b = a^b·log a is defined for a > 0; taken as 0 elsewhere (log of 1 keeps it finite).
    let db: Tensor | null = null;
    if (n[1]) {
      const pos = gt(a, 0);
      db = unbroadcast(where(pos, mul(ct, mul(r.output, log(where(pos, a, 1)))), 0), b.shape);
    }
    return [da, db];
  },
  maximum: (r, ct, n) => {
    const [a, b] = r.inputs as [Tensor, Tensor];
    const w = winWeight(a, b, gt);
    return [n[0] ? unbroadcast(mul(ct, w), a.shape) : null, n[1] ? unbroadcast(mul(ct, sub(1, w)), b.shape) : null];
  },
  minimum: (r, ct, n) => {
    const [a, b] = r.inputs as [Tensor, Tensor];
    const w = winWeight(a, b, lt);
    return [n[0] ? unbroadcast(mul(ct, w), a.shape) : null, n[1] ? unbroadcast(mul(ct, sub(1, w)), b.shape) : null];
  },
  eq: none, ne: none, lt: none, le: none, gt: none, ge: none,
  logicalAnd: none, logicalOr: none, logicalXor: none,

  where: (r, ct, n) => {
    const [c, a, b] = r.inputs as [Tensor, Tensor, Tensor];
    return [null, n[1] ? unbroadcast(where(c, ct, 0), a.shape) : null, n[2] ? unbroadcast(where(c, 0, ct), b.shape) : null];
  },

  sum: (r, ct) => [expandReduced(ct, r.inputs[0]!, r.attrs.axes, r.attrs.keepDims)],
  max: extremumRule,
  min: extremumRule,
  argmax: none,
  argmin: none,

  matmul: matmulRule,

  reshape: (r, ct) => [reshape(ct, r.inputs[0]!.shape)],
  transpose: (r, ct) => {
    const { perm } = r.attrs;
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [transpose(ct, inv)];
  },
  broadcastTo: (r, ct) => [unbroadcast(ct, r.inputs[0]!.shape)],
  slice: (r, ct) => [unslice(ct, r.inputs[0]!.shape, r.attrs.begin, r.attrs.step)],
  pad: (r, ct) => {
    const x = r.inputs[0]!;
    const { widths } = r.attrs;
    return [slice(ct, widths.map((w) => w[0]), widths.map((w, i) => w[0] + x.shape[i]!))];
  },
  concat: (r, ct, n) => {
    const { axis } = r.attrs;
    let off = 0;
    return r.inputs.map((x, j) => {
      const starts = x.shape.map((_, i) => (i === axis ? off : 0));
      const stops = x.shape.map((d, i) => (i === axis ? off + d : d));
      off += x.shape[axis]!;
      return n[j] ? slice(ct, starts, stops) : null;
    });
  },
  gather: (r, ct) => {
    const [x, idx] = r.inputs as [Tensor, Tensor];
    return [scatterAdd(ct, idx, r.attrs.axis, x.shape), null];
  },
  scatterAdd: (r, ct) => [gather(ct, r.inputs[1]!, r.attrs.axis), null],
  // Fused row ops: rules written with the same primitives, from the output alone where possible.
  // A backend with fused gradient kernels (webgpu) computes each as one pass when no tracer
  // watches this backward pass (fusedSoftmaxGrad / fusedNormalizeGrad return undefined
  // otherwise, and on cpu): the same formulas, so higher-order gradients still compose.
  softmax: (r, ct) => {
    const y = r.output;
    return [fusedSoftmaxGrad(y, ct, false) ?? mul(y, sub(ct, sum(mul(ct, y), -1, true)))];
  },
  logSoftmax: (r, ct) => [fusedSoftmaxGrad(r.output, ct, true) ?? sub(ct, mul(exp(r.output), sum(ct, -1, true)))],
  normalize: (r, ct) => {
    const fused = fusedNormalizeGrad(r.inputs[0]!, ct, r.attrs.eps);
    if (fused) return [fused];
    // y = (x − μ)·s with s = (σ² + eps)^-½:  dx = s·(ct − mean(ct) − y·mean(ct·y)).
    const x = r.inputs[0]!;
    const y = r.output;
    const n = x.shape[x.rank - 1]!;
    const xc = sub(x, div(sum(x, -1, true), n));
    const s = rsqrt(add(div(sum(mul(xc, xc), -1, true), n), r.attrs.eps));
    const m1 = div(sum(ct, -1, true), n);
    const m2 = div(sum(mul(ct, y), -1, true), n);
    return [mul(s, sub(sub(ct, m1), mul(y, m2)))];
  },
  attention: attentionRule,
  cast: (r, ct) => {
    const x = r.inputs[0]!;
    // Only a float→float cast (an identity) carries a gradient.
    return [x.dtype === 'float32' && r.output.dtype === 'float32' ? ct : null];
  },
};

/**
 * The fused attention's rule. With no tracer watching and no bias gradient wanted, the
 * backend's gradient kernels (webgpu) give dq, dk, dv directly. Otherwise the gradient of
 * the composite (multiHeadAttention without a fused kernel), from primitives: with
 * P = softmax(S), S = q_h·k_hᵀ·scale + bias per head and G the cotangent split into heads,
 * dv_h = Pᵀ·G, dP = G·v_hᵀ, dS = P ⊙ (dP − Σ_j dP ⊙ P), dq_h = dS·k_h·scale,
 * dk_h = dSᵀ·q_h·scale, dbias = dS summed to the bias's shape.
 */
function attentionRule(r: OpRecord<'attention'>, ct: Tensor, n: readonly boolean[]): (Tensor | null)[] {
  const [q, k, v, bias] = r.inputs as [Tensor, Tensor, Tensor, Tensor | undefined];
  const { heads, scale, kvHeads } = r.attrs;
  if (!(bias && n[3])) {
    const fused = fusedAttentionGrad(q, k, v, bias, ct, r.attrs);
    if (fused) {
      const out: (Tensor | null)[] = fused.map((x, i) => (n[i] ? x : null));
      if (bias) out.push(null);
      return out;
    }
  }
  const [b, , d] = q.shape as [number, number, number];
  const dh = d / heads;
  const split = (x: Tensor) => transpose(reshape(x, [b, x.shape[1]!, heads, dh]), [0, 2, 1, 3]);
  const merge = (x: Tensor) => reshape(transpose(x, [0, 2, 1, 3]), [b, x.shape[2]!, d]);
  const qh = split(q);
  const kh = kvHeads ? k : split(k);
  const vh = kvHeads ? v : split(v);
  let s = mul(matmul(qh, kh, { transB: true }), scale);
  if (bias) s = add(s, bias);
  const p = softmax(s, -1);
  const g = split(ct);
  const dp = matmul(g, vh, { transB: true });
  const ds = mul(p, sub(dp, sum(mul(dp, p), -1, true)));
  const dss = mul(ds, scale);
  const dq = n[0] ? merge(matmul(dss, kh)) : null;
  const dkh = n[1] ? matmul(dss, qh, { transA: true }) : null;
  const dvh = n[2] ? matmul(p, g, { transA: true }) : null;
  const out: (Tensor | null)[] = [dq, dkh && (kvHeads ? dkh : merge(dkh)), dvh && (kvHeads ? dvh : merge(dvh))];
  if (bias) out.push(n[3] ? unbroadcast(ds, bias.shape) : null);
  return out;
}

/**
 * Applies the rule of `rec`'s primitive to it. Every primitive has one (the type of
 * {@link RULES} sees to that); the check is for records made outside TypeScript.
 */
export function applyRule<P extends Prim>(rec: OpRecord<P>, ct: Tensor, needs: readonly boolean[]): (Tensor | null)[] {
  const r: Rule<P> | undefined = RULES[rec.prim];
  if (!r) throw new AutodiffError('vjp', `no gradient rule for the primitive '${rec.prim}'`, 'rule');
  return r(rec, ct, needs);
}

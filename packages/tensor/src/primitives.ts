/**
 * The names of tandem's primitives and the static attributes each records.
 * Everything that switches on a primitive — the backends' kernels, the tracer's
 * records, autodiff's rules — is typed by these, so a primitive added here without
 * a gradient rule, or a rule reading an attribute its primitive does not record,
 * fails to compile.
 */
import type { DType } from './dtype.js';

/** Elementwise ops of one input. Output dtype equals input dtype. */
export type UnaryOp =
  | 'neg' | 'abs' | 'sign' | 'exp' | 'log' | 'log1p' | 'sqrt' | 'rsqrt'
  | 'tanh' | 'sigmoid' | 'relu' | 'sin' | 'cos' | 'logicalNot';

/** Elementwise ops of two broadcast inputs of one dtype. Comparisons and logical ops yield bool. */
export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'
  | 'logicalAnd' | 'logicalOr' | 'logicalXor';

/**
 * Reductions. `argmax`/`argmin` return int32 indices; ties resolve to the first
 * (lowest) index. `max`/`min` propagate NaN.
 */
export type ReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

/** Every {@link UnaryOp}, in a fixed order (for iteration in tests and backends). */
export const UNARY_OPS: readonly UnaryOp[] = [
  'neg', 'abs', 'sign', 'exp', 'log', 'log1p', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'relu', 'sin', 'cos', 'logicalNot',
];
/** Every {@link BinaryOp}, in a fixed order (for iteration in tests and backends). */
export const BINARY_OPS: readonly BinaryOp[] = [
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr', 'logicalXor',
];
export const COMPARISON_OPS: ReadonlySet<BinaryOp> = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
export const LOGICAL_OPS: ReadonlySet<BinaryOp> = new Set(['logicalAnd', 'logicalOr', 'logicalXor']);

/** The attributes of a primitive that has none (elementwise ops). */
export type NoAttrs = Record<never, never>;

/** The attributes of a reduction: the (sorted, normalised) axes reduced and whether they are kept as size 1. */
export interface ReduceAttrs {
  readonly axes: readonly number[];
  readonly keepDims: boolean;
}

/**
 * Every primitive the front end (ops.ts) applies, by name, with the static arguments it
 * records for a tracer, exactly as validated (axes normalised, shapes resolved).
 */
export interface Primitives extends Record<UnaryOp | BinaryOp, NoAttrs>, Record<ReduceOp, ReduceAttrs> {
  /** `cond ? a : b`; inputs [cond, a, b]. */
  where: NoAttrs;
  /** Inputs [a, b]; whether each operand's last two axes were taken transposed. */
  matmul: { readonly transA: boolean; readonly transB: boolean };
  /** The resolved target shape (no -1). */
  reshape: { readonly shape: readonly number[] };
  /** The normalised permutation: output axis j is input axis perm[j]. */
  transpose: { readonly perm: readonly number[] };
  /** The target shape. */
  broadcastTo: { readonly shape: readonly number[] };
  /** Per axis, the first index taken (0 for an empty axis) and the non-zero step. */
  slice: { readonly begin: readonly number[]; readonly step: readonly number[] };
  /** Per axis `[before, after]`, and the constant written there. */
  pad: { readonly widths: readonly (readonly [number, number])[]; readonly value: number };
  /** Inputs: the joined tensors; the normalised axis. */
  concat: { readonly axis: number };
  /** Inputs [x, indices]; the normalised axis. */
  gather: { readonly axis: number };
  /** Inputs [updates, indices]; the normalised axis and the output shape. */
  scatterAdd: { readonly axis: number; readonly shape: readonly number[] };
  /** The target dtype. */
  cast: { readonly dtype: DType };
  /** Fused softmax over the last axis (where the backend has it). */
  softmax: NoAttrs;
  /** Fused log-softmax over the last axis (where the backend has it). */
  logSoftmax: NoAttrs;
  /** Fused (x − mean)/sqrt(var + eps) over the last axis (where the backend has it). */
  normalize: { readonly eps: number };
  /**
   * Fused multi-head attention (where the backend has it); inputs [q, k, v] or [q, k, v, bias].
   * q is [B, Tq, H·dh] and so is the output: per head h, softmax(q_h·k_hᵀ·scale + bias)·v_h,
   * heads merged back. k and v are [B, Tk, H·dh], or [B, H, Tk, dh] when `kvHeads`; the bias
   * broadcasts to [B, H, Tq, Tk]. See `multiHeadAttention`.
   */
  attention: { readonly heads: number; readonly scale: number; readonly kvHeads: boolean };
}

/** The name of a primitive. */
export type Prim = keyof Primitives;

/** The attributes primitive `P` records. */
export type PrimAttrs<P extends Prim> = Primitives[P];

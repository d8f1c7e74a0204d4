import type { DType, HostArray } from './dtype.js';
import type { ConcatLayout, View } from './layout.js';
import type { BinaryOp, ReduceOp, UnaryOp } from './primitives.js';
import type { Shape } from './shape.js';

/**
 * The primitive set every backend implements. Storage is always dense and row
 * major; shapes are validated by the front end (`ops.ts`) before a backend sees
 * them, so a backend may assume its arguments are consistent.
 *
 * Every method returns freshly allocated storage that the caller owns.
 */
export interface Backend<S = unknown> {
  /** Which backend this is; also the name it is registered under. */
  readonly name: 'cpu' | 'webgpu';
  /** Copies host data into new storage. */
  upload(data: HostArray, dtype: DType): S;
  /** A new storage of `size` elements, each equal to `value`. */
  fill(value: number, size: number, dtype: DType): S;
  /** Copies storage back to the host. */
  read(s: S, dtype: DType, size: number): Promise<HostArray>;
  /** Synchronous read, only where the backend can do it without blocking on a device. */
  readSync?(s: S, dtype: DType, size: number): HostArray;
  /** Releases storage. Called exactly once per storage, when its last tensor is disposed. */
  free(s: S): void;
  /** Bytes of device memory held by live storages (for `memory()`). */
  bytesInUse(): number;
  /** Waits until queued work has finished (no-op on cpu). */
  sync(): Promise<void>;

  /** Applies the elementwise `op` to `size` elements of dtype `dtype`; output dtype equals input dtype. */
  unary(op: UnaryOp, x: S, size: number, dtype: DType): S;
  /** `a` and `b` have dtype `dtype`; output dtype is bool for comparisons/logical ops, else `dtype`. */
  binary(op: BinaryOp, a: S, aShape: Shape, b: S, bShape: Shape, outShape: Shape, dtype: DType): S;
  /** `cond` is bool; `a` and `b` have dtype `dtype`; all three broadcast to `outShape`. */
  where(cond: S, cShape: Shape, a: S, aShape: Shape, b: S, bShape: Shape, outShape: Shape, dtype: DType): S;
  /** Reduces x viewed as [outer, reduced, inner] over its middle axis into [outer, inner]. */
  reduce(op: ReduceOp, x: S, outer: number, reduced: number, inner: number, dtype: DType): S;
  /**
   * float32 batched matmul: out[i] = op(A[i]) @ op(B[i]), i < batch; op(A) is m×k, op(B) is k×n;
   * A[i] starts at i*aBatchStride (0 broadcasts one matrix), likewise B.
   */
  matmul(a: S, b: S, batch: number, m: number, k: number, n: number,
    transA: boolean, transB: boolean, aBatchStride: number, bBatchStride: number): S;
  /**
   * Materialises the strided view `v` of x into new contiguous storage of sizeOf(v.shape)
   * elements: out[i] = x[v.offset + Σ coord_d(i) · v.strides[d]]. Transpose, broadcastTo
   * and slice are all this copy; their views come from layout.ts.
   */
  stridedCopy(x: S, v: View, dtype: DType): S;
  /** Constant padding: out has x placed at offset `before` per axis, `value` elsewhere. */
  pad(x: S, shape: Shape, before: readonly number[], outShape: Shape, value: number, dtype: DType): S;
  /** Concatenation: input t becomes block `layout.parts[t]` of each output row (see {@link ConcatLayout}). */
  concat(xs: readonly S[], layout: ConcatLayout, dtype: DType): S;
  /**
   * x viewed as [outer, dim, inner]; indices (int32, `count` of them, each in [0, dim)) pick
   * along the middle axis: out[o, i, j] = x[o, idx[i], j], shape [outer, count, inner].
   */
  gather(x: S, outer: number, dim: number, inner: number, indices: S, count: number, dtype: DType): S;
  /**
   * Adjoint of gather: out [outer, dim, inner] zeros, then out[o, idx[i], j] += upd[o, i, j]
   * with the additions for one output element done in increasing i (deterministic).
   */
  scatterAdd(updates: S, outer: number, dim: number, inner: number, indices: S, count: number, dtype: DType): S;
  /** Converts dtypes: float→int truncates toward zero; anything→bool is `x != 0`. */
  cast(x: S, size: number, from: DType, to: DType): S;
  /**
   * `size` random values from Philox-4x32-10 with the 64-bit key (key0, key1): word w is
   * output lane (w mod 4) of the block with counter (floor(w/4), 0, 0, 0).
   * `bits`: the raw words as int32. `uniform`: float32 (floor(word / 2^9) + 0.5) · 2^-23, which
   * lies strictly inside (0, 1) and is exact, so every backend yields the same bits.
   */
  random(key0: number, key1: number, size: number, dist: 'bits' | 'uniform'): S;

  // Optional fused kernels. A backend that has them runs softmax / layer normalisation
  // in one pass per row; one that lacks them gets the same functions composed from the
  // primitives above (ops.ts). Each works on x viewed as [rows, n], over the last axis.
  /** Row-wise softmax (`log`: log-softmax), stable (shifted by the row maximum). */
  softmax?(x: S, rows: number, n: number, log: boolean): S;
  /** Row-wise (x − mean) / sqrt(var + eps), biased variance. */
  normalize?(x: S, rows: number, n: number, eps: number): S;
  /**
   * The gradient of `softmax` (`log`: log-softmax) from its output y and the cotangent ct,
   * both [rows, n]: y·(ct − Σ ct·y), or ct − exp(y)·Σ ct, per row. Autodiff's rules use it
   * when no tracer watches the backward pass; undefined declines (the rule composes it).
   */
  softmaxGrad?(y: S, ct: S, rows: number, n: number, log: boolean): S | undefined;
  /**
   * The gradient of `normalize` from its input x and the cotangent ct, both [rows, n]:
   * r·((ct − mean ct) − y·mean(ct·y)) with y = normalize(x), r = (var + eps)^-½, per row.
   * As softmaxGrad: used by the rule when untraced; undefined declines.
   */
  normalizeGrad?(x: S, ct: S, rows: number, n: number, eps: number): S | undefined;
  /**
   * Multi-head attention (see the `attention` primitive and {@link AttentionDims}): q and the
   * output [B, Tq, H·dh], k and v token- or head-major, the bias broadcast by its strides.
   * Undefined declines (sizes the kernel cannot take): the caller composes it.
   */
  attention?(q: S, k: S, v: S, bias: S | undefined, a: AttentionDims): S | undefined;
  /**
   * The gradients [dq, dk, dv] of `attention` for the output cotangent ct (each in its
   * operand's layout; no bias gradient). Autodiff's rule uses it when no tracer watches
   * the backward pass and the bias needs no gradient; undefined declines.
   */
  attentionGrad?(q: S, k: S, v: S, bias: S | undefined, ct: S, a: AttentionDims): [S, S, S] | undefined;
  /**
   * One Adam(W) step over `size` float32 elements (see {@link AdamConstants}): returns the
   * new first and second moments and the additive update, [m', v', update]. `p` (the
   * params) only for the decoupled weight decay. Not differentiated, so not a traced
   * primitive; a backend without it gets the same arithmetic as separate ops.
   */
  adamStep?(g: S, m: S, v: S, p: S | undefined, size: number, c: AdamConstants): [S, S, S];
}

/** The sizes of one fused attention: B, H, Tq, Tk and dh = d / H, the score scale, k/v's layout, the bias's strides. */
export interface AttentionDims {
  readonly batch: number;
  readonly heads: number;
  readonly tq: number;
  readonly tk: number;
  readonly dh: number;
  /** Multiplies q·kᵀ before the bias is added (float32). */
  readonly scale: number;
  /** k and v are [B, H, Tk, dh] (else [B, Tk, H·dh]). */
  readonly kvHeads: boolean;
  /** The bias's element strides over [B, H, Tq, Tk] (0 on broadcast axes); undefined without a bias. */
  readonly biasStrides: readonly [number, number, number, number] | undefined;
}

/**
 * The scalars of one Adam(W) step, each already a float32 value (the composite applies
 * them as float32 scalar tensors). Elementwise, in this order of float32 operations:
 *   m' = lerpFromM ? m + (g − m)·lerp : g − (g − m)·lerp
 *   v' = v·b2 + (g·oneMinusB2)·g
 *   update = (m'·negStepSize) / (sqrt(v') / bc2Sqrt + eps)   [+ p·negDecay first, with p]
 */
export interface AdamConstants {
  readonly lerp: number;
  readonly lerpFromM: boolean;
  readonly b2: number;
  readonly oneMinusB2: number;
  readonly negStepSize: number;
  readonly bc2Sqrt: number;
  readonly eps: number;
  readonly negDecay: number;
}

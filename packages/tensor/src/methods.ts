/**
 * The chaining methods of {@link Tensor} (`x.add(y).relu()`): thin sugar over the
 * functions of ops.ts and composites.ts, installed on the prototype here so that
 * tensor.ts does not import the ops that import it. index.ts imports this module,
 * so every tensor has these methods once @tandem/tensor is loaded.
 */
import * as comp from './composites.js';
import type { DType } from './dtype.js';
import * as ops from './ops.js';
import { Tensor, type TensorLike } from './tensor.js';

/** The chaining methods every {@link Tensor} has; each is the function of the same name applied to `this`. */
export interface TensorMethods {
  /** Elementwise this + b with broadcasting; see {@link ops.add | add}. */
  add(b: TensorLike): Tensor;
  /** Elementwise this − b with broadcasting; see {@link ops.sub | sub}. */
  sub(b: TensorLike): Tensor;
  /** Elementwise this · b with broadcasting; see {@link ops.mul | mul}. */
  mul(b: TensorLike): Tensor;
  /** Elementwise float32 this / b with broadcasting; see {@link ops.div | div}. */
  div(b: TensorLike): Tensor;
  /** Elementwise float32 this ^ b with broadcasting; see {@link ops.pow | pow}. */
  pow(b: TensorLike): Tensor;
  /** Elementwise max(this, b) with broadcasting; see {@link ops.maximum | maximum}. */
  maximum(b: TensorLike): Tensor;
  /** Elementwise min(this, b) with broadcasting; see {@link ops.minimum | minimum}. */
  minimum(b: TensorLike): Tensor;
  /** Elementwise this == b → bool; see {@link ops.eq | eq}. */
  eq(b: TensorLike): Tensor;
  /** Elementwise this != b → bool; see {@link ops.ne | ne}. */
  ne(b: TensorLike): Tensor;
  /** Elementwise this < b → bool; see {@link ops.lt | lt}. */
  lt(b: TensorLike): Tensor;
  /** Elementwise this ≤ b → bool; see {@link ops.le | le}. */
  le(b: TensorLike): Tensor;
  /** Elementwise this > b → bool; see {@link ops.gt | gt}. */
  gt(b: TensorLike): Tensor;
  /** Elementwise this ≥ b → bool; see {@link ops.ge | ge}. */
  ge(b: TensorLike): Tensor;
  /** Elementwise boolean and; see {@link ops.logicalAnd | logicalAnd}. */
  logicalAnd(b: TensorLike): Tensor;
  /** Elementwise boolean or; see {@link ops.logicalOr | logicalOr}. */
  logicalOr(b: TensorLike): Tensor;
  /** Elementwise boolean xor; see {@link ops.logicalXor | logicalXor}. */
  logicalXor(b: TensorLike): Tensor;
  /** Elementwise boolean not; see {@link ops.logicalNot | logicalNot}. */
  logicalNot(): Tensor;
  /** −x; see {@link ops.neg | neg}. */
  neg(): Tensor;
  /** |x|; see {@link ops.abs | abs}. */
  abs(): Tensor;
  /** Sign (−1, 0 or 1); see {@link ops.sign | sign}. */
  sign(): Tensor;
  /** e^x; see {@link ops.exp | exp}. */
  exp(): Tensor;
  /** Natural log; see {@link ops.log | log}. */
  log(): Tensor;
  /** log(1 + x); see {@link ops.log1p | log1p}. */
  log1p(): Tensor;
  /** Square root; see {@link ops.sqrt | sqrt}. */
  sqrt(): Tensor;
  /** 1 / sqrt(x); see {@link ops.rsqrt | rsqrt}. */
  rsqrt(): Tensor;
  /** Hyperbolic tangent; see {@link ops.tanh | tanh}. */
  tanh(): Tensor;
  /** Logistic sigmoid; see {@link ops.sigmoid | sigmoid}. */
  sigmoid(): Tensor;
  /** max(x, 0); see {@link ops.relu | relu}. */
  relu(): Tensor;
  /** Sine; see {@link ops.sin | sin}. */
  sin(): Tensor;
  /** Cosine; see {@link ops.cos | cos}. */
  cos(): Tensor;
  /** x²; see {@link comp.square | square}. */
  square(): Tensor;
  /** Sum over `axes` (all when omitted); see {@link ops.sum | sum}. */
  sum(axes?: number | readonly number[], keepDims?: boolean): Tensor;
  /** Maximum over `axes` (all when omitted); see {@link ops.max | max}. */
  max(axes?: number | readonly number[], keepDims?: boolean): Tensor;
  /** Minimum over `axes` (all when omitted); see {@link ops.min | min}. */
  min(axes?: number | readonly number[], keepDims?: boolean): Tensor;
  /** int32 index of the maximum along `axis`; see {@link ops.argmax | argmax}. */
  argmax(axis: number, keepDims?: boolean): Tensor;
  /** int32 index of the minimum along `axis`; see {@link ops.argmin | argmin}. */
  argmin(axis: number, keepDims?: boolean): Tensor;
  /** Mean over `axes` (all when omitted); see {@link comp.mean | mean}. */
  mean(axes?: number | readonly number[], keepDims?: boolean): Tensor;
  /** Batched matrix product this @ b over the last two axes; see {@link ops.matmul | matmul}. */
  matmul(b: Tensor, opts?: ops.MatmulOptions): Tensor;
  /** Same elements with a new shape (one entry may be -1); see {@link ops.reshape | reshape}. */
  reshape(shape: readonly number[]): Tensor;
  /** Permutes axes (reverses them by default); see {@link ops.transpose | transpose}. */
  transpose(perm?: readonly number[]): Tensor;
  /** Materialises this broadcast to `shape`; see {@link ops.broadcastTo | broadcastTo}. */
  broadcastTo(shape: readonly number[]): Tensor;
  /** Strided slice per axis; see {@link ops.slice | slice}. */
  slice(starts: readonly number[], stops?: readonly (number | null)[], steps?: readonly number[]): Tensor;
  /** Constant padding of each axis by `[before, after]`; see {@link ops.pad | pad}. */
  pad(widths: readonly (readonly [number, number])[], value?: number): Tensor;
  /** Picks entries along `axis` by int32 `indices`; see {@link ops.gather | gather}. */
  gather(indices: Tensor, axis?: number): Tensor;
  /** Converts to `dtype`; see {@link ops.cast | cast}. */
  cast(dtype: DType): Tensor;
  /** Inserts a size-1 axis at `axis`; see {@link comp.expandDims | expandDims}. */
  expandDims(axis: number): Tensor;
  /** Removes size-1 axes (the given ones, or all); see {@link comp.squeeze | squeeze}. */
  squeeze(axes?: number | readonly number[]): Tensor;
  /** Stable softmax along `axis`; see {@link comp.softmax | softmax}. */
  softmax(axis?: number): Tensor;
  /** Stable log-softmax along `axis`; see {@link comp.logSoftmax | logSoftmax}. */
  logSoftmax(axis?: number): Tensor;
  /** Stable log Σ exp over `axes` (the last by default); see {@link comp.logSumExp | logSumExp}. */
  logSumExp(axes?: number | readonly number[], keepDims?: boolean): Tensor;
  /** min(max(x, lo), hi); see {@link comp.clamp | clamp}. */
  clamp(lo: number, hi: number): Tensor;
}

declare module './tensor.js' {
  // Merges the chaining methods into the class's type.
  interface Tensor extends TensorMethods {}
}

const methods: TensorMethods & ThisType<Tensor> = {
  add(b) { return ops.add(this, b); },
  sub(b) { return ops.sub(this, b); },
  mul(b) { return ops.mul(this, b); },
  div(b) { return ops.div(this, b); },
  pow(b) { return ops.pow(this, b); },
  maximum(b) { return ops.maximum(this, b); },
  minimum(b) { return ops.minimum(this, b); },
  eq(b) { return ops.eq(this, b); },
  ne(b) { return ops.ne(this, b); },
  lt(b) { return ops.lt(this, b); },
  le(b) { return ops.le(this, b); },
  gt(b) { return ops.gt(this, b); },
  ge(b) { return ops.ge(this, b); },
  logicalAnd(b) { return ops.logicalAnd(this, b); },
  logicalOr(b) { return ops.logicalOr(this, b); },
  logicalXor(b) { return ops.logicalXor(this, b); },
  logicalNot() { return ops.logicalNot(this); },
  neg() { return ops.neg(this); },
  abs() { return ops.abs(this); },
  sign() { return ops.sign(this); },
  exp() { return ops.exp(this); },
  log() { return ops.log(this); },
  log1p() { return ops.log1p(this); },
  sqrt() { return ops.sqrt(this); },
  rsqrt() { return ops.rsqrt(this); },
  tanh() { return ops.tanh(this); },
  sigmoid() { return ops.sigmoid(this); },
  relu() { return ops.relu(this); },
  sin() { return ops.sin(this); },
  cos() { return ops.cos(this); },
  square() { return comp.square(this); },
  sum(axes, keepDims = false) { return ops.sum(this, axes, keepDims); },
  max(axes, keepDims = false) { return ops.max(this, axes, keepDims); },
  min(axes, keepDims = false) { return ops.min(this, axes, keepDims); },
  argmax(axis, keepDims = false) { return ops.argmax(this, axis, keepDims); },
  argmin(axis, keepDims = false) { return ops.argmin(this, axis, keepDims); },
  mean(axes, keepDims = false) { return comp.mean(this, axes, keepDims); },
  matmul(b, opts) { return ops.matmul(this, b, opts); },
  reshape(shape) { return ops.reshape(this, shape); },
  transpose(perm) { return ops.transpose(this, perm); },
  broadcastTo(shape) { return ops.broadcastTo(this, shape); },
  slice(starts, stops, steps) { return ops.slice(this, starts, stops, steps); },
  pad(widths, value = 0) { return ops.pad(this, widths, value); },
  gather(indices, axis = 0) { return ops.gather(this, indices, axis); },
  cast(dtype) { return ops.cast(this, dtype); },
  expandDims(axis) { return comp.expandDims(this, axis); },
  squeeze(axes) { return comp.squeeze(this, axes); },
  softmax(axis = -1) { return comp.softmax(this, axis); },
  logSoftmax(axis = -1) { return comp.logSoftmax(this, axis); },
  logSumExp(axes = -1, keepDims = false) { return comp.logSumExp(this, axes, keepDims); },
  clamp(lo, hi) { return comp.clamp(this, lo, hi); },
};

// Non-enumerable, like methods declared in the class body.
for (const [name, fn] of Object.entries(methods)) {
  Object.defineProperty(Tensor.prototype, name, { value: fn, writable: true, configurable: true, enumerable: false });
}

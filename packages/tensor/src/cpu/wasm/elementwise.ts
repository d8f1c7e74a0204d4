// float32 add / sub / mul / div (same shape, scalar, per-row and per-column broadcasts) and
// float32 sums on the WebAssembly SIMD kernels in packages/tensor/wasm/elementwise.ts (same
// module and single-thread instance as the matmul). Bit-identical to the JavaScript loops in
// ../elementwise.ts and ../backend.ts (`reduceKernel`), which they replace for all but small
// problems: the lanes hold different outputs, never parts of one sum, so every output is
// the same IEEE operation (or the same float64 chain of additions) as before; only a NaN's
// payload may differ. See docs/decisions/wasm-elementwise.md.
import type { BinaryOp } from '../../primitives.js';
import { singleKernels } from './matmul.js';

/** Below this many output elements the JavaScript loops are used (copy-in/out and call overhead). */
export const ELEMENTWISE_WASM_MIN = 2048;

/** The operators the kernel has, by its op code. */
const OPS: Partial<Record<BinaryOp, number>> = { add: 0, sub: 1, mul: 2, div: 3 };

/** How the smaller operand is laid out against the output's [rows, n]. */
export type BroadcastMode = 'same' | 'scalar' | 'row' | 'col';
const MODES: Record<BroadcastMode, number> = { same: 0, scalar: 1, row: 2, col: 3 };

/** Whether `op` has a wasm kernel. */
export function hasWasmBinary(op: BinaryOp): boolean {
  return OPS[op] !== undefined;
}

function align64(x: number): number {
  return Math.ceil(x / 64) * 64;
}

/**
 * out = full ∘ small (or small ∘ full when `swap`) over [rows, n]; `small` has rows·n,
 * 1, rows or n elements by `mode`. `op` must be one of add, sub, mul, div. out is fully
 * overwritten.
 */
export function binaryF32(op: BinaryOp, mode: BroadcastMode, swap: boolean, full: Float32Array, small: Float32Array,
  out: Float32Array, rows: number, n: number): void {
  const len = rows * n;
  const sLen = mode === 'same' ? len : mode === 'scalar' ? 1 : mode === 'row' ? rows : n;
  const k = singleKernels(align64(len * 4) + align64(sLen * 4));
  const fOff = k.heapBase;
  const sOff = fOff + align64(len * 4);
  k.f32.set(full.length === len ? full : full.subarray(0, len), fOff >>> 2);
  k.f32.set(small.length === sLen ? small : small.subarray(0, sLen), sOff >>> 2);
  k.exports.binaryF32(OPS[op]!, MODES[mode], swap ? 1 : 0, fOff, sOff, fOff, rows, n);
  out.set(k.f32.subarray(fOff >>> 2, (fOff >>> 2) + len));
}

/** out[o·inner + j] = Σ_r x[(o·red + r)·inner + j], each sum in float64 in increasing r, rounded once. */
export function sumF32(x: Float32Array, out: Float32Array, outer: number, red: number, inner: number): void {
  const len = outer * red * inner;
  const outLen = outer * inner;
  const k = singleKernels(align64(len * 4) + align64(outLen * 4) + inner * 8);
  const xOff = k.heapBase;
  const oOff = xOff + align64(len * 4);
  const accOff = oOff + align64(outLen * 4);
  k.f32.set(x.length === len ? x : x.subarray(0, len), xOff >>> 2);
  k.exports.sumF32(xOff, oOff, outer, red, inner, accOff);
  out.set(k.f32.subarray(oOff >>> 2, (oOff >>> 2) + outLen));
}

/** out = relu(x) (the bit-mask relu: x < 0 → +0; −0 and NaN unchanged). */
export function reluF32(x: Float32Array, out: Float32Array, n: number): void {
  const k = singleKernels(align64(n * 4));
  const off = k.heapBase;
  k.f32.set(x.length === n ? x : x.subarray(0, n), off >>> 2);
  k.exports.reluF32(off, off, n);
  out.set(k.f32.subarray(off >>> 2, (off >>> 2) + n));
}

/** out[i] = x[i] > s ? 1 : 0 over n elements (out: bytes). */
export function gtScalarF32(x: Float32Array, s: number, out: Uint8Array, n: number): void {
  const k = singleKernels(align64(n * 4) + align64(n));
  const xOff = k.heapBase;
  const oOff = xOff + align64(n * 4);
  k.f32.set(x.length === n ? x : x.subarray(0, n), xOff >>> 2);
  k.exports.gtScalarF32(xOff, s, oOff, n);
  out.set(new Uint8Array(k.f32.buffer, oOff, n));
}

/** out = c ? a : b on the raw 32-bit words (c bytes); b has n elements, or 1 (a scalar). */
export function selectF32(c: Uint8Array, a: Float32Array, b: Float32Array, out: Float32Array, n: number): void {
  const bLen = b.length === 1 ? 1 : n;
  const k = singleKernels(align64(n) + 2 * align64(n * 4) + 64);
  const cOff = k.heapBase;
  const aOff = cOff + align64(n);
  const bOff = aOff + align64(n * 4);
  new Uint8Array(k.f32.buffer, cOff, n).set(c.length === n ? c : c.subarray(0, n));
  k.f32.set(a.length === n ? a : a.subarray(0, n), aOff >>> 2);
  k.f32.set(b.length === bLen ? b : b.subarray(0, bLen), bOff >>> 2);
  k.exports.selectF32(cOff, aOff, bOff, bLen === 1 ? 1 : 0, aOff, n);
  out.set(k.f32.subarray(aOff >>> 2, (aOff >>> 2) + n));
}

/** The constants of an Adam update (float32 values; see the backend's AdamConstants). */
export interface AdamF32Constants {
  readonly lerpFromM: boolean; readonly lerp: number; readonly b2: number; readonly oneMinusB2: number;
  readonly negStepSize: number; readonly bc2Sqrt: number; readonly eps: number; readonly negDecay: number;
}

/** [m', v', update] of one Adam step over n float32 parameters (p: the params, for decay, or undefined). */
export function adamF32(g: Float32Array, m: Float32Array, v: Float32Array, p: Float32Array | undefined,
  m2: Float32Array, v2: Float32Array, u: Float32Array, n: number, c: AdamF32Constants): void {
  const r = align64(n * 4);
  const k = singleKernels(7 * r);
  const base = k.heapBase;
  const [gO, mO, vO, pO, m2O, v2O, uO] = [0, 1, 2, 3, 4, 5, 6].map((i) => base + i * r) as [number, number, number, number, number, number, number];
  const put = (x: Float32Array, off: number) => k.f32.set(x.length === n ? x : x.subarray(0, n), off >>> 2);
  put(g, gO);
  put(m, mO);
  put(v, vO);
  if (p) put(p, pO);
  k.exports.adamF32(gO, mO, vO, p ? pO : 0, m2O, v2O, uO, n, c.lerpFromM ? 1 : 0, c.lerp, c.b2, c.oneMinusB2, c.negStepSize, c.bc2Sqrt, c.eps, c.negDecay);
  m2.set(k.f32.subarray(m2O >>> 2, (m2O >>> 2) + n));
  v2.set(k.f32.subarray(v2O >>> 2, (v2O >>> 2) + n));
  u.set(k.f32.subarray(uO >>> 2, (uO >>> 2) + n));
}

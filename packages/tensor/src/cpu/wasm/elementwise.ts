// float32 add / sub / mul / div (same shape, scalar, per-row and per-column broadcasts) and
// float32 sums on the WebAssembly SIMD kernels in packages/tensor/wasm/elementwise.ts (same
// module and single-thread instance as the matmul). Bit-identical to the JavaScript loops in
// ../elementwise.ts and ../backend.ts (`reduceKernel`), which they replace for all but small
// problems: the lanes hold different outputs, never parts of one sum, so every output is
// the same IEEE operation (or the same float64 chain of additions) as before; only a NaN's
// payload may differ. See docs/decisions/wasm-elementwise.md.
import type { BinaryOp } from '../../primitives.js';
import { withArrays } from './arena.js';
import { parallelKernel } from './matmul.js';

/** Below this many output elements the JavaScript loops are used (copy-in/out and call overhead). */
export const ELEMENTWISE_WASM_MIN = 2048;

/**
 * From this many elements a call is split over the two threads (where the arena is shared
 * and the matmul's worker is up): the chunks write disjoint outputs with the same per-
 * element arithmetic, so the bits do not depend on the split.
 */
export const parallelMin = { elements: 32768 };
const PARTS = 4;

/** [start, end) ranges cutting `total` units into at most PARTS parts (none if below 2 units). */
function cuts(total: number): [number, number][] {
  const parts = Math.min(PARTS, total);
  const out: [number, number][] = [];
  for (let c = 0; c < parts; c++) out.push([Math.floor((c * total) / parts), Math.floor(((c + 1) * total) / parts)]);
  return out;
}

/** The operators the kernel has, by its op code. */
const OPS: Partial<Record<BinaryOp, number>> = { add: 0, sub: 1, mul: 2, div: 3 };

/** How the smaller operand is laid out against the output's [rows, n]. */
export type BroadcastMode = 'same' | 'scalar' | 'row' | 'col';
const MODES: Record<BroadcastMode, number> = { same: 0, scalar: 1, row: 2, col: 3 };

/** Whether `op` has a wasm kernel. */
export function hasWasmBinary(op: BinaryOp): boolean {
  return OPS[op] !== undefined;
}

/**
 * out = full ∘ small (or small ∘ full when `swap`) over [rows, n]; `small` has rows·n,
 * 1, rows or n elements by `mode`. `op` must be one of add, sub, mul, div. out is fully
 * overwritten.
 */
export function binaryF32(op: BinaryOp, mode: BroadcastMode, swap: boolean, full: Float32Array, small: Float32Array,
  out: Float32Array, rows: number, n: number): void {
  const len = rows * n;
  const sLen = mode === 'same' ? len : mode === 'row' ? rows : n;
  const [code, m, sw] = [OPS[op]!, MODES[mode], swap ? 1 : 0];
  // A scalar goes by value (a one-element array would not be in the arena).
  const scalar = mode === 'scalar' ? small[0]! : 0;
  const ins = mode === 'scalar' ? [exact(full, len)] : [exact(full, len), exact(small, sLen)];
  withArrays(ins, [exact(out, len)], 0, (k, ptrs) => {
    const f = ptrs[0]!, o = ptrs[ptrs.length - 1]!, s = mode === 'scalar' ? 0 : ptrs[1]!;
    if (len >= parallelMin.elements) {
      // Same-shape and scalar operands split by elements, per-row and per-column ones by rows.
      const flat = mode === 'same' || mode === 'scalar';
      const chunks = flat
        ? cuts(len).map(([a, b]) => [code, m, sw, f + 4 * a, mode === 'same' ? s + 4 * a : 0, o + 4 * a, 1, b - a, scalar])
        : cuts(rows).map(([a, b]) => [code, m, sw, f + 4 * a * n, mode === 'row' ? s + 4 * a : s, o + 4 * a * n, b - a, n, scalar]);
      if (parallelKernel(k, 'binaryF32', chunks)) return;
    }
    k.exports.binaryF32(code, m, sw, f, s, o, rows, n, scalar);
  });
}

/** out[o·inner + j] = Σ_r x[(o·red + r)·inner + j], each sum in float64 in increasing r, rounded once. */
export function sumF32(x: Float32Array, out: Float32Array, outer: number, red: number, inner: number): void {
  // Twice the accumulator scratch: one per thread when the rows are split.
  withArrays([exact(x, outer * red * inner)], [exact(out, outer * inner)], inner * 16, (k, [xp, op], acc) => {
    if (outer >= 2 && outer * red * inner >= parallelMin.elements) {
      const chunks = cuts(outer).map(([a, b]) => [xp! + 4 * a * red * inner, op! + 4 * a * inner, b - a, red, inner, 0]);
      if (parallelKernel(k, 'sumF32', chunks, { at: 5, main: [acc], worker: [acc + inner * 8] })) return;
    }
    k.exports.sumF32(xp!, op!, outer, red, inner, acc);
  });
}

/** out = relu(x) (the bit-mask relu: x < 0 → +0; −0 and NaN unchanged). */
export function reluF32(x: Float32Array, out: Float32Array, n: number): void {
  withArrays([exact(x, n)], [exact(out, n)], 0, (k, [xp, op]) => {
    if (n >= parallelMin.elements && parallelKernel(k, 'reluF32', cuts(n).map(([a, b]) => [xp! + 4 * a, op! + 4 * a, b - a]))) return;
    k.exports.reluF32(xp!, op!, n);
  });
}

/** out[i] = x[i] > s ? 1 : 0 over n elements (out: bytes). */
export function gtScalarF32(x: Float32Array, s: number, out: Uint8Array, n: number): void {
  withArrays([exact(x, n)], [exact(out, n)], 0, (k, [xp, op]) => {
    if (n >= parallelMin.elements && parallelKernel(k, 'gtScalarF32', cuts(n).map(([a, b]) => [xp! + 4 * a, s, op! + a, b - a]))) return;
    k.exports.gtScalarF32(xp!, s, op!, n);
  });
}

/** out = c ? a : b on the raw 32-bit words (c bytes); b has n elements, or 1 (a scalar). */
export function selectF32(c: Uint8Array, a: Float32Array, b: Float32Array, out: Float32Array, n: number): void {
  // A scalar b's bits go by value (a one-element array would not be in the arena).
  const scalar = b.length === 1;
  const word = scalar ? new Uint32Array(b.buffer, b.byteOffset, 1)[0]! : 0;
  const ins = scalar ? [exact(c, n), exact(a, n)] : [exact(c, n), exact(a, n), exact(b, n)];
  withArrays(ins, [exact(out, n)], 0, (k, ptrs) => {
    const [cp, ap] = ptrs as [number, number];
    const bp = scalar ? 0 : ptrs[2]!, op = ptrs[ptrs.length - 1]!;
    if (n >= parallelMin.elements
      && parallelKernel(k, 'selectF32', cuts(n).map(([i, j]) => [cp + i, ap + 4 * i, scalar ? 0 : bp + 4 * i, scalar ? 1 : 0, word, op + 4 * i, j - i]))) return;
    k.exports.selectF32(cp, ap, bp, scalar ? 1 : 0, word, op, n);
  });
}

/** The constants of an Adam update (float32 values; see the backend's AdamConstants). */
export interface AdamF32Constants {
  readonly lerpFromM: boolean; readonly lerp: number; readonly b2: number; readonly oneMinusB2: number;
  readonly negStepSize: number; readonly bc2Sqrt: number; readonly eps: number; readonly negDecay: number;
}

/** [m', v', update] of one Adam step over n float32 parameters (p: the params, for decay, or undefined). */
export function adamF32(g: Float32Array, m: Float32Array, v: Float32Array, p: Float32Array | undefined,
  m2: Float32Array, v2: Float32Array, u: Float32Array, n: number, c: AdamF32Constants): void {
  const ins = [exact(g, n), exact(m, n), exact(v, n)];
  if (p) ins.push(exact(p, n));
  withArrays(ins, [exact(m2, n), exact(v2, n), exact(u, n)], 0, (k, ptrs) => {
    const [gp, mp, vp] = ptrs as [number, number, number];
    const [pp, m2p, v2p, up] = (p ? ptrs.slice(3) : [0, ...ptrs.slice(3)]) as [number, number, number, number];
    const consts = [c.lerpFromM ? 1 : 0, c.lerp, c.b2, c.oneMinusB2, c.negStepSize, c.bc2Sqrt, c.eps, c.negDecay];
    if (n >= parallelMin.elements && parallelKernel(k, 'adamF32', cuts(n).map(([a, b]) =>
      [gp + 4 * a, mp + 4 * a, vp + 4 * a, p ? pp + 4 * a : 0, m2p + 4 * a, v2p + 4 * a, up + 4 * a, b - a, ...consts]))) return;
    k.exports.adamF32(gp, mp, vp, pp, m2p, v2p, up, n, consts[0]!, c.lerp, c.b2, c.oneMinusB2, c.negStepSize, c.bc2Sqrt, c.eps, c.negDecay);
  });
}

/** x itself if it has exactly n elements, else its first n (same storage). */
export function exact<A extends Float32Array | Int32Array | Uint8Array>(x: A, n: number): A {
  return (x.length === n ? x : x.subarray(0, n)) as A;
}

/**
 * out[i] = x[base + Σ_d coord_d(i)·strides[d]] over `shape` (coalesced, rank ≥ 1) for
 * 32-bit elements (float32 or int32 words). out has the view's size.
 */
export function copyRows32(x: Float32Array | Int32Array, out: Float32Array | Int32Array, shape: readonly number[], strides: readonly number[], base: number): void {
  const r = shape.length;
  withArrays([x], [out], 12 * r, (k, [xp, op], dims) => {
    const i32 = new Int32Array(k.f32.buffer, dims, 2 * r);
    for (let d = 0; d < r; d++) {
      i32[d] = shape[d]!;
      i32[r + d] = strides[d]!;
    }
    k.exports.copyRows32(xp!, op!, r, dims, base, out.length);
  });
}

/** LayerNorm's normalisation of rows of n float32 values (float64 inside, as the JavaScript loop). */
export function normalizeF32(x: Float32Array, out: Float32Array, rows: number, n: number, eps: number): void {
  withArrays([exact(x, rows * n)], [exact(out, rows * n)], 0, (k, [xp, op]) => {
    if (rows * n >= parallelMin.elements
      && parallelKernel(k, 'normalizeF32', cuts(rows).map(([a, b]) => [xp! + 4 * a * n, op! + 4 * a * n, b - a, n, eps]))) return;
    k.exports.normalizeF32(xp!, op!, rows, n, eps);
  });
}

/**
 * In place over the attention scores s [b, h, tq, tk]: s = (s·scale) + bias[bi·s0 + hi·s1 +
 * i·s2 + j·s3], each operation rounded to float32. `bias` holds every element those strides reach.
 */
export function scaleBiasF32(s: Float32Array, dims: readonly [number, number, number, number], scale: number,
  bias: Float32Array, strides: readonly [number, number, number, number]): void {
  const [b, h, tq, tk] = dims;
  const [s0, s1, s2, s3] = strides;
  const reach = (b - 1) * s0 + (h - 1) * s1 + (tq - 1) * s2 + (tk - 1) * s3 + 1;
  const scores = exact(s, b * h * tq * tk);
  withArrays([exact(bias, reach), scores], [scores], 0, (k, [bp, sp, op]) =>
    k.exports.scaleBiasF32(sp!, op!, b, h, tq, tk, scale, bp!, s0, s1, s2, s3));
}

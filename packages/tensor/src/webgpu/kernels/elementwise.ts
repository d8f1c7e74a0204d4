/**
 * Elementwise kernels: unary, binary (broadcasting), where, cast, fill.
 * Semantics follow the cpu reference (cpu/elementwise.ts) operation by
 * operation, including NaN handling, which is tested on the bits (see wgsl.ts).
 */
import type { BinaryOp, UnaryOp } from '../../primitives.js';
import type { DType } from '../../dtype.js';
import { FLOAT_BITS, PARAMS, binding, main1D, stridedOffsets, wgslType } from '../wgsl.js';

/** JS-compatible float helpers the expressions below (and the fused kernels) rely on. */
export const FLOAT_FNS = /* wgsl */ `
// log(1 + x). WGSL only promises an absolute 2^-21 for log() near 1, so small
// arguments use the Taylor series, exact to float32 rounding for |x| < 1/16 (the
// next term is < 1e-10 relative). Larger ones use log(u) · x / (u − 1) with
// u = 1 + x, which corrects for the rounding of u (Goldberg 1991).
fn log1p_(x: f32) -> f32 {
  if (abs(x) < 0.0625) {
    return x * (1.0 - x * (0.5 - x * (0.33333333 - x * (0.25 - x * (0.2 - x * (0.16666667 - x * (0.14285715 - x * 0.125)))))));
  }
  if (is_inf(x) && x > 0.0) { return x; }
  let u = 1.0 + x;
  return log(u) * (x / (u - 1.0));
}
// tanh(x) = sign(x) · (1 − e^{−2|x|}) / (1 + e^{−2|x|}): no overflow for any x, and
// the series for |x| < 1/16. Written out rather than the builtin, whose accuracy
// near 0 (llvmpipe's loses all relative accuracy there) and behaviour for large
// |x| vary between drivers.
fn tanh_(x: f32) -> f32 {
  let ax = abs(x);
  if (ax < 0.0625) {
    let x2 = x * x;
    return x * (1.0 - x2 * (0.33333333 - x2 * (0.13333334 - x2 * 0.053968254)));
  }
  if (is_nan(x)) { return x; }
  let t = exp(-2.0 * ax);
  let r = (1.0 - t) / (1.0 + t);
  return select(r, -r, x < 0.0);
}
// sqrt(±0) = ±0 exactly (so rsqrt(−0) = −∞ as on cpu); GPU sqrt is often x · rsqrt(x).
fn sqrt_(x: f32) -> f32 { return select(sqrt(x), x, x == 0.0); }
// Math.pow, case by case: GPU pow(x, y) is exp2(y · log2(x)), undefined for x ≤ 0.
fn pow_(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (is_nan(a) || is_nan(b)) { return bitcast<f32>(NAN_BITS); }
  let ab = abs(a);
  let inf = bitcast<f32>(INF_BITS);
  if (is_inf(b)) {
    if (ab == 1.0) { return bitcast<f32>(NAN_BITS); }
    return select(0.0, inf, (ab > 1.0) == (b > 0.0));
  }
  let bInt = floor(b) == b;
  // Every float32 of magnitude ≥ 2^24 is an even integer.
  let odd = bInt && abs(b) < 16777216.0 && (i32(b) & 1) != 0;
  var r: f32;
  if (ab == 0.0) { r = select(inf, 0.0, b > 0.0); }
  else if (is_inf(ab)) { r = select(0.0, inf, b > 0.0); }
  else {
    if (a < 0.0 && !bInt) { return bitcast<f32>(NAN_BITS); }
    r = pow(ab, b);
  }
  return select(r, -r, sign_bit(a) && odd);
}
// float → int32 as JS stores it in an Int32Array: truncate, then wrap modulo 2^32
// (NaN and ±∞ give 0). WGSL's i32(f32) saturates instead.
fn f32_to_i32_wrap(x: f32) -> i32 {
  let bits = bitcast<u32>(x);
  let e = i32((bits >> 23u) & 0xffu) - 127;
  if (e < 31) { return i32(x); }
  if (e == 128 || e >= 23 + 32) { return 0; }
  let m = (bits & 0x7fffffu) | 0x800000u;
  let low = m << u32(e - 23);
  return select(bitcast<i32>(low), -bitcast<i32>(low), sign_bit(x));
}
`;

function unaryExpr(op: UnaryOp, dtype: DType): string {
  const f = dtype === 'float32';
  switch (op) {
    case 'neg': return '-x';
    case 'abs': return 'abs(x)';
    case 'sign':
      // 0 for ±0 (as +0), NaN stays NaN.
      return f ? 'select(select(select(0.0, x, is_nan(x)), -1.0, x < 0.0), 1.0, x > 0.0)' : 'select(select(0, -1, x < 0), 1, x > 0)';
    case 'exp': return 'exp(x)';
    case 'log': return 'log(x)';
    case 'log1p': return 'log1p_(x)';
    case 'sqrt': return 'sqrt_(x)';
    // 1 / sqrt rather than inverseSqrt: closer to the cpu's correctly rounded result.
    case 'rsqrt': return '1.0 / sqrt_(x)';
    case 'tanh': return 'tanh_(x)';
    // Two branches so exp never overflows (as the cpu kernel).
    case 'sigmoid': return 'select(exp(x) / (1.0 + exp(x)), 1.0 / (1.0 + exp(-x)), x >= 0.0)';
    // NaN passes through: written on the bits so a compiler cannot turn it into max(x, 0).
    case 'relu': return f ? 'select(x, 0.0, x < 0.0 && !is_nan(x))' : 'select(x, 0, x < 0)';
    case 'sin': return 'sin(x)';
    case 'cos': return 'cos(x)';
    case 'logicalNot': return 'select(1u, 0u, x != 0u)';
  }
}

export function unaryKernel(op: UnaryOp, dtype: DType, wg: number): string {
  const t = wgslType(dtype);
  return PARAMS + FLOAT_BITS + FLOAT_FNS + binding(1, 'X', t) + '\n' + binding(2, 'Y', t, true) + main1D(wg, `  let x = X[i];\n  Y[i] = ${unaryExpr(op, dtype)};`);
}

/** The expression for a ∘ b; comparisons and logical ops give u32 0/1. */
function binaryExpr(op: BinaryOp, dtype: DType): string {
  const f = dtype === 'float32';
  const b01 = (c: string) => `select(0u, 1u, ${c})`;
  switch (op) {
    // i32 +, −, × wrap in WGSL, like Math.imul and Int32Array stores on cpu.
    case 'add': return 'a + b';
    case 'sub': return 'a - b';
    case 'mul': return 'a * b';
    case 'div': return 'a / b';
    case 'pow': return 'pow_(a, b)';
    // NaN in either operand propagates (b's through the else branch).
    case 'maximum': return f ? 'select(b, a, a > b || is_nan(a))' : 'max(a, b)';
    case 'minimum': return f ? 'select(b, a, a < b || is_nan(a))' : 'min(a, b)';
    // Comparisons with NaN are false (true for ne); stated on the bits, not left to the compiler.
    case 'eq': return b01(f ? 'a == b && !is_nan(a) && !is_nan(b)' : 'a == b');
    case 'ne': return b01(f ? 'a != b || is_nan(a) || is_nan(b)' : 'a != b');
    case 'lt': return b01(f ? 'a < b && !is_nan(a) && !is_nan(b)' : 'a < b');
    case 'le': return b01(f ? 'a <= b && !is_nan(a) && !is_nan(b)' : 'a <= b');
    case 'gt': return b01(f ? 'a > b && !is_nan(a) && !is_nan(b)' : 'a > b');
    case 'ge': return b01(f ? 'a >= b && !is_nan(a) && !is_nan(b)' : 'a >= b');
    case 'logicalAnd': return b01('a != 0u && b != 0u');
    case 'logicalOr': return b01('a != 0u || b != 0u');
    case 'logicalXor': return b01('(a != 0u) != (b != 0u)');
  }
}

export function binaryOutDType(op: BinaryOp, dtype: DType): DType {
  return ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr', 'logicalXor'].includes(op) ? 'bool' : dtype;
}

/**
 * Params: [n, shape(rank), aStrides(rank), bStrides(rank)] after coalescing.
 * Rank 0 means both operands are read at offset 0 (all scalars); a flat
 * same-shape operation coalesces to rank 1 with strides 1, whose index math
 * the compiler reduces to `i`.
 */
export function binaryKernel(op: BinaryOp, dtype: DType, rank: number, wg: number): string {
  const t = wgslType(dtype);
  const to = wgslType(binaryOutDType(op, dtype));
  const body = `  var ao = 0; var bo = 0;
${stridedOffsets(rank, 1, [{ name: 'ao', stridesAt: 1 + rank }, { name: 'bo', stridesAt: 1 + 2 * rank }])}
  let a = A[ao];
  let b = B[bo];
  O[i] = ${binaryExpr(op, dtype)};`;
  return PARAMS + FLOAT_BITS + FLOAT_FNS + [binding(1, 'A', t), binding(2, 'B', t), binding(3, 'O', to, true)].join('\n') + main1D(wg, body);
}

/** Params: [n, shape(rank), cStrides, aStrides, bStrides]. Values move as raw words. */
export function whereKernel(rank: number, wg: number): string {
  const body = `  var co = 0; var ao = 0; var bo = 0;
${stridedOffsets(rank, 1, [{ name: 'co', stridesAt: 1 + rank }, { name: 'ao', stridesAt: 1 + 2 * rank }, { name: 'bo', stridesAt: 1 + 3 * rank }])}
  O[i] = select(B[bo], A[ao], C[co] != 0u);`;
  return PARAMS + [binding(1, 'C', 'u32'), binding(2, 'A', 'u32'), binding(3, 'B', 'u32'), binding(4, 'O', 'u32', true)].join('\n') + main1D(wg, body);
}

function castExpr(from: DType, to: DType): string {
  if (to === 'bool') return from === 'float32' ? 'select(0u, 1u, x != 0.0 || is_nan(x))' : from === 'int32' ? 'select(0u, 1u, x != 0)' : 'x';
  if (to === 'int32') return from === 'float32' ? 'f32_to_i32_wrap(x)' : 'i32(x)';
  return from === 'float32' ? 'x' : 'f32(x)';
}

/** Params: [n]. */
export function castKernel(from: DType, to: DType, wg: number): string {
  const body = `  let x = X[i];\n  Y[i] = ${castExpr(from, to)};`;
  return PARAMS + FLOAT_BITS + FLOAT_FNS + binding(1, 'X', wgslType(from)) + '\n' + binding(2, 'Y', wgslType(to), true) + main1D(wg, body);
}

/** Params: [n, valueBits]. */
export function fillKernel(wg: number): string {
  return PARAMS + binding(1, 'Y', 'u32', true) + main1D(wg, '  Y[i] = P(1u);');
}

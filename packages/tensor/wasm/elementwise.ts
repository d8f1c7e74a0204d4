// AssemblyScript source of the cpu backend's float32 elementwise and sum kernels, compiled
// into the same module as matmul.ts and softmax.ts (see scripts/build-wasm.mjs) and called
// from src/cpu/wasm/elementwise.ts.
//
// ## Numerics: bit-identical to the JavaScript loops they replace
// The JavaScript kernels (src/cpu/elementwise.ts) compute `a ∘ b` in float64 and round the
// result to float32 on store. For + − × ÷ that double rounding is innocuous (float64 has
// more than 2·24 + 2 significand bits), so the result equals the IEEE float32 operation,
// which is what f32x4.add/sub/mul/div compute lane by lane. The sums accumulate each output
// in float64, in increasing index order, exactly as the JavaScript reduction does: the
// SIMD lanes hold *different outputs* (neighbouring columns, or neighbouring rows), never
// parts of one sum, so no sum is reassociated. relu is the bit mask of the JavaScript one.
// Only the payload of a NaN result may differ (wasm lets an operation return any quiet NaN).
//
// Why: V8 runs the JavaScript loops one element at a time with a float32 → float64 →
// float32 round trip per operand; here four lanes go per instruction, and a sum over a row
// keeps four independent chains of float64 additions in flight instead of one.

/** Binary operators, in the order of src/cpu/wasm/elementwise.ts's OPS. */
const ADD: i32 = 0;
const SUB: i32 = 1;
const MUL: i32 = 2;
const DIV: i32 = 3;

// @ts-ignore: decorator
@inline
function op4(op: i32, a: v128, b: v128): v128 {
  if (op == ADD) return f32x4.add(a, b);
  if (op == SUB) return f32x4.sub(a, b);
  if (op == MUL) return f32x4.mul(a, b);
  return f32x4.div(a, b);
}

// @ts-ignore: decorator
@inline
function op1(op: i32, a: f32, b: f32): f32 {
  if (op == ADD) return a + b;
  if (op == SUB) return a - b;
  if (op == MUL) return a * b;
  return a / b;
}

/**
 * out[i] = a[i] ∘ b[i] over `len` elements where `b` advances by `bStep` (1: same-size
 * operands; 0: b is one value, splatted — the one at `b`, or `scalar` when b is 0).
 * `swap` computes b ∘ a instead (the broadcast operand on the left).
 */
// @ts-ignore: decorator
@inline
function run(op: i32, a: usize, b: usize, o: usize, len: i32, bStep: i32, swap: bool, scalar: f32): void {
  let i: i32 = 0;
  if (bStep == 0) {
    const s = b == 0 ? scalar : load<f32>(b);
    const v = f32x4.splat(s);
    if (swap) {
      for (; i + 4 <= len; i += 4) v128.store(o + (<usize>i << 2), op4(op, v, v128.load(a + (<usize>i << 2))));
      for (; i < len; i++) store<f32>(o + (<usize>i << 2), op1(op, s, load<f32>(a + (<usize>i << 2))));
    } else {
      for (; i + 4 <= len; i += 4) v128.store(o + (<usize>i << 2), op4(op, v128.load(a + (<usize>i << 2)), v));
      for (; i < len; i++) store<f32>(o + (<usize>i << 2), op1(op, load<f32>(a + (<usize>i << 2)), s));
    }
  } else if (swap) {
    for (; i + 4 <= len; i += 4) v128.store(o + (<usize>i << 2), op4(op, v128.load(b + (<usize>i << 2)), v128.load(a + (<usize>i << 2))));
    for (; i < len; i++) store<f32>(o + (<usize>i << 2), op1(op, load<f32>(b + (<usize>i << 2)), load<f32>(a + (<usize>i << 2))));
  } else {
    for (; i + 4 <= len; i += 4) v128.store(o + (<usize>i << 2), op4(op, v128.load(a + (<usize>i << 2)), v128.load(b + (<usize>i << 2))));
    for (; i < len; i++) store<f32>(o + (<usize>i << 2), op1(op, load<f32>(a + (<usize>i << 2)), load<f32>(b + (<usize>i << 2))));
  }
}

/**
 * A float32 binary operation over `rows` rows of `n` values; `full` is the operand with
 * the output's shape, `small` the other one, laid out by `mode`:
 *   0 same shape as full, 1 one value (`scalar`; smallPtr unused), 2 one value per row,
 *   3 one value per column;
 * `swap` = 1 computes small ∘ full (the broadcast operand on the left). `out` may be `full`.
 */
export function binaryF32(op: i32, mode: i32, swap: i32, fullPtr: usize, smallPtr: usize, outPtr: usize, rows: i32, n: i32, scalar: f32): void {
  const sw = swap != 0;
  if (mode == 0) {
    run(op, fullPtr, smallPtr, outPtr, rows * n, 1, sw, 0);
  } else if (mode == 1) {
    run(op, fullPtr, 0, outPtr, rows * n, 0, sw, scalar);
  } else {
    const rowBytes = <usize>n << 2;
    for (let r: i32 = 0; r < rows; r++) {
      const off = <usize>r * rowBytes;
      if (mode == 2) run(op, fullPtr + off, smallPtr + (<usize>r << 2), outPtr + off, n, 0, sw, 0);
      else run(op, fullPtr + off, smallPtr, outPtr + off, n, 1, sw, 0);
    }
  }
}

/**
 * out[o·inner + j] = Σ_r x[(o·red + r)·inner + j] (float32 in, float32 out), each sum in
 * float64 in increasing r. inner = 1: four rows at a time, one f64 chain per row (two
 * f64x2 accumulators); inner > 1: the columns j in f64x2 lanes, `acc` (inner float64s of
 * scratch) holding the running sums of a whole row of columns.
 */
export function sumF32(xPtr: usize, outPtr: usize, outer: i32, red: i32, inner: i32, accPtr: usize): void {
  if (inner == 1) {
    let o: i32 = 0;
    const rowBytes = <usize>red << 2;
    for (; o + 4 <= outer; o += 4) {
      const p0 = xPtr + <usize>o * rowBytes;
      let s01 = f64x2.splat(0);
      let s23 = f64x2.splat(0);
      for (let r: i32 = 0; r < red; r++) {
        const q = p0 + (<usize>r << 2);
        // Lanes: rows o, o+1 | o+2, o+3 — each lane its own sequential sum.
        const v01 = f64x2.replace_lane(f64x2.splat(<f64>load<f32>(q)), 1, <f64>load<f32>(q + rowBytes));
        const v23 = f64x2.replace_lane(f64x2.splat(<f64>load<f32>(q + 2 * rowBytes)), 1, <f64>load<f32>(q + 3 * rowBytes));
        s01 = f64x2.add(s01, v01);
        s23 = f64x2.add(s23, v23);
      }
      const out = outPtr + (<usize>o << 2);
      store<f32>(out, <f32>f64x2.extract_lane(s01, 0));
      store<f32>(out, <f32>f64x2.extract_lane(s01, 1), 4);
      store<f32>(out, <f32>f64x2.extract_lane(s23, 0), 8);
      store<f32>(out, <f32>f64x2.extract_lane(s23, 1), 12);
    }
    for (; o < outer; o++) {
      const p = xPtr + <usize>o * rowBytes;
      let s: f64 = 0;
      for (let r: i32 = 0; r < red; r++) s += <f64>load<f32>(p + (<usize>r << 2));
      store<f32>(outPtr + (<usize>o << 2), <f32>s);
    }
    return;
  }
  const innerBytes = <usize>inner << 2;
  for (let o: i32 = 0; o < outer; o++) {
    memory.fill(accPtr, 0, <usize>inner << 3);
    let p = xPtr + <usize>o * <usize>red * innerBytes;
    for (let r: i32 = 0; r < red; r++, p += innerBytes) {
      let j: i32 = 0;
      for (; j + 4 <= inner; j += 4) {
        const v = v128.load(p + (<usize>j << 2));
        const a = accPtr + (<usize>j << 3);
        v128.store(a, f64x2.add(v128.load(a), f64x2.promote_low_f32x4(v)));
        v128.store(a, f64x2.add(v128.load(a, 16), f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1))), 16);
      }
      for (; j < inner; j++) {
        const a = accPtr + (<usize>j << 3);
        store<f64>(a, load<f64>(a) + <f64>load<f32>(p + (<usize>j << 2)));
      }
    }
    const out = outPtr + <usize>o * innerBytes;
    for (let j: i32 = 0; j < inner; j++) store<f32>(out + (<usize>j << 2), <f32>load<f64>(accPtr + (<usize>j << 3)));
  }
}

/** relu as a bit mask: x < 0 (−∞ included) → +0; −0 and NaN pass unchanged, as in the JavaScript kernel. */
export function reluF32(xPtr: usize, outPtr: usize, n: i32): void {
  const zero = f32x4.splat(0);
  let i: i32 = 0;
  for (; i + 4 <= n; i += 4) {
    const x = v128.load(xPtr + (<usize>i << 2));
    v128.store(outPtr + (<usize>i << 2), v128.andnot(x, f32x4.lt(x, zero)));
  }
  for (; i < n; i++) {
    const x = load<f32>(xPtr + (<usize>i << 2));
    store<f32>(outPtr + (<usize>i << 2), x < 0 ? 0 : x);
  }
}

/** out[i] = x[i] > s ? 1 : 0 (bytes); NaN compares false. */
export function gtScalarF32(xPtr: usize, s: f32, outPtr: usize, n: i32): void {
  const v = f32x4.splat(s);
  const one = i8x16.splat(1);
  let i: i32 = 0;
  for (; i + 16 <= n; i += 16) {
    const p = xPtr + (<usize>i << 2);
    const m01 = i16x8.narrow_i32x4_s(f32x4.gt(v128.load(p), v), f32x4.gt(v128.load(p, 16), v));
    const m23 = i16x8.narrow_i32x4_s(f32x4.gt(v128.load(p, 32), v), f32x4.gt(v128.load(p, 48), v));
    v128.store(outPtr + <usize>i, v128.and(i8x16.narrow_i16x8_s(m01, m23), one));
  }
  for (; i < n; i++) store<u8>(outPtr + <usize>i, load<f32>(xPtr + (<usize>i << 2)) > s ? 1 : 0);
}

/**
 * out[i] = c[i] ≠ 0 ? a[i] : b[i] on the raw bits (c bytes; a, b, out 32-bit words);
 * `bScalar` = 1: b is the one word `bWord`, splatted (bPtr unused).
 */
export function selectF32(cPtr: usize, aPtr: usize, bPtr: usize, bScalar: i32, bWord: u32, outPtr: usize, n: i32): void {
  const zero = i32x4.splat(0);
  const bs = i32x4.splat(bWord);
  let i: i32 = 0;
  for (; i + 4 <= n; i += 4) {
    const c = i32x4.ne(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(cPtr + <usize>i))), zero);
    const b = bScalar != 0 ? bs : v128.load(bPtr + (<usize>i << 2));
    v128.store(outPtr + (<usize>i << 2), v128.bitselect(v128.load(aPtr + (<usize>i << 2)), b, c));
  }
  for (; i < n; i++) {
    const b = bScalar != 0 ? bWord : load<u32>(bPtr + (<usize>i << 2));
    store<u32>(outPtr + (<usize>i << 2), load<u8>(cPtr + <usize>i) != 0 ? load<u32>(aPtr + (<usize>i << 2)) : b);
  }
}

/**
 * The Adam update of src/cpu/backend.ts's adamStep (see backend.ts's AdamConstants), every
 * operation in float32 exactly as the JavaScript loop rounds it (the constants are float32
 * values): m' = lerpFromM ? m + (g − m)·lerp : g − (g − m)·lerp; v' = v·b2 + (g·oneMinusB2)·g;
 * u = (m'·negStepSize) / (sqrt(v') / bc2Sqrt + eps), plus p·negDecay first when pPtr ≠ 0.
 */
export function adamF32(gPtr: usize, mPtr: usize, vPtr: usize, pPtr: usize, m2Ptr: usize, v2Ptr: usize, uPtr: usize, n: i32,
  lerpFromM: i32, lerp: f32, b2: f32, oneMinusB2: f32, negStepSize: f32, bc2Sqrt: f32, eps: f32, negDecay: f32): void {
  const vl = f32x4.splat(lerp), vb2 = f32x4.splat(b2), v1b2 = f32x4.splat(oneMinusB2), vns = f32x4.splat(negStepSize);
  const vbc = f32x4.splat(bc2Sqrt), veps = f32x4.splat(eps), vnd = f32x4.splat(negDecay);
  const fromM = lerpFromM != 0;
  let i: i32 = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const g = v128.load(gPtr + o), m = v128.load(mPtr + o);
    const d = f32x4.sub(g, m);
    const mn = fromM ? f32x4.add(m, f32x4.mul(d, vl)) : f32x4.sub(g, f32x4.mul(d, vl));
    const vn = f32x4.add(f32x4.mul(v128.load(vPtr + o), vb2), f32x4.mul(f32x4.mul(g, v1b2), g));
    const step = f32x4.div(f32x4.mul(mn, vns), f32x4.add(f32x4.div(f32x4.sqrt(vn), vbc), veps));
    v128.store(m2Ptr + o, mn);
    v128.store(v2Ptr + o, vn);
    v128.store(uPtr + o, pPtr != 0 ? f32x4.add(f32x4.mul(v128.load(pPtr + o), vnd), step) : step);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(gPtr + o), m = load<f32>(mPtr + o);
    const d = g - m;
    const mn = fromM ? m + d * lerp : g - d * lerp;
    const vn = load<f32>(vPtr + o) * b2 + (g * oneMinusB2) * g;
    const step = (mn * negStepSize) / (sqrt<f32>(vn) / bc2Sqrt + eps);
    store<f32>(m2Ptr + o, mn);
    store<f32>(v2Ptr + o, vn);
    store<f32>(uPtr + o, pPtr != 0 ? load<f32>(pPtr + o) * negDecay + step : step);
  }
}

/**
 * out[i] = x[base + Σ_d coord_d(i) · strides[d]] for 32-bit elements, row by row along the
 * last axis (the backend's copyRows for float32 and int32: a transpose, a broadcast, a
 * strided slice). `dims` holds rank i32 sizes, then rank i32 strides (in elements), then rank
 * i32 of scratch for the coordinates; `total` is the number of elements of out.
 */
export function copyRows32(xPtr: usize, outPtr: usize, rank: i32, dims: usize, base: i32, total: i32): void {
  const strides = dims + (<usize>rank << 2);
  const idx = strides + (<usize>rank << 2);
  memory.fill(idx, 0, <usize>rank << 2);
  const len = load<i32>(dims + (<usize>(rank - 1) << 2));
  const last = load<i32>(strides + (<usize>(rank - 1) << 2));
  let src = base;
  for (let o: i32 = 0; o < total; o += len) {
    const out = outPtr + (<usize>o << 2);
    const x = xPtr + (<usize>src << 2);
    let j: i32 = 0;
    if (last == 1) {
      for (; j + 4 <= len; j += 4) v128.store(out + (<usize>j << 2), v128.load(x + (<usize>j << 2)));
      for (; j < len; j++) store<u32>(out + (<usize>j << 2), load<u32>(x + (<usize>j << 2)));
    } else if (last == 0) {
      const w = load<u32>(x);
      const v = i32x4.splat(w);
      for (; j + 4 <= len; j += 4) v128.store(out + (<usize>j << 2), v);
      for (; j < len; j++) store<u32>(out + (<usize>j << 2), w);
    } else {
      for (; j < len; j++) store<u32>(out + (<usize>j << 2), load<u32>(x + (<usize>(j * last) << 2)));
    }
    for (let d = rank - 2; d >= 0; d--) {
      const id = idx + (<usize>d << 2);
      const sd = load<i32>(strides + (<usize>d << 2));
      const nd = load<i32>(dims + (<usize>d << 2));
      const c = load<i32>(id) + 1;
      src += sd;
      if (c < nd) {
        store<i32>(id, c);
        break;
      }
      src -= sd * nd;
      store<i32>(id, 0);
    }
  }
}

/**
 * LayerNorm's normalisation over rows of n float32 values, in float64 exactly as the
 * backend's JavaScript loop: s = Σ x (in order), μ = s/n, v = Σ (x − μ)² (in order),
 * r = 1/√(v/n + eps), out = (x − μ)·r rounded to float32. Two rows go side by side in the
 * f64x2 lanes (each lane its own sums); the output pass runs two columns at a time.
 */
export function normalizeF32(xPtr: usize, outPtr: usize, rows: i32, n: i32, eps: f64): void {
  const rowBytes = <usize>n << 2;
  const nf = f64x2.splat(<f64>n);
  const ve = f64x2.splat(eps);
  const one = f64x2.splat(1);
  let r: i32 = 0;
  for (; r + 2 <= rows; r += 2) {
    const x0 = xPtr + <usize>r * rowBytes;
    const x1 = x0 + rowBytes;
    let s = f64x2.splat(0);
    for (let j: i32 = 0; j < n; j++) {
      const q = <usize>j << 2;
      s = f64x2.add(s, f64x2.replace_lane(f64x2.splat(<f64>load<f32>(x0 + q)), 1, <f64>load<f32>(x1 + q)));
    }
    const mu = f64x2.div(s, nf);
    let v = f64x2.splat(0);
    for (let j: i32 = 0; j < n; j++) {
      const q = <usize>j << 2;
      const d = f64x2.sub(f64x2.replace_lane(f64x2.splat(<f64>load<f32>(x0 + q)), 1, <f64>load<f32>(x1 + q)), mu);
      v = f64x2.add(v, f64x2.mul(d, d));
    }
    const rstd = f64x2.div(one, f64x2.sqrt(f64x2.add(f64x2.div(v, nf), ve)));
    normalizeRow(x0, outPtr + <usize>r * rowBytes, n, f64x2.extract_lane(mu, 0), f64x2.extract_lane(rstd, 0));
    normalizeRow(x1, outPtr + <usize>(r + 1) * rowBytes, n, f64x2.extract_lane(mu, 1), f64x2.extract_lane(rstd, 1));
  }
  for (; r < rows; r++) {
    const x = xPtr + <usize>r * rowBytes;
    let s: f64 = 0;
    for (let j: i32 = 0; j < n; j++) s += <f64>load<f32>(x + (<usize>j << 2));
    const mu = s / <f64>n;
    let v: f64 = 0;
    for (let j: i32 = 0; j < n; j++) {
      const d = <f64>load<f32>(x + (<usize>j << 2)) - mu;
      v += d * d;
    }
    normalizeRow(x, outPtr + <usize>r * rowBytes, n, mu, 1 / Math.sqrt(v / <f64>n + eps));
  }
}

// @ts-ignore: decorator
@inline
function normalizeRow(x: usize, out: usize, n: i32, mu: f64, rstd: f64): void {
  const m = f64x2.splat(mu);
  const rs = f64x2.splat(rstd);
  let j: i32 = 0;
  for (; j + 2 <= n; j += 2) {
    const q = <usize>j << 2;
    const y = f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(v128.load64_zero(x + q)), m), rs);
    v128.store64_lane(out + q, f32x4.demote_f64x2_zero(y), 0);
  }
  for (; j < n; j++) store<f32>(out + (<usize>j << 2), <f32>((<f64>load<f32>(x + (<usize>j << 2)) - mu) * rstd));
}

/**
 * The attention scores' scale and bias in one pass: out = (s·scale) + bias, each operation
 * rounded to float32 (the composite's mul, then add). s and out are [b, h, tq, tk]
 * contiguous (out may be s); the bias element of (bi, hi, i, j) is at
 * bias[bi·s0 + hi·s1 + i·s2 + j·s3] (strides 0 where it broadcasts).
 */
export function scaleBiasF32(sPtr: usize, outPtr: usize, b: i32, h: i32, tq: i32, tk: i32, scale: f32,
  biasPtr: usize, s0: i32, s1: i32, s2: i32, s3: i32): void {
  const vs = f32x4.splat(scale);
  let x = sPtr;
  let o = outPtr;
  for (let bi: i32 = 0; bi < b; bi++) {
    for (let hi: i32 = 0; hi < h; hi++) {
      for (let i: i32 = 0; i < tq; i++) {
        const row = biasPtr + (<usize>(bi * s0 + hi * s1 + i * s2) << 2);
        let j: i32 = 0;
        if (s3 == 1) {
          for (; j + 4 <= tk; j += 4) {
            const q = <usize>j << 2;
            v128.store(o + q, f32x4.add(f32x4.mul(v128.load(x + q), vs), v128.load(row + q)));
          }
        }
        for (; j < tk; j++) {
          const q = <usize>j << 2;
          store<f32>(o + q, load<f32>(x + q) * scale + load<f32>(row + (<usize>(j * s3) << 2)));
        }
        x += <usize>tk << 2;
        o += <usize>tk << 2;
      }
    }
  }
}

// AssemblyScript source of the cpu backend's softmax / log-softmax row kernel, compiled
// into the same module as matmul.ts (see scripts/build-wasm.mjs) and called from
// src/cpu/wasm/softmax.ts.
//
// ## Numerics: bit-identical to the JavaScript kernel it replaces
// The cpu backend's softmax was (and for small problems still is) a JavaScript loop doing
// its arithmetic in float64 with V8's Math.exp. This kernel performs the same float64
// operations in the same order, and `exp64` below is V8's Math.exp itself: V8 computes
// Math.exp with base::ieee754::exp, FreeBSD's/fdlibm's e_exp.c (plus V8's special case
// exp(1) = E), ported here operation by operation. WebAssembly float64 arithmetic is
// IEEE-754 binary64 with round-to-nearest-even and no contraction, exactly as V8's C++
// build of that function, so the results are the same bits (checked against Math.exp
// on tens of millions of inputs and at every branch boundary by the tests). The
// log-softmax's Math.log (one per row) stays in JavaScript: `softmaxRows` is called in
// two phases for it.
//
// Why: Math.exp costs ~9 ns a call from V8's optimised code (a C call per element). Here
// the ordinary inputs go two at a time through f64x2 lanes (exp2), and nothing is called
// per element.

const halF0: f64 = 0.5;
const halF1: f64 = -0.5;
const o_threshold: f64 = 7.09782712893383973096e+02; // 0x40862E42 FEFA39EF
const u_threshold: f64 = -7.45133219101941108420e+02; // 0xC0874910 D52D3051
const ln2HI0: f64 = 6.93147180369123816490e-01; // 0x3FE62E42 FEE00000
const ln2HI1: f64 = -6.93147180369123816490e-01;
const ln2LO0: f64 = 1.90821492927058770002e-10; // 0x3DEA39EF 35793C76
const ln2LO1: f64 = -1.90821492927058770002e-10;
const invln2: f64 = 1.44269504088896338700e+00; // 0x3FF71547 652B82FE
const P1: f64 = 1.66666666666666019037e-01;
const P2: f64 = -2.77777777770155933842e-03;
const P3: f64 = 6.61375632143793436117e-05;
const P4: f64 = -1.65339022054652515390e-06;
const P5: f64 = 4.13813679705723846039e-08;
const E: f64 = 2.718281828459045;
const huge: f64 = 1.0e+300;
const twom1000: f64 = 9.33263618503218878990e-302; // 2^-1000
const two1023: f64 = 8.988465674311579539e307; // 2^1023

/** e^x, bit-identical to V8's Math.exp (base::ieee754::exp). */
// @ts-ignore: decorator
@inline
function exp64(x: f64): f64 {
  let hx = <u32>(reinterpret<u64>(x) >> 32);
  const xsb = hx >> 31;
  hx &= 0x7fffffff;
  let hi: f64 = 0;
  let lo: f64 = 0;
  let k: i32 = 0;
  // filter out non-finite argument
  if (hx >= 0x40862E42) { // |x| >= 709.78...
    if (hx >= 0x7ff00000) {
      if (((hx & 0xfffff) | <u32>reinterpret<u64>(x)) != 0) return x + x; // NaN
      return xsb == 0 ? x : 0.0; // exp(+-inf) = {inf, 0}
    }
    if (x > o_threshold) return huge * huge; // overflow
    if (x < u_threshold) return twom1000 * twom1000; // underflow
  }
  // argument reduction
  if (hx > 0x3FD62E42) { // |x| > 0.5 ln2
    if (hx < 0x3FF0A2B2) { // and |x| < 1.5 ln2
      if (x == 1.0) return E;
      if (xsb == 0) {
        hi = x - ln2HI0;
        lo = ln2LO0;
        k = 1;
      } else {
        hi = x - ln2HI1;
        lo = ln2LO1;
        k = -1;
      }
    } else {
      k = <i32>(invln2 * x + (xsb == 0 ? halF0 : halF1));
      const t = <f64>k;
      hi = x - t * ln2HI0; // t*ln2HI is exact here
      lo = t * ln2LO0;
    }
    x = hi - lo;
  } else if (hx < 0x3e300000) { // |x| < 2^-28
    if (huge + x > 1.0) return 1.0 + x; // trigger inexact
  } else {
    k = 0;
  }
  // x is now in primary range
  const t = x * x;
  let twopk: f64;
  if (k >= -1021) {
    twopk = reinterpret<f64>(<u64>(<u32>(0x3FF00000 + (k << 20))) << 32);
  } else {
    twopk = reinterpret<f64>(<u64>(<u32>(0x3FF00000 + ((k + 1000) << 20))) << 32);
  }
  const c = x - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k == 0) return 1.0 - ((x * c) / (c - 2.0) - x);
  const y = 1.0 - ((lo - (x * c) / (2.0 - c)) - hi);
  if (k >= -1021) {
    if (k == 1024) return y * 2.0 * two1023;
    return y * twopk;
  }
  return y * twopk * twom1000;
}

/** Math.exp's twin, exported for the tests. */
export function exp(x: f64): f64 {
  return exp64(x);
}

// ---- two lanes at a time -------------------------------------------------------------
// The same arithmetic on f64x2 lanes (IEEE per lane, like the scalar code), for the inputs
// where exp64 takes one of its three ordinary paths — |x| < 2^-28: 1 + x; |x| ≤ 0.5 ln2
// (k = 0): 1 − ((x·c)/(c − 2) − x); 0.5 ln2 < |x| and −707 < x < 709 (−1021 ≤ k ≤ 1023):
// the reduction with k = trunc(x/ln2 ± 0.5) and y·2^k — plus x == 1 (E) and x below the
// underflow threshold (0). In 0.5 ln2 < |x| < 1.5 ln2 exp64 sets k = ±1 directly; the
// general reduction computes the same k, hi and lo there (trunc(x/ln2 ± 0.5) = ±1,
// x − (±1)·ln2HI = x ∓ ln2HI exactly, ±ln2LO). Any other input (NaN, ±∞, near-overflow,
// subnormal results) sends the pair to exp64.
const T_TINY: f64 = reinterpret<f64>(<u64>0x3e300000 << 32); // |x| < this ⇔ hx < 0x3e300000
const T_HALF: f64 = reinterpret<f64>(<u64>0x3FD62E43 << 32); // |x| < this ⇔ hx ≤ 0x3FD62E42

/** Whether both lanes of x can go through {@link exp2}. */
// @ts-ignore: decorator
@inline
function exp2Ok(x: v128): bool {
  const ok = v128.or(v128.and(f64x2.gt(x, f64x2.splat(-707.0)), f64x2.lt(x, f64x2.splat(709.0))), f64x2.lt(x, f64x2.splat(u_threshold)));
  return i64x2.all_true(ok);
}

/** exp64 of both lanes (where exp2Ok). */
// @ts-ignore: decorator
@inline
function exp2(x: v128): v128 {
  const ax = f64x2.abs(x);
  const one = f64x2.splat(1.0);
  const two = f64x2.splat(2.0);
  const half = v128.or(f64x2.splat(0.5), v128.and(x, i64x2.splat(0x8000000000000000)));
  const kf = f64x2.trunc(f64x2.add(f64x2.mul(f64x2.splat(invln2), x), half));
  const hi = f64x2.sub(x, f64x2.mul(kf, f64x2.splat(ln2HI0)));
  const lo = f64x2.mul(kf, f64x2.splat(ln2LO0));
  const small = f64x2.lt(ax, f64x2.splat(T_HALF));
  const r = v128.bitselect(x, f64x2.sub(hi, lo), small);
  const t = f64x2.mul(r, r);
  const poly = f64x2.mul(t, f64x2.add(f64x2.splat(P1), f64x2.mul(t, f64x2.add(f64x2.splat(P2), f64x2.mul(t, f64x2.add(f64x2.splat(P3), f64x2.mul(t, f64x2.add(f64x2.splat(P4), f64x2.mul(t, f64x2.splat(P5))))))))));
  const c = f64x2.sub(r, poly);
  // One division serves both paths: 2 − c = −(c − 2) exactly (rounding is symmetric), so
  // (x·c)/(2 − c) = −q and lo − (x·c)/(2 − c) = lo + q, bit for bit.
  const q = f64x2.div(f64x2.mul(r, c), f64x2.sub(c, two));
  // k = 0
  const y0 = f64x2.sub(one, f64x2.sub(q, r));
  // k ≠ 0: y·2^k, 2^k built from the integer k
  const yk = f64x2.sub(one, f64x2.sub(f64x2.add(lo, q), hi));
  const k = i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(kf));
  const twopk = i64x2.shl(i64x2.add(k, i64x2.splat(1023)), 52);
  let y = v128.bitselect(y0, f64x2.mul(yk, twopk), small);
  y = v128.bitselect(f64x2.add(one, x), y, f64x2.lt(ax, f64x2.splat(T_TINY)));
  y = v128.bitselect(f64x2.splat(E), y, f64x2.eq(x, one));
  return v128.bitselect(f64x2.splat(0.0), y, f64x2.lt(x, f64x2.splat(u_threshold)));
}

/** Both lanes of exp64, via exp2 where possible (for the tests). */
export function expPair(a: f64, b: f64, lane: i32): f64 {
  const x = f64x2.replace_lane(f64x2.splat(a), 1, b);
  if (!exp2Ok(x)) return lane == 0 ? exp64(a) : exp64(b);
  const e = exp2(x);
  return lane == 0 ? f64x2.extract_lane(e, 0) : f64x2.extract_lane(e, 1);
}

/** The row maximum as the JavaScript kernel takes it (NaN skipped; an all −∞ row → −FLT_MAX). */
// @ts-ignore: decorator
@inline
function rowMax(p: usize, n: i32): f64 {
  let m: f64 = -Infinity;
  for (let j = 0; j < n; j++) {
    const v = <f64>load<f32>(p + (<usize>j << 2));
    if (v > m) m = v;
  }
  if (m == -Infinity) m = -3.4028234663852886e38;
  return m;
}

/**
 * Softmax over the last axis of `rows` rows of `n` float32 values at xPtr, written to
 * oPtr (may equal xPtr). mode 0: softmax. mode 1: log-softmax phase 1 — writes each row's
 * max and Σ exp(x − max) as float64 pairs at auxPtr (the caller then stores Math.log of the
 * sum in place of the sum). mode 2: log-softmax phase 2 — out = x − max − logSum from aux.
 */
export function softmaxRows(xPtr: usize, oPtr: usize, rows: i32, n: i32, mode: i32, auxPtr: usize): void {
  const rowBytes = <usize>n << 2;
  for (let r = 0; r < rows; r++) {
    const x = xPtr + <usize>r * rowBytes;
    const o = oPtr + <usize>r * rowBytes;
    const a = auxPtr + (<usize>r << 4);
    if (mode == 2) {
      const m = load<f64>(a);
      const ls = load<f64>(a, 8);
      for (let j = 0; j < n; j++) {
        const q = <usize>j << 2;
        store<f32>(o + q, <f32>(<f64>load<f32>(x + q) - m - ls));
      }
      continue;
    }
    const m = rowMax(x, n);
    let s: f64 = 0;
    const mv = f64x2.splat(m);
    if (mode == 1) {
      let j = 0;
      for (; j + 1 < n; j += 2) {
        const v = f64x2.sub(f64x2.promote_low_f32x4(v128.load64_zero(x + (<usize>j << 2))), mv);
        if (exp2Ok(v)) {
          const e = exp2(v);
          s += f64x2.extract_lane(e, 0);
          s += f64x2.extract_lane(e, 1);
        } else {
          s += exp64(f64x2.extract_lane(v, 0));
          s += exp64(f64x2.extract_lane(v, 1));
        }
      }
      for (; j < n; j++) s += exp64(<f64>load<f32>(x + (<usize>j << 2)) - m);
      store<f64>(a, m);
      store<f64>(a, s, 8);
      continue;
    }
    // Each exp is stored rounded to float32; the sum takes the float64 value (as the JS kernel did).
    let j = 0;
    for (; j + 1 < n; j += 2) {
      const q = <usize>j << 2;
      const v = f64x2.sub(f64x2.promote_low_f32x4(v128.load64_zero(x + q)), mv);
      let e0: f64, e1: f64;
      if (exp2Ok(v)) {
        const e = exp2(v);
        e0 = f64x2.extract_lane(e, 0);
        e1 = f64x2.extract_lane(e, 1);
      } else {
        e0 = exp64(f64x2.extract_lane(v, 0));
        e1 = exp64(f64x2.extract_lane(v, 1));
      }
      store<f32>(o + q, <f32>e0);
      store<f32>(o + q, <f32>e1, 4);
      s += e0;
      s += e1;
    }
    for (; j < n; j++) {
      const q = <usize>j << 2;
      const e = exp64(<f64>load<f32>(x + q) - m);
      store<f32>(o + q, <f32>e);
      s += e;
    }
    // out / s per lane (IEEE division, then the same rounding to float32).
    const sv = f64x2.splat(s);
    j = 0;
    for (; j + 1 < n; j += 2) {
      const q = <usize>j << 2;
      const d = f64x2.div(f64x2.promote_low_f32x4(v128.load64_zero(o + q)), sv);
      v128.store64_lane(o + q, f32x4.demote_f64x2_zero(d), 0);
    }
    for (; j < n; j++) {
      const q = <usize>j << 2;
      store<f32>(o + q, <f32>(<f64>load<f32>(o + q) / s));
    }
  }
}

// Property tests for the WebAssembly elementwise kernels (src/cpu/wasm/elementwise.ts,
// wasm/elementwise.ts) and for the cpu backend's routing to them.
//
// References, each independent of the kernels:
//  * IEEE float32 arithmetic as its definition: fround(a ∘ b) computed in float64 (exact
//    for + − × ÷ after one rounding);
//  * sums: a float64 sequential sum in increasing index order, rounded once (what the
//    backend documents, and what the JavaScript loop computes);
//  * relu / x > s / select by their definitions, on the bits;
//  * Adam: the update's float32 operations one by one (fround after each).
// Sizes straddle the SIMD width (tails of 0–3 elements, rows of 1–9 values, inner = 1 with
// outer not a multiple of 4) and values include ±0, ±∞, NaN, subnormals and huge numbers.
// Every kernel runs on arrays in the arena (read and written in place) and on plain arrays
// (copied in and out), chosen per array: `place` moves an array into the arena.
// NaN results compare equal to any NaN (wasm may return a different payload).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '../src/index.js';
import { adamF32, binaryF32, copyRows32, gtScalarF32, normalizeF32, reluF32, selectF32, sumF32, type BroadcastMode } from '../src/cpu/wasm/elementwise.js';
import { inArenaCopy } from './helpers/arena.js';
import { configureArena } from '../src/cpu/wasm/arena.js';
import { configureMatmulF32, matmulF32ThreadsReady, parallelKernelCalls } from '../src/cpu/wasm/matmul.js';
import { softmaxF32 } from '../src/cpu/wasm/softmax.js';
import { softmaxJs } from '../src/cpu/backend.js';

const f = Math.fround;

/** x itself, or (arena = true) a copy of it in a block of the arena (never freed: the test process is short). */
function place<A extends Float32Array | Uint8Array>(x: A, arena: boolean): A {
  return arena ? inArenaCopy(x)[0] : x;
}
const where3 = fc.tuple(fc.boolean(), fc.boolean(), fc.boolean());
const sameBits = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

const value = fc.oneof(
  { arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true, min: f(-1e4), max: f(1e4) }), weight: 8 },
  { arbitrary: fc.float(), weight: 2 },
  { arbitrary: fc.constantFrom(0, -0, Infinity, -Infinity, NaN, 1e-40, -1e-45, 3.4e38), weight: 1 },
);
const IEEE: Record<'add' | 'sub' | 'mul' | 'div', (a: number, b: number) => number> = {
  add: (a, b) => f(a + b), sub: (a, b) => f(a - b), mul: (a, b) => f(a * b), div: (a, b) => f(a / b),
};
const OPS = Object.keys(IEEE) as (keyof typeof IEEE)[];

function expectSame(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!sameBits(got[i]!, want[i]!)) expect.fail(`${what}: element ${i} is ${got[i]}, want ${want[i]}`);
  }
}

describe('wasm binaryF32', () => {
  it('is IEEE float32 + − × ÷ for every broadcast layout, either operand on the left', () => {
    const arb = fc.record({
      rows: fc.integer({ min: 1, max: 6 }), n: fc.integer({ min: 1, max: 11 }),
      mode: fc.constantFrom<BroadcastMode>('same', 'scalar', 'row', 'col'), swap: fc.boolean(), op: fc.constantFrom(...OPS),
      seed: fc.array(value, { minLength: 80, maxLength: 80 }), at: where3,
    });
    fc.assert(fc.property(arb, ({ rows, n, mode, swap, op, seed, at }) => {
      const len = rows * n;
      const full = place(Float32Array.from({ length: len }, (_, i) => seed[i % 80]!), at[0]);
      const sLen = mode === 'same' ? len : mode === 'scalar' ? 1 : mode === 'row' ? rows : n;
      const small = place(Float32Array.from({ length: sLen }, (_, i) => seed[(i * 7 + 3) % 80]!), at[1]);
      const out = place(new Float32Array(len).fill(12345), at[2]);
      binaryF32(op, mode, swap, full, small, out, rows, n);
      const want = Array.from({ length: len }, (_, i) => {
        const r = Math.floor(i / n);
        const s = small[mode === 'same' ? i : mode === 'scalar' ? 0 : mode === 'row' ? r : i % n]!;
        return swap ? IEEE[op](s, full[i]!) : IEEE[op](full[i]!, s);
      });
      expectSame(out, want, `${op} ${mode}${swap ? ' swapped' : ''} [${rows}, ${n}]`);
    }), { numRuns: 400 });
  });

  it('the cpu backend routes large float32 ops to it with the operands in the right places', async () => {
    // 64 × 40 = 2560 elements (above the wasm threshold); sub and div are not commutative,
    // so an operand swapped on the way shows.
    const rows = 64, n = 40;
    const a = Float32Array.from({ length: rows * n }, (_, i) => f(Math.sin(i) * 10));
    const b = Float32Array.from({ length: rows * n }, (_, i) => f(Math.cos(i * 3) * 3 + 0.5));
    const col = b.slice(0, n), row = b.slice(0, rows);
    const cases: [string, number[], Float32Array, number[], (i: number) => [number, number]][] = [
      ['same', [rows, n], b, [rows, n], (i) => [a[i]!, b[i]!]],
      ['col', [rows, n], col, [n], (i) => [a[i]!, col[i % n]!]],
      ['row', [rows, n], row, [rows, 1], (i) => [a[i]!, row[Math.floor(i / n)]!]],
    ];
    for (const op of ['sub', 'div'] as const) {
      for (const [name, aShape, bData, bShape, pick] of cases) {
        const ta = T.tensor(a, { shape: aShape }), tb = T.tensor(bData, { shape: bShape });
        const ab = await T[op](ta, tb).data();
        const ba = await T[op](tb, ta).data();
        expectSame(ab, Array.from({ length: rows * n }, (_, i) => IEEE[op](...pick(i))), `${op} ${name}`);
        expectSame(ba, Array.from({ length: rows * n }, (_, i) => { const [x, y] = pick(i); return IEEE[op](y, x); }), `${op} ${name} swapped`);
      }
      const s = f(1.7);
      expectSame(await T[op](T.tensor(a, { shape: [rows, n] }), s).data(), Array.from(a, (x) => IEEE[op](x, s)), `${op} scalar`);
      expectSame(await T[op](s, T.tensor(a, { shape: [rows, n] })).data(), Array.from(a, (x) => IEEE[op](s, x)), `${op} scalar swapped`);
    }
  });
});

describe('wasm sumF32', () => {
  it('is the float64 sequential sum of each output, rounded once', () => {
    const arb = fc.record({
      outer: fc.integer({ min: 1, max: 9 }), red: fc.integer({ min: 1, max: 40 }), inner: fc.integer({ min: 1, max: 9 }),
      seed: fc.array(value, { minLength: 97, maxLength: 97 }), at: where3,
    });
    fc.assert(fc.property(arb, ({ outer, red, inner, seed, at }) => {
      // Magnitudes that make the order matter: a float32 running sum, or any other order, differs.
      const x = place(Float32Array.from({ length: outer * red * inner }, (_, i) => seed[i % 97]! * (i % 3 === 0 ? 1e7 : 1)), at[0]);
      const out = place(new Float32Array(outer * inner).fill(12345), at[1]);
      sumF32(x, out, outer, red, inner);
      const want: number[] = [];
      for (let o = 0; o < outer; o++) {
        for (let j = 0; j < inner; j++) {
          let s = 0;
          for (let r = 0; r < red; r++) s += x[(o * red + r) * inner + j]!;
          want.push(f(s));
        }
      }
      expectSame(out, want, `sum [${outer}, ${red}, ${inner}]`);
    }), { numRuns: 400 });
  });

  it('keeps the order of additions where it matters (1e8 + 1 − 1e8, column and row sums)', () => {
    // In float64 order: (1e8 + 1) − 1e8 = 1; reassociated as 1e8 − 1e8 + 1 also 1, but
    // float32 accumulation gives 0 — and [1, 1e20, −1e20] in order gives 0 in float64.
    const x = new Float32Array([1e8, 1, -1e8, 1, 1e20, -1e20, 3, 4, 5]);
    const rows = new Float32Array(3);
    sumF32(x, rows, 3, 3, 1);
    expect(Array.from(rows)).toEqual([1, 0, 12]);
    const cols = new Float32Array(3);
    sumF32(x, cols, 1, 3, 3);
    expect(Array.from(cols)).toEqual([f(1e8 + 1 + 3), f(1 + 1e20 + 4), f(-1e8 - 1e20 + 5)]);
  });
});

describe('wasm relu, x > s, select', () => {
  const words = fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 0, maxLength: 45 });
  const asF32 = (ws: number[]) => new Float32Array(Uint32Array.from(ws).buffer);
  const special = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 1, 0x80000001, 0x3f800000, 0xbf800000];

  it('relu: x < 0 → +0, everything else (−0, NaN) unchanged, on the bits', () => {
    fc.assert(fc.property(words, where3, (ws, at) => {
      const x = place(asF32([...special, ...ws]), at[0]);
      const out = place(new Float32Array(x.length), at[1]);
      reluF32(x, out, x.length);
      const got = new Uint32Array(out.buffer, out.byteOffset, out.length), u = new Uint32Array(x.buffer, x.byteOffset, x.length);
      for (let i = 0; i < x.length; i++) expect(got[i]).toBe(x[i]! < 0 ? 0 : u[i]);
    }));
  });

  it('x > s as bytes (NaN false), for scalars including ±0, ±∞ and NaN', () => {
    fc.assert(fc.property(words, fc.constantFrom(0, -0, 1.5, -2, Infinity, -Infinity, NaN), (ws, s) => {
      const x = asF32([...special, ...ws]);
      const out = new Uint8Array(x.length).fill(7);
      gtScalarF32(x, s, out, x.length);
      expect(Array.from(out)).toEqual(Array.from(x, (v) => (v > s ? 1 : 0)));
    }));
  });

  it('select: c ? a : b on the raw words, b per element or one word', () => {
    fc.assert(fc.property(words, fc.boolean(), where3, (ws, scalar, at) => {
      const a = place(asF32([...special, ...ws]), at[0]);
      const n = a.length;
      const b = scalar ? asF32([0x7fc00001]) : place(asF32(Array.from({ length: n }, (_, i) => (i * 2654435761) >>> 0)), at[1]);
      const c = place(Uint8Array.from({ length: n }, (_, i) => [0, 1, 2, 255][(i * 7) % 4]!), at[1]);
      const out = place(new Float32Array(n), at[2]);
      selectF32(c, a, b, out, n);
      const u32 = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);
      const got = u32(out), ua = u32(a), ub = u32(b);
      for (let i = 0; i < n; i++) expect(got[i]).toBe(c[i] ? ua[i] : ub[scalar ? 0 : i]);
    }));
  });
});

describe('wasm adamF32', () => {
  it('is the float32 Adam update, op by op (with and without decay, either lerp form)', () => {
    const arb = fc.record({
      n: fc.integer({ min: 0, max: 21 }), fromM: fc.boolean(), decay: fc.boolean(),
      c: fc.tuple(...Array.from({ length: 7 }, () => fc.float({ noNaN: true, min: f(-2), max: f(2) }))),
      seed: fc.array(value, { minLength: 64, maxLength: 64 }), at: where3,
    });
    fc.assert(fc.property(arb, ({ n, fromM, decay, c, seed, at }) => {
      const [lerp, b2, oneMinusB2, negStepSize, bc2Sqrt, eps, negDecay] = c;
      const k = { lerpFromM: fromM, lerp, b2, oneMinusB2, negStepSize, bc2Sqrt, eps, negDecay };
      const arr = (o: number) => place(Float32Array.from({ length: n }, (_, i) => seed[(i * 5 + o) % 64]!), at[o % 2]);
      const [g, m, v, p] = [arr(0), arr(1), place(arr(2).map(Math.abs), at[0]), arr(3)];
      const [m2, v2, u] = [place(new Float32Array(n), at[2]), new Float32Array(n), place(new Float32Array(n), at[2])];
      adamF32(g, m, v, decay ? p : undefined, m2, v2, u, n, k);
      for (let i = 0; i < n; i++) {
        const d = f(g[i]! - m[i]!);
        const mn = fromM ? f(m[i]! + f(d * lerp)) : f(g[i]! - f(d * lerp));
        const vn = f(f(v[i]! * b2) + f(f(g[i]! * oneMinusB2) * g[i]!));
        const step = f(f(mn * negStepSize) / f(f(f(Math.sqrt(vn)) / bc2Sqrt) + eps));
        const un = decay ? f(f(p[i]! * negDecay) + step) : step;
        if (!sameBits(m2[i]!, mn) || !sameBits(v2[i]!, vn) || !sameBits(u[i]!, un)) {
          expect.fail(`element ${i}: [${m2[i]}, ${v2[i]}, ${u[i]}], want [${mn}, ${vn}, ${un}]`);
        }
      }
    }), { numRuns: 300 });
  });
});

describe('wasm copyRows32', () => {
  it('copies x[base + Σ coord·stride] row by row: transposes, broadcasts (stride 0), strided slices', () => {
    const arb = fc.integer({ min: 1, max: 4 }).chain((rank) => fc.record({
      shape: fc.array(fc.integer({ min: 1, max: 7 }), { minLength: rank, maxLength: rank }),
      strides: fc.array(fc.integer({ min: -1, max: 40 }), { minLength: rank, maxLength: rank }),
      at: where3,
    }));
    fc.assert(fc.property(arb, ({ shape, strides, at }) => {
      const st = strides.map((s) => Math.max(0, s));
      const reach = shape.reduce((acc, n, d) => acc + (n - 1) * st[d]!, 0);
      const base = 3;
      const x = place(Float32Array.from({ length: base + reach + 1 }, (_, i) => f(i * 1.5 - 7)), at[0]);
      const total = shape.reduce((a, b) => a * b, 1);
      const out = place(new Float32Array(total).fill(-1), at[1]);
      copyRows32(x, out, shape, st, base);
      const want: number[] = [];
      const idx = shape.map(() => 0);
      for (let i = 0; i < total; i++) {
        want.push(x[base + idx.reduce((a, c, d) => a + c * st[d]!, 0)]!);
        for (let d = shape.length - 1; d >= 0; d--) { if (++idx[d]! < shape[d]!) break; idx[d] = 0; }
      }
      expectSame(out, want, `copyRows [${shape}] strides [${st}]`);
    }), { numRuns: 300 });
  });

  it('the cpu backend transposes large tensors with it (heads split: [B, T, H, dh] → [B, H, T, dh])', async () => {
    const [b, t, h, dh] = [4, 24, 4, 16];
    const x = T.tensor(Float32Array.from({ length: b * t * h * dh }, (_, i) => i), { shape: [b, t, h, dh] });
    const y = await T.transpose(x, [0, 2, 1, 3]).data();
    for (let i = 0; i < y.length; i += 13) {
      const j = i % dh, ti = Math.floor(i / dh) % t, hi = Math.floor(i / (dh * t)) % h, bi = Math.floor(i / (dh * t * h));
      expect(y[i]).toBe(((bi * t + ti) * h + hi) * dh + j);
    }
  });
});

describe('wasm normalizeF32', () => {
  it("is LayerNorm's normalisation as documented: float64 sums in order, (x − μ)·(1/√(v/n + eps)) rounded once", () => {
    const arb = fc.record({
      rows: fc.integer({ min: 1, max: 7 }), n: fc.integer({ min: 1, max: 13 }),
      eps: fc.constantFrom(1e-5, 0, 1e-12, 0.5), offset: fc.constantFrom(0, 1000, -3e5),
      seed: fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: f(-50), max: f(50) }), { minLength: 91, maxLength: 91 }), at: where3,
    });
    fc.assert(fc.property(arb, ({ rows, n, eps, offset, seed, at }) => {
      const x = place(Float32Array.from({ length: rows * n }, (_, i) => f(seed[i % 91]! + offset)), at[0]);
      const out = place(new Float32Array(rows * n).fill(9), at[1]);
      normalizeF32(x, out, rows, n, eps);
      const want: number[] = [];
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += x[r * n + j]!;
        const mu = s / n;
        let v = 0;
        for (let j = 0; j < n; j++) v += (x[r * n + j]! - mu) * (x[r * n + j]! - mu);
        const rstd = 1 / Math.sqrt(v / n + eps);
        for (let j = 0; j < n; j++) want.push(f((x[r * n + j]! - mu) * rstd));
      }
      expectSame(out, want, `normalize [${rows}, ${n}] eps ${eps}`);
    }), { numRuns: 300 });
  });
});

describe('large calls, split over the two threads where the arena is shared', () => {
  it('give the definitions\' bits for every kernel (uneven row and element splits)', async () => {
    // Threads exist exactly where the arena's memory is shared (not in arena-ordinary /
    // arena-off runs of this file); the split must happen there and nowhere else.
    const threads = await matmulF32ThreadsReady();
    expect(threads).toBe(configureArena().shared);
    // No contention back-off: every eligible call is split, so each split is checked.
    configureMatmulF32({ backoff: false });
    const before = parallelKernelCalls();
    const rows = 301, n = 131, len = rows * n; // 39 431 elements: above the split threshold, ragged parts
    const rnd = (k: number) => Float32Array.from({ length: len }, (_, i) => f(Math.sin(i * 0.37 + k) * (i % 7 === 0 ? 1e5 : 3)));
    const [x, y] = [place(rnd(1), true), place(rnd(2), true)];
    const colV = place(rnd(3).subarray(0, n), true), rowV = place(rnd(4).subarray(0, rows), true);
    for (const [mode, small, pick] of [
      ['same', y, (i: number) => y[i]!], ['row', rowV, (i: number) => rowV[Math.floor(i / n)]!],
      ['col', colV, (i: number) => colV[i % n]!], ['scalar', new Float32Array([f(1.25)]), () => f(1.25)],
    ] as const) {
      const out = place(new Float32Array(len), true);
      binaryF32('sub', mode, true, x, small, out, rows, n);
      expectSame(out, Array.from({ length: len }, (_, i) => f(pick(i) - x[i]!)), `sub ${mode} swapped, large`);
    }
    const sums = place(new Float32Array(rows), true);
    sumF32(x, sums, rows, n, 1);
    expectSame(sums, Array.from({ length: rows }, (_, r) => { let s = 0; for (let j = 0; j < n; j++) s += x[r * n + j]!; return f(s); }), 'row sums, large');
    // Column sums: each thread needs its own accumulator row (long enough that both run at once).
    const big = place(Float32Array.from({ length: 8 * 600 * n }, (_, i) => x[i % len]! + (i % 5)), true);
    const colSums = place(new Float32Array(8 * n), true);
    sumF32(big, colSums, 8, 600, n);
    expectSame(colSums, Array.from({ length: 8 * n }, (_, i) => { const [o, j] = [Math.floor(i / n), i % n]; let s = 0; for (let r = 0; r < 600; r++) s += big[(o * 600 + r) * n + j]!; return f(s); }), 'column sums, large');
    const relu = place(new Float32Array(len), true);
    reluF32(x, relu, len);
    expectSame(relu, Array.from(x, (v) => (v < 0 ? 0 : v)), 'relu, large');
    const gt = place(new Uint8Array(len), true);
    gtScalarF32(x, 0.5, gt, len);
    expect(Array.from(gt)).toEqual(Array.from(x, (v) => (v > 0.5 ? 1 : 0)));
    const sel = place(new Float32Array(len), true);
    selectF32(gt, x, y, sel, len);
    expectSame(sel, Array.from(x, (v, i) => (gt[i] ? v : y[i]!)), 'select, large');
    const norm = place(new Float32Array(len), true);
    normalizeF32(x, norm, rows, n, 1e-5);
    for (let r = 0; r < rows; r += 37) {
      let s = 0;
      for (let j = 0; j < n; j++) s += x[r * n + j]!;
      const mu = s / n;
      let v = 0;
      for (let j = 0; j < n; j++) v += (x[r * n + j]! - mu) ** 2;
      const rstd = 1 / Math.sqrt(v / n + 1e-5);
      for (let j = 0; j < n; j++) expect(Object.is(norm[r * n + j], f((x[r * n + j]! - mu) * rstd))).toBe(true);
    }
    for (const log of [false, true]) {
      const sm = place(new Float32Array(len), true);
      softmaxF32(x, sm, rows, n, log);
      const want = new Float32Array(len);
      softmaxJs(x, want, rows, n, log);
      expectSame(sm, want, `${log ? 'log-' : ''}softmax, large`);
    }
    const [m2, v2, u] = [place(new Float32Array(len), true), place(new Float32Array(len), true), place(new Float32Array(len), true)];
    const c = { lerpFromM: false, lerp: f(0.1), b2: f(0.999), oneMinusB2: f(0.001), negStepSize: f(-1e-3), bc2Sqrt: f(0.3), eps: f(1e-8), negDecay: f(-0.01) };
    adamF32(x, y, relu, x, m2, v2, u, len, c);
    for (let i = 0; i < len; i += 101) {
      const d = f(x[i]! - y[i]!);
      const mn = f(x[i]! - f(d * c.lerp));
      const vn = f(f(relu[i]! * c.b2) + f(f(x[i]! * c.oneMinusB2) * x[i]!));
      const step = f(f(mn * c.negStepSize) / f(f(f(Math.sqrt(vn)) / c.bc2Sqrt) + c.eps));
      expect([m2[i], v2[i], u[i]]).toEqual([mn, vn, f(f(x[i]! * c.negDecay) + step)]);
    }
    // 4 binary + 2 sums + relu + gt + select + normalize + 3 softmax passes + adam = 14 split calls.
    expect(parallelKernelCalls() - before).toBe(threads ? 14 : 0);
    configureMatmulF32({ backoff: true });
  });
});

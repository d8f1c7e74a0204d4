// Property tests for the WebAssembly softmax (src/cpu/wasm/softmax.ts, wasm/softmax.ts).
//
// Three references:
//  * V8's Math.exp: the kernel's exp must equal it bit for bit (at every branch boundary
//    of fdlibm's e_exp.c and on a few million random inputs), since the kernel replaces
//    a JavaScript loop that called Math.exp;
//  * that JavaScript loop (`softmaxJs`): the wasm softmax and log-softmax must give the
//    same bits on any input (−∞ rows, NaN, huge and tiny values, ragged widths), NaN
//    payloads aside (see bitsEqual);
//  * float64: the mathematically intended result, within a few float32 ulps.
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { softmaxF32, wasmExp, wasmExpPair } from '../src/cpu/wasm/softmax.js';
import { softmaxJs } from '../src/cpu/backend.js';

const same = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

function fromBits(hi: number, lo: number): number {
  const u = new Uint32Array(2);
  u[0] = lo >>> 0;
  u[1] = hi >>> 0;
  return new Float64Array(u.buffer)[0]!;
}

describe('wasm exp', () => {
  it("is V8's Math.exp at the branch boundaries of e_exp.c and at special values", () => {
    const his = [0x40862E42, 0x7ff00000, 0x3FD62E42, 0x3FF0A2B2, 0x3e300000, 0x3ff00000, 0x40874910, 0x408FF000];
    const xs: number[] = [0, -0, 1, -1, Infinity, -Infinity, NaN, Math.LN2, -Math.LN2, 709.782712893384, 709.7827128933841, -745.1332191019411, -745.1332191019412, -708.4, -744, 88.7, -103.9];
    for (const h of his) for (const d of [-2, -1, 0, 1, 2]) for (const lo of [0, 1, 0xffffffff, 0x80000000]) for (const sign of [0, 0x80000000]) xs.push(fromBits(((h + d) | sign) >>> 0, lo));
    for (let k = -1080; k <= 1030; k++) for (const e of [-1e-9, 0, 1e-9]) xs.push(k * Math.LN2 + e);
    for (const x of xs) if (!same(wasmExp(x), Math.exp(x))) expect.fail(`exp(${x}): wasm ${wasmExp(x)} vs Math.exp ${Math.exp(x)}`);
    // The two-lane path, each boundary value beside an ordinary one and beside itself.
    for (const x of xs) {
      for (const [a, b] of [[x, -1.5], [0.25, x], [x, x]] as const) {
        const [ea, eb] = wasmExpPair(a, b);
        if (!same(ea, Math.exp(a)) || !same(eb, Math.exp(b))) expect.fail(`expPair(${a}, ${b}): [${ea}, ${eb}] vs Math.exp [${Math.exp(a)}, ${Math.exp(b)}]`);
      }
    }
  });

  it("is V8's Math.exp on random inputs (uniform, softmax-like, random bit patterns)", () => {
    const u = new Uint32Array(2);
    const f = new Float64Array(u.buffer);
    let s = 12345;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
    let prev = 0;
    for (let i = 0; i < 2_000_000; i++) {
      let x: number;
      switch (i % 4) {
        case 0: x = (rnd() * 2 - 1) * 800; break;
        case 1: x = -rnd() * 40; break;
        case 2: u[0] = rnd() * 2 ** 32; u[1] = rnd() * 2 ** 32; x = f[0]!; break;
        default: x = Math.fround((rnd() * 2 - 1) * 30) - Math.fround(rnd() * 30);
      }
      if (!same(wasmExp(x), Math.exp(x))) expect.fail(`exp(${x}): wasm ${wasmExp(x)} vs Math.exp ${Math.exp(x)}`);
      if (i % 2 === 1) {
        const [ea, eb] = wasmExpPair(prev, x);
        if (!same(ea, Math.exp(prev)) || !same(eb, Math.exp(x))) expect.fail(`expPair(${prev}, ${x}): [${ea}, ${eb}] vs Math.exp [${Math.exp(prev)}, ${Math.exp(x)}]`);
      }
      prev = x;
    }
  });
});

/**
 * Same bits, NaNs aside: a NaN is a NaN in both, but its sign and payload are whatever the
 * engine's NaN-producing instruction left (x64's default NaN in V8's optimised JS, wasm's
 * canonical NaN) — JavaScript cannot observe them and no tandem result depends on them.
 */
function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  const ai = new Int32Array(a.buffer, a.byteOffset, a.length);
  const bi = new Int32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) if (ai[i] !== bi[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return a.length === b.length;
}

describe('wasm softmax', () => {
  const special = fc.constantFrom(-Infinity, Infinity, NaN, 0, -0, 3.4e38, -3.4e38, 1e-40, -1e9);
  const value = fc.oneof({ weight: 8, arbitrary: fc.float({ min: -60, max: 60, noNaN: true }) }, { weight: 1, arbitrary: special }, { weight: 1, arbitrary: fc.float() });
  const problem = fc.record({ rows: fc.integer({ min: 1, max: 9 }), n: fc.integer({ min: 1, max: 70 }), allNegInf: fc.boolean() }).chain(({ rows, n, allNegInf }) =>
    fc.array(value, { minLength: rows * n, maxLength: rows * n }).map((v) => {
      const x = Float32Array.from(v);
      if (allNegInf) x.fill(-Infinity, 0, n);
      return { rows, n, x };
    }));

  it('gives the JavaScript loop\'s bits (softmax and log-softmax)', () => {
    fc.assert(fc.property(problem, fc.boolean(), ({ rows, n, x }, log) => {
      const a = new Float32Array(rows * n);
      const b = new Float32Array(rows * n);
      softmaxF32(x, a, rows, n, log);
      softmaxJs(x, b, rows, n, log);
      expect(bitsEqual(a, b)).toBe(true);
    }), { numRuns: 400 });
  });

  it('matches a float64 reference within a few ulps, on large problems too', () => {
    for (const [rows, n] of [[1, 1], [3, 5], [64, 24], [2048, 50], [7, 1000]] as const) {
      const x = new Float32Array(rows * n);
      for (let i = 0; i < x.length; i++) x[i] = Math.fround(Math.sin(i * 12.9898) * 20);
      for (const log of [false, true]) {
        const got = new Float32Array(rows * n);
        softmaxF32(x, got, rows, n, log);
        const js = new Float32Array(rows * n);
        softmaxJs(x, js, rows, n, log);
        expect(bitsEqual(got, js)).toBe(true);
        for (let r = 0; r < rows; r++) {
          let m = -Infinity;
          for (let j = 0; j < n; j++) m = Math.max(m, x[r * n + j]!);
          let s = 0;
          for (let j = 0; j < n; j++) s += Math.exp(x[r * n + j]! - m);
          for (let j = 0; j < n; j++) {
            const ref = log ? x[r * n + j]! - m - Math.log(s) : Math.exp(x[r * n + j]! - m) / s;
            expect(Math.abs(got[r * n + j]! - ref)).toBeLessThanOrEqual(4 * 2 ** -24 * Math.max(Math.abs(ref), log ? 1 : 2 ** -126) + 1e-45);
          }
        }
      }
    }
  });
});

/**
 * The fused webgpu kernels (docs/decisions/webgpu-fusion.md) against the cpu reference,
 * property by property: row softmax / log-softmax and normalize (forward), their gradient
 * kernels (against the rules' primitive formulas run on cpu), the Adam(W) step (against
 * the cpu kernel, which equals the composite bit for bit: adam-step.test.ts), the
 * compositions used for rows too long for one invocation, and the dispatch counters.
 *
 * Tolerances, and why (u = 2^-24):
 * - softmax family: relative 1e-5 (+ 1e-6 absolute), as the composites in webgpu-parity;
 * - normalize and its gradient: float32 moments on the GPU against float64 ones on cpu. An
 *   error δμ ≤ n·u·max|x| in the mean moves y = (x − μ)·r by δμ·r and r by a relative
 *   δμ·r; the bounds below are a few times those terms plus relative 1e-5;
 * - Adam: each rounding of the composite may be fused differently (FMA contraction) and
 *   GPU division/sqrt are within 2.5 ulp: a few u times the magnitudes of each sum's
 *   terms, relative 1e-5 for the step (a quotient of a sqrt).
 *
 * Skipped (with the reason printed) without a usable adapter, unless
 * TANDEM_REQUIRE_WEBGPU=1, where that is a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '../src/index.js';
import type { HostArray, Tensor } from '../src/index.js';
import { createWebGPUBackend, destroyWebGPUBackend } from '../src/webgpu/backend.js';
import { both, runOn, type Where } from './helpers/backends.js';
import { MAX_LOOP } from '../src/webgpu/wgsl.js';

const initError = await T.initBackend('webgpu').then(() => undefined, (e: unknown) => (e instanceof Error ? e : new Error(String(e))));
const REQUIRED = process.env.TANDEM_REQUIRE_WEBGPU === '1';
if (initError && !REQUIRED) console.warn(`webgpu fused-kernel tests skipped: ${initError.message}`);
if (initError && REQUIRED) throw new Error(`TANDEM_REQUIRE_WEBGPU=1 but the webgpu backend cannot be created: ${initError.message}`);

const RUNS = Number(process.env.TANDEM_PARITY_RUNS ?? 25);
const opts = { numRuns: RUNS };
const U = 2 ** -24;

interface HT { shape: number[]; data: Float32Array }
const up = (h: HT, b: Where): Tensor => T.tensor(h.data, { shape: h.shape, backend: b });


/** Element-wise comparison: NaN only against NaN, infinities exactly, else |g − c| ≤ bound(i). */
function compare(g: HostArray, c: HostArray, bound: (i: number) => number, what: string): void {
  expect(g.length, `${what}: length`).toBe(c.length);
  for (let i = 0; i < c.length; i++) {
    const x = g[i]!, y = c[i]!;
    let ok: boolean;
    if (Number.isNaN(x) || Number.isNaN(y)) ok = Number.isNaN(x) && Number.isNaN(y);
    else if (!Number.isFinite(x) || !Number.isFinite(y)) ok = x === y;
    else ok = Math.abs(x - y) <= bound(i);
    if (!ok) throw new Error(`${what}: element ${i} differs: webgpu ${x} vs cpu ${y} (bound ${bound(i)})`);
  }
}
const rel = (c: HostArray, rtol: number, atol = 0) => (i: number) => atol + rtol * Math.abs(c[i]!);

/** float32 in [min, max], without subnormal-range values (GPUs may flush those). */
const f32 = (min = -8, max = 8) =>
  fc.float({ min: Math.fround(min), max: Math.fround(max), noNaN: true, noDefaultInfinity: true }).map((x) => (Math.abs(x) < 1e-6 ? 0 : x));
/** A float32 tensor of rank 1–4 whose last axis has `minLast`–`maxLast` elements. */
const rowsArb = (values: fc.Arbitrary<number> = f32(), minLast = 1, maxLast = 40) =>
  fc.tuple(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 3 }), fc.integer({ min: minLast, max: maxLast }))
    .chain(([lead, n]) => {
      const shape = [...lead, n];
      const size = T.sizeOf(shape);
      return fc.array(values, { minLength: size, maxLength: size }).map((v) => ({ shape, data: Float32Array.from(v) }));
    });
/** Same-shape companion data (a cotangent) for a tensor. */
const withCotangent = (x: fc.Arbitrary<HT>, values: fc.Arbitrary<number> = f32(-2, 2)) =>
  x.chain((h) => fc.array(values, { minLength: h.data.length, maxLength: h.data.length }).map((c) => [h, { shape: h.shape, data: Float32Array.from(c) }] as const));

/** Per-row float64 statistics of normalize for the tolerance: r = (var + eps)^-½, max|x|, y. */
function rowStats(x: Float32Array, n: number, eps: number) {
  const r = new Float64Array(x.length), mx = new Float64Array(x.length), y = new Float64Array(x.length);
  for (let o = 0; o < x.length; o += n) {
    let mu = 0, m = 0;
    for (let j = 0; j < n; j++) { mu += x[o + j]!; m = Math.max(m, Math.abs(x[o + j]!)); }
    mu /= n;
    let v = 0;
    for (let j = 0; j < n; j++) v += (x[o + j]! - mu) ** 2;
    const rs = 1 / Math.sqrt(v / n + eps);
    for (let j = 0; j < n; j++) { r[o + j] = rs; mx[o + j] = m; y[o + j] = (x[o + j]! - mu) * rs; }
  }
  return { r, mx, y };
}

const softmaxRule = (y: Tensor, c: Tensor) => T.mul(y, T.sub(c, T.sum(T.mul(c, y), -1, true)));
const logSoftmaxRule = (y: Tensor, c: Tensor) => T.sub(c, T.mul(T.exp(y), T.sum(c, -1, true)));
/** autodiff's normalize rule, written out with primitives (the cpu runs it). */
function normalizeRule(x: Tensor, c: Tensor, eps: number): Tensor {
  const n = x.shape[x.rank - 1]!;
  const y = T.normalizeLastAxis(x, eps);
  const xc = T.sub(x, T.div(T.sum(x, -1, true), n));
  const s = T.rsqrt(T.add(T.div(T.sum(T.mul(xc, xc), -1, true), n), eps));
  const m1 = T.div(T.sum(c, -1, true), n);
  const m2 = T.div(T.sum(T.mul(c, y), -1, true), n);
  return T.mul(s, T.sub(T.sub(c, m1), T.mul(y, m2)));
}

describe.skipIf(initError !== undefined)('fused webgpu kernels against cpu', () => {
  beforeAll(async () => {
    await T.initBackend('webgpu');
  });
  afterAll(async () => {
    await T.shutdownWebGPU();
  });
  const stats = () => T.webgpuStats()!;

  describe('row softmax and log-softmax', () => {
    for (const log of [false, true]) {
      const name = log ? 'logSoftmax' : 'softmax';
      const f = log ? T.logSoftmax : T.softmax;
      it(`${name} over the last axis (one dispatch)`, async () => {
        await fc.assert(fc.asyncProperty(rowsArb(f32(-30, 30)), async (x) => {
          const before = stats().byKernel[name]?.dispatches ?? 0;
          const [g, c] = await both((b) => f(up(x, b), -1));
          compare(g, c, rel(c, 1e-5, 1e-6), name);
          if (x.data.length > 0) expect(stats().byKernel[name]!.dispatches - before).toBe(1);
        }), opts);
      });
      it(`${name}: −∞ entries, all −∞ rows, NaN rows as on cpu`, async () => {
        const x: HT = { shape: [4, 3], data: Float32Array.from([-Infinity, 0, 1, -Infinity, -Infinity, -Infinity, NaN, 1, 2, 3, -Infinity, 3]) };
        const [g, c] = await both((b) => f(up(x, b), -1));
        compare(g, c, rel(c, 1e-5, 1e-6), name);
      });
      it(`${name} gradient kernel equals the rule's formula`, async () => {
        await fc.assert(fc.asyncProperty(withCotangent(rowsArb(f32(-30, 30))), async ([x, ct]) => {
          const gpuGrad = (b: Where) => {
            const y = f(up(x, b), -1);
            return b === 'webgpu' ? T.fusedSoftmaxGrad(y, up(ct, b), log)! : (log ? logSoftmaxRule : softmaxRule)(y, up(ct, b));
          };
          const [g, c] = await both(gpuGrad);
          // The row sum Σ c·y (Σ c) is a float32 sequential sum on the GPU: bound by its terms.
          const n = x.shape[x.shape.length - 1]!;
          const y = await runOn('cpu', (b) => f(up(x, b), -1));
          const mag = new Float64Array(c.length);
          for (let o = 0; o < c.length; o += n) {
            let s = 0;
            for (let j = 0; j < n; j++) s += Math.abs(ct.data[o + j]! * (log ? 1 : y[o + j]!));
            for (let j = 0; j < n; j++) mag[o + j] = s * (log ? Math.exp(y[o + j]!) : Math.abs(y[o + j]!));
          }
          compare(g, c, (i) => 1e-5 * Math.abs(c[i]!) + 2e-5 * mag[i]! + 1e-7, `${name} gradient`);
        }), opts);
      });
    }
    it('rows longer than one invocation may loop are composed from the primitive kernels', async () => {
      const n = Math.floor(MAX_LOOP / 3) + 5;
      const x: HT = { shape: [2, n], data: Float32Array.from({ length: 2 * n }, (_, i) => 10 * Math.sin(i * 0.37)) };
      for (const f of [T.softmax, T.logSoftmax]) {
        const [g, c] = await both((b) => f(up(x, b), -1));
        compare(g, c, rel(c, 1e-5, 1e-7), 'long-row softmax');
      }
      const longer = up({ shape: [1, MAX_LOOP], data: new Float32Array(MAX_LOOP) }, 'webgpu');
      // The gradient kernels decline (the rule composes): 2 passes fit n, not MAX_LOOP.
      expect(T.fusedSoftmaxGrad(longer, up({ shape: [1, MAX_LOOP], data: new Float32Array(MAX_LOOP) }, 'webgpu'), false)).toBeUndefined();
      longer.dispose();
    });
  });

  describe('normalize (layer normalisation without gain and bias)', () => {
    const epsArb = fc.constantFrom(1e-5, 1e-3, 0.1, 0);
    it('forward: one dispatch, float32 moments within their error bound', async () => {
      await fc.assert(fc.asyncProperty(rowsArb(f32(), 2), epsArb, async (x, eps) => {
        const before = stats().byKernel['normalize']?.dispatches ?? 0;
        const [g, c] = await both((b) => T.normalizeLastAxis(up(x, b), eps));
        const n = x.shape[x.shape.length - 1]!;
        const { r, mx } = rowStats(x.data, n, eps);
        compare(g, c, (i) => 1e-5 * Math.abs(c[i]!) + 8 * n * U * mx[i]! * r[i]! * (1 + Math.abs(c[i]!)), 'normalize');
        if (x.data.length > 0) expect(stats().byKernel['normalize']!.dispatches - before).toBe(1);
      }), opts);
    });
    it('gradient kernel equals the rule\'s formula', async () => {
      await fc.assert(fc.asyncProperty(withCotangent(rowsArb(f32(), 2)), fc.constantFrom(1e-5, 1e-3, 0.1), async ([x, ct], eps) => {
        const [g, c] = await both((b) => (b === 'webgpu' ? T.fusedNormalizeGrad(up(x, b), up(ct, b), eps)! : normalizeRule(up(x, b), up(ct, b), eps)));
        const n = x.shape[x.shape.length - 1]!;
        const { r, mx, y } = rowStats(x.data, n, eps);
        const bound = (i: number) => {
          const o = i - (i % n);
          let mc = 0, mcy = 0;
          for (let j = 0; j < n; j++) { mc += Math.abs(ct.data[o + j]!); mcy += Math.abs(ct.data[o + j]! * y[o + j]!); }
          mc /= n; mcy /= n;
          const dy = 8 * n * U * mx[i]! * r[i]!; // error of y, and relative error of r
          return 1e-5 * Math.abs(c[i]!) + Math.abs(c[i]!) * dy
            + r[i]! * (8 * n * U * (Math.abs(ct.data[i]!) + mc + Math.abs(y[i]!) * mcy) + dy * (mcy + 2 * mc));
        };
        compare(g, c, bound, 'normalize gradient');
      }), opts);
    });
    it('rows longer than one invocation may loop are composed from the primitive kernels', async () => {
      const n = Math.floor(MAX_LOOP / 3) + 5;
      const x: HT = { shape: [2, n], data: Float32Array.from({ length: 2 * n }, (_, i) => 3 * Math.sin(i * 0.37) + 1) };
      const [g, c] = await both((b) => T.normalizeLastAxis(up(x, b), 1e-5));
      compare(g, c, (i) => 1e-5 * Math.abs(c[i]!) + 4e-4, 'long-row normalize');
    });
  });

  describe('Adam(W) step', () => {
    const arrays = (n: number) => fc.tuple(
      fc.array(f32(-4, 4), { minLength: n, maxLength: n }),
      fc.array(f32(-1, 1), { minLength: n, maxLength: n }),
      fc.array(fc.oneof(f32(0, 4), fc.constant(0)), { minLength: n, maxLength: n }),
      fc.array(f32(-2, 2), { minLength: n, maxLength: n }),
    );
    const caseArb = fc.integer({ min: 0, max: 300 }).chain((n) => fc.record({
      n: fc.constant(n),
      data: arrays(n),
      b1: fc.constantFrom(0.9, 0.3, 0, 0.5),
      b2: fc.constantFrom(0.999, 0.9, 0),
      eps: fc.constantFrom(1e-8, 1e-6, 0.1),
      t: fc.integer({ min: 1, max: 50 }),
      lr: fc.constantFrom(1e-3, 0.1),
      wd: fc.option(fc.constantFrom(0.01, 0, 0.5)),
    }));
    it('one dispatch per leaf; m\', v\' and the update as on cpu', async () => {
      await fc.assert(fc.asyncProperty(caseArb, async ({ n, data, b1, b2, eps, t, lr, wd }) => {
        const [g, m, v, p] = data.map((d) => ({ shape: [n], data: Float32Array.from(d) }));
        const o = { b1, b2, eps, stepSize: lr / (1 - b1 ** t), bc2Sqrt: Math.sqrt(1 - b2 ** t), decay: wd === null ? undefined : lr * wd };
        const outs: HostArray[][] = [];
        for (const b of ['webgpu', 'cpu'] as const) {
          const before = stats().byKernel['adamStep']?.dispatches ?? 0;
          const r = T.tidy(() => T.adamStep(up(g!, b), up(m!, b), up(v!, b), wd === null ? undefined : up(p!, b), o));
          outs.push(await Promise.all(r.map((x) => x.data())));
          T.dispose(r);
          if (b === 'webgpu' && n > 0) expect(stats().byKernel['adamStep']!.dispatches - before).toBe(1);
        }
        const [[gm, gv, gu], [cm, cv, cu]] = outs as [HostArray[], HostArray[]];
        const f = Math.fround;
        const w = 1 - b1, c = f(w < 0.5 ? w : 1 - w);
        const tolM = (i: number) => 4 * U * (Math.abs(m!.data[i]!) + 2 * Math.abs(g!.data[i]!) + Math.abs(g!.data[i]! - m!.data[i]!) * c);
        const tolV = (i: number) => 4 * U * (Math.abs(v!.data[i]!) * b2 + g!.data[i]! ** 2 * (1 - b2));
        compare(gm!, cm!, tolM, 'adam m\'');
        compare(gv!, cv!, tolV, 'adam v\'');
        const tolU = (i: number) => {
          const den = Math.sqrt(cv![i]!) / f(o.bc2Sqrt) + f(eps);
          const step = (cm![i]! * o.stepSize) / den;
          // m' and v' errors carried through the step, a relative 1e-5 for the quotient and the
          // sqrt, and the rounding of p·(−decay) before the sum (AdamW).
          return 1e-5 * Math.abs(step) + (o.stepSize * tolM(i)) / den + (Math.abs(step) * tolV(i)) / (2 * Math.max(cv![i]!, 1e-30))
            + (wd === null ? 0 : 4 * U * Math.abs(p!.data[i]! * (o.decay ?? 0)) + 1e-5 * Math.abs(cu![i]!));
        };
        compare(gu!, cu!, tolU, 'adam update');
      }), opts);
    });
  });

  describe('multi-head attention', () => {
    /** B, H, dh, Tq, Tk; k/v layout; a bias of one of the shapes nn uses, or a full random one. */
    const attnArb = fc.record({
      b: fc.integer({ min: 1, max: 3 }), h: fc.integer({ min: 1, max: 3 }), dh: fc.integer({ min: 1, max: 5 }),
      tq: fc.integer({ min: 1, max: 6 }), tk: fc.integer({ min: 0, max: 6 }), kvHeads: fc.boolean(),
      bias: fc.constantFrom('none', 'causal', 'padding', 'full'), seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    });
    type Case = { b: number; h: number; dh: number; tq: number; tk: number; kvHeads: boolean; bias: string; seed: number };
    /** Host data of a case: q, k, v (values in [-2, 2]) and the bias (0 / −1e9 masks or values in [-3, 3]). */
    function attnData(c: Case) {
      let st = c.seed;
      const rnd = () => ((st = (Math.imul(st, 1103515245) + 12345) >>> 0) / 2 ** 32);
      const arr = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * rnd());
      const d = c.h * c.dh;
      const kvShape = c.kvHeads ? [c.b, c.h, c.tk, c.dh] : [c.b, c.tk, d];
      const q: HT = { shape: [c.b, c.tq, d], data: arr(c.b * c.tq * d, -2, 2) };
      const k: HT = { shape: kvShape, data: arr(c.b * c.tk * d, -2, 2) };
      const v: HT = { shape: kvShape, data: arr(c.b * c.tk * d, -2, 2) };
      let bias: HT | undefined;
      if (c.bias === 'causal') bias = { shape: [c.tq, c.tk], data: Float32Array.from({ length: c.tq * c.tk }, (_, i) => (i % Math.max(c.tk, 1) <= Math.floor(i / Math.max(c.tk, 1)) ? 0 : -1e9)) };
      if (c.bias === 'padding') bias = { shape: [c.b, 1, 1, c.tk], data: Float32Array.from({ length: c.b * c.tk }, () => (rnd() < 0.7 ? 0 : -1e9)) };
      if (c.bias === 'full') bias = { shape: [c.b, c.h, c.tq, c.tk], data: arr(c.b * c.h * c.tq * c.tk, -3, 3) };
      return { q, k, v, bias };
    }
    it('forward: two dispatches, no copies, as the cpu composite (split, matmul, scale, bias, softmax, matmul, merge)', async () => {
      await fc.assert(fc.asyncProperty(attnArb, async (c) => {
        const { q, k, v, bias } = attnData(c);
        const f = (b: Where) => T.multiHeadAttention(up(q, b), up(k, b), up(v, b), c.h, { bias: bias && up(bias, b), kvHeads: c.kvHeads });
        await T.getBackend('webgpu').sync();
        const a = stats();
        const [g, cpu] = await both(f);
        const s = stats();
        expect(s.byKernel['attention']!.dispatches - (a.byKernel['attention']?.dispatches ?? 0)).toBe(c.tk > 0 ? 2 : 1);
        expect(s.byKernel['stridedCopy']?.dispatches ?? 0).toBe(a.byKernel['stridedCopy']?.dispatches ?? 0);
        // Probabilities are within ~1e-5 relative (the scores are dh-term float32 sums of |q·k| ≤ 4dh):
        // the output, a Tk-term sum of p·v with |v| ≤ 2, within 2e-5·(1 + dh) of 2.
        compare(g, cpu, () => 4e-5 * (1 + c.dh), 'attention');
      }), opts);
    });
    it('a bias of 0 / −1e9 over all keys equals attention over the unmasked keys alone, bit for bit (KV cache)', async () => {
      await fc.assert(fc.asyncProperty(attnArb, async (c) => {
        if (c.tk === 0) return;
        const { q, k, v } = attnData({ ...c, kvHeads: true });
        // Row i of a causal mask sees keys 0..i; the same row alone, over those keys only.
        const causal: HT = { shape: [c.tq, c.tk], data: Float32Array.from({ length: c.tq * c.tk }, (_, i) => (i % c.tk <= Math.floor(i / c.tk) ? 0 : -1e9)) };
        const full = await runOn('webgpu', (b) => T.multiHeadAttention(up(q, b), up(k, b), up(v, b), c.h, { bias: up(causal, b), kvHeads: true }));
        const d = c.h * c.dh;
        for (let i = 0; i < Math.min(c.tq, c.tk); i++) {
          const row = await runOn('webgpu', (b) => {
            const qi = T.slice(up(q, b), [0, i, 0], [c.b, i + 1, d]);
            const ks = T.slice(up(k, b), [0, 0, 0, 0], [c.b, c.h, i + 1, c.dh]);
            const vs = T.slice(up(v, b), [0, 0, 0, 0], [c.b, c.h, i + 1, c.dh]);
            return T.multiHeadAttention(qi, ks, vs, c.h, { kvHeads: true });
          });
          for (let bb = 0; bb < c.b; bb++) {
            for (let e = 0; e < d; e++) expect(Object.is(row[bb * d + e], full[(bb * c.tq + i) * d + e]), `row ${i}`).toBe(true);
          }
        }
      }), opts);
    });
    it('rejects operands of the wrong shape', () => {
      const q = T.zeros([2, 3, 8]);
      expect(() => T.multiHeadAttention(q, T.zeros([2, 4, 8]), T.zeros([2, 5, 8]), 2)).toThrow(/k and v must both be/);
      expect(() => T.multiHeadAttention(q, q, q, 3)).toThrow(/heads must be/);
      expect(() => T.multiHeadAttention(q, q, q, 2, { bias: T.zeros([3, 4]) })).toThrow(/must broadcast to the scores/);
    });
  });

  describe('counters', () => {
    it('count dispatches, kernel bytes, copies and uploads', async () => {
      const o = { backend: 'webgpu' as const };
      await T.getBackend('webgpu').sync();
      const a = stats();
      const x = T.tensor(Float32Array.from({ length: 1000 }, (_, i) => i), o);
      const y = T.add(x, x);
      const z = T.reshape(T.slice(y, [10], [510]), [500]);
      const s = T.softmax(T.reshape(y, [10, 100]));
      await s.data();
      const b = stats();
      expect(b.uploadBytes - a.uploadBytes).toBe(4000);
      expect(b.dispatches - a.dispatches).toBe(2); // add, softmax
      expect(b.kernelBytes - a.kernelBytes).toBe(8000);
      expect(b.copies - a.copies).toBe(1); // the contiguous slice is a buffer copy
      expect(b.copyBytes - a.copyBytes).toBe(2000);
      expect(b.readbackBytes - a.readbackBytes).toBe(4000);
      expect(b.storageBytesWritten - a.storageBytesWritten).toBe(4000 + 8000 + 2000);
      expect(b.byKernel['add']!.dispatches - (a.byKernel['add']?.dispatches ?? 0)).toBe(1);
      T.dispose([x, y, z, s]);
    });
    it('fused: false (or TANDEM_WEBGPU_FUSED=0) gives the unfused baseline: no fused ops', async () => {
      const { backend } = await createWebGPUBackend({ fused: false });
      try {
        for (const k of ['softmax', 'normalize', 'softmaxGrad', 'normalizeGrad', 'attention', 'attentionGrad', 'adamStep'] as const) expect(backend[k], k).toBeUndefined();
        expect(T.getBackend('webgpu').attention).toBeDefined();
      } finally {
        destroyWebGPUBackend(backend);
      }
    });
  });
});

// The cpu backend's fused multi-head attention (forward only; src/cpu/backend.ts):
//  * bit for bit the composite it replaces (split heads, q·kᵀ, ·scale, +bias, softmax, ·v,
//    merge heads), over random sizes, biases of every broadcast shape, and KV-cache layouts;
//  * within a few float32 ulps of a float64 reference;
//  * declined while a tracer watches (autodiff then records the composite, as before).
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import * as T from '../src/index.js';
import { withTracer } from '../src/trace.js';

const be = T.getBackend('cpu');
const noFused = <A>(f: () => A): A => {
  const saved = be.attention;
  (be as { attention?: unknown }).attention = undefined;
  try {
    return f();
  } finally {
    (be as { attention?: unknown }).attention = saved;
  }
};

const problem = fc.record({
  b: fc.integer({ min: 1, max: 3 }), tq: fc.integer({ min: 1, max: 9 }), tk: fc.integer({ min: 1, max: 9 }),
  h: fc.integer({ min: 1, max: 4 }), dh: fc.integer({ min: 1, max: 9 }), kvHeads: fc.boolean(),
  bias: fc.constantFrom('none', 'key', 'causal', 'full', 'head'), seed: fc.integer({ min: 1, max: 2 ** 30 }),
});

function build(p: { b: number; tq: number; tk: number; h: number; dh: number; kvHeads: boolean; bias: string; seed: number }) {
  let s = p.seed;
  const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) * 4 - 2;
  const mk = (shape: number[]) => T.tensor(Float32Array.from({ length: shape.reduce((x, y) => x * y, 1) }, rnd), { shape });
  const { b, tq, tk, h, dh } = p;
  const q = mk([b, tq, h * dh]);
  const kv = p.kvHeads ? [b, h, tk, dh] : [b, tk, h * dh];
  const k = mk(kv);
  const v = mk(kv);
  const shapes: Record<string, number[] | undefined> = { none: undefined, key: [b, 1, 1, tk], causal: [1, 1, tq, tk], full: [b, h, tq, tk], head: [1, h, 1, 1] };
  const bs = shapes[p.bias];
  // Masks as the transformer makes them: 0 or −1e9, and ordinary values.
  const bias = bs ? T.tensor(Float32Array.from({ length: bs.reduce((x, y) => x * y, 1) }, () => (rnd() < -1.2 ? -1e9 : rnd())), { shape: bs }) : undefined;
  return { q, k, v, bias };
}

const bitsOf = async (t: T.Tensor) => Array.from(new Int32Array((await t.data()).buffer.slice(0)));

/** The fused attention of problem p gives the composite's bits. */
async function sameBitsAsComposite(p: Parameters<typeof build>[0]): Promise<void> {
  const { q, k, v, bias } = build(p);
  const fused = T.multiHeadAttention(q, k, v, p.h, { bias, kvHeads: p.kvHeads });
  const comp = noFused(() => T.multiHeadAttention(q, k, v, p.h, { bias, kvHeads: p.kvHeads }));
  expect(await bitsOf(fused)).toEqual(await bitsOf(comp));
  T.dispose([q, k, v, bias, fused, comp].filter((x): x is T.Tensor => x !== undefined));
}

describe('cpu fused attention', () => {
  it('gives the composite\'s bits', async () => {
    await fc.assert(fc.asyncProperty(problem, sameBitsAsComposite), { numRuns: 150 });
  });

  it("gives the composite's bits at sizes where the heads are split, scaled and biased by the wasm kernels", async () => {
    // q and the scores above 2048 elements: the split/merge transposes and the scale+bias
    // pass run in wasm (src/cpu/wasm/elementwise.ts) instead of the JavaScript loops.
    const large = fc.record({
      b: fc.integer({ min: 2, max: 4 }), tq: fc.integer({ min: 17, max: 40 }), tk: fc.integer({ min: 17, max: 40 }),
      h: fc.integer({ min: 2, max: 4 }), dh: fc.integer({ min: 9, max: 16 }), kvHeads: fc.boolean(),
      bias: fc.constantFrom('none', 'key', 'causal', 'full', 'head'), seed: fc.integer({ min: 1, max: 2 ** 30 }),
    });
    await fc.assert(fc.asyncProperty(large, sameBitsAsComposite), { numRuns: 40 });
  });

  it('is within a few ulps of a float64 reference', async () => {
    const p = { b: 2, tq: 24, tk: 24, h: 4, dh: 16, kvHeads: false, bias: 'key', seed: 7 };
    const { q, k, v, bias } = build(p);
    const got = await T.multiHeadAttention(q, k, v, p.h, { bias }).data();
    const [Q, K, V, Bs] = [await q.data(), await k.data(), await v.data(), await bias!.data()];
    const d = p.h * p.dh;
    const scale = Math.fround(1 / Math.sqrt(p.dh));
    for (let b = 0; b < p.b; b++) for (let h = 0; h < p.h; h++) for (let i = 0; i < p.tq; i++) {
      const sc = Array.from({ length: p.tk }, (_, j) => {
        let dot = 0;
        for (let e = 0; e < p.dh; e++) dot += Q[(b * p.tq + i) * d + h * p.dh + e]! * K[(b * p.tk + j) * d + h * p.dh + e]!;
        return dot * scale + Bs[b * p.tk + j]!;
      });
      const m = Math.max(...sc);
      const w = sc.map((x) => Math.exp(x - m));
      const z = w.reduce((x, y) => x + y, 0);
      for (let e = 0; e < p.dh; e++) {
        let ref = 0;
        let mag = 0;
        for (let j = 0; j < p.tk; j++) {
          ref += (w[j]! / z) * V[(b * p.tk + j) * d + h * p.dh + e]!;
          mag += (w[j]! / z) * Math.abs(V[(b * p.tk + j) * d + h * p.dh + e]!);
        }
        expect(Math.abs(got[(b * p.tq + i) * d + h * p.dh + e]! - ref)).toBeLessThanOrEqual(64 * 2 ** -24 * (mag + 1));
      }
    }
  });

  it('declines while a tracer watches (autodiff records the composite)', () => {
    const { q, k, v } = build({ b: 1, tq: 2, tk: 3, h: 1, dh: 2, kvHeads: false, bias: 'none', seed: 3 });
    const prims: string[] = [];
    withTracer({ record: (r) => prims.push(r.prim) }, () => T.multiHeadAttention(q, k, v, 1));
    expect(prims).not.toContain('attention');
    expect(prims).toContain('matmul');
  });
});

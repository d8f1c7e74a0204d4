// Property tests for the WebAssembly SIMD matmul (src/cpu/wasm/matmul.ts).
//
// Two references:
//  * float64: the mathematically intended result; the kernel must be within the standard
//    floating-point summation bound (k+2)·2^-24·Σ|a·b| of it.
//  * sequential float32: `s = fround(s + fround(a*b))` for p = 0..k-1. The kernel's
//    documented contract is a fixed, sequential k order with separate mul/add, so it
//    must match this bit for bit, whatever the tiling, k-blocking or batch layout.

import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { configureMatmulF32, matmulF32, matmulF32ThreadsReady } from '../src/cpu/wasm/matmul.js';
import { KERNELS_SOURCE_SHA256 } from '../src/cpu/wasm/kernels.generated.js';
import { configureArena, getArena } from '../src/cpu/wasm/arena.js';
import { inArenaCopy } from './helpers/arena.js';

interface Problem {
  batch: number;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
  aBatchStride: number;
  bBatchStride: number;
  a: Float32Array;
  b: Float32Array;
}

/** Small deterministic PRNG (mulberry32) so fast-check only has to shrink a seed. */
function rng(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

function fill(len: number, seed: number, scale: number): Float32Array {
  const next = rng(seed);
  const x = new Float32Array(len);
  for (let i = 0; i < len; i++) x[i] = (next() * 2 - 1) * scale;
  return x;
}

const aIndex = (p: Problem, bi: number, i: number, q: number): number =>
  bi * p.aBatchStride + (p.transA ? q * p.m + i : i * p.k + q);
const bIndex = (p: Problem, bi: number, q: number, j: number): number =>
  bi * p.bBatchStride + (p.transB ? j * p.k + q : q * p.n + j);

/** Returns [float64 result, Σ|a·b| per element, sequential float32 result]. */
function reference(p: Problem): [Float64Array, Float64Array, Float32Array] {
  const size = p.batch * p.m * p.n;
  const exact = new Float64Array(size);
  const absSum = new Float64Array(size);
  const seq = new Float32Array(size);
  for (let bi = 0; bi < p.batch; bi++) {
    for (let i = 0; i < p.m; i++) {
      for (let j = 0; j < p.n; j++) {
        let s64 = 0;
        let abs = 0;
        let s32 = 0;
        for (let q = 0; q < p.k; q++) {
          const prod = p.a[aIndex(p, bi, i, q)] * p.b[bIndex(p, bi, q, j)];
          s64 += prod;
          abs += Math.abs(prod);
          s32 = Math.fround(s32 + Math.fround(prod));
        }
        const o = (bi * p.m + i) * p.n + j;
        exact[o] = s64;
        absSum[o] = abs;
        seq[o] = s32;
      }
    }
  }
  return [exact, absSum, seq];
}

let placements = 0;
/**
 * The product through matmulF32, with A, B and the output each on the arena (read and
 * written in place) or plain (copied), the eight combinations in turn.
 */
function run(p: Problem, outExtra = 0): Float32Array {
  const where = placements++ % 8;
  const [a, freeA] = where & 1 ? inArenaCopy(p.a) : [p.a, () => {}];
  const [b, freeB] = where & 2 ? inArenaCopy(p.b) : [p.b, () => {}];
  const size = p.batch * p.m * p.n;
  const [out, freeOut] = where & 4 ? inArenaCopy(new Float32Array(0), size + outExtra, Number.NaN) : [new Float32Array(size + outExtra).fill(Number.NaN), () => {}];
  try {
    matmulF32(a, b, out, p.batch, p.m, p.k, p.n, p.transA, p.transB, p.aBatchStride, p.bBatchStride);
    return out.slice();
  } finally {
    freeA();
    freeB();
    freeOut();
  }
}

/** Indexes where two arrays differ bitwise (NaN vs NaN counts as equal). */
function firstBitDifference(x: Float32Array, y: Float32Array): number {
  const xi = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const yi = new Uint32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0; i < x.length; i++) {
    if (xi[i] !== yi[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return i;
  }
  return -1;
}

/** Dimension generator biased towards the edge cases of a 5x8 tiled kernel. */
const dim = (max: number): fc.Arbitrary<number> =>
  fc.oneof(
    fc.constantFrom(0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17),
    fc.integer({ min: 0, max }),
  );

function problemArb(maxM: number, maxK: number, maxN: number, maxBatch: number): fc.Arbitrary<Problem> {
  return fc
    .record({
      batch: fc.integer({ min: 0, max: maxBatch }),
      m: dim(maxM),
      k: dim(maxK),
      n: dim(maxN),
      transA: fc.boolean(),
      transB: fc.boolean(),
      // 'dense': matrices back to back; 'pad': gap between them; 'zero': broadcast.
      aLayout: fc.constantFrom('dense', 'pad', 'zero'),
      bLayout: fc.constantFrom('dense', 'pad', 'zero'),
      pad: fc.integer({ min: 1, max: 5 }),
      slack: fc.integer({ min: 0, max: 3 }), // extra trailing elements in a / b
      seed: fc.integer(),
      scale: fc.constantFrom(1, 1e-3, 1e3),
    })
    .map((r) => {
      const stride = (layout: string, size: number): number =>
        layout === 'zero' ? 0 : layout === 'pad' ? size + r.pad : size;
      const aBatchStride = stride(r.aLayout, r.m * r.k);
      const bBatchStride = stride(r.bLayout, r.k * r.n);
      const aLen = r.batch === 0 ? 0 : (r.batch - 1) * aBatchStride + r.m * r.k;
      const bLen = r.batch === 0 ? 0 : (r.batch - 1) * bBatchStride + r.k * r.n;
      return {
        batch: r.batch,
        m: r.m,
        k: r.k,
        n: r.n,
        transA: r.transA,
        transB: r.transB,
        aBatchStride,
        bBatchStride,
        a: fill(aLen + r.slack, r.seed, r.scale),
        b: fill(bLen + r.slack, r.seed ^ 0x5bd1e995, 1),
      };
    });
}

function checkAgainstReferences(p: Problem): void {
  const out = run(p, 3);
  const size = p.batch * p.m * p.n;
  const [exact, absSum, seq] = reference(p);
  for (let o = 0; o < size; o++) {
    const tol = (p.k + 2) * 2 ** -24 * absSum[o];
    if (!(Math.abs(out[o] - exact[o]) <= tol)) {
      throw new Error(`element ${o}: got ${out[o]}, float64 reference ${exact[o]}, tol ${tol}`);
    }
  }
  const diff = firstBitDifference(out.subarray(0, size), seq);
  if (diff >= 0) throw new Error(`element ${diff}: got ${out[diff]}, sequential float32 ${seq[diff]}`);
  // Elements past batch*m*n are not touched.
  for (let o = size; o < out.length; o++) expect(out[o]).toBeNaN();
}

describe('matmulF32 (wasm simd)', () => {
  it('matches float64 and sequential float32 references on small shapes', () => {
    fc.assert(fc.property(problemArb(24, 40, 24, 4), checkAgainstReferences), { numRuns: 1000 });
  });

  it('matches on shapes that cross the k-block (256) and row-block (120) boundaries', () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 100, max: 131 }),
          k: fc.integer({ min: 250, max: 530 }),
          n: fc.integer({ min: 1, max: 21 }),
          transA: fc.boolean(),
          transB: fc.boolean(),
          seed: fc.integer(),
        }),
        (r) =>
          checkAgainstReferences({
            ...r,
            batch: 1,
            aBatchStride: 0,
            bBatchStride: 0,
            a: fill(r.m * r.k, r.seed, 1),
            b: fill(r.k * r.n, r.seed + 1, 1),
          }),
      ),
      { numRuns: 12 },
    );
  });

  it('handles a large-B problem (packed panels instead of direct reads)', () => {
    // k*n*4 > 256 KiB switches the non-transposed path to packed B panels.
    for (const transB of [false, true]) {
      const m = 7, k = 300, n = 260;
      checkAgainstReferences({
        batch: 2, m, k, n, transA: false, transB, aBatchStride: m * k, bBatchStride: 0,
        a: fill(2 * m * k, 11, 1), b: fill(k * n, 12, 1),
      });
    }
  });

  it('is bit-identical across repeated calls, with other calls in between', () => {
    fc.assert(
      fc.property(problemArb(40, 300, 40, 3), problemArb(60, 60, 60, 2), (p, other) => {
        const first = run(p);
        run(other); // reuses / possibly grows the shared linear memory
        const second = run(p);
        expect(firstBitDifference(first, second)).toBe(-1);
      }),
      { numRuns: 60 },
    );
  });

  it('gives the same bits for every batch layout and transposition of the same math', () => {
    fc.assert(
      fc.property(
        fc.record({ batch: fc.integer({ min: 1, max: 4 }), m: dim(20), k: dim(40), n: dim(20), seed: fc.integer() }),
        ({ batch, m, k, n, seed }) => {
          // Reference layout: A and B row-major, one B per batch entry.
          const a = fill(batch * m * k, seed, 1);
          const bShared = fill(k * n, seed + 7, 1);
          const bTiled = new Float32Array(batch * k * n);
          for (let bi = 0; bi < batch; bi++) bTiled.set(bShared, bi * k * n);
          const transpose = (x: Float32Array, rows: number, cols: number, count: number): Float32Array => {
            const t = new Float32Array(x.length);
            for (let c = 0; c < count; c++) {
              for (let r = 0; r < rows; r++) {
                for (let q = 0; q < cols; q++) t[c * rows * cols + q * rows + r] = x[c * rows * cols + r * cols + q];
              }
            }
            return t;
          };
          const outs = [
            [a, bTiled, false, false, m * k, k * n],
            [a, bShared, false, false, m * k, 0],
            [transpose(a, m, k, batch), bShared, true, false, m * k, 0],
            [a, transpose(bShared, k, n, 1), false, true, m * k, 0],
            [transpose(a, m, k, batch), transpose(bTiled, k, n, batch), true, true, m * k, k * n],
          ].map(([aa, bb, tA, tB, sA, sB]) => {
            const out = new Float32Array(batch * m * n);
            matmulF32(aa as Float32Array, bb as Float32Array, out, batch, m, k, n,
              tA as boolean, tB as boolean, sA as number, sB as number);
            return out;
          });
          for (const o of outs.slice(1)) expect(firstBitDifference(outs[0], o)).toBe(-1);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('gives the same bits on two threads as on one (threads wherever the arena is shared)', async () => {
    getArena();
    expect(await matmulF32ThreadsReady()).toBe(configureArena().shared);
    const saved = configureMatmulF32();
    const both = (p: Problem): [Float32Array, Float32Array] => {
      configureMatmulF32({ threads: false });
      const one = run(p);
      // Force the threaded path for every size, so all chunkings (batch entries, column
      // panels, row ranges) are exercised on small shapes.
      configureMatmulF32({ threads: true, minFlops: 0, minFlopsPerByte: 0 });
      const two = run(p);
      return [one, two];
    };
    try {
      fc.assert(
        fc.property(problemArb(30, 40, 70, 4), (p) => {
          const [one, two] = both(p);
          expect(firstBitDifference(one, two)).toBe(-1);
        }),
        { numRuns: 500 },
      );
      // Larger: several k blocks and row blocks, packed B, A^T packing.
      for (const [m, k, n, transA, transB] of [
        [250, 600, 90, false, false], [130, 300, 300, true, false], [64, 520, 7, true, true],
      ] as const) {
        const p: Problem = {
          batch: 1, m, k, n, transA, transB, aBatchStride: 0, bBatchStride: 0,
          a: fill(m * k, m, 1), b: fill(k * n, n, 1),
        };
        const [one, two] = both(p);
        expect(firstBitDifference(one, two)).toBe(-1);
      }
      checkAgainstReferences({
        batch: 3, m: 33, k: 70, n: 45, transA: false, transB: true, aBatchStride: 33 * 70 + 1,
        bBatchStride: 0, a: fill(3 * 33 * 70 + 2, 5, 1), b: fill(70 * 45, 6, 1),
      });
    } finally {
      configureMatmulF32(saved);
    }
  });

  it('does not keep the process alive once the worker thread has started', () => {
    const modulePath = fileURLToPath(new URL('../src/cpu/wasm/matmul.ts', import.meta.url));
    const script = `
      const { matmulF32, matmulF32ThreadsReady } = await import(${JSON.stringify(modulePath)});
      if (!(await matmulF32ThreadsReady())) throw new Error('no threads');
      const n = 200, a = new Float32Array(n * n).fill(1), out = new Float32Array(n * n);
      matmulF32(a, a, out, 1, n, n, n, false, false, 0, 0);
      if (out[0] !== n) throw new Error('bad result ' + out[0]);
      console.log('ok');`;
    const started = Date.now();
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect({ status: child.status, stdout: child.stdout, stderr: child.stderr }).toEqual({
      status: 0,
      stdout: 'ok\n',
      stderr: '',
    });
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('writes zeros when k = 0 and does nothing for empty outputs', () => {
    const out = new Float32Array(12).fill(Number.NaN);
    matmulF32(new Float32Array(0), new Float32Array(0), out, 2, 2, 0, 3, false, false, 0, 0);
    expect(Array.from(out)).toEqual(new Array(12).fill(0));
    const untouched = new Float32Array(4).fill(7);
    matmulF32(new Float32Array(0), new Float32Array(0), untouched, 0, 3, 3, 3, false, false, 9, 9);
    matmulF32(new Float32Array(9), new Float32Array(0), untouched, 1, 3, 3, 0, true, true, 0, 0);
    expect(Array.from(untouched)).toEqual([7, 7, 7, 7]);
  });

  it('rejects operands that are too short and bad dimensions', () => {
    const a = new Float32Array(6);
    const b = new Float32Array(6);
    expect(() => matmulF32(a, b, new Float32Array(3), 1, 2, 3, 2, false, false, 0, 0)).toThrow(RangeError);
    expect(() => matmulF32(a, new Float32Array(5), new Float32Array(4), 1, 2, 3, 2, false, false, 0, 0)).toThrow(RangeError);
    expect(() => matmulF32(a, b, new Float32Array(8), 2, 2, 3, 2, false, false, 6, 0)).toThrow(RangeError);
    expect(() => matmulF32(a, b, new Float32Array(4), 1, 2.5, 3, 2, false, false, 0, 0)).toThrow(RangeError);
    expect(() => matmulF32(a, b, new Float32Array(4), 1, -2, 3, 2, false, false, 0, 0)).toThrow(RangeError);
  });

  it('propagates NaN and infinity like the sequential loop', () => {
    const a = Float32Array.from([1, Number.NaN, Number.POSITIVE_INFINITY, 2]);
    const b = Float32Array.from([1, 0, 1, 1]);
    const out = new Float32Array(4);
    matmulF32(a, b, out, 1, 2, 2, 2, false, false, 0, 0);
    expect(out[0]).toBeNaN(); // 1*1 + NaN*1
    expect(out[1]).toBeNaN(); // 1*0 + NaN*1
    expect(out[2]).toBe(Number.POSITIVE_INFINITY); // inf*1 + 2*1
    expect(out[3]).toBeNaN(); // inf*0 + 2*1
  });

  it('was generated from the current wasm/matmul.ts, softmax.ts and elementwise.ts (run scripts/build-wasm.mjs)', () => {
    const source = ['matmul.ts', 'softmax.ts', 'elementwise.ts'].map((f) => readFileSync(new URL(`../wasm/${f}`, import.meta.url), 'utf8')).join('');
    expect(createHash('sha256').update(source).digest('hex')).toBe(KERNELS_SOURCE_SHA256);
  });
});

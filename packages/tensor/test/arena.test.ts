// The cpu backend's arena (src/cpu/wasm/arena.ts): the allocator against a model of which
// bytes are live, and the backend over a small arena (4 MiB, so filling it is cheap) —
// storage placed in the arena, the fallback to plain arrays when it is full, pooled
// blocks handed back and coalesced when a larger block is needed, and results that are
// the ops' definitions whether the operands are in the arena, plain, or mixed.
//
// vitest runs each test file in its own process, so the arena configured here is this
// file's alone.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '../src/index.js';
import { arenaAlloc, arenaBytesInUse, arenaFree, configureArena, getArena, inArena } from '../src/cpu/wasm/arena.js';

const ARENA = 4 * 1024 * 1024;
configureArena({ bytes: ARENA });

const storageOf = (t: T.Tensor) => (t as unknown as { storage(op: string): Float32Array }).storage('test');
const f = Math.fround;

describe('arena allocator', () => {
  it('hands out 64-byte aligned, non-overlapping blocks inside the arena, and takes them all back', () => {
    const a = getArena()!;
    expect(a.bytes).toBe(ARENA);
    const start = arenaBytesInUse();
    const op = fc.oneof(
      fc.record({ kind: fc.constant('alloc' as const), bytes: fc.integer({ min: 1, max: 300_000 }) }),
      fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
    );
    fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const live: [number, number][] = [];
      for (const o of ops) {
        if (o.kind === 'alloc') {
          const off = arenaAlloc(o.bytes);
          if (off < 0) continue; // full: the backend falls back to a plain array
          expect(off % 64).toBe(0);
          expect(off + o.bytes).toBeLessThanOrEqual(a.bytes);
          for (const [p, n] of live) if (off < p + n && p < off + o.bytes) expect.fail(`block [${off}, +${o.bytes}) overlaps [${p}, +${n})`);
          // Mark the block; a later overlap would overwrite a live block's mark.
          new Uint8Array(a.buffer, off, o.bytes).fill(live.length & 255);
          live.push([off, o.bytes]);
        } else if (live.length > 0) {
          const [off, n] = live.splice(o.pick % live.length, 1)[0]!;
          arenaFree(off, n);
        }
      }
      for (const [off, n] of live) arenaFree(off, n);
      // Everything freed coalesces back: the in-use count returns, and one block of the whole free space fits.
      expect(arenaBytesInUse()).toBe(start);
    }), { numRuns: 200 });
    const big = arenaAlloc(ARENA - 128 * 1024);
    expect(big).toBeGreaterThanOrEqual(0);
    arenaFree(big, ARENA - 128 * 1024);
  });
});

describe('the cpu backend on the arena', () => {
  it('places storage of ≥ 1 KiB in the arena, falls back to plain arrays when full, and computes the same either way', async () => {
    const n = 256 * 1024; // 1 MiB of float32
    const xs = Array.from({ length: 5 }, (_, k) => T.tensor(Float32Array.from({ length: n }, (_, i) => f(Math.sin(i + k) * 3)), { shape: [512, 512] }));
    const placed = xs.map((x) => inArena(storageOf(x)));
    expect(placed.slice(0, 3)).toEqual([true, true, true]);
    expect(placed[4]).toBe(false); // 5 MiB do not fit in 4
    expect(inArena(storageOf(T.tensor([1, 2, 3])))).toBe(false); // small: plain
    // Mixed operands (arena and plain) go through the copying path; the result is IEEE float32 either way.
    const [a, b] = [await xs[0]!.data(), await xs[4]!.data()];
    for (const [p, q, pa, qa] of [[xs[0]!, xs[4]!, a, b], [xs[4]!, xs[0]!, b, a], [xs[0]!, xs[1]!, a, await xs[1]!.data()]] as const) {
      const got = await T.div(p, q).data();
      for (let i = 0; i < n; i += 997) expect(Object.is(got[i], f(pa[i]! / qa[i]!)) || Number.isNaN(got[i])).toBe(true);
    }
    T.dispose(xs);
  });

  it('hands pooled blocks back to the allocator, coalesced, when a larger block is needed', async () => {
    // Three 800 KB tensors freed into the backend's pool (beside the previous test's pooled
    // 1 MiB blocks), then one of 2.4 MB: it fits only if pooled blocks go back to the
    // allocator and merge.
    const k = 200 * 1024;
    const three = Array.from({ length: 3 }, () => T.zeros([k]));
    expect(three.every((t) => inArena(storageOf(t)))).toBe(true);
    T.dispose(three);
    const big = T.full([3 * k], 2);
    expect(inArena(storageOf(big))).toBe(true);
    // And the block holds what was written (nothing else was placed over it).
    const after = T.add(big, 1);
    const d = await after.data();
    expect(d.length).toBe(3 * k);
    expect(d.every((v) => v === 3)).toBe(true);
    T.dispose([big, after]);
  });

  it('zeroes a fresh block where a zeroed array is asked for', async () => {
    // scatterAdd accumulates into a zeroed output; its block is reused from garbage.
    const junk = T.full([64 * 1024], 7);
    T.dispose(junk);
    const idx = T.tensor(new Int32Array([0, 2]), { shape: [2] });
    const upd = T.ones([2, 32 * 1024]);
    const out = T.scatterAdd(upd, idx, 0, [4, 32 * 1024]);
    const d = await out.data();
    const rowSums = [0, 1, 2, 3].map((r) => Array.from(d.subarray(r * 32 * 1024, (r + 1) * 32 * 1024)).reduce((s: number, v) => s + Number(v), 0));
    expect(rowSums).toEqual([32 * 1024, 0, 32 * 1024, 0]);
    T.dispose([idx, upd, out]);
  });
});

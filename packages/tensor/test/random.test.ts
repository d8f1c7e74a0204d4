/**
 * Random keys and draws: Philox-4x32-10 known-answer vectors, the documented
 * stream layout, split/foldIn determinism and independence, and distribution
 * checks with fixed keys (so the statistical bounds are deterministic).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bernoulli, categorical, foldIn, key, keyFromWords, normal, randomBits, softmax, split, tensor, tidy, uniform, type Key,
} from '../src/index.js';
import { mulhi32, philox4x32, wordToUniform } from '../src/philox.js';

const cpu = { backend: 'cpu' as const };
const hex = (w: ArrayLike<number>): string[] => Array.from(w, (v) => (v >>> 0).toString(16).padStart(8, '0'));
const block = (k0: number, k1: number, c: [number, number, number, number]): string[] => {
  const out = new Uint32Array(4);
  philox4x32(k0, k1, c[0], c[1], c[2], c[3], out);
  return hex(out);
};
const bits = (k: Key, n: number): Int32Array => tidy(() => randomBits(k, [n], cpu).dataSync() as Int32Array);
const floats = (t: () => ReturnType<typeof uniform>): Float32Array => tidy(() => t().dataSync() as Float32Array);

describe('Philox-4x32-10', () => {
  // Random123's kat_vectors: "philox4x32 10 ctr0 ctr1 ctr2 ctr3 key0 key1 -> out0..out3".
  it('matches the Random123 known-answer vectors', () => {
    expect(block(0, 0, [0, 0, 0, 0])).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    expect(block(0xffffffff, 0xffffffff, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff])).toEqual(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
    expect(block(0xa4093822, 0x299f31d0, [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344])).toEqual(['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
  });

  it('mulhi32 is the high word of the exact 64-bit product (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (a, b) => {
        expect(mulhi32(a, b)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
      }),
      { numRuns: 200 },
    );
    expect(mulhi32(0xffffffff, 0xffffffff)).toBe(0xfffffffe);
  });

  it('randomBits is the documented stream: word w is lane w mod 4 of block (w/4, 0, 0, 0)', () => {
    const k = keyFromWords([0xdeadbeef, 0x12345678]);
    const got = hex(bits(k, 10));
    const want = [...block(0xdeadbeef, 0x12345678, [0, 0, 0, 0]), ...block(0xdeadbeef, 0x12345678, [1, 0, 0, 0]), ...block(0xdeadbeef, 0x12345678, [2, 0, 0, 0])].slice(0, 10);
    expect(got).toEqual(want);
    // Key (0,0): the first block is the first known-answer vector.
    expect(hex(bits(key(0), 4))).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
  });

  it('uniform is (floor(w / 2^9) + 0.5)·2^-23 of the same words, strictly inside (0, 1)', () => {
    const k = key(42);
    const w = bits(k, 1000);
    const u = floats(() => uniform(k, [1000], cpu));
    for (let i = 0; i < 1000; i++) {
      expect(u[i]).toBe(wordToUniform(w[i]!));
      expect(u[i]).toBe(((w[i]! >>> 9) + 0.5) * 2 ** -23);
    }
    expect(wordToUniform(0)).toBe(2 ** -24);
    expect(wordToUniform(0xffffffff)).toBe(1 - 2 ** -24);
    expect(Math.fround(wordToUniform(0xffffffff))).toBeLessThan(1);
  });
});

describe('keys', () => {
  it('key(seed) splits the seed into two words', () => {
    expect(key(5).words).toEqual([5, 0]);
    expect(key(2 ** 32 + 7).words).toEqual([7, 1]);
    expect(key(Number.MAX_SAFE_INTEGER).words).toEqual([0xffffffff, 0x1fffff]);
    expect(Object.isFrozen(key(1))).toBe(true);
    expect(keyFromWords([3, 4]).words).toEqual([3, 4]);
    expect(() => keyFromWords([2 ** 32, 0])).toThrow(/keyFromWords: expected two uint32 words/);
  });

  it('same key → same bits; split and foldIn are pure functions of their inputs (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 1, max: 5 }), fc.nat(), (seed, n, d) => {
        const k = key(seed);
        expect(bits(k, 9)).toEqual(bits(key(seed), 9));
        expect(split(k, n)).toEqual(split(key(seed), n));
        expect(foldIn(k, d)).toEqual(foldIn(key(seed), d));
        // split(k, n) is a prefix of split(k, n + 1).
        expect(split(k, n + 1).slice(0, n)).toEqual(split(k, n));
      }),
      { numRuns: 100 },
    );
  });

  it('derived keys are distinct from each other and from their parent (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (seed) => {
        const k = key(seed);
        const derived = [k, ...split(k, 4), foldIn(k, 0), foldIn(k, 1), foldIn(k, 2)];
        const ids = new Set(derived.map((d) => d.words.join(':')));
        expect(ids.size).toBe(derived.length);
        // Their streams differ too.
        const streams = new Set(derived.map((d) => hex(bits(d, 8)).join('')));
        expect(streams.size).toBe(derived.length);
      }),
      { numRuns: 100 },
    );
  });

  it('different keys give independent-looking streams: agreement of bits ≈ 1/2', () => {
    const [a, b] = split(key(2024)) as [Key, Key];
    const n = 4096;
    const [x, y, z] = [bits(a, n), bits(b, n), bits(foldIn(a, 1), n)];
    const popcount = (v: number) => {
      let c = 0;
      for (let u = v >>> 0; u; u &= u - 1) c++;
      return c;
    };
    for (const [p, q] of [[x, y], [x, z], [y, z]] as const) {
      let same = 0;
      for (let i = 0; i < n; i++) same += 32 - popcount(p[i]! ^ q[i]!);
      // 131072 bit pairs: mean 0.5, sd ≈ 0.0014; allow 6 sd.
      expect(Math.abs(same / (32 * n) - 0.5)).toBeLessThan(0.009);
    }
  });

  it('rejects bad seeds, counts and data', () => {
    expect(() => key(1.5)).toThrow(/key: seed must be a non-negative safe integer, got 1.5/);
    expect(() => split(key(0), 0)).toThrow(/split: n must be a positive integer, got 0/);
    expect(() => foldIn(key(0), -1)).toThrow(/foldIn: data must be a uint32, got -1/);
    expect(() => split({ kind: 'nope' } as unknown as Key)).toThrow(/split: expected a random key made by key\(seed\)/);
  });
});

/** Mean and (population) standard deviation. */
function moments(x: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  const mean = s / x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(v / x.length) };
}

describe('distributions (fixed keys, 6-sigma bounds)', () => {
  const N = 100_000;

  it('uniform: in (0, 1), mean ≈ 1/2, variance ≈ 1/12, flat histogram', () => {
    const u = floats(() => uniform(key(1), [N], cpu));
    expect(u.every((v) => v > 0 && v < 1)).toBe(true);
    const { mean, std } = moments(u);
    expect(Math.abs(mean - 0.5)).toBeLessThan(6 * Math.sqrt(1 / 12 / N));
    expect(Math.abs(std - Math.sqrt(1 / 12))).toBeLessThan(0.003);
    // Chi-square over 20 bins, 19 dof: mean 19, sd ≈ 6.2; 60 is far in the tail.
    const bins = new Array<number>(20).fill(0);
    for (const v of u) bins[Math.floor(v * 20)]!++;
    const chi2 = bins.reduce((s, c) => s + (c - N / 20) ** 2 / (N / 20), 0);
    expect(chi2).toBeLessThan(60);
  });

  it('uniform with minval/maxval stays in [minval, maxval)', () => {
    const u = floats(() => uniform(key(2), [10_000], { ...cpu, minval: -3, maxval: 5 }));
    expect(u.every((v) => v >= -3 && v < 5)).toBe(true);
    expect(Math.abs(moments(u).mean - 1)).toBeLessThan(6 * Math.sqrt(64 / 12 / 10_000));
    expect(() => uniform(key(2), [2], { ...cpu, minval: 1, maxval: 1 })).toThrow(/maxval 1 must exceed minval 1/);
    // A narrow range far from 0, where u·(hi − lo) + lo rounds up to hi for ~3% of draws unless clamped.
    for (const [lo, hi] of [[1e6, 1e6 + 1], [-1e6 - 1, -1e6], [0.1, 0.1 + 1e-7], [-1, 0]]) {
      const v = floats(() => uniform(key(3), [20_000], { ...cpu, minval: lo, maxval: hi }));
      expect(v.every((x) => x >= Math.fround(lo) && x < hi)).toBe(true);
    }
  });

  it('normal: mean ≈ 0, std ≈ 1, symmetric tails; mean/std options', () => {
    const z = floats(() => normal(key(3), [N], cpu));
    expect(z.every((v) => Number.isFinite(v))).toBe(true);
    const { mean, std } = moments(z);
    expect(Math.abs(mean)).toBeLessThan(6 / Math.sqrt(N));
    // sd of the sample std ≈ 1/sqrt(2N).
    expect(Math.abs(std - 1)).toBeLessThan(6 / Math.sqrt(2 * N));
    // P(|z| > 1.96) = 0.05.
    const tail = z.filter((v) => Math.abs(v) > 1.96).length / N;
    expect(Math.abs(tail - 0.05)).toBeLessThan(6 * Math.sqrt(0.05 * 0.95 / N));
    const s = floats(() => normal(key(3), [N], { ...cpu, mean: 10, std: 2 }));
    const ms = moments(s);
    expect(Math.abs(ms.mean - 10)).toBeLessThan(6 * 2 / Math.sqrt(N));
    expect(Math.abs(ms.std - 2)).toBeLessThan(6 * 2 / Math.sqrt(2 * N));
  });

  it('bernoulli: frequency ≈ p, for a number and for a broadcast tensor of p', () => {
    for (const p of [0, 0.1, 0.5, 0.93, 1]) {
      const b = tidy(() => bernoulli(key(4), p, [N], cpu).dataSync());
      const freq = Array.from(b).reduce((s, v) => s + v, 0) / N;
      expect(Math.abs(freq - p)).toBeLessThanOrEqual(6 * Math.sqrt((p * (1 - p)) / N));
    }
    const ps = [0.2, 0.7, 0.05];
    const b = tidy(() => {
      const out = bernoulli(key(5), tensor([ps], cpu), [20_000, 3], cpu);
      expect(out.dtype).toBe('bool');
      return out.dataSync();
    });
    ps.forEach((p, j) => {
      let c = 0;
      for (let i = j; i < b.length; i += 3) c += b[i]!;
      expect(Math.abs(c / 20_000 - p)).toBeLessThan(6 * Math.sqrt((p * (1 - p)) / 20_000));
    });
  });

  it('categorical: class frequencies match softmax(logits) (chi-square)', () => {
    const logits = [1, 0, -1, 2, 0.5];
    const C = logits.length;
    const n = 50_000;
    const { draws, probs } = tidy(() => {
      const l = tensor([logits], cpu).broadcastTo([n, C]);
      const d = categorical(key(6), l);
      expect(d.dtype).toBe('int32');
      expect(d.shape).toEqual([n]);
      return { draws: d.dataSync(), probs: softmax(tensor(logits, cpu)).dataSync() };
    });
    const counts = new Array<number>(C).fill(0);
    for (const v of draws) counts[v]!++;
    const chi2 = counts.reduce((s, c, j) => s + (c - n * probs[j]!) ** 2 / (n * probs[j]!), 0);
    // 4 dof: mean 4, P(chi2 > 30) ≈ 5e-6.
    expect(chi2).toBeLessThan(30);
  });

  it('categorical along another axis and with -inf logits never picks impossible classes', () => {
    const d = tidy(() => {
      const l = tensor([[0, -Infinity], [-Infinity, 5], [0, 0]], cpu).broadcastTo([1000, 3, 2]);
      return categorical(key(7), l, 1).dataSync();
    });
    // Axis 1 has 3 entries; column 0 can never pick row 1, column 1 never row 0.
    for (let i = 0; i < d.length; i += 2) {
      expect(d[i]).not.toBe(1);
      expect(d[i + 1]).not.toBe(0);
    }
  });

  it('draws are identical for the same key and shape, whatever else ran', () => {
    const a = floats(() => normal(key(8), [64], cpu));
    tidy(() => uniform(key(9), [1000], cpu));
    const b = floats(() => normal(key(8), [64], cpu));
    expect(Array.from(b)).toEqual(Array.from(a));
    // A longer draw extends the shorter one (same counters).
    const long = floats(() => uniform(key(8), [100], cpu));
    const short = floats(() => uniform(key(8), [10], cpu));
    expect(Array.from(long.slice(0, 10))).toEqual(Array.from(short));
  });
});

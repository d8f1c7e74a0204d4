/** Pair datasets (construction, relabelling, splits, statistics) and their JSONL / binary codecs. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { foldIn, key } from '@tandem/tensor';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import {
  concatDatasets,
  datasetStats,
  fnv1a,
  initialDataset,
  makeDataset,
  pairDataset,
  pooledInitialDataset,
  relabel,
  splitDataset,
  take,
} from '../src/datasets.js';
import { raterLabeller, utilityLabeller, type Labeller } from '../src/labellers.js';
import { PairCodec, PairDatasetCodec, crc32, decodeBinary, encodeBinary, fromJsonl, toJsonl } from '../src/codecs.js';
import { EOS, MAX_UTILITY, TASKS, behavioursFor, helpful, isValidResponse, judge, summarize, type Task } from '../src/tasks/index.js';
import type { Pair, PairDataset, Provenance } from '../src/types.js';

const ds0 = initialDataset(summarize, { size: 300, key: key(1) });
const sortKey = (p: Pair) => JSON.stringify(p);

describe('initialDataset (D_initial)', () => {
  it('is a pure function of (task, size, key) and differs across keys', () => {
    expect(initialDataset(summarize, { size: 300, key: key(1) })).toEqual(ds0);
    const other = initialDataset(summarize, { size: 300, key: key(2) });
    expect(other.pairs).not.toEqual(ds0.pairs);
    const same = other.pairs.filter((p, i) => JSON.stringify(p) === JSON.stringify(ds0.pairs[i])).length;
    expect(same).toBeLessThan(10);
  });

  it('is prefix-stable: pair i depends only on the key and i', () => {
    expect(initialDataset(summarize, { size: 40, key: key(1) }).pairs).toEqual(ds0.pairs.slice(0, 40));
  });

  it('holds valid, distinct responses from behaviour policies, labelled by the rater, with provenance', () => {
    const names = new Set(behavioursFor(summarize, 'suboptimal').map((b) => b.name)); // the default mixture
    expect(ds0.name).toBe('summarize/initial');
    expect(ds0.pairs).toHaveLength(300);
    for (const p of ds0.pairs) {
      expect(isValidResponse(summarize, p.y1)).toBe(true);
      expect(isValidResponse(summarize, p.y2)).toBe(true);
      expect(p.y1).not.toEqual(p.y2);
      expect([0, 1]).toContain(p.preference);
      expect(p.provenance.task).toBe('summarize');
      expect(p.provenance.labeller).toBe('rater');
      expect(p.provenance.step).toBeUndefined();
      const m = /^behaviour:([^|]+)\|([^|]+)$/.exec(p.provenance.source);
      expect(m).not.toBeNull();
      expect(names.has(m![1]!) && names.has(m![2]!)).toBe(true);
      expect(isRight(PairCodec.decode(p))).toBe(true);
    }
  });

  it('draws from the sub-optimal mixture by default and from every behaviour policy when the optimum is covered', () => {
    expect(initialDataset(summarize, { size: 300, key: key(1), coverage: 'suboptimal' })).toEqual(ds0);
    const sources = (d: PairDataset) => new Set(d.pairs.flatMap((p) => p.provenance.source.slice('behaviour:'.length).split('|')));
    const idealShare = (t: Task, d: PairDataset) => {
      const ideal = d.pairs.map((p) => t.idealResponse(p.prompt).join());
      return d.pairs.reduce((a, p, i) => a + Number(p.y1.join() === ideal[i]) + Number(p.y2.join() === ideal[i]), 0) / (2 * d.pairs.length);
    };
    for (const task of Object.values(TASKS)) {
      const sub = initialDataset(task, { size: 1000, key: key(6) });
      const cov = initialDataset(task, { size: 1000, key: key(6), coverage: 'covered' });
      expect([...sources(sub)].sort()).toEqual(behavioursFor(task, 'suboptimal').map((b) => b.name).sort());
      expect([...sources(cov)].sort()).toEqual(task.behaviourPolicies.map((b) => b.name).sort());
      // The two regimes differ where it matters: the ideal response is rare in one, common in the other.
      expect(idealShare(task, sub), task.name).toBeLessThan(0.05);
      expect(idealShare(task, cov), task.name).toBeGreaterThan(0.1);
      expect(datasetStats(sub, task).meanUtility).toBeLessThan(datasetStats(cov, task).meanUtility - 0.3);
    }
  });

  it.each(['suboptimal', 'covered'] as const)('(%s) has balanced labels that mostly agree with the noise-free judge, and mean utility far below the ideal', (coverage) => {
    for (const task of Object.values(TASKS)) {
      const d = initialDataset(task, { size: 2000, key: key(3), coverage });
      const s = datasetStats(d, task);
      expect(Math.abs(s.labelBalance - 0.5)).toBeLessThan(0.05);
      expect(s.judgeAgreement).toBeGreaterThan(0.8);
      expect(s.meanUtilityWinner).toBeGreaterThan(s.meanUtilityLoser + 1);
      expect(s.meanUtility).toBeLessThan(MAX_UTILITY - 1.5);
      expect(s.meanIdealUtility).toBeCloseTo(MAX_UTILITY, 12);
      // No position bias in the responses themselves: the y1 − y2 utility gap is within 4 standard errors of 0.
      const gaps = d.pairs.map((p) => task.utility(p.prompt, p.y1) - task.utility(p.prompt, p.y2));
      const se = Math.sqrt(gaps.reduce((a, g) => a + g * g, 0) / gaps.length / gaps.length);
      expect(Math.abs(s.meanUtilityY1 - s.meanUtilityY2)).toBeLessThan(4 * se);
      expect(s.ties).toBeLessThan(0.01);
    }
  });

  it('is deeply frozen', () => {
    const p = ds0.pairs[0]!;
    expect(Object.isFrozen(ds0) && Object.isFrozen(ds0.pairs) && Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.prompt) && Object.isFrozen(p.y1) && Object.isFrozen(p.y2) && Object.isFrozen(p.provenance)).toBe(true);
    expect(() => {
      (p.y1 as number[])[0] = 9;
    }).toThrow(TypeError);
    expect(() => {
      (ds0.pairs as Pair[]).push(p);
    }).toThrow(TypeError);
    expect(() => {
      (p as { preference: number }).preference = 0;
    }).toThrow(TypeError);
  });

  it('rejects a bad size', () => {
    expect(() => initialDataset(summarize, { size: -1, key: key(1) })).toThrow(/size must be a non-negative integer/);
    expect(() => initialDataset(summarize, { size: 1.5, key: key(1) })).toThrow(/size/);
    expect(initialDataset(summarize, { size: 0, key: key(1) }).pairs).toEqual([]);
  });

  it('pools tasks so that each task part is independent of the others', () => {
    const a = pooledInitialDataset([summarize, helpful], { sizePerTask: 20, key: key(4) });
    const b = pooledInitialDataset([helpful], { sizePerTask: 20, key: key(4) });
    expect(a.pairs).toHaveLength(40);
    expect(a.pairs.slice(20)).toEqual(b.pairs);
    expect(b.pairs).toEqual(initialDataset(helpful, { size: 20, key: foldIn(key(4), fnv1a('helpful')) }).pairs);
    expect(a.name).toBe('summarize+helpful/initial');
    const c = pooledInitialDataset([summarize, helpful], { sizePerTask: 20, key: key(4), coverage: 'covered' });
    expect(c.pairs.slice(20)).toEqual(initialDataset(helpful, { size: 20, key: foldIn(key(4), fnv1a('helpful')), coverage: 'covered' }).pairs);
    expect(c.pairs.slice(20)).not.toEqual(b.pairs);
  });
});

describe('relabel, pairDataset and plumbing', () => {
  const judgeLabel = (prompt: readonly number[], y1: readonly number[], y2: readonly number[]) => (judge(summarize, prompt, y1, y2) === 0 ? 0 : 1) as 0 | 1;
  const judgeLabeller: Labeller = { name: 'golden', label: async (items) => items.map((c) => judgeLabel(c.prompt, c.y1, c.y2)) };
  const constLabeller = (name: string, labels: (items: readonly unknown[]) => unknown[]): Labeller => ({ name, label: async (items) => labels(items) as (0 | 1)[] });

  it('relabel replaces labels and the labeller, keeping everything else, and leaves the input alone', async () => {
    const before = JSON.stringify(ds0);
    const g = await relabel(ds0, judgeLabeller, key(0), 'summarize/golden');
    expect(JSON.stringify(ds0)).toBe(before);
    expect(g.name).toBe('summarize/golden');
    g.pairs.forEach((p, i) => {
      const q = ds0.pairs[i]!;
      expect(p.preference).toBe(judgeLabel(q.prompt, q.y1, q.y2));
      expect(p.provenance).toEqual({ ...q.provenance, labeller: 'golden' });
      expect([p.prompt, p.y1, p.y2]).toEqual([q.prompt, q.y1, q.y2]);
    });
    expect(Object.isFrozen(g.pairs[0]!.provenance)).toBe(true);
    await expect(relabel(ds0, constLabeller('bad', (items) => items.map(() => 2)), key(0), 'x')).rejects.toThrow(/a label must be 0 or 1, got 2/);
  });

  it('relabel by the noise-free utility labeller agrees with the judge, and relabel checks the label count', async () => {
    const g = await relabel(ds0, judgeLabeller, key(0), 'g');
    const h = await relabel(ds0, utilityLabeller('golden', summarize.utility, 0), key(0), 'g');
    expect(h).toEqual(g);
    await expect(relabel(ds0, constLabeller('golden', () => [1]), key(0), 'g')).rejects.toThrow(/returned 1 labels for 300 pairs/);
  });

  it('pairDataset assembles D_{a vs b} with shared provenance and checks lengths', async () => {
    const prompts = ds0.pairs.slice(0, 5).map((p) => p.prompt);
    const r1 = ds0.pairs.slice(0, 5).map((p) => p.y1);
    const r2 = ds0.pairs.slice(0, 5).map((p) => p.y2);
    const prov = { task: 'summarize', source: 'policy:sft|policy:online@800', labeller: 'golden', step: 800 };
    const d = await pairDataset('D_sft-vs-800', prompts, r1, r2, judgeLabeller, key(0), prov);
    expect(d.pairs.map((p) => p.preference)).toEqual(ds0.pairs.slice(0, 5).map((p) => judgeLabel(p.prompt, p.y1, p.y2)));
    expect(d.pairs.every((p) => JSON.stringify(p.provenance) === JSON.stringify(prov))).toBe(true);
    await expect(pairDataset('x', prompts, r1.slice(1), r2, judgeLabeller, key(0), prov)).rejects.toThrow(/5 prompts but 4 first and 5 second/);
    // A rater labeller is a pure function of its key (one draw per pair, in order).
    const a = await pairDataset('a', prompts, r1, r2, raterLabeller(summarize), key(9), prov);
    const b = await pairDataset('a', prompts, r1, r2, raterLabeller(summarize), key(9), prov);
    expect(a).toEqual(b);
  });

  it('concat, take and split partition the pairs, keeping order, deterministically per key', () => {
    const c = concatDatasets('c', [take(ds0, 10), take(ds0, 5)]);
    expect(c.pairs).toEqual([...ds0.pairs.slice(0, 10), ...ds0.pairs.slice(0, 5)]);
    expect(take(ds0, 1000).pairs).toHaveLength(300);
    expect(take(ds0, 7).name).toBe('summarize/initial[:7]');
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.nat(1000), (fraction, seed) => {
        const [train, held] = splitDataset(ds0, fraction, key(seed));
        expect(train.pairs).toHaveLength(Math.round(fraction * 300));
        expect(train.pairs.length + held.pairs.length).toBe(300);
        expect([...train.pairs, ...held.pairs].map(sortKey).sort()).toEqual(ds0.pairs.map(sortKey).sort());
        const pos = new Map(ds0.pairs.map((p, i) => [p, i]));
        for (const part of [train, held]) {
          const idx = part.pairs.map((p) => pos.get(p)!);
          expect(idx).toEqual([...idx].sort((a, b) => a - b));
        }
        expect(splitDataset(ds0, fraction, key(seed))).toEqual([train, held]);
      }),
      { numRuns: 30 },
    );
    expect(splitDataset(ds0, 0.5, key(1))[0].pairs).not.toEqual(splitDataset(ds0, 0.5, key(2))[0].pairs);
    expect(() => splitDataset(ds0, 1.5, key(1))).toThrow(/fraction must be in \[0, 1\]/);
  });

  it('datasetStats computes the documented means on a hand-made dataset', () => {
    const p = [4, 4, 4, 5, 5, 20, 20];
    const good = [4, 5, EOS];
    const bad = [EOS];
    const prov: Provenance = { task: 'summarize', source: 's', labeller: 'l' };
    const d = makeDataset('h', [
      { prompt: p, y1: good, y2: bad, preference: 1, provenance: prov },
      { prompt: p, y1: good, y2: bad, preference: 0, provenance: prov },
    ]);
    const s = datasetStats(d); // task looked up from provenance
    const ug = summarize.utility(p, good);
    const ub = summarize.utility(p, bad);
    expect(s.size).toBe(2);
    expect(s.meanUtilityY1).toBeCloseTo(ug, 12);
    expect(s.meanUtilityY2).toBeCloseTo(ub, 12);
    expect(s.meanUtilityWinner).toBeCloseTo((ug + ub) / 2, 12);
    expect(s.labelBalance).toBe(0.5);
    expect(s.judgeAgreement).toBe(0.5);
    expect(s.ties).toBe(0);
    expect(s.meanPromptLength).toBe(7);
    expect(s.meanLengthY1).toBe(3);
    expect(s.meanLengthY2).toBe(1);
  });
});

// ------------------------------------------------------------------------------------------
// Codecs
// ------------------------------------------------------------------------------------------

const tokensArb = (min: number, max: number) => fc.array(fc.integer({ min: 0, max: 63 }), { minLength: min, maxLength: max });
const labelArb = fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' });
const provenanceArb: fc.Arbitrary<Provenance> = fc
  .record({ task: labelArb, source: labelArb, labeller: labelArb, step: fc.option(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { nil: undefined }) })
  .map(({ step, ...rest }) => (step === undefined ? rest : { ...rest, step }));
const pairArb: fc.Arbitrary<Pair> = fc.record({
  prompt: tokensArb(1, 24),
  y1: tokensArb(1, 12),
  y2: tokensArb(1, 12),
  preference: fc.constantFrom(0 as const, 1 as const),
  provenance: provenanceArb,
});
const datasetArb: fc.Arbitrary<PairDataset> = fc
  .tuple(fc.string({ maxLength: 10, unit: 'grapheme' }), fc.array(pairArb, { maxLength: 30 }))
  .map(([name, pairs]) => makeDataset(name, pairs));

/** A valid JSONL line as an object, to corrupt. */
const line = () => JSON.parse(toJsonl(take(ds0, 1)).trim()) as Record<string, unknown>;

describe('JSONL', () => {
  it('round-trips any valid dataset exactly (property)', () => {
    fc.assert(
      fc.property(datasetArb, (ds) => {
        const back = fromJsonl(toJsonl(ds), ds.name);
        expect(back).toStrictEqual(ds);
        expect(toJsonl(back)).toBe(toJsonl(ds));
      }),
      { numRuns: 200 },
    );
    expect(fromJsonl(toJsonl(ds0), ds0.name)).toStrictEqual(ds0);
  });

  it('writes one line per pair and tolerates blank lines and CRLF', () => {
    const text = toJsonl(take(ds0, 3));
    expect(text.split('\n')).toHaveLength(4);
    expect(fromJsonl(`\n${text.replace(/\n/g, '\r\n')}\n\n`, 'x').pairs).toEqual(take(ds0, 3).pairs);
    expect(fromJsonl('', 'empty').pairs).toEqual([]);
  });

  const corrupt = (mutate: (o: Record<string, any>) => void, at = 7): string => {
    const lines = toJsonl(take(ds0, 10)).trimEnd().split('\n');
    const o = JSON.parse(lines[at - 1]!);
    mutate(o);
    lines[at - 1] = JSON.stringify(o);
    return lines.join('\n');
  };

  it.each<[string, (o: Record<string, any>) => void, RegExp]>([
    ['a token id out of range', (o) => (o.y1[0] = 70), /^fromJsonl\(D\): line 7: y1\.0: expected an integer token id in \[0, 64\), got 70$/],
    ['a non-integer token id', (o) => (o.prompt[2] = 1.5), /line 7: prompt\.2: expected an integer token id in \[0, 64\), got 1\.5/],
    ['a string token', (o) => (o.y2[0] = 'a'), /line 7: y2\.0: expected an integer token id .* got "a"/],
    ['an empty prompt', (o) => (o.prompt = []), /line 7: prompt: expected 1 to 24 tokens, got 0/],
    ['an over-long response', (o) => (o.y2 = new Array(13).fill(4)), /line 7: y2: expected 1 to 12 tokens, got 13/],
    ['an empty response', (o) => (o.y1 = []), /line 7: y1: expected 1 to 12 tokens, got 0/],
    ['a preference of 2', (o) => (o.preference = 2), /line 7: preference: expected a preference of 0 or 1, got 2/],
    ['a missing preference', (o) => delete o.preference, /line 7: preference: expected a preference of 0 or 1, got undefined \(missing\)/],
    ['a missing provenance field', (o) => delete o.provenance.labeller, /line 7: provenance\.labeller: expected a non-empty, well-formed Unicode string/],
    ['a negative step', (o) => (o.provenance.step = -1), /line 7: provenance\.step: expected an integer step in \[0, 2\^32\)/],
    ['an unknown field', (o) => (o.provenance.stpe = 3), /line 7: provenance\.stpe: unknown field "stpe" in Provenance/],
    ['a lone surrogate', (o) => (o.provenance.task = '\ud800'), /line 7: provenance\.task: expected a non-empty, well-formed Unicode string/],
    ['several errors at once', (o) => ((o.y1 = [4, 5, 6, 70, EOS]), (o.preference = 'yes')), /line 7: y1\.3: .*got 70; preference: expected a preference of 0 or 1, got "yes"/],
  ])('rejects %s with the line number and the field path', (_what, mutate, re) => {
    expect(() => fromJsonl(corrupt(mutate), 'D')).toThrow(re);
  });

  it('rejects invalid JSON and non-objects, and counts further bad lines', () => {
    const lines = toJsonl(take(ds0, 10)).trimEnd().split('\n');
    lines[2] = lines[2]!.slice(0, 20);
    lines[5] = '[1, 2]';
    lines[8] = '{}';
    expect(() => fromJsonl(lines.join('\n'), 'D')).toThrow(/^fromJsonl\(D\): line 3: invalid JSON \(.*\) \(and 2 more malformed lines: 6, 9\)$/);
    expect(() => fromJsonl('"hi"\n', 'D')).toThrow(/line 1: expected an object \(Pair\), got "hi"/);
    // Line numbers count blank lines too (they are the file's physical lines).
    expect(() => fromJsonl(`\n\n${JSON.stringify({ ...line(), preference: 3 })}`, 'D')).toThrow(/^fromJsonl\(D\): line 3: preference/);
  });

  it('refuses to write an invalid pair', () => {
    const bad = makeDataset('bad', [{ ...ds0.pairs[0]!, y1: [64, EOS] }]);
    expect(() => toJsonl(bad)).toThrow(/toJsonl: pair 0: y1\.0: expected an integer token id in \[0, 64\), got 64/);
  });

  it('PairDatasetCodec decodes whole datasets and rejects bad ones with paths', () => {
    const r = PairDatasetCodec.decode(JSON.parse(JSON.stringify(take(ds0, 3))));
    expect(isRight(r) && r.right).toStrictEqual(take(ds0, 3));
    expect(isLeft(PairDatasetCodec.decode({ name: 'x', pairs: [{ ...line(), y1: [] }] }))).toBe(true);
  });
});

describe('binary', () => {
  it('round-trips any valid dataset exactly (property)', () => {
    fc.assert(
      fc.property(datasetArb, (ds) => {
        const bytes = encodeBinary(ds);
        expect(decodeBinary(bytes)).toStrictEqual(ds);
        expect(encodeBinary(decodeBinary(bytes))).toEqual(bytes);
      }),
      { numRuns: 200 },
    );
    const big = initialDataset(helpful, { size: 2000, key: key(8) });
    const bytes = encodeBinary(big);
    expect(decodeBinary(bytes)).toStrictEqual(big);
    expect(bytes.length / big.pairs.length).toBeLessThan(40); // compact: a long stream stays small
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('TNDP');
  });

  it('starts with TNDP, version 1, and ends with the CRC-32 of the rest', () => {
    const bytes = encodeBinary(take(ds0, 5));
    expect([...bytes.subarray(0, 6)]).toEqual([84, 78, 68, 80, 1, 0]);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(view.getUint32(bytes.length - 4, true)).toBe(crc32(bytes, 0, bytes.length - 4));
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926); // the standard check value
  });

  it('detects truncation at every length', () => {
    const bytes = encodeBinary(take(ds0, 20));
    for (let n = 0; n < bytes.length; n++) {
      expect(() => decodeBinary(bytes.subarray(0, n)), `cut at ${n}`).toThrow(/^decodeBinary: .*(truncated|not a TNDP)/);
    }
    expect(() => decodeBinary(bytes.subarray(0, bytes.length - 50))).toThrow(/most likely truncated/);
  });

  it('detects any single corrupted byte', () => {
    const bytes = encodeBinary(take(ds0, 20));
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const b = bytes.slice();
        b[at] = b[at]! ^ x;
        expect(() => decodeBinary(b)).toThrow(/^decodeBinary: (checksum mismatch|not a TNDP dataset|unsupported version)/);
      }),
      { numRuns: 300 },
    );
  });

  it('rejects wrong magic and unknown versions, and refuses to encode invalid pairs', () => {
    const bytes = encodeBinary(take(ds0, 2));
    const m = bytes.slice();
    m[0] = 88;
    expect(() => decodeBinary(m)).toThrow(/not a TNDP dataset \(magic "XNDP"\)/);
    const v = bytes.slice();
    v[4] = 2;
    expect(() => decodeBinary(v)).toThrow(/unsupported version 2/);
    expect(() => encodeBinary(makeDataset('bad', [{ ...ds0.pairs[0]!, y2: new Array(13).fill(4) }]))).toThrow(/encodeBinary: pair 0: y2: expected 1 to 12 tokens, got 13/);
    expect(() => encodeBinary(makeDataset('bad', [{ ...ds0.pairs[0]!, provenance: { task: 't', source: 's', labeller: 'l', step: 2 ** 32 } }]))).toThrow(/provenance\.step/);
  });

  it('reports structurally invalid contents behind a valid checksum (a writer bug) with the pair index', () => {
    // Hand-build a file whose pair has token 64: re-checksum after patching the byte.
    const bytes = encodeBinary(take(ds0, 3));
    const b = bytes.slice();
    const nameLen = b[16]!;
    const strings = new DataView(b.buffer).getUint32(12, true);
    let pos = 16;
    for (let i = 0; i < strings; i++) pos += 1 + b[pos]!; // short strings: one-byte varint lengths
    expect(nameLen).toBe('summarize/initial[:3]'.length);
    b[pos + 1] = 64; // pair 0's first prompt token
    new DataView(b.buffer).setUint32(b.length - 4, crc32(b, 0, b.length - 4), true);
    expect(() => decodeBinary(b)).toThrow(/malformed data despite a valid checksum: pair 0: prompt\.0: expected an integer token id in \[0, 64\), got 64/);
  });
});

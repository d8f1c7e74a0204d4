/**
 * memoJudge: the online run's stream evaluators share one judging pass. Its verdicts must be
 * those of the judge itself, item by item and in order (compared with an independent
 * per-item judgement), and a comparison seen before must not reach the judge again.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { memoJudge, type Judge } from '../src/labellers.js';
import { proxyAccuracyEvaluator } from '../src/stream-evaluators.js';
import type { Comparison, Pair } from '../src/types.js';

const runs = (n: number) => (process.env.TANDEM_DEEP ? n * 10 : n);
// A judge that depends only on the item: y1 wins when its token sum is larger, ties ½.
const verdict = (c: Comparison): 0 | 0.5 | 1 => {
  const d = c.y1.reduce((a, b) => a + b, 0) - c.y2.reduce((a, b) => a + b, 0);
  return d > 0 ? 1 : d < 0 ? 0 : 0.5;
};
function counting(): { judge: Judge; judged: Comparison[] } {
  const judged: Comparison[] = [];
  return { judged, judge: async (items) => { judged.push(...items); return items.map(verdict); } };
}
const tokens = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 4 });
const pairArb = fc.record({ prompt: tokens, y1: tokens, y2: tokens, preference: fc.constantFrom(0 as const, 1 as const) })
  .map((p): Pair => ({ ...p, provenance: { task: 't', source: 'arb', labeller: 'arb' } }));

describe('memoJudge', () => {
  it('gives the judge\'s own verdicts in order, and judges each comparison object once', async () => {
    await fc.assert(fc.asyncProperty(fc.array(pairArb, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 12 }), async (pairs, picks) => {
      const { judge, judged } = counting();
      const memo = memoJudge(judge);
      const first = await memo(pairs);
      expect(first).toEqual(pairs.map(verdict));
      // A second call with a reordered subset plus repeats: the same verdicts, nothing judged again.
      const again = picks.map((i) => pairs[i % Math.max(1, pairs.length)]!).filter((p) => p !== undefined);
      expect(await memo(again)).toEqual(again.map(verdict));
      expect(judged.length).toBe(pairs.length);
      // A new object (equal contents) is judged: the memo keys on identity, not contents.
      if (pairs.length > 0) {
        const copy = { ...pairs[0]! };
        expect(await memo([copy])).toEqual([verdict(copy)]);
        expect(judged.length).toBe(pairs.length + 1);
      }
    }), { numRuns: runs(100) });
  });

  it('an evaluator through the memo reports what it reports through the judge itself', async () => {
    await fc.assert(fc.asyncProperty(fc.array(fc.array(pairArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }), async (bs) => {
      const batches = bs.map((pairs) => ({ pairs }));
      const direct = await proxyAccuracyEvaluator(batches, counting().judge)(undefined as never, undefined as never);
      const { judge, judged } = counting();
      const memo = memoJudge(judge);
      await memo(batches.flatMap((b) => b.pairs)); // another evaluator judged these pairs first
      const shared = await proxyAccuracyEvaluator(batches, memo)(undefined as never, undefined as never);
      expect(shared).toEqual(direct);
      expect(judged.length).toBe(batches.reduce((n, b) => n + b.pairs.length, 0));
    }), { numRuns: runs(50) });
  });
});

/**
 * Shuffled replays of the online stream (docs/paper.md §6, Fig. 4b and Fig. 13):
 * - shuffle level 1 (`shuffleStream(D_online, 1, key)`) is the stream itself, so its replay
 *   reproduces the online run bit for bit;
 * - every shuffle level (window 1 … beyond the stream's length) is a permutation of the same
 *   batch objects, and no batch leaves its window;
 * - a shuffle that really reorders batches with different effects changes the final params.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { replaySampler, shuffleStream, shuffledSampler, type PairBatch } from '@tandem/rlhf';
import { getBackend, key } from '@tandem/tensor';
import {
  PROPERTY_TIMEOUT, disposeState, fcParams, firstDifference, recordOnline, recordReplay, seedArb, tinyRunArb, tinyWorld,
  treeHash, type LossName,
} from './helpers.js';

const cpu = getBackend('cpu');

/**
 * What a batch does to training, as a string: for a contrastive loss, its (prompt, winner, loser)
 * triples with y_w ≠ y_l (a pair of identical responses has h ≡ 0 and contributes no gradient);
 * for Bo2, its (prompt, winner) rows. Batches with equal effect strings are interchangeable.
 */
function effect(b: PairBatch, loss: LossName): string {
  return JSON.stringify(b.pairs.flatMap((p) => {
    const [w, l] = p.preference === 1 ? [p.y1, p.y2] : [p.y2, p.y1];
    if (loss === 'bo2') return [[p.prompt, w]];
    return w.length === l.length && w.every((t, i) => t === l[i]) ? [] : [[p.prompt, w, l]];
  }));
}

describe('shuffled replays of D_online', () => {
  it('replaying shuffleStream(D_online, 1, key) reproduces the online run bit for bit', async () => {
    await fc.assert(fc.asyncProperty(tinyRunArb({ steps: { min: 1, max: 20 } }), seedArb, async (r, shuffleSeed) => {
      const w = await tinyWorld(r, cpu);
      const online = await recordOnline(w, r.steps);
      const level1 = shuffleStream(online.batches, 1, key(shuffleSeed));
      expect(level1.every((b, i) => b === online.batches[i])).toBe(true);
      const replay = await recordReplay(w, shuffledSampler(online.batches, 1, key(shuffleSeed)), r.steps);
      const d = firstDifference(online.hashes, replay.hashes);
      disposeState(online.final);
      disposeState(replay.final);
      w.dispose();
      expect(d, `the level-1 replay diverges after step ${d + 1}`).toBe(-1);
    }), fcParams(30));
  }, PROPERTY_TIMEOUT);

  it('every shuffle level is a permutation of the same batches, within windows', async () => {
    await fc.assert(fc.asyncProperty(tinyRunArb({ steps: { min: 1, max: 12 } }), seedArb, async (r, shuffleSeed) => {
      const w = await tinyWorld(r, cpu);
      const online = await recordOnline(w, r.steps);
      disposeState(online.final);
      w.dispose();
      const s = online.batches;
      for (let win = 1; win <= s.length + 2; win++) {
        const sh = shuffleStream(s, win, key(shuffleSeed));
        expect(sh.length).toBe(s.length);
        // The same batch objects, each exactly once (the recorded batches are distinct objects).
        expect(new Set(sh).size).toBe(s.length);
        sh.forEach((b, i) => {
          const j = s.indexOf(b);
          expect(j, `level ${win}: position ${i} holds a batch not in D_online`).toBeGreaterThanOrEqual(0);
          expect(Math.floor(j / win), `level ${win}: batch ${j} left its window`).toBe(Math.floor(i / win));
        });
      }
    }), fcParams(30));
  }, PROPERTY_TIMEOUT);

  it('a shuffle that reorders batches with different effects changes the final params', async () => {
    // SLiC is left out: its hinge has exactly flat regions (β·h ≥ 1), where reordering batches
    // whose gradients are all zero legitimately leaves the parameters unchanged.
    const arb = fc.tuple(tinyRunArb({ steps: { min: 3, max: 16 }, losses: ['ipo', 'dpo', 'bo2'] }), seedArb);
    await fc.assert(fc.asyncProperty(arb, async ([r, shuffleSeed]) => {
      const w = await tinyWorld(r, cpu);
      try {
        const online = await recordOnline(w, r.steps);
        const sh = shuffleStream(online.batches, online.batches.length, key(shuffleSeed));
        const reorders = firstDifference(online.batches.map((b) => effect(b, r.loss)), sh.map((b) => effect(b, r.loss))) >= 0;
        if (!reorders) {
          disposeState(online.final);
          fc.pre(false);
        }
        const replay = await recordReplay(w, replaySampler(sh, 'uniform-shuffle'), r.steps);
        const [a, b] = [await treeHash(online.final.params), await treeHash(replay.final.params)];
        disposeState(online.final);
        disposeState(replay.final);
        expect(b, 'the uniformly shuffled replay ended with the online run\'s exact params').not.toBe(a);
      } finally {
        w.dispose();
      }
    }), fcParams(30));
  }, PROPERTY_TIMEOUT);
});

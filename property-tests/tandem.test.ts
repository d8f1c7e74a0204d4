/**
 * The tandem invariant (docs/paper.md §6 Fig. 4a, §7): offline training on the recorded
 * online stream D_online, in order, from the same initial params, reproduces the
 * online run BIT FOR BIT — params and optimiser state after every step.
 *
 * Online: `runTraining` with `onlineSampler` (two samples per prompt from the current
 * policy, labelled by a noisy rater or a random preference model), recording every
 * emitted batch and the SHA-256 of params+opt after every step. Offline: `runTraining`
 * with `replaySampler(recorded)`, from the in-memory batches AND from the batches read back
 * from D_online's stored binary form (the codec the CLI writes stream.bin with). On cpu
 * always; on webgpu when an adapter is present.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeBinary, encodeBinary, replaySampler, type PairBatch } from '@tandem/rlhf';
import { getBackend, shutdownWebGPU, type Backend } from '@tandem/tensor';
import {
  PROPERTY_TIMEOUT, assertWebGPU, disposeState, fcParams, firstDifference, probeWebGPU, recordOnline, recordReplay,
  skipWebGPU, tinyRunArb, tinyWorld, type TinyRun,
} from './helpers.js';

/**
 * D_online as the CLI stores it: stream.bin (packages/experiments/src/runs/artifacts.ts,
 * `encodeStreamSegments`/`loadStream`) holds one segment per batch whose payload is the
 * batch as an `encodeBinary` dataset named D_online, read back with `decodeBinary`. The
 * segment framing (length, batch index, SHA-256) is internal to @tandem/experiments and
 * tested there, so this is the same composition over the public codec.
 */
function throughStoredForm(batches: readonly PairBatch[], batchSize: number): PairBatch[] {
  return batches.map((b, i) => {
    const pairs = decodeBinary(encodeBinary({ name: 'D_online', pairs: b.pairs })).pairs;
    if (pairs.length !== batchSize) throw new Error(`stream.bin segment ${i} holds ${pairs.length} pairs, not the batch size ${batchSize}`);
    return { pairs };
  });
}

async function tandemHolds(r: TinyRun, backend: Backend): Promise<void> {
  const w = await tinyWorld(r, backend);
  try {
    const online = await recordOnline(w, r.steps);
    const offline = await recordReplay(w, replaySampler(online.batches), r.steps);
    // The same stream after a round trip through its stored binary form: a replay from disk
    // (what `tandem-experiment` does for offline-on-D_online runs) must match too.
    const stored = throughStoredForm(online.batches, r.batchSize);
    const fromDisk = await recordReplay(w, replaySampler(stored), r.steps);
    try {
      expect(online.hashes.length).toBe(r.steps);
      // The replay consumed exactly the recorded batches, in order (same objects).
      expect(offline.batches.every((b, i) => b === online.batches[i])).toBe(true);
      const d = firstDifference(online.hashes, offline.hashes);
      if (d >= 0) throw new Error(`online and replayed runs diverge after step ${d + 1} of ${r.steps} (params/opt hash ${online.hashes[d]} vs ${offline.hashes[d]})`);
      expect(offline.losses).toEqual(online.losses);
      expect(stored.length, 'batches read back from the stored form').toBe(online.batches.length);
      const e = firstDifference(online.hashes, fromDisk.hashes);
      if (e >= 0) throw new Error(`online run and the replay of stored D_online diverge after step ${e + 1} of ${r.steps} (params/opt hash ${online.hashes[e]} vs ${fromDisk.hashes[e]})`);
      expect(fromDisk.losses).toEqual(online.losses);
    } finally {
      disposeState(online.final);
      disposeState(offline.final);
      disposeState(fromDisk.final);
    }
  } finally {
    w.dispose();
  }
}

describe('tandem: online ≡ offline on D_online, bit for bit', () => {
  it('on cpu', async () => {
    const cpu = getBackend('cpu');
    await fc.assert(fc.asyncProperty(tinyRunArb(), (r) => tandemHolds(r, cpu)), fcParams(60));
  }, PROPERTY_TIMEOUT);
});

describe('the tandem check has power', () => {
  it('control: replaying D_online with one label flipped agrees before that step and diverges from it on', async () => {
    const cpu = getBackend('cpu');
    const arb = fc.record({ r: tinyRunArb({ steps: { min: 1, max: 12 } }), at: fc.nat(100), pairAt: fc.nat(3) });
    await fc.assert(fc.asyncProperty(arb, async ({ r, at, pairAt }) => {
      const w = await tinyWorld(r, cpu);
      try {
        const online = await recordOnline(w, r.steps);
        disposeState(online.final);
        const t = at % r.steps;
        const batch = online.batches[t]!;
        const i = pairAt % batch.pairs.length;
        const p = batch.pairs[i]!;
        // A pair of identical responses has no orientation to flip.
        fc.pre(p.y1.length !== p.y2.length || p.y1.some((tok, j) => tok !== p.y2[j]));
        const flipped = online.batches.map((b, k) => (k !== t ? b : { pairs: b.pairs.map((q, j) => (j !== i ? q : { ...q, preference: (1 - q.preference) as 0 | 1 })) }));
        const replay = await recordReplay(w, replaySampler(flipped), r.steps);
        disposeState(replay.final);
        expect(firstDifference(online.hashes, replay.hashes), `flipped the label of pair ${i} of batch ${t}`).toBe(t);
      } finally {
        w.dispose();
      }
    }), fcParams(10));
  }, PROPERTY_TIMEOUT);
});

const gpu = await probeWebGPU('tandem.test.ts');

describe.skipIf(skipWebGPU(gpu))('tandem on webgpu', () => {
  afterAll(async () => {
    await shutdownWebGPU();
  });
  it(`online ≡ replay bit for bit (${gpu.description ?? 'no adapter'})`, async () => {
    // Without an adapter this only runs under TANDEM_REQUIRE_WEBGPU=1, and fails here.
    const backend = assertWebGPU(gpu);
    await fc.assert(fc.asyncProperty(tinyRunArb({ steps: { min: 1, max: 10 } }), (r) => tandemHolds(r, backend)), fcParams(8));
  }, PROPERTY_TIMEOUT);
});

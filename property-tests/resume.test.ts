/**
 * Resume: run k steps, save a checkpoint (params, optimiser state, step, run key, and the
 * sampler state in the config), continue to n steps in a NEW PROCESS from that file, and
 * compare with n uninterrupted steps: every params+opt hash after step k, the losses and the
 * final sampler state must agree bit for bit.
 *
 * The sampler is a mixture of online batches and an offline D_initial, so its state (the
 * offline cursor) is not trivial; the optimiser may be Adam, AdamW or SGD with momentum, with
 * or without gradient clipping (a chain, whose state is an array).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { encodeCheckpoint, saveCheckpoint } from '@tandem/nn';
import { initTrainState } from '@tandem/rlhf';
import { dispose, getBackend } from '@tandem/tensor';
import {
  PROPERTY_TIMEOUT, TASK, disposeState, fcParams, record, resumableSampler, stateHash, tinyRunArb, tinyWorld, type MixState,
} from './helpers.js';

const run = promisify(execFile);
const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
const CHILD = 'property-tests/fixtures/resume-child.ts';
const cpu = getBackend('cpu');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-resume-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const arb = fc.record({
  run: tinyRunArb({ steps: { min: 2, max: 12 }, response: { min: TASK.maxResponse, max: TASK.maxResponse } }),
  pA: fc.constantFrom(0.5, 0, 1, 0.25),
  /** The checkpoint step is kRaw mod steps: 0 … steps − 1. */
  kRaw: fc.nat(40),
});

let caseNo = 0;

describe('resume from a checkpoint in a new process', () => {
  it('k steps + checkpoint + (n − k) steps in a child process ≡ n uninterrupted steps, bit for bit', async () => {
    await fc.assert(fc.asyncProperty(arb, async ({ run: r, pA, kRaw }) => {
      const n = r.steps;
      const k = kRaw % n;
      const path = join(dir, `case-${caseNo++}.safetensors`);
      const w = await tinyWorld(r, cpu);
      const sampler = resumableSampler(w, r, pA);
      const state0 = initTrainState(w.setup, w.params0);
      let ckptBytes: Uint8Array | undefined;
      const save = async (s: typeof state0, ss: MixState) => {
        const ckpt = { params: s.params, optState: s.opt, step: s.step, key: w.key, config: { run: r, pA, samplerState: ss } };
        await saveCheckpoint(path, ckpt);
        ckptBytes = await encodeCheckpoint(ckpt);
      };
      if (k === 0) await save(state0, sampler.init);
      const full = await record({
        setup: w.setup, sampler, state: state0, until: n, key: w.key,
        onStep: async (info, ss) => {
          if (info.step === k) await save(info.state, ss);
        },
      });
      const finalHash = await stateHash(full.final);
      disposeState(full.final);
      dispose(state0.opt);
      w.dispose();

      // The file on disk is exactly what encodeCheckpoint gives for the same checkpoint.
      expect(Buffer.from(await readFile(path)).equals(Buffer.from(ckptBytes!))).toBe(true);

      const { stdout } = await run(process.execPath, ['--conditions=tandem-source', '--import', 'tsx', CHILD, path, JSON.stringify({ run: r, pA, until: n })], { cwd: ROOT, maxBuffer: 1 << 24 });
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (!line) throw new Error(`the child printed no RESULT line:\n${stdout}`);
      const child = JSON.parse(line.slice('RESULT '.length)) as { hashes: string[]; losses: number[]; final: string; samplerState: MixState };
      await rm(path, { force: true });
      await rm(`${path}.json`, { force: true });

      expect(child.hashes, `hashes after steps ${k + 1}…${n} (checkpoint at step ${k})`).toEqual(full.hashes.slice(k));
      expect(child.losses).toEqual(full.losses.slice(k));
      expect(child.final).toBe(finalHash);
      expect(child.samplerState).toEqual(full.samplerState);
    }), fcParams(3));
  }, PROPERTY_TIMEOUT);
});

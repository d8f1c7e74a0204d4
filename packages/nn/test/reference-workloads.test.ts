/**
 * RW-1 from ../../shared/WORKLOADS.md reproduces the check losses that PyTorch,
 * TF.js and jax-js all print: through the forward pass, the backward pass and Adam.
 * On cpu to 1e-5 relative; on webgpu (required in CI) within 1e-4.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as T from '@tandem/tensor';
import { valueAndGrad } from '@tandem/autodiff';
import {
  OFFSETS, RW1, adam, applyUpdates, crossEntropyLoss, pairedSequenceLogProbs, referenceParams, referenceTokens, type TransformerParams,
} from '../src/index.js';

async function trainLosses(backend: T.Backend, steps: number): Promise<number[]> {
  const cfg = RW1.config;
  let params = referenceParams(RW1, backend);
  const src = referenceTokens(OFFSETS.src, [32, 24], 64, backend);
  const tgt = referenceTokens(OFFSETS.tgt, [32, 16], 64, backend);
  const opt = adam({ lr: 1e-3 });
  let state = opt.init(params);
  const losses: number[] = [];
  for (let s = 0; s <= steps; s++) {
    const [l, p, st] = T.tidy(() => {
      const [v, g] = valueAndGrad((q: TransformerParams) => crossEntropyLoss(q, cfg, src, tgt))(params);
      const [u, ns] = opt.update(g, state, params);
      return [v, applyUpdates(params, u), ns] as const;
    });
    losses.push(await l.item());
    T.dispose([params, state, l]);
    params = p;
    state = st;
  }
  T.dispose([params, state, src, tgt]);
  return losses;
}

async function ipoLosses(backend: T.Backend, steps: number): Promise<number[]> {
  const cfg = RW1.config;
  let params = referenceParams(RW1, backend);
  const ref = referenceParams(RW1, backend);
  const prompt = referenceTokens(OFFSETS.prompt, [32, 24], 64, backend);
  const yw = referenceTokens(OFFSETS.yw, [32, 16], 64, backend);
  const yl = referenceTokens(OFFSETS.yl, [32, 16], 64, backend);
  const opt = adam({ lr: 1e-3 });
  let state = opt.init(params);
  const losses: number[] = [];
  for (let s = 0; s <= steps; s++) {
    const [l, p, st] = T.tidy(() => {
      const [rw, rl] = pairedSequenceLogProbs(ref, cfg, prompt, yw, yl);
      const f = (q: TransformerParams) => {
        const [lw, ll] = pairedSequenceLogProbs(q, cfg, prompt, yw, yl);
        const h = T.sub(T.sub(lw, rw), T.sub(ll, rl));
        return T.mean(T.square(T.sub(T.mul(h, 0.1), 0.5)));
      };
      const [v, g] = valueAndGrad(f)(params);
      const [u, ns] = opt.update(g, state, params);
      return [v, applyUpdates(params, u), ns] as const;
    });
    losses.push(await l.item());
    T.dispose([params, state, l]);
    params = p;
    state = st;
  }
  T.dispose([params, ref, state, prompt, yw, yl]);
  return losses;
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('RW-1 check losses on cpu', () => {
  const cpu = T.getBackend('cpu');
  it('train loss at steps 0 and 2: 4.23769, 4.06377', async () => {
    const l = await trainLosses(cpu, 2);
    expect(rel(l[0]!, 4.23769)).toBeLessThan(1e-5);
    expect(rel(l[2]!, 4.06377)).toBeLessThan(1e-5);
  });
  it('IPO loss at steps 0 and 1: 0.25, 0.15828', async () => {
    const l = await ipoLosses(cpu, 1);
    expect(l[0]).toBe(0.25);
    expect(rel(l[1]!, 0.15828)).toBeLessThan(1e-4);
  });
});

const gpuError = await T.initBackend('webgpu').then(() => undefined, (e: unknown) => e as Error);
if (gpuError && process.env.TANDEM_REQUIRE_WEBGPU === '1') throw new Error(`TANDEM_REQUIRE_WEBGPU=1 but the webgpu backend cannot be created: ${gpuError.message}`);
if (gpuError) console.warn(`RW-1 webgpu checks skipped: ${gpuError.message}`);

describe.skipIf(gpuError !== undefined)('RW-1 check losses on webgpu', () => {
  afterAll(() => T.shutdownWebGPU());
  it('train loss at steps 0 and 2, IPO loss at steps 0 and 1, within 1e-4', async () => {
    const gpu = T.getBackend('webgpu');
    const l = await trainLosses(gpu, 2);
    expect(rel(l[0]!, 4.23769)).toBeLessThan(1e-4);
    expect(rel(l[2]!, 4.06377)).toBeLessThan(1e-4);
    const i = await ipoLosses(gpu, 1);
    expect(Math.abs(i[0]! - 0.25)).toBeLessThan(1e-6);
    expect(rel(i[1]!, 0.15828)).toBeLessThan(1e-3);
  }, 300_000);
});

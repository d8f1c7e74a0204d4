/**
 * RW-1 (docs/benchmarks.md, "Reference workloads") reproduces the check losses that PyTorch,
 * TF.js and jax-js all print: through the forward pass, the backward pass and Adam.
 * On cpu to 1e-5 relative; on webgpu (required in CI) within 1e-4.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as T from '@tandem/tensor';
import { RW1, referenceIpoTrainer, referenceLosses, referenceTrainer } from '../bench/reference-workloads.js';

const losses = (make: typeof referenceTrainer, backend: T.Backend, steps: number): Promise<number[]> => referenceLosses(make, RW1, backend, steps);
const trainLosses = (b: T.Backend, n: number) => losses(referenceTrainer, b, n);
const ipoLosses = (b: T.Backend, n: number) => losses(referenceIpoTrainer, b, n);

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

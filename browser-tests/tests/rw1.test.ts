/**
 * RW-1's check losses (docs/benchmarks.md, "Reference workloads") measured in Chromium on
 * both backends and reported to the runner, which prints them and saves them under
 * runs/browser-tests/. The assertions are nn's (packages/nn/test/reference-workloads.test.ts,
 * which also runs here): cpu within 1e-5 relative, webgpu within 1e-4 (IPO step 1: 1e-3).
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as T from '@tandem/tensor';
import { RW1, referenceIpoTrainer, referenceLosses, referenceTrainer } from '../../packages/nn/bench/reference-workloads.js';

const REQUIRED = process.env.TANDEM_REQUIRE_WEBGPU === '1';
const metric = (globalThis as { __tandemMetric?: (n: string, v: unknown) => void }).__tandemMetric ?? (() => undefined);

const losses = (make: typeof referenceTrainer, backend: T.Backend, steps: number): Promise<number[]> => referenceLosses(make, RW1, backend, steps);
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

const gpuError = await T.initBackend('webgpu').then(() => undefined, (e: unknown) => e as Error);
if (gpuError && REQUIRED) throw new Error(`TANDEM_REQUIRE_WEBGPU=1 but the webgpu backend cannot be created: ${gpuError.message}`);

describe('RW-1 check losses in Chromium', () => {
  afterAll(() => T.shutdownWebGPU());
  for (const name of ['cpu', 'webgpu'] as const) {
    it.skipIf(name === 'webgpu' && gpuError !== undefined)(`on ${name}: train 4.23769 → 4.06377 (steps 0, 2), IPO 0.25 → 0.15828 (steps 0, 1)`, async () => {
      const b = T.getBackend(name);
      const t0 = performance.now();
      const train = await losses(referenceTrainer, b, 2);
      const ipo = await losses(referenceIpoTrainer, b, 1);
      const ms = Math.round(performance.now() - t0);
      console.log(`RW-1 on ${name}: train ${train.join(' → ')}; IPO ${ipo.join(' → ')} (${ms} ms)`);
      metric(`RW-1 ${name}`, { train, ipo, ms });
      const tol = name === 'cpu' ? 1e-5 : 1e-4;
      expect(rel(train[0]!, 4.23769)).toBeLessThan(tol);
      expect(rel(train[2]!, 4.06377)).toBeLessThan(tol);
      expect(Math.abs(ipo[0]! - 0.25)).toBeLessThan(1e-6);
      expect(rel(ipo[1]!, 0.15828)).toBeLessThan(name === 'cpu' ? 1e-4 : 1e-3);
    }, 300_000);
  }
});

/**
 * Autodiff on the webgpu backend: 1,000 valueAndGrad calls leave the live tensors,
 * storages and device bytes flat, and gradients agree with cpu within tolerance.
 * Skipped with the reason printed without an adapter; a failure under TANDEM_REQUIRE_WEBGPU=1.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as T from '@tandem/tensor';
import type { Tensor } from '@tandem/tensor';
import { grad, valueAndGrad } from '../src/index.js';
import { rand } from './gen.js';

const gpuError = await T.initBackend('webgpu').then(() => undefined, (e: unknown) => e as Error);
if (gpuError && process.env.TANDEM_REQUIRE_WEBGPU === '1') throw new Error(`TANDEM_REQUIRE_WEBGPU=1 but the webgpu backend cannot be created: ${gpuError.message}`);
if (gpuError) console.warn(`autodiff webgpu tests skipped: ${gpuError.message}`);

function model(p: { w: Tensor; b: Tensor }, x: Tensor): Tensor {
  const h = T.tanh(T.add(T.matmul(x, p.w), p.b));
  return T.mean(T.mul(T.logSoftmax(h, -1), T.sigmoid(h)));
}

describe.skipIf(gpuError !== undefined)('autodiff on webgpu', () => {
  afterAll(() => T.shutdownWebGPU());

  it('1,000 valueAndGrad calls leave live tensors, storages and device bytes flat', async () => {
    const gpu = T.getBackend('webgpu');
    const p = { w: await T.toBackend(rand([8, 8], 1), gpu), b: await T.toBackend(rand([8], 2), gpu) };
    const x = await T.toBackend(rand([4, 8], 3), gpu);
    const vg = valueAndGrad(model);
    const step = () => {
      const [v, g] = vg(p, x);
      T.dispose([v, g]);
    };
    for (let i = 0; i < 20; i++) step();
    await gpu.sync();
    const before = { ...T.memory().webgpu!, device: gpu.bytesInUse() };
    for (let i = 0; i < 1000; i++) step();
    await gpu.sync();
    const after = { ...T.memory().webgpu!, device: gpu.bytesInUse() };
    expect(after.tensors).toBe(before.tensors);
    expect(after.buffers).toBe(before.buffers);
    expect(after.bytes).toBe(before.bytes);
    expect(after.device).toBeLessThanOrEqual(before.device);
  }, 300_000);

  it('gradients agree with cpu within tolerance (and grad(grad) runs)', async () => {
    const gpu = T.getBackend('webgpu');
    const pc = { w: rand([6, 5], 4), b: rand([5], 5) };
    const xc = rand([3, 6], 6);
    const pg = { w: await T.toBackend(pc.w, gpu), b: await T.toBackend(pc.b, gpu) };
    const xg = await T.toBackend(xc, gpu);
    const gc = grad(model)(pc, xc);
    const gg = grad(model)(pg, xg);
    for (const k of ['w', 'b'] as const) {
      const a = gc[k].dataSync() as Float32Array;
      const b = (await gg[k].data()) as Float32Array;
      a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(v)));
    }
    const f = (x: Tensor) => T.sum(T.mul(T.mul(x, x), x));
    const x = await T.toBackend(T.tensor([0.5, -1, 2]), gpu);
    const second = await grad((y: Tensor) => T.sum(grad(f)(y)))(x).data();
    expect(Array.from(second)).toEqual([3, -6, 12]);
  }, 120_000);
});

/**
 * What is different in a browser: WebGPU comes from navigator.gpu, the matmul's helper
 * thread is a Web Worker (the test page is cross-origin isolated), there is no
 * `process`, and the library still works.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as T from '@tandem/tensor';
import { configureMatmulF32, matmulF32, matmulF32ThreadsReady } from '../../packages/tensor/src/cpu/wasm/matmul.js';

const REQUIRED = process.env.TANDEM_REQUIRE_WEBGPU === '1';

describe('the browser platform', () => {
  afterAll(() => T.shutdownWebGPU());

  it('has no process global, and the library does not need one', () => {
    expect(typeof (globalThis as { process?: unknown }).process).toBe('undefined');
    expect(T.tensor([1, 2, 3]).add(1).dataSync()).toEqual(Float32Array.from([2, 3, 4]));
  });

  it('starts the matmul helper thread as a Web Worker (the page is cross-origin isolated)', async () => {
    expect((globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated).toBe(true);
    expect(await matmulF32ThreadsReady(20_000)).toBe(true);
  });

  it('two-thread and one-thread matmuls give the same bits', async () => {
    const saved = configureMatmulF32();
    try {
      for (const [batch, m, k, n, tA, tB] of [[1, 256, 256, 256, false, false], [4, 96, 200, 160, true, true], [1, 513, 64, 384, false, true]] as const) {
        const a = Float32Array.from({ length: batch * m * k }, (_, i) => Math.sin(i * 0.37));
        const b = Float32Array.from({ length: batch * k * n }, (_, i) => Math.cos(i * 0.11));
        const one = new Float32Array(batch * m * n), two = new Float32Array(batch * m * n);
        configureMatmulF32({ threads: false });
        matmulF32(a, b, one, batch, m, k, n, tA, tB, m * k, k * n);
        configureMatmulF32({ threads: true, minFlops: 0, minFlopsPerByte: 0 });
        matmulF32(a, b, two, batch, m, k, n, tA, tB, m * k, k * n);
        expect(new Uint8Array(two.buffer), `${batch}x${m}x${k}x${n}`).toEqual(new Uint8Array(one.buffer));
      }
    } finally {
      configureMatmulF32(saved);
    }
  });

  it('opens the webgpu backend on navigator.gpu', async () => {
    const err = await T.initBackend('webgpu').then(() => undefined, (e: unknown) => e as Error);
    if (err && !REQUIRED) {
      console.warn(`webgpu: ${err.message}`);
      return;
    }
    expect(err).toBeUndefined();
    const info = T.webgpuAdapterInfo()!;
    console.log(`webgpu adapter: ${info.description}${info.isSoftware ? ' (software)' : ''}`);
    (globalThis as { __tandemMetric?: (n: string, v: unknown) => void }).__tandemMetric?.('webgpu adapter', info);
    expect(info.description.length).toBeGreaterThan(0);
    const x = T.tensor([[1, 2], [3, 4]], { backend: 'webgpu' });
    expect(await x.matmul(x).add(1).toArray()).toEqual([[8, 11], [16, 23]]);
    x.dispose();
  });
});

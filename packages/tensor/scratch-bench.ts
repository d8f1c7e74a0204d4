import * as T from './src/index.js';
import { webgpuStats } from './src/webgpu/backend.js';
const be = await T.initBackend('webgpu');
async function timeit(label: string, f: () => T.Tensor, flops: number, reps: number) {
  const w = f(); await w.data(); w.dispose();
  const t0 = performance.now();
  const outs = []; for (let i = 0; i < reps; i++) outs.push(f());
  await be.sync();
  const ms = (performance.now() - t0) / reps;
  outs.forEach((o) => o.dispose());
  console.log(label, ms.toFixed(3), 'ms', flops ? (flops / ms / 1e6).toFixed(3) + ' GFLOP/s' : '');
}
for (const n of [256, 512, 1024]) {
  const a = T.uniform(T.key(1), [n, n], { backend: 'webgpu' });
  const b = T.uniform(T.key(2), [n, n], { backend: 'webgpu' });
  await timeit(`matmul ${n}`, () => a.matmul(b), 2 * n ** 3, n === 1024 ? 2 : 5);
  await timeit(`matmul ${n} tB`, () => a.matmul(b, { transB: true }), 2 * n ** 3, n === 1024 ? 2 : 5);
  if (n === 256) await timeit(`matmul ${n} tA`, () => a.matmul(b, { transA: true }), 2 * n ** 3, 5);
}
const s = T.ones([4], { backend: 'webgpu' });
await timeit('tiny add x1000 (per op)', () => { let r = s; for (let i = 0; i < 1000; i++) { const q = r.add(1); if (r !== s) r.dispose(); r = q; } return r; }, 0, 1);
const big = T.uniform(T.key(3), [1 << 20], { backend: 'webgpu' });
await timeit('sum 1M', () => big.sum(), 0, 5);
await timeit('exp 1M', () => big.exp(), 0, 5);
console.log(webgpuStats(be));
await T.shutdownWebGPU();

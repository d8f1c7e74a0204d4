import * as T from './src/index.js';
await T.initBackend('webgpu');
for (const n of [100003]) {
  for (const pos of [65534, 65535, 65536, 65537]) {
    const d = new Float32Array(n); for (let i = 0; i < n; i++) d[i] = Math.sin(i * 0.37) * 4; d[pos] = NaN;
    const g = T.tensor(d, { backend: 'webgpu' });
    console.log(n, pos, await T.argmin(g, 0).item(), await T.argmax(g, 0).item(), await T.argmin(T.tensor(d), 0).item());
  }
}
await T.shutdownWebGPU();

import * as T from './src/index.js';
await T.initBackend('webgpu');
const rows = [[-0, 0, 0, 0, 0], [0, 0, 0, 0, NaN], [1, 2, 3, 2, 1], [3, NaN, 5, 1, 1], [-0, 0, 1, 0, 0], [5, 4, 3, 2, 1]];
for (const r of rows) {
  const g = T.tensor([r], { backend: 'webgpu' });
  console.log(JSON.stringify(r), Object.is(await T.max(g, 1).item(), -0) ? '-0' : await T.max(g, 1).item(), await T.argmax(g, 1).item(), await T.argmin(g, 1).item());
}
await T.shutdownWebGPU();

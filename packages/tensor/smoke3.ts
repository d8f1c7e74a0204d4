import * as T from './src/index.js';
await T.initBackend('webgpu');
const a = T.tensor([[1, 2, 3], [4, 5, 6]], { backend: 'webgpu' });
console.log('scatter', await T.scatterAdd(T.tensor([1, 2, 3, 4], { backend: 'webgpu' }), T.tensor([0, 2, 0, 1], { dtype: 'int32', backend: 'webgpu' }), 0, [3]).toArray());
const g = a.gt(2);
console.log('gt', await g.toArray());
console.log('bool', await g.logicalNot().toArray());
await T.shutdownWebGPU();
console.log('done');

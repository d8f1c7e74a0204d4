import * as T from './src/index.js';
const t0 = Date.now();
const gpu = await T.initBackend('webgpu');
console.log('init ms', Date.now() - t0, T.webgpuAdapterInfo());
const x = T.tensor([[1, -2, NaN], [0.5, -0, 3]], { backend: 'webgpu' });
for (const op of ['neg','abs','sign','exp','log','log1p','sqrt','rsqrt','tanh','sigmoid','relu','sin','cos'] as const) {
  console.log(op, await (T as any)[op](x).toArray());
}
const a = T.tensor([[1, 2, 3], [4, 5, 6]], { backend: 'webgpu' });
const b = T.tensor([10, 20, 30], { backend: 'webgpu' });
console.log('add', await a.add(b).toArray(), await a.sub(1).toArray());
console.log('matmul', await a.matmul(a, { transB: true }).toArray());
console.log('sum', await a.sum(1).toArray(), await a.max(0).toArray(), await a.argmax(1).toArray());
console.log('transpose', await a.transpose().toArray());
console.log('slice', await a.slice([1, 2], [null, null], [-1, -1]).toArray());
console.log('pad', await a.pad([[1, 0], [0, 1]], 9).toArray());
console.log('concat', await T.concat([a, a], 1).toArray());
console.log('gather', await a.gather(T.tensor([1, 0, 1, 5], { dtype: 'int32', backend: 'webgpu' }), 0).toArray());
console.log('cast', await T.tensor([1.7, -2.5, 3e9, NaN], { backend: 'webgpu' }).cast('int32').toArray());
const k = T.key(42);
console.log('bits', await T.randomBits(k, [6], { backend: 'webgpu' }).toArray(), await T.randomBits(k, [6], { backend: 'cpu' }).toArray());
console.log('uniform', await T.uniform(k, [3], { backend: 'webgpu' }).toArray(), await T.uniform(k, [3], { backend: 'cpu' }).toArray());
console.log('where', await T.where(a.gt(2), a, 0).toArray());
console.log('scatter', await T.scatterAdd(T.tensor([1, 2, 3, 4], { backend: 'webgpu' }), T.tensor([0, 2, 0, 1], { dtype: 'int32', backend: 'webgpu' }), 0, [3]).toArray());
console.log('bool', await a.gt(2).logicalNot().toArray());
await T.shutdownWebGPU();
console.log('done', Date.now() - t0);

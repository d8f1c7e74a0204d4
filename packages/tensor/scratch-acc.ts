import * as T from './src/index.js';
await T.initBackend('webgpu');
const doms: Record<string, [number, number]> = { exp: [-20, 20], log: [1e-3, 1e3], log1p: [-0.99, 10], sqrt: [0, 100], rsqrt: [1e-3, 100], tanh: [-12, 12], sigmoid: [-30, 30], sin: [-10, 10], cos: [-10, 10] };
const N = 100000;
for (const [op, [lo, hi]] of Object.entries(doms)) {
  const v = new Float32Array(N);
  for (let i = 0; i < N; i++) v[i] = lo + (hi - lo) * Math.random();
  if (op === 'log1p' || op === 'tanh' || op === 'sin') for (let i = 0; i < 1000; i++) v[i] = (Math.random() - 0.5) * 10 ** (-1 - 6 * Math.random());
  const c = await (T as any)[op](T.tensor(v, { backend: 'cpu' })).data();
  const g = await (T as any)[op](T.tensor(v, { backend: 'webgpu' })).data();
  let maxRel = 0, maxAbs = 0, worst = 0;
  for (let i = 0; i < N; i++) { const a = Math.abs(g[i] - c[i]); const r = a / Math.max(Math.abs(c[i]), 1e-30); if (r > maxRel) { maxRel = r; worst = v[i]; } maxAbs = Math.max(maxAbs, a); }
  console.log(op.padEnd(8), 'maxRel', maxRel.toExponential(2), 'at', worst, 'maxAbs', maxAbs.toExponential(2));
}
const sp = new Float32Array([NaN, Infinity, -Infinity, 0, -0, 1e30, -1e30, 100, -100]);
for (const op of ['exp','log','log1p','sqrt','rsqrt','tanh','sigmoid','sin','cos','sign','relu','abs','neg']) {
  const c = await (T as any)[op](T.tensor(sp, { backend: 'cpu' })).data();
  const g = await (T as any)[op](T.tensor(sp, { backend: 'webgpu' })).data();
  console.log(op.padEnd(8), Array.from(c).join(','), '|', Array.from(g).join(','));
}
// pow
{
  const n = 100000; const a = new Float32Array(n), b = new Float32Array(n);
  for (let i = 0; i < n; i++) { a[i] = 0.1 + 9.9 * Math.random(); b[i] = -4 + 8 * Math.random(); }
  const c = await T.pow(T.tensor(a, { backend: 'cpu' }), T.tensor(b, { backend: 'cpu' })).data();
  const g = await T.pow(T.tensor(a, { backend: 'webgpu' }), T.tensor(b, { backend: 'webgpu' })).data();
  let m = 0; for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(g[i] - c[i]) / Math.abs(c[i])); console.log('pow maxRel', m);
  const d1 = await T.div(T.tensor(a, { backend: 'cpu' }), T.tensor(b, { backend: 'cpu' })).data();
  const d2 = await T.div(T.tensor(a, { backend: 'webgpu' }), T.tensor(b, { backend: 'webgpu' })).data();
  let md = 0, ne = 0; for (let i = 0; i < n; i++) { md = Math.max(md, Math.abs(d1[i] - d2[i]) / Math.abs(d1[i])); if (d1[i] !== d2[i]) ne++; } console.log('div maxRel', md, 'mismatches', ne);
  const ps = [[-2, 3], [-2, 0.5], [-0, -1], [-0, 0.5], [0, -2], [-Infinity, 3], [-Infinity, 0.5], [1, Infinity], [NaN, 0], [2, -Infinity], [0.5, Infinity], [-8, 1/3], [-3, 2]];
  const pa = new Float32Array(ps.map((p) => p[0])), pb = new Float32Array(ps.map((p) => p[1]));
  console.log('pow specials', Array.from(await T.pow(T.tensor(pa, { backend: 'cpu' }), T.tensor(pb, { backend: 'cpu' })).data()).join(','));
  console.log('pow specials', Array.from(await T.pow(T.tensor(pa, { backend: 'webgpu' }), T.tensor(pb, { backend: 'webgpu' })).data()).join(','));
}
// int -> float conversion
{
  const n = 100000; const v = new Int32Array(n); for (let i = 0; i < n; i++) v[i] = (Math.random() * 2 ** 32) | 0;
  const c = await T.tensor(v, { backend: 'cpu' }).cast('float32').data();
  const g = await T.tensor(v, { backend: 'webgpu' }).cast('float32').data();
  let ne = 0; for (let i = 0; i < n; i++) if (c[i] !== g[i]) ne++; console.log('int->float mismatches', ne);
}
await T.shutdownWebGPU();

import * as T from '@tandem/tensor';
import { valueAndGrad, grad } from '@tandem/autodiff';
const x = T.tensor([[1, 2], [3, 4]]);
const w = T.tensor([[0.5, -1], [2, 0.25]]);
const f = (p: { w: T.Tensor }, x: T.Tensor) => T.logSumExp(x.matmul(p.w).tanh().pow(T.tensor(2)), -1).mean();
const vg = valueAndGrad(f);
for (let i = 0; i < 5; i++) {
  const [v, g] = vg({ w }, x);
  T.dispose([v, g]);
  console.log(i, T.memory().cpu);
}
for (let i = 0; i < 3; i++) {
  const g2 = grad((w: T.Tensor) => grad(f)({ w }, x).w.sum())(w);
  g2.dispose();
  console.log('hess', i, T.memory().cpu);
}

/** End to end: a tiny transformer learns to copy its input, and then generates the copy greedily. */
import { describe, expect, it } from 'vitest';
import * as T from '@tandem/tensor';
import { valueAndGrad } from '@tandem/autodiff';
import { adam, applyUpdates, crossEntropyLoss, generate, initTransformer, transformerConfig, type TransformerParams } from '../src/index.js';

describe('copy task', () => {
  it('trains to low loss in 300 steps and copies unseen sequences greedily', async () => {
    const cfg = transformerConfig({ vocab: 12, dModel: 32, heads: 2, dFf: 64, encLayers: 1, decLayers: 1, maxSrc: 6, maxTgt: 6 });
    const batch = (k: T.Key, b: number) => T.tidy(() => T.add(T.cast(T.mul(T.uniform(k, [b, 6]), 8 - 1e-3), 'int32'), 4)); // tokens 4..11
    let params = initTransformer(T.key(0), cfg);
    const opt = adam({ lr: 3e-3 });
    let state = opt.init(params);
    let loss = Infinity;
    for (let step = 0; step < 300; step++) {
      const x = batch(T.foldIn(T.key(1), step), 32);
      const [l, p, s] = T.tidy(() => {
        const [v, g] = valueAndGrad((q: TransformerParams) => crossEntropyLoss(q, cfg, x, x))(params);
        const [u, ns] = opt.update(g, state, params);
        return [v, applyUpdates(params, u), ns] as const;
      });
      loss = l.dataSync()[0]!;
      T.dispose([params, state, l, x]);
      params = p;
      state = s;
    }
    expect(loss).toBeLessThan(0.1);
    const test = batch(T.key(999), 16);
    const out = generate(params, cfg, test, { maxLen: 6, greedy: true });
    const want = test.toArraySync() as number[][];
    const got = out.tokens.toArraySync() as number[][];
    const exact = got.filter((row, i) => row.every((v, j) => v === want[i]![j])).length;
    expect(exact).toBeGreaterThanOrEqual(14);
  }, 120_000);
});

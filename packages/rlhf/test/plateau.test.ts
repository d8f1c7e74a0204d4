/**
 * Preference models trained to a held-out plateau (App. A.3): the fit keeps the params of the
 * best evaluation (strictly better only), stops after `patience` evaluations without a strict
 * improvement, reports every evaluation, and without validation is the plain fixed-step fit.
 * The checks are independent of the fit's own bookkeeping: the returned params are compared
 * bit for bit with a plain fit of `bestStep` steps (measuring draws nothing, so the
 * trajectories agree), their accuracy is recomputed with preferenceAccuracy, and the
 * stopping rule is re-derived from the reported curve.
 */
import { describe, expect, it } from 'vitest';
import * as T from '@tandem/tensor';
import { EOS } from '@tandem/nn';
import { preferenceAccuracy, trainPreferenceModel, type PreferenceFitOptions } from '../src/pipeline.js';
import { preferenceModelSpec } from '../src/preference-model.js';
import { rngFromKey } from '../src/rng.js';
import type { Pair, PairDataset } from '../src/types.js';

const backend = T.getBackend('cpu');
const VOCAB = 12;
const widths = { prompt: 4, response: 3 };
const spec = preferenceModelSpec({ dModel: 8, heads: 2, dFf: 16, layers: 1 }, VOCAB, widths);

/** Pairs of distinct responses; y1 is preferred when its first token is larger (a rule a tiny model learns partly). */
function pairs(seed: number, n: number): Pair[] {
  const rng = rngFromKey(T.key(seed));
  const tok = () => 4 + Math.floor(rng.next() * (VOCAB - 4));
  return Array.from({ length: n }, () => {
    const y1 = [tok(), tok(), EOS];
    let y2 = [tok(), tok(), EOS];
    while (y2[0] === y1[0]) y2 = [tok(), tok(), EOS];
    return { prompt: [tok(), tok()], y1, y2, preference: y1[0]! > y2[0]! ? 1 : 0, provenance: { task: 't', source: 'synthetic', labeller: 'rule' } };
  });
}
const train: PairDataset = { name: 'train', pairs: pairs(1, 64) };
const held = pairs(2, 24);
const base = (): PreferenceFitOptions => ({ steps: 150, batchSize: 16, lr: 1e-2, warmup: 2, key: T.key(7), backend });

async function hash(tree: unknown): Promise<string> {
  const parts: string[] = [];
  for (const t of T.treeLeaves(tree)) parts.push(Buffer.from((await t.data()).buffer).toString('hex'));
  return parts.join('|');
}
const live = () => T.memory().cpu?.tensors ?? 0;
/**
 * Tensors a fit leaves alive besides the params it returns. Initialising a model leaves a
 * constant number of intermediates behind (in @tandem/nn's initialisers, not in the fit), so
 * a fit is checked against that constant, measured on a one-step fit without validation.
 */
async function leftBehind(run: () => ReturnType<typeof trainPreferenceModel>): Promise<number> {
  const before = live();
  const fit = await run();
  const n = live() - before - T.treeLeaves(fit.params).length;
  T.dispose(fit.params);
  return n;
}

describe('trainPreferenceModel to a plateau', () => {
  it('stops after `patience` evaluations without a strict improvement and returns the params of the FIRST best evaluation', async () => {
    // The held-out accuracy of this fit (every 5 steps) reads 0.71 0.63 0.92 0.88 0.92 0.88 …:
    // the best at step 15, tied at step 25, and three evaluations without a strict improvement.
    const every = 5;
    const patience = 3;
    const o = { ...base(), validation: { pairs: held, every, patience } };
    // Every dropped params tree (the replaced best ones included) and the optimiser state are freed.
    expect(await leftBehind(() => trainPreferenceModel(spec, train, o))).toBe(await leftBehind(() => trainPreferenceModel(spec, train, { ...base(), steps: 1 })));
    const fit = await trainPreferenceModel(spec, train, o);
    const accs = fit.curve.map((c) => c.accuracy);
    // The scenario has teeth: the fit stopped early, and some later evaluation TIED the best
    // (so keeping "≥" instead of ">" would move bestStep), and the last one is not the best.
    expect(fit.stepsTaken).toBeLessThan(150);
    const bestAt = fit.curve.findIndex((c) => c.step === fit.bestStep);
    expect(fit.curve.slice(bestAt + 1).some((c) => c.accuracy === fit.bestAccuracy)).toBe(true);
    expect(fit.bestStep).toBeLessThan(fit.stepsTaken);
    // The rule, re-derived from the curve: best = max, first reached; exactly `patience` evaluations after it.
    expect(fit.bestAccuracy).toBe(Math.max(...accs));
    expect(bestAt).toBe(accs.indexOf(Math.max(...accs)));
    expect(fit.curve.length - 1 - bestAt).toBe(patience);
    expect(fit.stepsTaken).toBe(fit.curve.at(-1)!.step);
    // The returned params: their accuracy, recomputed, is bestAccuracy, and they are bit for bit
    // the params of a plain fit of bestStep steps (not the last params of this fit).
    expect(await preferenceAccuracy(fit.params, spec, held, backend)).toBe(fit.bestAccuracy);
    const plain = await trainPreferenceModel(spec, train, { ...base(), steps: fit.bestStep });
    expect(await hash(fit.params)).toBe(await hash(plain.params));
    const last = await trainPreferenceModel(spec, train, { ...base(), steps: fit.stepsTaken });
    expect(await hash(last.params)).not.toBe(await hash(fit.params));
    T.dispose([fit.params, plain.params, last.params]);
  });

  it('evaluates after every `every`-th step and after the last one; the same inputs give the same bits', async () => {
    const o = { ...base(), steps: 11, validation: { pairs: held, every: 3, patience: 100 } };
    const a = await trainPreferenceModel(spec, train, o);
    expect(a.curve.map((c) => c.step)).toEqual([3, 6, 9, 11]);
    expect(a.stepsTaken).toBe(11);
    for (const c of a.curve) expect(c.accuracy).toBeGreaterThanOrEqual(0);
    const b = await trainPreferenceModel(spec, train, o);
    expect({ ...b, params: await hash(b.params) }).toEqual({ ...a, params: await hash(a.params) });
    T.dispose([a.params, b.params]);
  });

  it('without validation: exactly `steps` steps, the final params, no report', async () => {
    const seen: number[] = [];
    expect(await leftBehind(() => trainPreferenceModel(spec, train, { ...base(), steps: 9 }))).toBe(await leftBehind(() => trainPreferenceModel(spec, train, { ...base(), steps: 1 })));
    const fit = await trainPreferenceModel(spec, train, { ...base(), steps: 9, onStep: (s) => { seen.push(s); } });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect({ ...fit, params: null }).toEqual({ params: null, stepsTaken: 9, bestStep: 9, bestAccuracy: null, curve: [] });
    // The final params: continuing to 10 steps changes them, so they are not an earlier step's.
    const more = await trainPreferenceModel(spec, train, { ...base(), steps: 10 });
    expect(await hash(more.params)).not.toBe(await hash(fit.params));
    T.dispose([fit.params, more.params]);
  });

  it('rejects a validation that cannot be scored or stepped', async () => {
    const same = held.map((p) => ({ ...p, y2: p.y1 }));
    await expect(trainPreferenceModel(spec, train, { ...base(), validation: { pairs: same, every: 1, patience: 1 } })).rejects.toThrow(/distinct/);
    await expect(trainPreferenceModel(spec, train, { ...base(), validation: { pairs: held, every: 0, patience: 1 } })).rejects.toThrow(/every/);
    await expect(trainPreferenceModel(spec, train, { ...base(), validation: { pairs: held, every: 1, patience: 1.5 } })).rejects.toThrow(/patience/);
  });
});

/**
 * The controlled setup of the paper (§3) as composable functions:
 * D_initial → golden model → D_golden → proxy model; SFT on both responses of every
 * pair → π_sft. Each is a pure function of its inputs and key.
 */
import { valueAndGrad } from '@tandem/autodiff';
import { adam, linearWarmup, optimizerStep, type TransformerParams } from '@tandem/nn';
import { dispose, foldIn, tidy, type Backend, type Key, type Tensor } from '@tandem/tensor';
import { padTokens } from './batch.js';
import { sftLoss } from './losses.js';
import { initPolicy, type PolicySpec } from './policy.js';
import {
  initPreferenceModel, predictPreferences, preferenceLoss, type PreferenceModelParams, type PreferenceModelSpec,
} from './preference-model.js';
import { RlhfError } from './errors.js';
import { rngFromKey } from './rng.js';
import type { Pair, PairDataset, Tokens } from './types.js';

/** Options for the supervised fits ({@link trainPreferenceModel}, {@link trainSft}): Adam with linear warm-up on minibatches drawn from the key. */
export interface FitOptions {
  /** Number of optimiser steps. */
  steps: number;
  /** Items per minibatch; minibatches run across epochs, each epoch in a fresh order from the key. */
  batchSize: number;
  /** Peak learning rate (Adam), reached after `warmup` steps of linear warm-up. */
  lr: number;
  /** Steps of linear learning-rate warm-up from 0 to `lr` (default 0). */
  warmup?: number;
  /** Key for the initialisation and the minibatch orders. */
  key: Key;
  /** Where the params and batches live. */
  backend: Backend;
  /** Called every step with the loss (for progress bars). */
  onStep?: (step: number, loss: number) => void | Promise<void>;
}

/** Minibatches of `items` in epoch orders drawn from the key (batches run across epochs). */
function* minibatches<T>(items: readonly T[], batchSize: number, k: Key): Generator<T[]> {
  let epoch = 0;
  let order: number[] = [];
  let pos = 0;
  for (;;) {
    const batch: T[] = [];
    while (batch.length < batchSize) {
      if (pos === order.length) {
        order = rngFromKey(foldIn(k, epoch++)).shuffle(items.map((_, i) => i));
        pos = 0;
      }
      batch.push(items[order[pos++]!]!);
    }
    yield batch;
  }
}

/** Adam with warm-up over a loss of (params, batch); takes ownership of `init` and returns the final params. */
async function fit<P, T>(init: P, items: readonly T[], loss: (p: P, batch: T[]) => Tensor, o: FitOptions): Promise<P> {
  if (items.length === 0) throw new RlhfError('empty-dataset', 'fit: no training data');
  const opt = adam({ lr: linearWarmup({ peak: o.lr, warmupSteps: o.warmup ?? 0 }) });
  let params = init;
  let state = opt.init(params);
  const batches = minibatches(items, o.batchSize, o.key);
  for (let step = 0; step < o.steps; step++) {
    const batch = batches.next().value as T[];
    const [l, p, s] = tidy(() => {
      const [v, g]: [Tensor, P] = valueAndGrad((q: P) => loss(q, batch))(params);
      return [v, ...optimizerStep(opt, g, state, params)] as const;
    });
    dispose([params, state]);
    params = p;
    state = s;
    const lv = await l.item();
    l.dispose();
    await o.onStep?.(step + 1, lv);
  }
  dispose(state);
  return params;
}

/** Accuracy of a preference model's debiased sign rule against the labels of `pairs` (ties count ½). */
export async function preferenceAccuracy(params: PreferenceModelParams, spec: PreferenceModelSpec, pairs: readonly Pair[], backend: Backend, chunk = 256): Promise<number> {
  let correct = 0;
  for (let i = 0; i < pairs.length; i += chunk) {
    const part = pairs.slice(i, i + chunk);
    const pred = await predictPreferences(params, spec, part, backend);
    pred.forEach((v, j) => (correct += v === 0.5 ? 0.5 : v === part[j]!.preference ? 1 : 0));
  }
  return correct / pairs.length;
}

/** Trains a pairwise preference model by maximum likelihood with randomised positions (App. A). */
export async function trainPreferenceModel(spec: PreferenceModelSpec, train: PairDataset, o: FitOptions): Promise<PreferenceModelParams> {
  const [kInit, kData] = [foldIn(o.key, 0), foldIn(o.key, 1)];
  const init = initPreferenceModel(kInit, spec);
  return fit(init, train.pairs, (p, batch) => preferenceLoss(p, spec, batch, o.backend), { ...o, key: kData });
}

/** SFT: maximum likelihood of BOTH responses of every pair (datasets pooled), from a fresh policy. */
export async function trainSft(spec: PolicySpec, data: readonly PairDataset[], o: FitOptions): Promise<TransformerParams> {
  const rows: [Tokens, Tokens][] = data.flatMap((d) => d.pairs.flatMap((p): [Tokens, Tokens][] => [[p.prompt, p.y1], [p.prompt, p.y2]]));
  const init = initPolicy(foldIn(o.key, 0), spec);
  return fit(init, rows, (params, batch) => {
    const x = padTokens(batch.map((r) => r[0]), spec.widths.prompt, o.backend, 'prompt');
    const y = padTokens(batch.map((r) => r[1]), spec.widths.response, o.backend, 'response');
    return sftLoss({ params, spec }, x, y);
  }, { ...o, key: foldIn(o.key, 1) });
}

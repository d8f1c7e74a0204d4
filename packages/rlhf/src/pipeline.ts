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
import { accuracyOf, accuracyScores, distinctPairs, type Verdict } from './evaluators.js';
import { rngFromKey } from './rng.js';
import type { Pair, PairDataset, Tokens } from './types.js';

/**
 * Options for the supervised fits ({@link trainPreferenceModel}, {@link trainSft}): Adam with linear warm-up on minibatches drawn from the key.
 * A preference model may also be trained to a held-out plateau ({@link PreferenceFitOptions}).
 */
export interface FitOptions {
  /** Number of optimiser steps (the maximum, for a preference model fitted with validation). */
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

/** Held-out validation of a fit: score the params every `every` steps, keep the best, stop after `patience` evaluations without a strict improvement. */
interface Validate<P> {
  every: number;
  patience: number;
  score: (params: P) => Promise<number>;
}

/** What {@link fit} returns: the params (the best evaluated ones with validation, else the final ones) and the report. */
interface FitRun<P> {
  params: P;
  stepsTaken: number;
  bestStep: number;
  bestScore: number | null;
  curve: { step: number; score: number }[];
}

/**
 * Adam with warm-up over a loss of (params, batch); takes ownership of `init`. Without
 * `validate`, runs `o.steps` steps and returns the final params. With it, scores the params
 * after every `validate.every`-th step and after the last one, keeps the best-scoring
 * params so far (a later evaluation replaces them only if strictly better: the earliest
 * params reaching the best score are kept), and stops after `validate.patience`
 * consecutive evaluations without a strict improvement, or at `o.steps`. The scoring reads
 * the params and draws nothing, so the trajectory is exactly that of a fit without it.
 */
async function fit<P, T>(init: P, items: readonly T[], loss: (p: P, batch: T[]) => Tensor, o: FitOptions, validate?: Validate<P>): Promise<FitRun<P>> {
  if (items.length === 0) throw new RlhfError('empty-dataset', 'fit: no training data');
  const opt = adam({ lr: linearWarmup({ peak: o.lr, warmupSteps: o.warmup ?? 0 }) });
  let params = init;
  let state = opt.init(params);
  // The best evaluated params are kept alive (not disposed when the next step replaces them);
  // every other params tree is disposed as soon as it is dropped.
  let best: { params: P; step: number; score: number } | undefined;
  let stale = 0;
  const curve: { step: number; score: number }[] = [];
  const batches = minibatches(items, o.batchSize, o.key);
  let step = 0;
  while (step < o.steps) {
    const batch = batches.next().value as T[];
    const [l, p, s] = tidy(() => {
      const [v, g]: [Tensor, P] = valueAndGrad((q: P) => loss(q, batch))(params);
      return [v, ...optimizerStep(opt, g, state, params)] as const;
    });
    dispose(params === best?.params ? state : [params, state]);
    params = p;
    state = s;
    step++;
    const lv = await l.item();
    l.dispose();
    await o.onStep?.(step, lv);
    if (validate && (step % validate.every === 0 || step === o.steps)) {
      const score = await validate.score(params);
      curve.push({ step, score });
      if (best === undefined || score > best.score) {
        if (best) dispose(best.params);
        best = { params, step, score };
        stale = 0;
      } else if (++stale >= validate.patience) {
        break;
      }
    }
  }
  dispose(state);
  if (!validate || best === undefined) return { params, stepsTaken: step, bestStep: step, bestScore: null, curve };
  if (params !== best.params) dispose(params);
  return { params: best.params, stepsTaken: step, bestStep: best.step, bestScore: best.score, curve };
}

/**
 * Accuracy of a preference model's debiased sign rule against the labels of `pairs`, under
 * the package's accuracy rule ({@link accuracyScores}): pairs with identical responses are
 * not counted, a predicted tie counts ½. NaN when no pair is counted.
 */
export async function preferenceAccuracy(params: PreferenceModelParams, spec: PreferenceModelSpec, pairs: readonly Pair[], backend: Backend, chunk = 256): Promise<number> {
  const scores = await accuracyScores(pairs, pairs.map((p) => p.preference), async (counted) => {
    const out: Verdict[] = [];
    for (let i = 0; i < counted.length; i += chunk) out.push(...await predictPreferences(params, spec, counted.slice(i, i + chunk), backend));
    return out;
  });
  return accuracyOf(scores).value;
}

/**
 * Held-out validation of a preference-model fit (paper App. A.3: the preference models are
 * trained until their held-out accuracy plateaus, not for a fixed budget).
 */
export interface PreferenceValidation {
  /** Held-out labelled pairs (at least one with distinct responses); scored with {@link preferenceAccuracy}. */
  readonly pairs: readonly Pair[];
  /** Evaluate after every `every`-th optimiser step (and after the last one); an integer ≥ 1. */
  readonly every: number;
  /** Stop after this many consecutive evaluations without a strict improvement; an integer ≥ 1. */
  readonly patience: number;
}

/** {@link FitOptions} of a preference model: `steps` is the maximum when `validation` is given. */
export interface PreferenceFitOptions extends FitOptions {
  /** Train to a plateau of the held-out accuracy; see {@link trainPreferenceModel}. */
  validation?: PreferenceValidation;
}

/** A fitted preference model and how the fit went. */
export interface PreferenceModelFit {
  /** The returned params: the best evaluated ones with validation, else the final ones. The caller owns them. */
  readonly params: PreferenceModelParams;
  /** Optimiser steps run (`steps`, or fewer when validation stopped the fit). */
  readonly stepsTaken: number;
  /** The step whose params are returned (`stepsTaken` without validation). */
  readonly bestStep: number;
  /** Held-out accuracy of the returned params (null without validation, or with `steps` 0: nothing was evaluated). */
  readonly bestAccuracy: number | null;
  /** Every evaluation, in order: the step and the held-out accuracy after it ([] without validation). */
  readonly curve: readonly { readonly step: number; readonly accuracy: number }[];
}

/**
 * Trains a pairwise preference model by maximum likelihood with randomised positions (App. A).
 *
 * Without `o.validation`: exactly `o.steps` optimiser steps; the final params.
 *
 * With `o.validation` (App. A.3, training to a plateau): after every `every`-th step (and
 * after the last one) the held-out accuracy of the debiased sign rule on `validation.pairs`
 * is measured ({@link preferenceAccuracy}: predicted ties ½, identical pairs not counted).
 * The params with the best accuracy so far are kept; a later evaluation replaces them only
 * if it is STRICTLY better, so among equally accurate params the earliest (least fitted)
 * are kept. Training stops after `patience` consecutive evaluations without a strict
 * improvement, or at `o.steps` (the maximum). The best params are returned; the others are
 * freed. Measuring draws nothing from the key, so the params after step s are those of a
 * fit of s steps without validation, bit for bit: the returned params equal
 * `trainPreferenceModel(spec, train, { ...o, steps: bestStep, validation: undefined })`.
 */
export async function trainPreferenceModel(spec: PreferenceModelSpec, train: PairDataset, o: PreferenceFitOptions): Promise<PreferenceModelFit> {
  const v = o.validation;
  if (v) {
    for (const [name, x] of [['every', v.every], ['patience', v.patience]] as const) {
      if (!Number.isInteger(x) || x < 1) throw new RlhfError('bad-input', `trainPreferenceModel: validation.${name} must be an integer ≥ 1, got ${x}`);
    }
    if (distinctPairs(v.pairs).length === 0) throw new RlhfError('empty-dataset', 'trainPreferenceModel: validation.pairs has no pair with distinct responses');
  }
  const [kInit, kData] = [foldIn(o.key, 0), foldIn(o.key, 1)];
  const init = initPreferenceModel(kInit, spec);
  const run = await fit(init, train.pairs, (p, batch) => preferenceLoss(p, spec, batch, o.backend), { ...o, key: kData },
    v && { every: v.every, patience: v.patience, score: (p) => preferenceAccuracy(p, spec, v.pairs, o.backend) });
  return {
    params: run.params, stepsTaken: run.stepsTaken, bestStep: run.bestStep, bestAccuracy: run.bestScore,
    curve: run.curve.map((c) => ({ step: c.step, accuracy: c.score })),
  };
}

/** SFT: maximum likelihood of BOTH responses of every pair (datasets pooled), from a fresh policy. */
export async function trainSft(spec: PolicySpec, data: readonly PairDataset[], o: FitOptions): Promise<TransformerParams> {
  const rows: [Tokens, Tokens][] = data.flatMap((d) => d.pairs.flatMap((p): [Tokens, Tokens][] => [[p.prompt, p.y1], [p.prompt, p.y2]]));
  const init = initPolicy(foldIn(o.key, 0), spec);
  const run = await fit(init, rows, (params, batch) => {
    const x = padTokens(batch.map((r) => r[0]), spec.widths.prompt, o.backend, 'prompt');
    const y = padTokens(batch.map((r) => r[1]), spec.widths.response, o.backend, 'response');
    return sftLoss({ params, spec }, x, y);
  }, { ...o, key: foldIn(o.key, 1) });
  return run.params;
}

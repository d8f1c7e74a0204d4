/**
 * The training step online and offline runs share: a pure (state, batch) → state.
 * The sampler is the only difference between the two, so training offline on the
 * recorded online stream D_online reproduces the online run bit for bit.
 */
import { valueAndGrad } from '@tandem/autodiff';
import { optimizerStep, type GradientTransformation, type TransformerParams } from '@tandem/nn';
import { dispose, foldIn, tidy, type Backend, type Key, type Tensor } from '@tandem/tensor';
import { pairTensors } from './batch.js';
import type { Loss, LossContext } from './losses.js';
import { pairLogProbs, type PolicySpec } from './policy.js';
import type { Sampler } from './samplers.js';
import type { PairBatch } from './types.js';

/** Everything a run's parameters depend on besides the sampled data. */
export interface TrainState {
  /** The policy params. */
  readonly params: TransformerParams;
  /** The optimiser state (a pytree; its type depends on the setup's optimizer). */
  readonly opt: unknown;
  /** Steps taken so far. */
  readonly step: number;
}

/** The fixed parts of a preference-optimisation run. */
export interface TrainSetup {
  /** The policy architecture and padding widths. */
  spec: PolicySpec;
  /** The preference loss to minimise. */
  loss: Loss;
  /** Regularisation strength β passed to the loss. */
  beta: number;
  /** The optimiser (an optax-style gradient transformation; its state is kept opaque in {@link TrainState}). */
  optimizer: GradientTransformation<unknown>;
  /** The frozen reference policy (π_sft). */
  ref: TransformerParams;
  /** Where the params and batches live. */
  backend: Backend;
}

/** A fresh state at step 0. */
export function initTrainState(setup: TrainSetup, params: TransformerParams): TrainState {
  return { params, opt: setup.optimizer.init(params), step: 0 };
}

/**
 * One optimisation step on one batch. Returns the new state and the loss (a scalar
 * tensor the caller reads and disposes). The input state is not modified; the caller
 * disposes it once it is no longer needed.
 */
export function trainStep(setup: TrainSetup, state: TrainState, batch: PairBatch): [TrainState, Tensor] {
  return tidy(() => {
    const b = pairTensors(batch.pairs, setup.spec.widths, setup.backend);
    let ref: LossContext['ref'];
    if (setup.loss.usesReference) {
      const [rw, rl] = pairLogProbs(setup.ref, setup.spec, b.prompt, b.winner, b.loser);
      ref = { winner: rw, loser: rl };
    }
    const f = (params: TransformerParams) => setup.loss({ params, spec: setup.spec, beta: setup.beta, ref }, b);
    const [loss, grads]: [Tensor, TransformerParams] = valueAndGrad(f)(state.params);
    const [params, opt] = optimizerStep(setup.optimizer, grads, state.opt, state.params);
    return [{ params, opt, step: state.step + 1 }, loss] as [TrainState, Tensor];
  });
}

/** What the loop reports after each step. */
export interface StepInfo {
  /** Steps taken, including this one. */
  step: number;
  /** This step's loss, computed before the update. */
  loss: number;
  /** The batch this step trained on. */
  batch: PairBatch;
  /** The state after this step; the loop disposes it once the next step has been taken. */
  state: TrainState;
}

/** Options for {@link runTraining}. */
export interface RunOptions<S> {
  /** The fixed parts of the run. */
  setup: TrainSetup;
  /** Where the batches come from (the only difference between online and offline runs). */
  sampler: Sampler<S>;
  /** Initial (or resumed) state and sampler state. */
  state: TrainState;
  /** The sampler state to resume from; the sampler's `init` when absent. */
  samplerState?: S;
  /** Run until state.step reaches this. */
  until: number;
  /** The run's key; step t uses foldIn(key, t). */
  key: Key;
  /** Called after every step (metrics, checkpoints, recording). */
  onStep?: (info: StepInfo, samplerState: S) => void | Promise<void>;
}

/**
 * The training loop: sample a batch from the current state, step, repeat. Old states
 * are disposed as the loop moves on; the final state and sampler state are returned.
 */
export async function runTraining<S>(o: RunOptions<S>): Promise<{ state: TrainState; samplerState: S }> {
  let state = o.state;
  let ss = o.samplerState ?? o.sampler.init;
  while (state.step < o.until) {
    const k = foldIn(o.key, state.step);
    const [batch, nextSs] = await o.sampler.next(ss, { step: state.step, params: state.params, key: k, backend: o.setup.backend });
    const [next, lossT] = trainStep(o.setup, state, batch);
    const loss = await lossT.item();
    lossT.dispose();
    if (state !== o.state) dispose([state.params, state.opt]);
    state = next;
    ss = nextSs;
    await o.onStep?.({ step: state.step, loss, batch, state }, ss);
  }
  return { state, samplerState: ss };
}

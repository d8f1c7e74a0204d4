/**
 * Preference losses as values of one type. Contrastive losses are the generalised
 * form L = E[f(β·h)] (Tang et al. 2024, GPO) with the log-ratio margin
 *   h = [log π(y_w|x) − log π_ref(y_w|x)] − [log π(y_l|x) − log π_ref(y_l|x)],
 * where log π(y|x) is the SUM of the response's token log-probs.
 *
 * IPO uses f(z) = (z − ½)², i.e. E[(β·h − ½)²]. The paper's main-text Eq. 1 writes
 * (h − β/2)², which contradicts its own statement that a larger β regularises more;
 * its App. B and Azar et al. (2023) agree with (β·h − ½)² (same minimiser as
 * (h − 1/(2β))²). See docs/decisions/ipo-form.md.
 */
import { sequenceLogProb, type TransformerParams } from '@tandem/nn';
import { maximum, mean, mul, neg, square, sub, type Tensor } from '@tandem/tensor';
import type { PairTensors } from './batch.js';
import { RlhfError } from './errors.js';
import { pairLogProbs, type PolicySpec } from './policy.js';
import { softplus } from './preference-model.js';

/** What a loss sees: the policy being trained and the frozen reference log-probs. */
export interface LossContext {
  /** The policy being trained (the loss is differentiated with respect to these). */
  params: TransformerParams;
  /** The policy architecture and padding widths. */
  spec: PolicySpec;
  /** Regularisation strength β. */
  beta: number;
  /** Summed reference log-probs of winners and losers, [B] each (no gradient). Absent for losses that do not use them. */
  ref?: { winner: Tensor; loser: Tensor };
}

/** A loss: a pure function of the context and a batch, returning a scalar. */
export interface Loss {
  /** Computes the scalar loss of `batch` under `ctx`. */
  (ctx: LossContext, batch: PairTensors): Tensor;
  /** The loss's name, e.g. 'ipo', 'dpo', 'slic', 'bo2' (not `name`: a function's own `name` is read-only). */
  readonly lossName: string;
  /** Whether the training step must compute reference log-probs for it. */
  readonly usesReference: boolean;
}

function makeLoss(name: string, usesReference: boolean, f: (ctx: LossContext, b: PairTensors) => Tensor): Loss {
  return Object.assign(f, { lossName: name, usesReference }) as Loss;
}

/** The log-ratio margin h, [B]. */
export function margin(ctx: LossContext, b: PairTensors): Tensor {
  if (!ctx.ref) throw new RlhfError('bad-input', 'margin: this loss needs reference log-probs (ctx.ref)');
  const [lw, ll] = pairLogProbs(ctx.params, ctx.spec, b.prompt, b.winner, b.loser);
  return sub(sub(lw, ctx.ref.winner), sub(ll, ctx.ref.loser));
}

/** The generalised contrastive loss E[f(β·h)] for a convex f. */
export function gpo(name: string, f: (z: Tensor) => Tensor): Loss {
  return makeLoss(name, true, (ctx, b) => mean(f(mul(margin(ctx, b), ctx.beta))));
}

/** IPO: E[(β·h − ½)²]; its gradient vanishes at β·h = ½. */
export const ipo: Loss = gpo('ipo', (z) => square(sub(z, 0.5)));
/** DPO: E[−log σ(β·h)] = E[softplus(−β·h)]. */
export const dpo: Loss = gpo('dpo', (z) => softplus(neg(z)));
/** SLiC (hinge): E[max(0, 1 − β·h)]. */
export const slic: Loss = gpo('slic', (z) => maximum(sub(1, z), 0));

/**
 * Best-of-2 (non-contrastive): SFT on the winner of each pair, E[−log π(y_w|x)].
 * It ignores β and the reference.
 */
export const bo2: Loss = makeLoss('bo2', false, (ctx, b) => sftLoss(ctx, b.prompt, b.winner));

/** Supervised fine-tuning loss on (prompt, response) rows: E[−log π(y|x)] with summed token log-probs. */
export function sftLoss(ctx: Pick<LossContext, 'params' | 'spec'>, prompt: PairTensors['prompt'], response: PairTensors['winner']): Tensor {
  const lp = sequenceLogProb(ctx.params, ctx.spec.cfg, prompt.ids, response.ids, { srcMask: prompt.mask, tgtMask: response.mask });
  return neg(mean(lp));
}

/** Losses by name, for configs. */
export const LOSSES: Record<string, Loss> = { ipo, dpo, slic, bo2 };

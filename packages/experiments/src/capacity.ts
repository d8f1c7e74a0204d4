/**
 * What a data config provides, computed before any run starts, so configs can be
 * checked against it: D_initial's training pairs, its held-out pairs and its distinct
 * training prompts. D_initial and its split are pure functions of (task, seed,
 * initialPairs, heldOutFraction) and cheap to draw (≈ 0.2 s for 8,000 pairs); this
 * draws them exactly as the data run does (runs/setup.ts `dataRun`) and counts the
 * prompts exactly as `trainingPrompts` (runs/train.ts) de-duplicates them.
 */
import { getTask, initialDataset, splitDataset } from '@tandem/rlhf';
import { foldIn, key } from '@tandem/tensor';

/** The sizes a data config yields. */
export interface DataCapacity {
  /** Pairs of D_initial's training part (also D_golden's size). */
  readonly trainPairs: number;
  /** Pairs held out for accuracies. */
  readonly heldOutPairs: number;
  /** Distinct prompts of the training part: what online sampling, KL and win rates draw from. */
  readonly prompts: number;
}

const memo = new Map<string, DataCapacity>();

/** The capacity of a (valid) data config; memoised per (task, seed, initialPairs, heldOutFraction). */
export function dataCapacity(d: { task: string; seed: number; initialPairs: number; heldOutFraction: number }): DataCapacity {
  const id = `${d.task}|${d.seed}|${d.initialPairs}|${d.heldOutFraction}`;
  let c = memo.get(id);
  if (!c) {
    const k = key(d.seed);
    const all = initialDataset(getTask(d.task), { size: d.initialPairs, key: foldIn(k, 1) });
    const [train, heldOut] = splitDataset(all, 1 - d.heldOutFraction, foldIn(k, 2));
    const prompts = new Set(train.pairs.map((p) => p.prompt.join(','))).size;
    c = { trainPairs: train.pairs.length, heldOutPairs: heldOut.pairs.length, prompts };
    memo.set(id, c);
  }
  return c;
}

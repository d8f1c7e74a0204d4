/**
 * D_initial and its held-out split as one pure function of a data config, shared by the
 * data run, the pooled SFT of the setup runs and the config checks; and what a data config
 * provides, computed before any run starts so configs can be checked against it: the
 * training pairs, the held-out pairs and the distinct training prompts.
 */
import { fnv1a, getTask, initialDataset, splitDataset, type PairDataset } from '@tandem/rlhf';
import { foldIn, key } from '@tandem/tensor';

/** The fields of a data config that D_initial depends on (its golden model and replicate do not matter). */
export interface InitialDataSpec {
  task: string;
  seed: number;
  initialPairs: number;
  heldOutFraction: number;
  coverage: 'suboptimal' | 'covered';
}

/**
 * D_initial of `task` (default: the config's own) split into training and held-out pairs.
 * Each task's pairs derive from foldIn(key(seed, 1), fnv1a(task)), as in rlhf's
 * pooledInitialDataset, so the task's own D_initial is exactly its part of the four-task
 * pool the SFT policy learns from; the split derives from foldIn(key(seed), 2).
 */
export function initialSplit(d: InitialDataSpec, task: string = d.task): [train: PairDataset, heldOut: PairDataset] {
  const k = key(d.seed);
  const all = initialDataset(getTask(task), { size: d.initialPairs, key: foldIn(foldIn(k, 1), fnv1a(task)), coverage: d.coverage });
  return splitDataset(all, 1 - d.heldOutFraction, foldIn(k, 2));
}

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

/** The capacity of a (valid) data config, drawn exactly as the data run draws it; memoised per D_initial. */
export function dataCapacity(d: InitialDataSpec): DataCapacity {
  const id = `${d.task}|${d.seed}|${d.initialPairs}|${d.heldOutFraction}|${d.coverage}`;
  let c = memo.get(id);
  if (!c) {
    const [train, heldOut] = initialSplit(d);
    const prompts = new Set(train.pairs.map((p) => p.prompt.join(','))).size;
    c = { trainPairs: train.pairs.length, heldOutPairs: heldOut.pairs.length, prompts };
    memo.set(id, c);
  }
  return c;
}

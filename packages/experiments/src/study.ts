/**
 * The run configs of the study, derived from a StudyConfig. Figures share runs
 * (the online IPO run appears in fig1, fig4, fig6…); since runs are content-
 * addressed, a shared run is computed once and then read from the store.
 */
import type { Coverage, LossName, ShuffleWindow, SizeName, StudyConfig, TaskName } from './config.js';
import { chain, pipe, type Program } from './program.js';
import { jobGraph, runJobsInOrder } from './jobs.js';
import type { SetupRunConfig } from './runs/setup.js';
import { trainRun, type DatasetRef, type TrainResult, type TrainRunConfig } from './runs/train.js';
import type { RunOutcome } from './runs/cache.js';

/** Where a run sits in the study: its task, D_initial's coverage and the replicate (defaults: the study's `data`). */
export interface Cell {
  /** The task (default: `data.task`). */
  task?: TaskName;
  /** D_initial's behaviour mixture (default: `data.coverage`); 'covered' is the "optimum covered" ablation. */
  coverage?: Coverage;
  /** The replicate, 0 … seeds − 1 (default: `data.replicate`): it re-draws everything downstream of D_initial. */
  replicate?: number;
}

/** The setup run config of a study, at model size `size` (the study's own by default) in `cell`. */
export function setupOf(s: StudyConfig, size: SizeName = s.setup.size, cell: Cell = {}): SetupRunConfig {
  return {
    data: { ...s.data, task: cell.task ?? s.data.task, coverage: cell.coverage ?? s.data.coverage, replicate: cell.replicate ?? s.data.replicate },
    setup: { ...s.setup, size },
  };
}

/** Run seeds of replicate r: base + 10·r, so replicates never share a run key. */
const seedOf = (base: number, cell: Cell, s: StudyConfig) => base + 10 * (cell.replicate ?? s.data.replicate);

/** The golden policy baseline: online IPO labelled by the golden model (docs/paper.md §3.6). */
export function baselineOf(s: StudyConfig, size: SizeName = s.setup.size, cell: Cell = {}): TrainRunConfig {
  return {
    setup: setupOf(s, size, cell), method: { kind: 'online', labeller: 'golden' }, loss: 'ipo', hyper: s.baseline, seed: seedOf(1000, cell, s),
    eval: s.eval, keepSteps: [],
  };
}

/** Per-run overrides of the study's defaults, for {@link onlineOf} and {@link offlineOf}. */
export interface RunOptions extends Cell {
  /** The preference loss (default 'ipo'). */
  loss?: LossName;
  /** Policy and proxy model size (default: the study's setup size). */
  size?: SizeName;
  /** Learning rate (default: the study's `train.lr`). */
  lr?: number;
  /** Regularisation strength β (default: the study's `train.beta`). */
  beta?: number;
  /** Training steps (default: the study's `train.steps`). */
  steps?: number;
  /** Run seed (default 1 for online runs, 2 for offline ones, plus 10 per replicate). */
  seed?: number;
}

/**
 * The run's hyper-parameters. A run k times the online length evaluates and checkpoints
 * k times less often, so every run has the same number of evaluations.
 */
function hyper(s: StudyConfig, o: RunOptions) {
  const steps = o.steps ?? s.train.steps;
  const k = Math.max(1, Math.round(steps / s.train.steps));
  return { ...s.train, lr: o.lr ?? s.train.lr, beta: o.beta ?? s.train.beta, steps, checkpointEvery: s.train.checkpointEvery * k };
}

/** The evaluation of a run of `steps` steps (see {@link hyper}) against the baseline of its size and cell. */
function evalOf(s: StudyConfig, o: RunOptions, size: SizeName) {
  const k = Math.max(1, Math.round((o.steps ?? s.train.steps) / s.train.steps));
  return { ...s.eval, every: s.eval.every * k, baseline: baselineOf(s, size, o) };
}

/** Online preference optimisation labelled by the proxy model. */
export function onlineOf(s: StudyConfig, o: RunOptions = {}): TrainRunConfig {
  const size = o.size ?? s.setup.size;
  const keep = [s.datasetCheckpoints.early, s.datasetCheckpoints.late].filter((k) => k <= (o.steps ?? s.train.steps));
  return {
    setup: setupOf(s, size, o), method: { kind: 'online', labeller: 'proxy' }, loss: o.loss ?? 'ipo', hyper: hyper(s, o), seed: o.seed ?? seedOf(1, o, s),
    eval: evalOf(s, o, size), keepSteps: keep,
  };
}

/** Offline preference optimisation on a dataset (D_golden by default). */
export function offlineOf(s: StudyConfig, o: RunOptions & { dataset?: DatasetRef } = {}): TrainRunConfig {
  const size = o.size ?? s.setup.size;
  return {
    setup: setupOf(s, size, o), method: { kind: 'offline', dataset: o.dataset ?? { kind: 'golden' } }, loss: o.loss ?? 'ipo', hyper: hyper(s, o),
    seed: o.seed ?? seedOf(2, o, s), eval: evalOf(s, o, size), keepSteps: [],
  };
}

/**
 * The offline grid of a cell (Fig. 1's pooled sweep): every learning rate × β at the first
 * length of `offlineSweep.steps` (the online length), and every learning rate × `longBetas`
 * at the longer lengths (`onlineLengthOnly`: the first length only, as Fig. 10 pools it).
 */
export function offlineGrid(s: StudyConfig, o: Omit<RunOptions, 'lr' | 'beta' | 'steps'> & { onlineLengthOnly?: boolean } = {}): TrainRunConfig[] {
  const { lrs, betas, steps, longBetas } = s.offlineSweep;
  const { onlineLengthOnly, ...cell } = o;
  return steps.slice(0, onlineLengthOnly ? 1 : steps.length)
    .flatMap((n, i) => lrs.flatMap((lr) => (i === 0 ? betas : longBetas).map((beta) => offlineOf(s, { ...cell, lr, beta, steps: n }))));
}

/** Offline training on a recorded online stream, in order (window 1) or shuffled within windows; at the source's learning rate and β unless given (Fig. 4 pools the shuffled stream over the offline grid). */
export function replayOf(s: StudyConfig, source: TrainRunConfig, window: ShuffleWindow, o: { lr?: number; beta?: number } = {}): TrainRunConfig {
  return {
    setup: source.setup, method: { kind: 'replay', source, window, shuffleSeed: 7 }, loss: source.loss,
    hyper: { ...source.hyper, lr: o.lr ?? source.hyper.lr, beta: o.beta ?? source.hyper.beta },
    seed: source.seed, eval: source.eval, keepSteps: [],
  };
}

/** D_{a vs b} from the SFT policy and the online run's kept checkpoints. */
export function versusDatasets(s: StudyConfig, online: TrainRunConfig): Extract<DatasetRef, { kind: 'versus' }>[] {
  const { early, late } = s.datasetCheckpoints;
  const pairs = s.data.initialPairs;
  const ck = (step: number) => ({ kind: 'checkpoint' as const, run: online, step });
  return [
    { kind: 'versus', name: `D_sft-vs-${early}`, a: { kind: 'sft' }, b: ck(early), pairs },
    { kind: 'versus', name: `D_${early}-vs-${late}`, a: ck(early), b: ck(late), pairs },
    { kind: 'versus', name: `D_${late}-vs-${late}`, a: ck(late), b: ck(late), pairs },
  ];
}

/** A training run with everything it depends on, in graph order (each a cache hit when already done). */
export function ensureRun(c: TrainRunConfig): Program<RunOutcome<TrainResult>> {
  return pipe(runJobsInOrder(jobGraph([c])), chain(() => trainRun(c)));
}

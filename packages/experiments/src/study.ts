/**
 * The run configs of the study, derived from a StudyConfig. Figures share runs
 * (the online IPO run appears in fig1, fig4, fig6…); since runs are content-
 * addressed, a shared run is computed once and then read from the store.
 */
import type { LossName, ShuffleWindow, SizeName, StudyConfig } from './config.js';
import { chain, pipe, type Program } from './program.js';
import { datasetRun } from './runs/dataset.js';
import { dataRun, setupRun, type SetupRunConfig } from './runs/setup.js';
import { trainRun, type DatasetRef, type TrainResult, type TrainRunConfig } from './runs/train.js';
import type { RunOutcome } from './runs/cache.js';

/** The setup run config of a study, at model size `size` (the study's own by default). */
export function setupOf(s: StudyConfig, size: SizeName = s.setup.size): SetupRunConfig {
  return { data: s.data, setup: { ...s.setup, size } };
}

/** The golden policy baseline: online IPO labelled by the golden model (docs/paper.md §3.6). */
export function baselineOf(s: StudyConfig, size: SizeName = s.setup.size): TrainRunConfig {
  return {
    setup: setupOf(s, size), method: { kind: 'online', labeller: 'golden' }, loss: 'ipo', hyper: s.baseline, seed: 1000,
    eval: s.eval, keepSteps: [],
  };
}

/** Per-run overrides of the study's defaults, for {@link onlineOf} and {@link offlineOf}. */
export interface RunOptions {
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
  /** Run seed (default 1 for online runs, 2 for offline ones). */
  seed?: number;
}

function hyper(s: StudyConfig, o: RunOptions) {
  return { ...s.train, lr: o.lr ?? s.train.lr, beta: o.beta ?? s.train.beta, steps: o.steps ?? s.train.steps };
}

/** Online preference optimisation labelled by the proxy model. */
export function onlineOf(s: StudyConfig, o: RunOptions = {}): TrainRunConfig {
  const size = o.size ?? s.setup.size;
  const keep = [s.datasetCheckpoints.early, s.datasetCheckpoints.late].filter((k) => k <= (o.steps ?? s.train.steps));
  return {
    setup: setupOf(s, size), method: { kind: 'online', labeller: 'proxy' }, loss: o.loss ?? 'ipo', hyper: hyper(s, o), seed: o.seed ?? 1,
    eval: { ...s.eval, baseline: baselineOf(s, size) }, keepSteps: keep,
  };
}

/** Offline preference optimisation on a dataset (D_golden by default). */
export function offlineOf(s: StudyConfig, o: RunOptions & { dataset?: DatasetRef } = {}): TrainRunConfig {
  const size = o.size ?? s.setup.size;
  return {
    setup: setupOf(s, size), method: { kind: 'offline', dataset: o.dataset ?? { kind: 'golden' } }, loss: o.loss ?? 'ipo', hyper: hyper(s, o),
    seed: o.seed ?? 2, eval: { ...s.eval, baseline: baselineOf(s, size) }, keepSteps: [],
  };
}

/** Offline training on a recorded online stream, in order (window 1) or shuffled within windows. */
export function replayOf(s: StudyConfig, source: TrainRunConfig, window: ShuffleWindow): TrainRunConfig {
  return {
    setup: source.setup, method: { kind: 'replay', source, window, shuffleSeed: 7 }, loss: source.loss, hyper: source.hyper,
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

/** Everything a training run needs first: data, setup, and (unless it is one) the baseline. */
export function prerequisites(c: TrainRunConfig): Program<unknown>[] {
  const ps: Program<unknown>[] = [dataRun(c.setup.data), setupRun(c.setup)];
  if (c.eval.baseline) ps.push(...prerequisites(c.eval.baseline), trainRun(c.eval.baseline));
  const m = c.method;
  if (m.kind === 'replay') ps.push(...prerequisites(m.source), trainRun(m.source));
  if (m.kind === 'offline' && m.dataset.kind === 'versus') {
    for (const side of [m.dataset.a, m.dataset.b]) if (side.kind === 'checkpoint') ps.push(...prerequisites(side.run), trainRun(side.run));
    ps.push(datasetRun(m.dataset, c.setup));
  }
  return ps;
}

/** A training run with everything it depends on (each a cache hit when already done). */
export function ensureRun(c: TrainRunConfig): Program<RunOutcome<TrainResult>> {
  return prerequisites(c).reduceRight<Program<RunOutcome<TrainResult>>>(
    (next, p) => pipe(p, chain(() => next)),
    trainRun(c),
  );
}

/**
 * Sweeps: a named set of run configs whose results land in the run store. Each
 * run is a pure config → result with a content-addressed id, so a sweep can run
 * sequentially, on a local pool of worker processes, or on a BullMQ queue served
 * by workers on many machines — with bit-identical results.
 */
import type { StudyConfig } from './config.js';

import { jobGraph, runJobsInOrder, type JobGraph } from './jobs.js';
import { chain, fromAsync, pipe, storeError, type Program } from './program.js';
import { idOf, readResult } from './runs/cache.js';
import { TrainResultCodec, type TrainResult, type TrainRunConfig } from './runs/train.js';
import { offlineGrid, offlineOf, onlineOf, replayOf } from './study.js';

export interface Sweep {
  name: string;
  runs: TrainRunConfig[];
}

/** The sweeps the CLI knows, built from a study config. */
export const SWEEPS: Record<string, { description: string; build: (s: StudyConfig) => Sweep }> = {
  offline: { description: 'offline IPO over the learning-rate × β × steps grid (Fig. 1)', build: (s) => ({ name: 'offline', runs: offlineGrid(s) }) },
  shuffle: { description: 'replays of D_online at every shuffle window (Fig. 13)', build: (s) => ({ name: 'shuffle', runs: s.shuffleWindows.map((w) => replayOf(s, onlineOf(s), w)) }) },
  losses: { description: 'online and offline runs of every loss (IPO, DPO, SLiC, Bo2)', build: (s) => ({ name: 'losses', runs: (['ipo', 'dpo', 'slic', 'bo2'] as const).flatMap((loss) => [onlineOf(s, { loss }), offlineOf(s, { loss })]) }) },
  sizes: { description: 'online and offline IPO at every policy size (Fig. 10)', build: (s) => ({ name: 'sizes', runs: s.sizes.flatMap((size) => [onlineOf(s, { size }), offlineOf(s, { size })]) }) },
};

/**
 * How a job graph (jobs.ts) is executed; `targets` are the indices of the jobs asked for
 * (the rest are what they depend on). The default runs every job in graph order in this
 * process; the local pool runs the graph on worker processes; the queue runs the
 * dependencies here and distributes the targets.
 */
export type Executor = (g: JobGraph, targets: readonly number[]) => Program<void>;

export const sequentialExecutor: Executor = (g) => runJobsInOrder(g);

/**
 * Runs a sweep: its job graph (data, SFT, setup, baselines, sources — shared and
 * cached — and the sweep's own runs) with `executor`; returns each run's result,
 * read back from the store.
 */
export function runSweep(sweep: Sweep, executor: Executor = sequentialExecutor): Program<{ id: string; config: TrainRunConfig; result: TrainResult }[]> {
  const graph = jobGraph(sweep.runs);
  return pipe(
    executor(graph, graph.targets),
    chain(() => fromAsync(async (env) => Promise.all(sweep.runs.map(async (config) => {
      const id = idOf(env, 'train', config);
      const result = await readResult(env, id, TrainResultCodec);
      if (!result) throw storeError(`sweep ${sweep.name}: ${env.store.location(id)}/result.json is missing after execution; rerun the sweep to compute it`);
      return { id, config, result };
    })))),
  );
}

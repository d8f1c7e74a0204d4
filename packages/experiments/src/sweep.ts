/**
 * Sweeps: a named set of run configs whose results land in the run store. Each
 * run is a pure config → result with a content-addressed id, so a sweep can run
 * sequentially, on a local pool of worker processes, or on a BullMQ queue served
 * by workers on many machines — with bit-identical results.
 */
import type { StudyConfig } from './config.js';
import { offlineSweep } from './figures/fig1.js';
import { chain, fromAsync, map, pipe, sequence, storeError, type Program } from './program.js';
import { idOf, readResult } from './runs/cache.js';
import { TrainResultCodec, trainRun, type TrainResult, type TrainRunConfig } from './runs/train.js';
import { offlineOf, onlineOf, prerequisites, replayOf } from './study.js';

export interface Sweep {
  name: string;
  runs: TrainRunConfig[];
}

/** The sweeps the CLI knows, built from a study config. */
export const SWEEPS: Record<string, { description: string; build: (s: StudyConfig) => Sweep }> = {
  offline: { description: 'offline IPO over the learning-rate × β × steps grid (Fig. 1)', build: (s) => ({ name: 'offline', runs: offlineSweep(s) }) },
  shuffle: { description: 'replays of D_online at every shuffle window (Fig. 13)', build: (s) => ({ name: 'shuffle', runs: s.shuffleWindows.map((w) => replayOf(s, onlineOf(s), w)) }) },
  losses: { description: 'online and offline runs of every loss (IPO, DPO, SLiC, Bo2)', build: (s) => ({ name: 'losses', runs: (['ipo', 'dpo', 'slic', 'bo2'] as const).flatMap((loss) => [onlineOf(s, { loss }), offlineOf(s, { loss })]) }) },
  sizes: { description: 'online and offline IPO at every policy size (Fig. 10)', build: (s) => ({ name: 'sizes', runs: s.sizes.flatMap((size) => [onlineOf(s, { size }), offlineOf(s, { size })]) }) },
};

/**
 * How a sweep's runs are executed once their prerequisites exist. The default runs
 * them one after another in this process; the pool and the queue distribute them.
 */
export type Executor = (runs: readonly TrainRunConfig[]) => Program<void>;

export const sequentialExecutor: Executor = (runs) => pipe(sequence(runs.map((c) => trainRun(c))), map(() => undefined));

/**
 * Runs a sweep: prerequisites first (data, setup, baselines, sources — shared and
 * cached), then the sweep's own runs with `executor`; returns each run's result,
 * read back from the store.
 */
export function runSweep(sweep: Sweep, executor: Executor = sequentialExecutor): Program<{ id: string; config: TrainRunConfig; result: TrainResult }[]> {
  const prereqs = sweep.runs.flatMap((c) => prerequisites(c));
  return pipe(
    sequence(prereqs),
    chain(() => executor(sweep.runs)),
    chain(() => fromAsync(async (env) => Promise.all(sweep.runs.map(async (config) => {
      const id = idOf(env, 'train', config);
      const result = await readResult(env, id, TrainResultCodec);
      if (!result) throw storeError(`sweep ${sweep.name}: ${env.store.location(id)}/result.json is missing after execution; rerun the sweep to compute it`);
      return { id, config, result };
    })))),
  );
}

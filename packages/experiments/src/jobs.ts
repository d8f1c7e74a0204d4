/**
 * The study as a graph of jobs. Every cached run (data, pooled SFT, proxy setup,
 * D_{a vs b} dataset, training run) is a job; a job depends on the jobs whose stored
 * artifacts it reads. The graph is what executors schedule: the sequential executor runs
 * it in order, the local pool starts every job whose dependencies are done on the next
 * free worker, so both cores stay busy from the first data run to the last replay.
 */
import * as RTE from 'fp-ts/lib/ReaderTaskEither.js';
import type { DataConfig } from './config.js';
import { runId } from './hash.js';
import { chain, map, pipe, type Program } from './program.js';
import { datasetRun } from './runs/dataset.js';
import { dataRun, setupRun, sftOf, sftRun, type SetupRunConfig, type SftRunConfig } from './runs/setup.js';
import { describeRun, trainRun, type DatasetRef, type TrainRunConfig } from './runs/train.js';

/** One cached run of the study, by kind. */
export type Job =
  | { kind: 'data'; config: DataConfig }
  | { kind: 'sft'; config: SftRunConfig }
  | { kind: 'setup'; config: SetupRunConfig }
  | { kind: 'dataset'; config: { ref: Extract<DatasetRef, { kind: 'versus' }>; setup: SetupRunConfig } }
  | { kind: 'train'; config: TrainRunConfig };

/** The program of a job (its cached run). */
export function jobProgram(job: Job): Program<unknown> {
  switch (job.kind) {
    case 'data': return dataRun(job.config);
    case 'sft': return sftRun(job.config);
    case 'setup': return setupRun(job.config);
    case 'dataset': return datasetRun(job.config.ref, job.config.setup);
    case 'train': return trainRun(job.config);
  }
}

/** A short label for progress lines and errors. */
export function describeJob(job: Job): string {
  switch (job.kind) {
    case 'data': return `data ${job.config.task} (${job.config.coverage}, replicate ${job.config.replicate})`;
    case 'sft': return `SFT ${job.config.size} (${job.config.coverage}, replicate ${job.config.replicate})`;
    case 'setup': return `proxy ${job.config.setup.size} ${job.config.data.task} (${job.config.data.coverage}, replicate ${job.config.data.replicate})`;
    case 'dataset': return `dataset ${job.config.ref.name}`;
    case 'train': return describeRun(job.config);
  }
}

/** Jobs in an order where every job comes after its dependencies, and each job's dependencies (indices into `jobs`). */
export interface JobGraph {
  jobs: Job[];
  deps: number[][];
}

/** The key that identifies a job independent of the code version (equal configs, one job). */
const jobKey = (job: Job) => runId(job.kind, job.config, '');

/**
 * The graph of everything `runs` need, each job once: data, SFT and setup runs, baselines,
 * replay sources, dataset sides and datasets, then the runs themselves; `targets` are the
 * indices of `runs` in it (what was asked for, as against what it depends on).
 */
export function jobGraph(runs: readonly TrainRunConfig[]): JobGraph & { targets: number[] } {
  const jobs: Job[] = [];
  const deps: number[][] = [];
  const index = new Map<string, number>();
  const add = (job: Job, on: number[]): number => {
    const k = jobKey(job);
    const known = index.get(k);
    if (known !== undefined) return known;
    jobs.push(job);
    deps.push([...new Set(on)]);
    index.set(k, jobs.length - 1);
    return jobs.length - 1;
  };
  const setupJobs = (s: SetupRunConfig): number[] => {
    const data = add({ kind: 'data', config: s.data }, []);
    const sft = add({ kind: 'sft', config: sftOf(s) }, []);
    return [data, sft, add({ kind: 'setup', config: s }, [data])];
  };
  const train = (c: TrainRunConfig): number => {
    const on = setupJobs(c.setup);
    if (c.eval.baseline) on.push(train(c.eval.baseline));
    const m = c.method;
    if (m.kind === 'replay') on.push(train(m.source));
    if (m.kind === 'offline' && m.dataset.kind === 'versus') {
      const sides = [m.dataset.a, m.dataset.b].flatMap((side) => (side.kind === 'checkpoint' ? [train(side.run)] : []));
      on.push(add({ kind: 'dataset', config: { ref: m.dataset, setup: c.setup } }, [...setupJobs(c.setup), ...sides]));
    }
    return add({ kind: 'train', config: c }, on);
  };
  const targets = runs.map(train);
  return { jobs, deps, targets };
}

/** Runs a job graph's jobs one after another in this process, in graph order. */
export function runJobsInOrder(g: JobGraph): Program<void> {
  return g.jobs.reduce<Program<void>>((acc, job) => pipe(acc, chain(() => pipe(jobProgram(job), map(() => undefined)))), RTE.right(undefined));
}

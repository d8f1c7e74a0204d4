/**
 * The job graph the pool schedules: every job once, after everything it reads. A job started
 * before one of its dependencies would read a missing artifact (or, worse, one from a
 * half-finished run), so each dependency kind is checked against the config that implies it.
 */
import { describe, expect, it } from 'vitest';
import { FIGURES, SMOKE, jobGraph, runId, sftOf, type Job, type TrainRunConfig } from '../src/index.js';

const key = (j: Job) => runId(j.kind, j.config, '');

describe('jobGraph', () => {
  const runs: TrainRunConfig[] = FIGURES.flatMap((f) => f.runs(SMOKE));
  const g = jobGraph(runs);
  const index = new Map(g.jobs.map((j, i) => [key(j), i]));
  const at = (kind: Job['kind'], config: unknown) => index.get(runId(kind, config, ''));

  it('holds every run of every figure once, each job once', () => {
    expect(new Set(g.jobs.map(key)).size).toBe(g.jobs.length);
    for (const c of runs) expect(at('train', c)).toBeDefined();
    expect(g.deps.length).toBe(g.jobs.length);
  });

  it('puts every job after its dependencies, and each dependency the config implies is listed', () => {
    g.jobs.forEach((job, i) => {
      for (const d of g.deps[i]!) expect(d).toBeLessThan(i);
      const needs = (kind: Job['kind'], config: unknown) => expect(g.deps[i]).toContain(at(kind, config));
      if (job.kind === 'setup') needs('data', job.config.data);
      if (job.kind === 'dataset') {
        for (const side of [job.config.ref.a, job.config.ref.b]) if (side.kind === 'checkpoint') needs('train', side.run);
        needs('sft', sftOf(job.config.setup));
      }
      if (job.kind === 'train') {
        const c = job.config;
        needs('data', c.setup.data);
        needs('sft', sftOf(c.setup));
        needs('setup', c.setup);
        if (c.eval.baseline) needs('train', c.eval.baseline);
        if (c.method.kind === 'replay') needs('train', c.method.source);
        if (c.method.kind === 'offline' && c.method.dataset.kind === 'versus') needs('dataset', { ref: c.method.dataset, setup: c.setup });
      }
    });
  });

  it('shares one pooled SFT run between the tasks of a replicate and coverage, and not across them', () => {
    const sfts = g.jobs.filter((j): j is Extract<Job, { kind: 'sft' }> => j.kind === 'sft');
    const cells = new Set(sfts.map((j) => `${j.config.coverage}/${j.config.replicate}/${j.config.size}`));
    expect(cells.size).toBe(sfts.length);
    // SMOKE: two replicates of the default task in both regimes, one size: four SFT runs, though two tasks run.
    expect(sfts.length).toBe(2 * SMOKE.seeds);
  });
});

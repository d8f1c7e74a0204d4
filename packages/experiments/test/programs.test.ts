/** Experiment programs under the in-memory interpreter: configs, caching, figures end to end. */
import { describe, expect, it } from 'vitest';
import * as E from 'fp-ts/lib/Either.js';
import { decodeCheckpoint, encodeCheckpoint } from '@tandem/nn';
import { dispose } from '@tandem/tensor';
import {
  ExperimentError, FIGURES, SMOKE, StudyConfig, TrainRunStateCodec, decodeWith, deepMerge, ensureRun, idOf, memoryEnv, onlineOf, readMetricRecords,
  runExperiment, runOrThrow, trainRun, experimentByName, run,
} from '../src/index.js';

describe('configs', () => {
  it('every preset decodes', () => {
    expect(E.isRight(decodeWith(StudyConfig, SMOKE, 'smoke'))).toBe(true);
  });
  it('a bad config is rejected with every failing path listed', () => {
    const bad = deepMerge(SMOKE, { train: { lr: -1, steps: 2.5 }, data: { task: 'poetry', golden: { mode: 'oracle' } }, eval: { every: 0 }, sizes: ['huge'], extra: 1 });
    const r = decodeWith(StudyConfig, bad, 'config');
    expect(E.isLeft(r)).toBe(true);
    if (E.isLeft(r)) {
      expect(r.left.code).toBe('ConfigError');
      const text = r.left.message;
      for (const path of ['train.lr', 'train.steps', 'data.task', 'data.golden', 'eval.every', 'sizes.0']) expect(text).toContain(path);
      expect(text).toMatch(/expected a positive number, got -1/);
    }
  });
  it('an unknown key is an error, not silently dropped', () => {
    const r = decodeWith(StudyConfig, deepMerge(SMOKE, { train: { learningRate: 1 } }), 'config');
    expect(E.isLeft(r) && r.left.message).toMatch(/train\.learningRate: unknown key/);
  });
});

describe('programs in memory', () => {
  it('a finished run is a cache hit and is not recomputed', async () => {
    const env = memoryEnv();
    const c = onlineOf(SMOKE);
    const first = await runOrThrow(ensureRun(c), env);
    expect(first.result.steps).toBe(SMOKE.train.steps);
    const id = idOf(env, 'train', c);
    const metricsBefore = env.store.runs.get(id)!.metrics.length;
    const second = await runOrThrow(trainRun(c), env);
    expect(second.cached).toBe(true);
    expect(second.result).toEqual(first.result);
    expect(env.store.runs.get(id)!.metrics.length).toBe(metricsBefore);
  });

  it('the same program run twice in fresh environments gives the same results', async () => {
    const c = onlineOf(SMOKE);
    const a = await runOrThrow(ensureRun(c), memoryEnv());
    const b = await runOrThrow(ensureRun(c), memoryEnv());
    expect(b.result).toEqual(a.result);
  });

  // 'first': a Ctrl-C-style stop right after the first checkpoint. 'last': a crash after the
  // final checkpoint but before the result is stored (resuming then has no step left to run).
  for (const at of ['first', 'last'] as const) {
    it(`a run stopped at its ${at} checkpoint, resumed, ends bit-identical to an uninterrupted run`, async () => {
      const c = onlineOf(SMOKE);
      const straight = await runOrThrow(ensureRun(c), memoryEnv());
      const env = memoryEnv();
      const id = idOf(env, 'train', c);
      const store = env.store;
      const origWrite = store.writeBlob.bind(store);
      store.writeBlob = async (rid, name, data) => {
        if (rid === id && at === 'last' && name === 'final.ckpt') throw new Error('simulated crash');
        await origWrite(rid, name, data);
        if (rid === id && at === 'first' && name === 'ckpt.bin') env.interruption.requested = true;
      };
      const r = await run(ensureRun(c), env);
      expect(E.isLeft(r) && r.left.code).toBe(at === 'first' ? 'Interrupted' : 'Failure');
      expect(store.runs.get(id)!.result).toBeUndefined();
      env.interruption.requested = false;
      store.writeBlob = origWrite;
      // The run's dependencies are done; trainRun resumes it (ensureRun would resume it through its
      // job graph and then return the run's cache hit).
      const resumed = await runOrThrow(trainRun(c), env);
      expect(resumed.cached).toBe(false);
      expect(resumed.result).toEqual(straight.result);
    });
  }

  it('each figure program runs end to end at smoke size, and the report is written', async () => {
    const env = memoryEnv();
    const exp = experimentByName('study')!;
    expect(exp.figures).toEqual(FIGURES.map((f) => f.name));
    expect(experimentByName('ablation')!.figures).toEqual(['coverage']);
    const report = await runOrThrow(runExperiment(exp, SMOKE, 'smoke'), env);
    expect(report.figures.map((f) => f.name)).toEqual(exp.figures);
    const files = env.store.runs.get(report.id)!;
    expect(files.texts.get('index.html')).toMatch(/<h2>Findings<\/h2>/);
    for (const f of report.figures) {
      // Every figure decides protocol claims, except the setup's measurements (a table).
      if (f.name === 'setup') expect(f.tables[0]!.rows.length).toBe(SMOKE.seeds * 2 + SMOKE.tasks.length - 1);
      else expect(f.findings.length).toBeGreaterThan(0);
      for (const c of f.charts) {
        expect(files.texts.get(`${c.name}.svg`)).toMatch(/^<svg/);
        const png = files.blobs.get(`${c.name}.png`)!;
        expect(Buffer.from(png.slice(1, 4)).toString()).toBe('PNG');
      }
    }
    // The tandem findings (protocol claims 9 and 19) must hold exactly.
    const tandem = report.figures.find((f) => f.name === 'fig4')!.findings[0]!;
    expect(tandem.protocolClaim).toBe(9);
    expect(tandem.holds).toBe(true);
    expect(report.figures.find((f) => f.name === 'fig9')!.findings.find((f) => f.protocolClaim === 19)!.holds).toBe(true);
  }, 300_000);
});

describe('stored state and errors', () => {
  /** An online smoke run stopped (as by Ctrl-C) right after its first checkpoint. */
  async function stoppedRun() {
    const c = onlineOf(SMOKE);
    const env = memoryEnv();
    const id = idOf(env, 'train', c);
    const origWrite = env.store.writeBlob.bind(env.store);
    env.store.writeBlob = async (rid, name, data) => {
      await origWrite(rid, name, data);
      if (rid === id && name === 'ckpt.bin') env.interruption.requested = true;
    };
    const r = await run(ensureRun(c), env);
    expect(E.isLeft(r) && r.left.code).toBe('Interrupted');
    env.interruption.requested = false;
    env.store.writeBlob = origWrite;
    return { c, env, id };
  }

  it('a training checkpoint keeps its resume state in the typed runState, not in config', async () => {
    const { env, id } = await stoppedRun();
    const ckpt = decodeCheckpoint(env.store.runs.get(id)!.blobs.get('ckpt.bin')!, { backend: env.backend });
    dispose([ckpt.params as never, ckpt.optState as never]);
    expect(ckpt.config).toBe(null);
    const rs = TrainRunStateCodec.decode(ckpt.runState);
    expect(E.isRight(rs)).toBe(true);
    if (E.isRight(rs)) {
      expect(rs.right.metricsCount).toBe((await readMetricRecords(env, id)).length);
      expect(rs.right.lossCount).toBe(ckpt.step % SMOKE.eval.every);
    }
  });

  it('a checkpoint of the previous layout (state in config, no runState) fails with a StoreError naming ckpt.bin and the fix', async () => {
    const { c, env, id } = await stoppedRun();
    const blobs = env.store.runs.get(id)!.blobs;
    const ckpt = decodeCheckpoint(blobs.get('ckpt.bin')!, { backend: env.backend });
    const { runState, ...rest } = ckpt;
    blobs.set('ckpt.bin', await encodeCheckpoint({ ...rest, config: runState }));
    dispose([ckpt.params as never, ckpt.optState as never]);
    const r = await run(trainRun(c), env);
    expect(E.isLeft(r)).toBe(true);
    if (E.isLeft(r)) {
      expect(r.left).toBeInstanceOf(ExperimentError);
      expect(r.left.code).toBe('StoreError');
      expect(r.left.message).toMatch(/ckpt\.bin has no training run state/);
      expect(r.left.message).toMatch(/--fresh/);
    }
  });

  it('metric records of the previous flat form (x, x_se) fail with a StoreError naming the file and line', async () => {
    const env = memoryEnv();
    await env.store.appendMetrics('train-old', [{ step: 0, loss: null, kl: 0.1, kl_se: 0.01 }]);
    const err = await readMetricRecords(env, 'train-old').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ExperimentError);
    expect((err as ExperimentError).code).toBe('StoreError');
    expect((err as ExperimentError).message).toMatch(/memory:train-old\/metrics\.jsonl line 1/);
  });

  it('metric records round-trip through the store, NaN (written as null) included', async () => {
    const env = memoryEnv();
    const rec = { step: 4, loss: 0.5, metrics: { kl: { value: 0.25, se: NaN }, accStream: { value: NaN, se: NaN } } };
    await env.store.appendMetrics('train-x', [rec]);
    expect(await readMetricRecords(env, 'train-x')).toEqual([rec]);
  });

  it('an ExperimentError is an Error with a stack, a stable code and the original cause', async () => {
    const cause = new Error('disk on fire');
    const env = memoryEnv();
    const r = await run(trainRun(onlineOf(SMOKE)), { ...env, store: { ...env.store, readResult: async () => { throw cause; } } });
    expect(E.isLeft(r)).toBe(true);
    if (E.isLeft(r)) {
      expect(r.left).toBeInstanceOf(Error);
      expect(r.left.code).toBe('Failure');
      expect(r.left.message).toBe('disk on fire');
      expect(r.left.cause).toBe(cause);
      expect(r.left.stack).toMatch(/^ExperimentError: disk on fire/);
    }
  });
});

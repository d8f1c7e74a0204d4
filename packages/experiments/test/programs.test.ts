/** Experiment programs under the in-memory interpreter: configs, caching, figures end to end. */
import { describe, expect, it } from 'vitest';
import * as E from 'fp-ts/lib/Either.js';
import {
  FIGURES, SMOKE, StudyConfig, decodeWith, deepMerge, ensureRun, idOf, memoryEnv, onlineOf, runExperiment, runOrThrow, trainRun,
  experimentByName, run,
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
      expect(r.left._tag).toBe('ConfigError');
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
      expect(E.isLeft(r) && r.left._tag).toBe(at === 'first' ? 'Interrupted' : 'Failure');
      expect(store.runs.get(id)!.result).toBeUndefined();
      env.interruption.requested = false;
      store.writeBlob = origWrite;
      const resumed = await runOrThrow(ensureRun(c), env);
      expect(resumed.cached).toBe(false);
      expect(resumed.result).toEqual(straight.result);
    });
  }

  it('each figure program runs end to end at smoke size, and the report is written', async () => {
    const env = memoryEnv();
    const exp = experimentByName('study')!;
    expect(exp.figures).toEqual(FIGURES.map((f) => f.name));
    const report = await runOrThrow(runExperiment(exp, SMOKE, 'smoke'), env);
    expect(report.figures.map((f) => f.name)).toEqual(exp.figures);
    const files = env.store.runs.get(report.id)!;
    expect(files.texts.get('index.html')).toMatch(/<h2>Findings<\/h2>/);
    for (const f of report.figures) {
      expect(f.findings.length).toBeGreaterThan(0);
      for (const c of f.charts) {
        expect(files.texts.get(`${c.name}.svg`)).toMatch(/^<svg/);
        const png = files.blobs.get(`${c.name}.png`)!;
        expect(Buffer.from(png.slice(1, 4)).toString()).toBe('PNG');
      }
    }
    // The tandem finding must hold exactly.
    const tandem = report.figures.find((f) => f.name === 'fig4')!.findings[0]!;
    expect(tandem.holds).toBe(true);
  }, 300_000);
});


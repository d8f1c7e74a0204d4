/**
 * The secondary figures (Fig. 5/12, 6, 7, 8, 10/11/14) on SMOKE in a memory store: every
 * quantity they plot or decide on, recomputed here independently from the stored runs
 * (records, stream.bin, final.ckpt, the proxy and the golden judge), and `runs(s)` covering
 * every train run a program reads. The paired claims (15, 16, 18) are recomputed per item from
 * the stored params and resampled here by a plain loop (the protocol's paired bootstrap).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { logProbs, predictPreferences, rngFromKey, type PreferenceModelParams, type Tokens } from '@tandem/rlhf';
import type { TransformerParams } from '@tandem/nn';
import { dispose, key } from '@tandem/tensor';
import {
  SMOKE, idOf, jobGraph, runJobsInOrder, loadDataDatasets, loadGolden, loadParams, loadSft, memoryEnv, policySpecOf, prefSpecOf, readMetricRecords, runIds, runOrThrow, scanStream,
  type FigureDef, type FigureResult, type MetricRecord, type StudyConfig,
} from '../src/index.js';
import { getTask } from '@tandem/rlhf';
import { datasetStats, fig5 } from '../src/figures/datasets.js';
import { claim15, claim16, claim17, claim18, claim18Verdict, fig6, fig7, fig8, fig6Runs, fig8Runs } from '../src/figures/classifiers.js';
import { claim21Verdict, fig10, normalised, scalingStats } from '../src/figures/scaling.js';
import { above, bootstrapGroups, fisherInterval, meanAt, pairedBootstrap, pearson } from '../src/figures/stats.js';
import { toVega, vegaToSvg } from '../src/render.js';

const s: StudyConfig = SMOKE;
const env = memoryEnv();

/** R's type-7 quantile, written out plainly. */
function q(xs: number[], p: number): number {
  const v = [...xs].sort((a, b) => a - b);
  const h = (v.length - 1) * p;
  const lo = Math.floor(h);
  return lo + 1 < v.length ? v[lo]! + (h - lo) * (v[lo + 1]! - v[lo]!) : v[lo]!;
}
/** q90 of the win rates after step 0, pooled over runs. */
const q90Of = (...runs: MetricRecord[][]) => q(runs.flatMap((rs) => rs.filter((r) => r.step > 0).map((r) => r.metrics.winRate!.value)), 0.9);
/** Every "x [95% CI lo, hi]" in a detail, as numbers. */
const intervals = (detail: string) => [...detail.matchAll(/(-?\d+\.\d+) \[95% CI (-?\d+\.\d+), (-?\d+\.\d+)\]/g)].map((m) => ({ est: Number(m[1]), lo: Number(m[2]), hi: Number(m[3]) }));
/** The protocol's verdict on "Δ > t" from a printed interval, or undefined when the printed digits are too close to t to tell. */
const verdictOf = (ci: { lo: number; hi: number }, t = 0) => (Math.abs(ci.lo - t) < 2e-3 || Math.abs(ci.hi - t) < 2e-3 ? undefined : ci.lo > t ? true : ci.hi < t ? false : null);
const records = (id: string) => readMetricRecords(env, id);
/** The mean of xs at the indices ix (a plain sum over the indices, in order, divided by their number). */
const avg = (xs: readonly number[], ix: readonly number[]) => ix.reduce((a, i) => a + xs[i]!, 0) / ix.length;
/** 0 … n − 1. */
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/**
 * The protocol's paired bootstrap over n items, written out: 2 000 resamples from seed 0x5eed,
 * each drawing n item indices with replacement ONCE, every side of `stat` read at those indices;
 * the point estimate is `stat` on all items, the interval the 2.5% and 97.5% type-7 quantiles.
 */
function pairedByHand(n: number, stat: (ix: readonly number[]) => number): { estimate: number; lo: number; hi: number } {
  const rng = rngFromKey(key(0x5eed));
  const vs: number[] = [];
  for (let b = 0; b < 2000; b++) {
    const ix = range(n).map(() => Math.floor(rng.next() * n));
    const v = stat(ix);
    if (Number.isFinite(v)) vs.push(v);
  }
  return { estimate: stat(range(n)), lo: q(vs, 0.025), hi: q(vs, 0.975) };
}
/** A finding's full-precision statistic equals an interval (estimate and ends to 1e-9), and the interval contains the estimate. */
function expectStatistic(f: FigureResult['findings'][number], ci: { estimate: number; lo: number; hi: number }) {
  expect(f.statistic).toBeDefined();
  expect(f.statistic!.estimate).toBeCloseTo(ci.estimate, 9);
  expect(f.statistic!.lo).toBeCloseTo(ci.lo, 9);
  expect(f.statistic!.hi).toBeCloseTo(ci.hi, 9);
  expect(ci.lo).toBeLessThanOrEqual(ci.estimate);
  expect(ci.estimate).toBeLessThanOrEqual(ci.hi);
}
/** Summed log π(y | x) per item, on the host. */
async function lpOf(p: TransformerParams, spec: ReturnType<typeof policySpecOf>, prompts: readonly Tokens[], ys: readonly Tokens[]): Promise<number[]> {
  const t = logProbs(p, spec, prompts, ys, env.backend);
  const v = Array.from(await t.data());
  t.dispose();
  return v;
}
const col = (t: FigureResult['tables'][number], name: string) => t.columns.indexOf(name);

/**
 * Computes a figure's runs, then runs its program, recording the train runs whose files the program reads — the
 * integrity checks of cached results (cache.ts `fileMismatches`, which reads every file a
 * result.json records, dependencies included) aside.
 */
async function runFigure(fig: FigureDef, study: StudyConfig = s): Promise<{ result: FigureResult; read: Set<string> }> {
  // Its runs first (training reads other runs' files: baselines, streams, checkpoints).
  await runOrThrow(runJobsInOrder(jobGraph(fig.runs(study))), env);
  const read = new Set<string>();
  const store = env.store;
  const { readBlob } = store;
  store.readBlob = async (id, name) => {
    if (id.startsWith('train-') && !/fileMismatches/.test(new Error().stack ?? '')) read.add(id);
    return readBlob.call(store, id, name);
  };
  try {
    return { result: await runOrThrow(fig.program(study), env), read };
  } finally {
    store.readBlob = readBlob;
  }
}

/** The program's provenance list is runs(s), every train run it read is in runs(s), and every chart compiles without warnings and renders. */
async function expectRunsCover(fig: FigureDef, r: { result: FigureResult; read: Set<string> }, study: StudyConfig = s) {
  expect(r.result.name).toBe(fig.name);
  for (const c of r.result.charts) {
    const warnings: string[] = [];
    expect(await vegaToSvg(toVega(c.spec, warnings))).toMatch(/^<svg/);
    expect(warnings, c.name).toEqual([]);
  }
  const declared = runIds(env, fig.runs(study));
  expect(new Set(r.result.runs)).toEqual(new Set(declared));
  expect(r.read.size).toBeGreaterThan(0);
  for (const id of r.read) expect(declared).toContain(id);
}

describe('secondary figures on SMOKE', () => {
  beforeAll(async () => {
    // Fig. 5 builds the online run and the D_{a vs b} runs the others share.
    await runOrThrow(fig5.program(s), env);
  }, 300_000);

  it('fig5: q90 per dataset and claims 13 and 14 recomputed from the records', async () => {
    const r = await runFigure(fig5);
    await expectRunsCover(fig5, r);
    const t = r.result.tables[0]!;
    expect(t.rows.map((x) => x[0])).toEqual(['D_golden', `D_sft-vs-${s.datasetCheckpoints.early}`, `D_${s.datasetCheckpoints.early}-vs-${s.datasetCheckpoints.late}`, `D_${s.datasetCheckpoints.late}-vs-${s.datasetCheckpoints.late}`]);
    const qs: number[] = [];
    for (const row of t.rows) {
      const ms = await records(row[col(t, 'run')] as string);
      qs.push(q90Of(ms));
      expect(row[col(t, 'q90 win rate')]).toBeCloseTo(qs[qs.length - 1]!, 12);
      expect(row[col(t, '95% CI low')] as number).toBeLessThanOrEqual(row[col(t, '95% CI high')] as number);
    }
    const [c13, c14] = r.result.findings.map((f) => intervals(f.detail)[0]!);
    expect(c13!.est).toBeCloseTo(qs[0]! - qs[3]!, 3);
    expect(c14!.est).toBeCloseTo(qs[1]! - Math.max(qs[0]!, qs[2]!, qs[3]!), 3);
    r.result.findings.forEach((f, i) => {
      const v = verdictOf([c13!, c14!][i]!);
      if (v !== undefined) expect(f.holds).toBe(v);
    });
    for (const f of r.result.findings) expect(f.detail).toContain('one replicate: bootstrap over prompts only');
  }, 300_000);

  it('fig6: the proxy, final online and final offline accuracies recomputed by a direct count on the same stream pairs', async () => {
    const r = await runFigure(fig6);
    await expectRunsCover(fig6, r);
    const { online, offline } = fig6Runs(s);
    const setup = online.setup;
    const task = getTask(setup.data.task);
    // The stream, straight from stream.bin.
    const bytes = env.store.runs.get(idOf(env, 'train', online))!.blobs.get('stream.bin')!;
    const pairs = scanStream(bytes).batches.flatMap((b) => b.pairs);
    expect(pairs.length).toBe(s.train.steps * s.train.batchSize);
    const distinct = pairs.filter((p) => p.y1.length !== p.y2.length || p.y1.some((x, i) => x !== p.y2[i]));
    const golden = await loadGolden(env, setup.data);
    const truth = await golden.judge(distinct);
    golden.release();
    const counted = distinct.filter((_, i) => truth[i] !== 0.5);
    const labels = truth.filter((v) => v !== 0.5);
    // The proxy's verdicts (ties ½).
    const proxyParams = await loadParams<PreferenceModelParams>(env, idOf(env, 'setup', setup), 'proxy.ckpt');
    const proxy = await predictPreferences(proxyParams, prefSpecOf(task, setup.setup.size), counted, env.backend);
    dispose(proxyParams);
    const perPair = (pred: number[]) => pred.map((p, i) => (p === 0.5 ? 0.5 : p === labels[i] ? 1 : 0));
    // A policy's verdicts: sign of [log π(y1) − log π(y2)] − [log π_sft(y1) − log π_sft(y2)].
    const spec = policySpecOf(task, setup.setup.size);
    const sft = await loadSft(env, setup);
    const lp = async (p: TransformerParams, ys: 'y1' | 'y2') => {
      const t = logProbs(p, spec, counted.map((c) => c.prompt), counted.map((c) => c[ys]), env.backend);
      const v = Array.from(await t.data());
      t.dispose();
      return v;
    };
    const [s1, s2] = [await lp(sft, 'y1'), await lp(sft, 'y2')];
    expect(s1.length).toBe(counted.length);
    const policyPred = async (c: typeof online) => {
      const p = await loadParams<TransformerParams>(env, idOf(env, 'train', c), 'final.ckpt');
      const [a1, a2] = [await lp(p, 'y1'), await lp(p, 'y2')];
      dispose(p);
      return a1.map((_, i) => {
        const f = (a1[i]! - a2[i]!) - (s1[i]! - s2[i]!);
        return f > 0 ? 1 : f < 0 ? 0 : 0.5;
      });
    };
    const scores = { proxy: perPair(proxy), online: perPair(await policyPred(online)), offline: perPair(await policyPred(offline)) };
    const all = range(counted.length);
    const expected = { proxy: avg(scores.proxy, all), online: avg(scores.online, all), offline: avg(scores.offline, all) };
    dispose(sft);
    // The final online and offline policies must classify differently here, or the test could not tell them apart.
    expect(expected.online).not.toBe(expected.offline);
    const t = r.result.tables[0]!;
    const row = (label: string) => t.rows.find((x) => x[0] === label)!;
    expect(row('proxy model')[1]).toBeCloseTo(expected.proxy, 12);
    expect(row('final online policy')[1]).toBeCloseTo(expected.online, 12);
    expect(row('final offline policy')[1]).toBeCloseTo(expected.offline, 12);
    for (const x of t.rows) expect(x[col(t, 'pairs counted')]).toBe(counted.length);
    // Claim 16: Δ = acc(proxy) − max(acc(online), acc(offline)), a paired bootstrap over the counted pairs.
    const f16 = r.result.findings[0]!;
    const ci = pairedByHand(counted.length, (ix) => avg(scores.proxy, ix) - Math.max(avg(scores.online, ix), avg(scores.offline, ix)));
    expect(ci.estimate).toBeCloseTo(expected.proxy - Math.max(expected.online, expected.offline), 12);
    expectStatistic(f16, ci);
    expect(f16.protocolClaim).toBe(16);
    expect(f16.detail).toContain(`paired bootstrap over the ${counted.length} pairs`);
    expect(f16.holds).toBe(ci.lo > 0 ? true : ci.hi < 0 ? false : null);
    // The proxy-accuracy curve is the stored metric.
    const curve = (r.result.charts.find((c) => c.name === 'fig6-proxy')!.spec.data as { values: { step: number; value: number }[] }).values;
    const mo = await records(idOf(env, 'train', online));
    expect(curve.map((x) => [x.step, x.value])).toEqual(mo.filter((m) => !Number.isNaN(m.metrics.proxyAccuracy?.value ?? NaN)).map((m) => [m.step, m.metrics.proxyAccuracy!.value]));
  }, 300_000);

  it('fig7: every offline run is a point, and r (with its Fisher-z interval) is a plain Pearson over the offline rows only', async () => {
    const r = await runFigure(fig7);
    await expectRunsCover(fig7, r);
    const t = r.result.tables[0]!;
    const off = t.rows.filter((x) => x[col(t, 'method')] === 'offline');
    const on = t.rows.filter((x) => x[col(t, 'method')] === 'online');
    // The grid (lrs × βs × lengths; the online config is one of its points) and the three D_{a vs b} runs.
    // The grid: every lr × β at the online length, every lr × longBetas at the longer lengths; plus the three D_{a vs b} runs.
    expect(off.length).toBe(s.offlineSweep.lrs.length * (s.offlineSweep.betas.length + s.offlineSweep.longBetas.length * (s.offlineSweep.steps.length - 1)) + 3);
    expect(on.length).toBe(1);
    for (const row of t.rows) {
      const ms = await records(row[col(t, 'run id')] as string);
      expect(row[col(t, 'final accuracy on D_golden')]).toBe(ms[ms.length - 1]!.metrics.accGolden!.value);
      expect(row[col(t, 'q90 win rate')]).toBeCloseTo(q90Of(ms), 12);
    }
    const xs = off.map((x) => x[col(t, 'final accuracy on D_golden')] as number);
    const ys = off.map((x) => x[col(t, 'q90 win rate')] as number);
    const n = xs.length;
    const mx = xs.reduce((a, b) => a + b) / n;
    const my = ys.reduce((a, b) => a + b) / n;
    const cov = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0);
    const rr = cov / Math.sqrt(xs.reduce((a, x) => a + (x - mx) ** 2, 0) * ys.reduce((a, y) => a + (y - my) ** 2, 0));
    const c = r.result.tables[1]!;
    expect(c.rows[0]![col(c, 'offline runs')]).toBe(n);
    expect(c.rows[0]![col(c, 'Pearson r')]).toBeCloseTo(rr, 12);
    const z = 0.5 * Math.log((1 + rr) / (1 - rr));
    expect(c.rows[0]![col(c, 'Fisher-z 95% CI low')]).toBeCloseTo(Math.tanh(z - 1.959963984540054 / Math.sqrt(n - 3)), 12);
    expect(c.rows[0]![col(c, 'Fisher-z 95% CI high')]).toBeCloseTo(Math.tanh(z + 1.959963984540054 / Math.sqrt(n - 3)), 12);
    const lo = Math.tanh(z - 1.959963984540054 / Math.sqrt(n - 3));
    expect(r.result.findings[0]!.holds).toBe(!(lo > 0));
  }, 300_000);

  it('fig8: accuracy curves (online, offline, tandem), log-prob curves, and claims 15 and 18 recomputed per pair from the stored params (paired bootstrap)', async () => {
    const r = await runFigure(fig8);
    await expectRunsCover(fig8, r);
    const [io, iff, it] = r.result.runs;
    const [mo, mf, mt] = [await records(io!), await records(iff!), await records(it!)];
    const acc = (r.result.charts[0]!.spec.data as { values: { series: string; step: number; value: number }[] }).values;
    const series = (rows: typeof acc, name: string) => rows.filter((x) => x.series === name).map((x) => [x.step, x.value]);
    expect(series(acc, 'online')).toEqual(mo.map((m) => [m.step, m.metrics.accGolden!.value]));
    expect(series(acc, 'offline')).toEqual(mf.map((m) => [m.step, m.metrics.accGolden!.value]));
    expect(series(acc, 'tandem: offline on D_online in order')).toEqual(mt.map((m) => [m.step, m.metrics.accGolden!.value]));
    const lp = (r.result.charts[1]!.spec.data as { values: typeof acc }).values;
    expect(new Set(lp.map((x) => x.series))).toEqual(new Set(['online', 'offline']));
    expect(series(lp, 'offline')).toEqual(mf.map((m) => [m.step, m.metrics.winnerLogProb!.value]));
    const last = (rs: MetricRecord[], k: string) => rs[rs.length - 1]!.metrics[k]!.value;
    const step0 = (rs: MetricRecord[], k: string) => rs.find((x) => x.step === 0)!.metrics[k]!.value;
    // Per pair, by hand, from the stored params: the first classifierPairs pairs of D_golden (what the evaluators read).
    const { online, offline } = fig8Runs(s);
    const setup = online.setup;
    const spec = policySpecOf(getTask(setup.data.task), setup.setup.size);
    const pairs = (await loadDataDatasets(env, setup.data)).golden.pairs.slice(0, s.eval.classifierPairs);
    expect(pairs.length).toBe(s.eval.classifierPairs);
    const prompts = pairs.map((p) => p.prompt);
    const winners = pairs.map((p) => (p.preference === 1 ? p.y1 : p.y2));
    const distinct = range(pairs.length).filter((i) => pairs[i]!.y1.length !== pairs[i]!.y2.length || pairs[i]!.y1.some((t, j) => t !== pairs[i]!.y2[j]));
    const sft = await loadSft(env, setup);
    const sftW = await lpOf(sft, spec, prompts, winners);
    const [s1, s2] = [await lpOf(sft, spec, prompts, pairs.map((p) => p.y1)), await lpOf(sft, spec, prompts, pairs.map((p) => p.y2))];
    dispose(sft);
    const perRun = async (c: typeof online) => {
      const p = await loadParams<TransformerParams>(env, idOf(env, 'train', c), 'final.ckpt');
      const w = await lpOf(p, spec, prompts, winners);
      const [a1, a2] = [await lpOf(p, spec, prompts, pairs.map((x) => x.y1)), await lpOf(p, spec, prompts, pairs.map((x) => x.y2))];
      dispose(p);
      // Correctness of the policy as a classifier (margin against π_sft; an exact 0 is a predicted tie, ½), on the pairs with distinct responses.
      const score = distinct.map((i) => {
        const f = (a1[i]! - a2[i]!) - (s1[i]! - s2[i]!);
        return f === 0 ? 0.5 : (f > 0 ? 1 : 0) === pairs[i]!.preference ? 1 : 0;
      });
      return { score, drop: w.map((v, i) => sftW[i]! - v) };
    };
    const on = await perRun(online);
    const off = await perRun(offline);
    // The recomputation reads the evaluators' pairs: its means are the stored final accuracies and the stored step-0 winner log-prob (π_sft).
    expect(avg(on.score, range(distinct.length))).toBeCloseTo(last(mo, 'accGolden'), 6);
    expect(avg(off.score, range(distinct.length))).toBeCloseTo(last(mf, 'accGolden'), 6);
    expect(avg(sftW, range(pairs.length))).toBeCloseTo(step0(mo, 'winnerLogProb'), 4);
    // The two final policies must differ on these pairs, or swapping them could not show.
    expect(on.drop).not.toEqual(off.drop);
    // Claim 15: Δ = mean over the counted pairs of score(offline) − score(online), paired bootstrap over those pairs.
    const f15 = r.result.findings[0]!;
    const ci15 = pairedByHand(distinct.length, (ix) => avg(off.score, ix) - avg(on.score, ix));
    expectStatistic(f15, ci15);
    expect(f15.protocolClaim).toBe(15);
    expect(f15.detail).toContain(`paired bootstrap over the ${distinct.length} pairs`);
    expect(f15.holds).toBe(ci15.lo > 0 ? true : ci15.hi < 0 ? false : null);
    // Claim 18: Δ = mean_i(drop_off,i − drop_on,i), and the mean offline (and online) drop, each a paired bootstrap over the pairs.
    const f18 = r.result.findings[1]!;
    const n = pairs.length;
    const delta = pairedByHand(n, (ix) => avg(off.drop, ix) - avg(on.drop, ix));
    const dropOff = pairedByHand(n, (ix) => avg(off.drop, ix));
    const dropOn = pairedByHand(n, (ix) => avg(on.drop, ix));
    expect(delta.estimate).not.toBe(0);
    expectStatistic(f18, delta);
    expect(f18.protocolClaim).toBe(18);
    expect(f18.detail).toContain(`paired bootstrap over the ${n} pairs`);
    const t = r.result.tables[1]!;
    const row = (name: string) => t.rows.find((x) => x[0] === name)!;
    for (const [name, d] of [['offline', dropOff], ['online', dropOn]] as const) {
      expect(row(name)[col(t, 'mean winner log-prob drop (π_sft − final)')]).toBeCloseTo(d.estimate, 9);
      expect(row(name)[col(t, 'drop 95% CI low')]).toBeCloseTo(d.lo, 9);
      expect(row(name)[col(t, 'drop 95% CI high')]).toBeCloseTo(d.hi, 9);
    }
    expect(row('offline')[col(t, 'accuracy on D_golden (final params)')]).toBeCloseTo(avg(off.score, range(distinct.length)), 12);
    const [pOff, pOn, pDelta] = intervals(f18.detail);
    expect([pOff!.est, pOn!.est, pDelta!.est]).toEqual([dropOff.estimate, dropOn.estimate, delta.estimate].map((x) => expect.closeTo(x, 3)));
    const [a, b] = [above({ ...delta, undefinedResamples: 0 }), above({ ...dropOff, undefinedResamples: 0 })];
    expect(f18.holds).toBe(a === true && b === true ? true : a === false || b === false ? false : null);
  }, 300_000);

  it('fig10: q90 per size and method (grid pooled at length L), normalised by the online q90 of the size; claims 21 and 22', async () => {
    // SMOKE with a second size, so claim 22 (gap of the larger size − gap of the smaller) is decided end to end.
    const s2: StudyConfig = { ...s, sizes: ['tiny', 'small'] };
    const r = await runFigure(fig10, s2);
    await expectRunsCover(fig10, r, s2);
    const runs = fig10.runs(s2);
    // Per size: online, lrs × βs at length L, and the shuffled replay.
    expect(runs.length).toBe(2 * (2 + s.offlineSweep.lrs.length * s.offlineSweep.betas.length));
    for (const c of runs) expect(c.hyper.steps).toBe(s.train.steps);
    expect(runs.map((c) => c.setup.setup.size)).toEqual(runs.map((_, i) => (i < runs.length / 2 ? 'tiny' : 'small')));
    const t = r.result.tables[0]!;
    const per = runs.length / 2;
    const gaps: number[] = [];
    for (const [i, size] of s2.sizes.entries()) {
      const ids = runIds(env, runs.slice(i * per, (i + 1) * per));
      const on = await records(ids[0]!);
      const grid = await Promise.all(ids.slice(1, -1).map(records));
      const sh = await records(ids[ids.length - 1]!);
      const raw = { online: q90Of(on), offline: q90Of(...grid), shuffled: q90Of(sh) };
      const rows = t.rows.filter((x) => x[0] === size);
      expect(rows.map((x) => x[col(t, 'q90 win rate')])).toEqual([raw.online, raw.offline, raw.shuffled].map((v) => expect.closeTo(v, 12)));
      expect(rows.map((x) => x[col(t, 'normalised')])).toEqual([1, raw.offline / raw.online, raw.shuffled / raw.online].map((v) => expect.closeTo(v, 12)));
      const [c21] = intervals(r.result.findings[0]!.detail.split('; ')[i]!);
      expect(c21!.est).toBeCloseTo(raw.online - raw.offline, 3);
      gaps.push((raw.online - raw.offline) / raw.online);
    }
    const [c22] = intervals(r.result.findings[1]!.detail);
    expect(c22!.est).toBeCloseTo(gaps[1]! - gaps[0]!, 3);
    const v = verdictOf(c22!, -0.05);
    if (v !== undefined) expect(r.result.findings[1]!.holds).toBe(v);
  }, 300_000);
});

describe('statistics on constructed records', () => {
  /** A run whose evaluations after step 0 have these win rates (no noise: SE 0). */
  const run = (...w: number[]): MetricRecord[] => [{ step: 0, loss: null, metrics: { winRate: { value: 0.5, se: 0 } } }, ...w.map((value, i) => ({ step: i + 1, loss: 0, metrics: { winRate: { value, se: 0 } } }))];

  it('fig5: claim 13 is q90(D_golden) − q90(D_late-vs-late), claim 14 q90(D_sft-vs-early) − the max of the other three', () => {
    const [golden, sftEarly, earlyLate, lateLate] = [run(0.3, 0.4), run(0.7, 0.9), run(0.6, 0.5), run(0.2, 0.1)];
    const st = datasetStats([golden, sftEarly, earlyLate, lateLate]);
    const qs = [[0.3, 0.4], [0.7, 0.9], [0.6, 0.5], [0.2, 0.1]].map((w) => q(w, 0.9));
    expect(st.best.map((b) => b.estimate)).toEqual(qs.map((v) => expect.closeTo(v, 12)));
    expect(st.claim13.estimate).toBeCloseTo(qs[0]! - qs[3]!, 12);
    expect(st.claim14.estimate).toBeCloseTo(qs[1]! - Math.max(qs[0]!, qs[2]!, qs[3]!), 12);
    // No noise: the intervals collapse onto the estimates, and the verdicts follow their signs.
    expect(above(st.claim13)).toBe(true);
    expect(above(st.claim14)).toBe(true);
  });

  it('paired bootstrap: a constant difference gives a zero-width interval at that constant; the sides are resampled jointly', () => {
    // Noisy per-item values (a fixed, irregular sequence).
    const a = range(40).map((i) => Math.sin(7.3 * i) * 3 + (i % 5));
    const b = a.map((x) => x + 0.25);
    const diff = pairedBootstrap(a.length, (ix) => meanAt(b, ix) - meanAt(a, ix));
    expect(diff.estimate).toBeCloseTo(0.25, 12);
    expect(diff.lo).toBeCloseTo(0.25, 12);
    expect(diff.hi).toBeCloseTo(0.25, 12);
    expect(diff.undefinedResamples).toBe(0);
    // Perfectly correlated noisy sides (c = 2a + 1): mean(c) − 2 mean(a) is 1 on every joint draw.
    const c = a.map((x) => 2 * x + 1);
    const joint = pairedBootstrap(a.length, (ix) => meanAt(c, ix) - 2 * meanAt(a, ix));
    expect(joint.hi - joint.lo).toBeLessThan(1e-12);
    expect(joint.estimate).toBeCloseTo(1, 12);
    // Resampled independently, the same sides have a wide interval: the zero width above is the pairing.
    const indep = bootstrapGroups([c, a], ([cs, as]) => cs!.reduce((x, y) => x + y, 0) / cs!.length - 2 * as!.reduce((x, y) => x + y, 0) / as!.length);
    expect(indep.hi - indep.lo).toBeGreaterThan(0.5);
    // The resampling itself is the protocol's (written out in pairedByHand), and the single-side interval is a proper one.
    const single = pairedBootstrap(a.length, (ix) => meanAt(a, ix));
    const byHand = pairedByHand(a.length, (ix) => avg(a, ix));
    expect([single.estimate, single.lo, single.hi]).toEqual([byHand.estimate, byHand.lo, byHand.hi].map((x) => expect.closeTo(x, 12)));
    expect(single.hi - single.lo).toBeGreaterThan(0.1);
    // No items: undefined.
    expect(pairedBootstrap(0, () => 0).lo).toBeNaN();
  });

  it('claims 15, 16 and 18 on constructed per-pair values: paired means, signs, verdicts', () => {
    // Claim 15: offline right on 3 of 4 pairs, online on 1 of 4 (a tie ½ on one).
    const c15 = claim15({ score: { online: [0, 1, 0, 0.5], offline: [1, 1, 1, 0] } });
    expect(c15.estimate).toBeCloseTo(0.75 - 0.375, 12);
    // Claim 16: proxy − max(online, offline).
    const c16 = claim16({ scores: { proxy: [1, 1, 1, 0], online: [1, 0, 0, 0], offline: [0, 1, 0.5, 0] } });
    expect(c16.estimate).toBeCloseTo(0.75 - 0.375, 12);
    // Sides equal pair by pair: a paired Δ is 0 on every draw (resampled independently it would not be).
    const same = [1, 0, 1, 0.5, 0, 1, 1, 0];
    for (const ci of [claim15({ score: { online: same, offline: same } }), claim16({ scores: { proxy: same, online: same, offline: same } })]) {
      expect([ci.estimate, ci.lo, ci.hi]).toEqual([0, 0, 0]);
    }
    // Claim 18: a constant extra drop of 2 for offline — Δ's interval has zero width at 2.
    const dropOn = [0.5, 1.5, -0.2, 3, 0.1];
    const c = claim18({ drop: { online: dropOn, offline: dropOn.map((x) => x + 2) } });
    expect(c.delta.estimate).toBeCloseTo(2, 12);
    expect(c.delta.hi - c.delta.lo).toBeLessThan(1e-12);
    expect(c.dropOffline.estimate).toBeCloseTo(2 + avg(dropOn, range(5)), 12);
    expect(claim18Verdict(c)).toBe(true);
    expect(claim18Verdict(claim18({ drop: { online: [3, 3.1, 2.9], offline: [1, 1.2, 0.8] } }))).toBe(false);
    expect(claim18Verdict(claim18({ drop: { online: [-3, -3.1, -2.9], offline: [-1, -1.2, -0.8] } }))).toBe(false);
  });

  it('fig7: the Fisher-z interval and the verdict of claim 17; claim 21 combines the sizes', () => {
    expect(fisherInterval(0.5, 3).lo).toBeNaN();
    const ci = fisherInterval(0.5, 12);
    expect(ci.lo).toBeCloseTo(Math.tanh(Math.atanh(0.5) - 1.959963984540054 / 3), 12);
    expect(claim17({ lo: -0.1, hi: 0.8 })).toBe(true);
    expect(claim17({ lo: -0.9, hi: -0.2 })).toBe(true);
    expect(claim17({ lo: 0.1, hi: 0.9 })).toBe(false);
    expect(claim17({ lo: NaN, hi: NaN })).toBe(null);
    expect(pearson([1, 2, 3, 4], [2, 4, 6, 8])).toBeCloseTo(1, 12);
    expect(claim21Verdict([true, true])).toBe(true);
    expect(claim21Verdict([true, null])).toBe(null);
    expect(claim21Verdict([true, false])).toBe(false);
    expect(claim21Verdict([null, false])).toBe(false);
  });

  it('normalises every method by the online q90 of its size, and claim 22 compares normalised gaps', () => {
    // Online q90 0.5 (tiny) and 0.8 (small): the normalisation is never a no-op here.
    const tiny = { online: run(0.5, 0.5), grid: [run(0.2, 0.3), run(0.4, 0.1)], shuffled: run(0.25, 0.25) };
    const small = { online: run(0.8, 0.8), grid: [run(0.4), run(0.4)], shuffled: run(0.6) };
    const st = scalingStats([tiny, small]);
    const offTiny = q([0.2, 0.3, 0.4, 0.1], 0.9);
    expect(st.sizes[0]!.raw).toEqual({ online: 0.5, offline: expect.closeTo(offTiny, 12), shuffled: 0.25 });
    expect(st.sizes[0]!.norm.online.estimate).toBeCloseTo(1, 12);
    expect(st.sizes[0]!.norm.offline.estimate).toBeCloseTo(offTiny / 0.5, 12);
    expect(st.sizes[0]!.norm.shuffled.estimate).toBeCloseTo(0.5, 12);
    expect(st.sizes[1]!.norm.offline.estimate).toBeCloseTo(0.5, 12);
    expect(normalised({ online: 0.5, offline: 0.2, shuffled: 0.4 })).toEqual({ online: 1, offline: 0.4, shuffled: 0.8 });
    // Claim 22: gap(small) − gap(tiny) with gap = (q90 online − q90 offline) / q90 online.
    expect(st.claim22!.estimate).toBeCloseTo((0.8 - 0.4) / 0.8 - (0.5 - offTiny) / 0.5, 12);
    // Claim 21 per size is not normalised.
    expect(st.sizes[1]!.claim21.estimate).toBeCloseTo(0.4, 12);
  });
});

/**
 * The secondary figures (Fig. 5/12, 6, 7, 8, 10/11/14) on SMOKE in a memory store: every
 * quantity they plot or decide on, recomputed here independently from the stored runs
 * (records, stream.bin, final.ckpt, the proxy and the golden judge), and `runs(s)` covering
 * every train run a program reads.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { logProbs, predictPreferences, type PreferenceModelParams } from '@tandem/rlhf';
import type { TransformerParams } from '@tandem/nn';
import { dispose } from '@tandem/tensor';
import {
  SMOKE, idOf, jobGraph, runJobsInOrder, loadGolden, loadParams, loadSft, memoryEnv, policySpecOf, prefSpecOf, readMetricRecords, runIds, runOrThrow, scanStream,
  type FigureDef, type FigureResult, type MetricRecord, type StudyConfig,
} from '../src/index.js';
import { getTask } from '@tandem/rlhf';
import { datasetStats, fig5 } from '../src/figures/datasets.js';
import { claim15, claim17, claim18, claim18Verdict, fig6, fig7, fig8, fig6Runs, fisherInterval, pearson } from '../src/figures/classifiers.js';
import { claim21Verdict, fig10, normalised, scalingStats } from '../src/figures/scaling.js';
import { above } from '../src/figures/stats.js';
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
    for (const f of r.result.findings) expect(f.detail).toMatch(/bootstrap over prompts only \(one replicate\)/);
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
    const score = (pred: number[]) => pred.reduce((a, p, i) => a + (p === 0.5 ? 0.5 : p === labels[i] ? 1 : 0), 0) / pred.length;
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
    const policyPred = async (c: typeof online) => {
      const p = await loadParams<TransformerParams>(env, idOf(env, 'train', c), 'final.ckpt');
      const [a1, a2] = [await lp(p, 'y1'), await lp(p, 'y2')];
      dispose(p);
      return a1.map((_, i) => {
        const f = (a1[i]! - a2[i]!) - (s1[i]! - s2[i]!);
        return f > 0 ? 1 : f < 0 ? 0 : 0.5;
      });
    };
    const expected = { proxy: score(proxy), online: score(await policyPred(online)), offline: score(await policyPred(offline)) };
    dispose(sft);
    // The final online and offline policies must classify differently here, or the test could not tell them apart.
    expect(expected.online).not.toBe(expected.offline);
    const t = r.result.tables[0]!;
    const row = (label: string) => t.rows.find((x) => x[0] === label)!;
    expect(row('proxy model')[1]).toBeCloseTo(expected.proxy, 12);
    expect(row('final online policy')[1]).toBeCloseTo(expected.online, 12);
    expect(row('final offline policy')[1]).toBeCloseTo(expected.offline, 12);
    for (const x of t.rows) expect(x[col(t, 'pairs counted')]).toBe(counted.length);
    // Claim 16: Δ = proxy − max(online, offline).
    const ci = intervals(r.result.findings[0]!.detail)[0]!;
    expect(ci.est).toBeCloseTo(expected.proxy - Math.max(expected.online, expected.offline), 3);
    const v = verdictOf(ci);
    if (v !== undefined) expect(r.result.findings[0]!.holds).toBe(v);
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

  it('fig8: accuracy curves (online, offline, tandem), log-prob curves, and claims 15 and 18 from the records', async () => {
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
    const [c15] = intervals(r.result.findings[0]!.detail);
    expect(c15!.est).toBeCloseTo(last(mf, 'accGolden') - last(mo, 'accGolden'), 3);
    const [dropOff, dropOn, delta] = intervals(r.result.findings[1]!.detail);
    const drop = (rs: MetricRecord[]) => rs.find((x) => x.step === 0)!.metrics.winnerLogProb!.value - last(rs, 'winnerLogProb');
    expect(dropOff!.est).toBeCloseTo(drop(mf), 3);
    expect(dropOn!.est).toBeCloseTo(drop(mo), 3);
    expect(delta!.est).toBeCloseTo(drop(mf) - drop(mo), 3);
    const v15 = verdictOf(c15!);
    if (v15 !== undefined) expect(r.result.findings[0]!.holds).toBe(v15);
    const [a, b] = [verdictOf(delta!), verdictOf(dropOff!)];
    if (a !== undefined && b !== undefined) expect(r.result.findings[1]!.holds).toBe(a === true && b === true ? true : a === false || b === false ? false : null);
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

  it('fig8: claim 18 is drop(offline) − drop(online) with drop = step 0 − last; yes needs Δ and drop(offline) above 0', () => {
    const lp = (...v: number[]): MetricRecord[] => v.map((value, step) => ({ step, loss: null, metrics: { winnerLogProb: { value, se: 0 }, accGolden: { value: 0.5 + step / 10, se: 0 } } }));
    const c = claim18(lp(-10, -11, -12), lp(-10, -13, -15));
    expect([c.dropOnline.estimate, c.dropOffline.estimate, c.delta.estimate]).toEqual([2, 5, 3]);
    expect(claim18Verdict(c)).toBe(true);
    expect(claim18Verdict(claim18(lp(-10, -16), lp(-10, -13)))).toBe(false);
    expect(claim18Verdict(claim18(lp(-10, -9), lp(-10, -8)))).toBe(false);
    expect(claim15(lp(0, 0, 0), lp(0, 0)).estimate).toBeCloseTo(0.6 - 0.7, 12);
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

/**
 * The headline figures (fig1, the coverage ablation, fig4, fig13, fig9) on the smoke preset
 * in one shared memory store: what they plot and conclude, checked against quantities
 * recomputed here from the stored records with the run configs built independently (from
 * study.ts's constructors, not the figures' plans); the protocol's statistics (stats.ts)
 * against hand-computed references.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  SMOKE, above, below, bootstrap, bootstrapGroups, commonKlGrid, endMinusEarlierPeak, frontierAt, frontierGap, idOf, memoryEnv, offlineOf, onlineOf, quantile,
  readMetricRecords, replayOf, runOrThrow, showInterval, within, type FigureDef, type FigureResult, type Finding, type Interval, type MetricRecord, type TrainRunConfig,
} from '../src/index.js';
import { jobGraph, runJobsInOrder } from '../src/jobs.js';
import { fig1, headlineFindings, headlineRuns, pointsOf, type HeadlineData } from '../src/figures/fig1.js';
import { claim8Finding, coverage } from '../src/figures/coverage.js';
import { claim10Finding, claim20Finding, fig4, fig9, fig13, hashFinding, shuffleFindings } from '../src/figures/fig4.js';
import type { EvalPoint } from '../src/figures/stats.js';
import type { TrainResult } from '../src/runs/train.js';

// Every metrics read goes through runs/metrics.ts's readMetricRecords (metricsOf calls it; the
// cache's checks read files directly): while `probe.on`, the runs it reads are recorded.
const probe = vi.hoisted(() => ({ on: false, reads: new Set<string>() }));
vi.mock('../src/runs/metrics.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../src/runs/metrics.js')>();
  return {
    ...mod,
    readMetricRecords: async (env: Parameters<typeof mod.readMetricRecords>[0], id: string) => {
      if (probe.on) probe.reads.add(id);
      return mod.readMetricRecords(env, id);
    },
  };
});

const s = SMOKE;
const env = memoryEnv();
const FIGS: FigureDef[] = [fig1, coverage, fig4, fig13, fig9];
const out = new Map<string, { result: FigureResult; read: Set<string>; written: Set<string> }>();

// ----------------------------------------------------------------------------- independent references

/** R's type-7 quantile, written out: the order statistics at ⌊h⌋ and ⌈h⌉, h = (n − 1)q. */
function q7(xs: readonly number[], q: number): number {
  const v = [...xs].sort((a, b) => a - b);
  const h = (v.length - 1) * q;
  const a = v[Math.floor(h)]!;
  const b = v[Math.ceil(h)]!;
  return a + (h - Math.floor(h)) * (b - a);
}
const avg = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const after0 = (rs: readonly MetricRecord[]) => rs.filter((r) => r.step > 0 && Number.isFinite(r.metrics.winRate?.value ?? NaN));
const wins = (rs: readonly MetricRecord[]) => after0(rs).map((r) => r.metrics.winRate!.value);
const q90h = (runs: readonly (readonly MetricRecord[])[]) => q7(runs.flatMap(wins), 0.9);
const maxh = (runs: readonly (readonly MetricRecord[])[]) => Math.max(...runs.flatMap(wins));
const rec = (c: TrainRunConfig) => readMetricRecords(env, idOf(env, 'train', c));
const ids = (cs: readonly TrainRunConfig[]) => cs.map((c) => idOf(env, 'train', c));
const fmt3 = (x: number) => x.toFixed(3);

const replicates = Array.from({ length: s.seeds }, (_, r) => r);
const cellOf = (replicate: number, o: { task?: 'summarize' | 'helpful'; coverage?: 'suboptimal' | 'covered' } = {}) =>
  ({ task: o.task ?? s.data.task, coverage: o.coverage ?? s.data.coverage, replicate });
/** The offline grid of a cell, enumerated here: every lr × β at the first length (L), every lr × longBetas at the longer ones. */
const gridOf = (cell: ReturnType<typeof cellOf>) => {
  const out: TrainRunConfig[] = [];
  const { lrs, betas, steps, longBetas } = s.offlineSweep;
  steps.forEach((n, i) => {
    for (const lr of lrs) for (const beta of i === 0 ? betas : longBetas) out.push(offlineOf(s, { ...cell, lr, beta, steps: n }));
  });
  return out;
};

/** The finding of a protocol claim (the only one with that number, or the `i`-th). */
function claim(fig: string, no: number, i = 0): Finding & { statistic: NonNullable<Finding['statistic']> } {
  const fs = out.get(fig)!.result.findings.filter((f) => f.protocolClaim === no);
  expect(fs.length, `${fig} claim ${no}`).toBeGreaterThan(i);
  return fs[i] as Finding & { statistic: NonNullable<Finding['statistic']> };
}

/** The finding's statistic is `expected`, its detail shows the interval and the replicates, and its verdict is the rule applied to the interval. */
function checkFinding(f: Finding & { statistic: NonNullable<Finding['statistic']> }, expected: number, replicates: number, rule: (ci: Interval) => boolean | null) {
  expect(f.statistic.replicates).toBe(replicates);
  if (Number.isNaN(expected)) {
    // Undefined on these runs (e.g. claims 4–5 need three evaluations after step 0; SMOKE's runs have two): no verdict.
    expect(f.statistic.estimate).toBeNaN();
    expect(f.holds).toBe(null);
    return;
  }
  expect(f.statistic.estimate).toBeCloseTo(expected, 12);
  const ci: Interval = { ...f.statistic, undefinedResamples: 0 };
  expect(f.detail).toContain(showInterval(ci));
  expect(f.detail).toContain(replicates === 1 ? 'one replicate: bootstrap over prompts only' : `bootstrap over ${replicates} replicates and prompts`);
  expect(f.holds).toBe(rule(ci));
  expect(f.statistic.lo).toBeLessThanOrEqual(f.statistic.hi);
}

/** The KL–win-rate chart's points as (run, step, kl, winRate) keys. */
function chartPoints(spec: Record<string, unknown>): string[] {
  const rows = (spec.data as { values: Record<string, unknown>[] }).values;
  return rows.map((r) => `${r.run}|${r.step}|${r.kl}|${r.winRate}`).sort();
}
async function storedPoints(cs: readonly TrainRunConfig[]): Promise<string[]> {
  const pts: string[] = [];
  for (const c of cs) {
    for (const r of await rec(c)) {
      const kl = r.metrics.kl?.value ?? NaN;
      const w = r.metrics.winRate?.value ?? NaN;
      if (Number.isFinite(kl) && Number.isFinite(w)) pts.push(`${idOf(env, 'train', c)}|${r.step}|${kl}|${w}`);
    }
  }
  return pts.sort();
}
const chart = (fig: string, name: string) => out.get(fig)!.result.charts.find((c) => c.name === name)!.spec;

// ----------------------------------------------------------------------------- the figures, run once

beforeAll(async () => {
  // Every run the figures list, as one job graph (as an experiment does)…
  const all = FIGS.flatMap((f) => f.runs(s));
  await runOrThrow(runJobsInOrder(jobGraph(all)), env);
  // …then each program, recording which runs' metrics it reads and which results it writes.
  for (const f of FIGS) {
    const written = new Set<string>();
    const store = {
      ...env.store,
      writeResult: async (id: string, r: unknown) => {
        written.add(id);
        return env.store.writeResult(id, r);
      },
    };
    probe.reads = new Set();
    probe.on = true;
    const result = await runOrThrow(f.program(s), { ...env, store });
    probe.on = false;
    out.set(f.name, { result, read: probe.reads, written });
  }
}, 600_000);

describe('runs(s) lists exactly what each program reads', () => {
  it('every program reads the metrics of exactly its runs(s), computes nothing new, and lists them as its runs', () => {
    for (const f of FIGS) {
      const o = out.get(f.name)!;
      const listed = ids(f.runs(s));
      expect(new Set(listed).size, f.name).toBe(listed.length);
      expect([...o.read].sort(), f.name).toEqual([...listed].sort());
      expect([...o.written], f.name).toEqual([]);
      expect(o.result.runs, f.name).toEqual(listed);
    }
  });

  it('fig1: the default task on every replicate and every other task on replicate 0, each online + the whole grid', () => {
    const expected = [
      ...replicates.flatMap((r) => [onlineOf(s, cellOf(r)), ...gridOf(cellOf(r))]),
      ...s.tasks.filter((t) => t !== s.data.task).flatMap((task) => [onlineOf(s, cellOf(0, { task: task as 'helpful' })), ...gridOf(cellOf(0, { task: task as 'helpful' }))]),
    ];
    // The matched config (online lr, β, steps) is a member of the smoke grid.
    expect(ids(gridOf(cellOf(0)))).toContain(idOf(env, 'train', offlineOf(s, cellOf(0))));
    expect([...ids(fig1.runs(s))].sort()).toEqual([...ids(expected)].sort());
    const cells = new Set(fig1.runs(s).map((c) => `${c.setup.data.task}/${c.setup.data.coverage}/${c.setup.data.replicate}`));
    expect([...cells].sort()).toEqual(['helpful/suboptimal/0', 'summarize/suboptimal/0', 'summarize/suboptimal/1']);
  });

  it('coverage: both regimes on every replicate', () => {
    const expected = (['suboptimal', 'covered'] as const).flatMap((coverage) => replicates.flatMap((r) => [onlineOf(s, cellOf(r, { coverage })), ...gridOf(cellOf(r, { coverage }))]));
    expect([...ids(coverage.runs(s))].sort()).toEqual([...ids(expected)].sort());
  });

  it('fig4: per replicate online, in-order replay, the shuffled stream at every grid lr × β and the D_golden grid', () => {
    const expected = replicates.flatMap((r) => {
      const on = onlineOf(s, cellOf(r));
      return [on, replayOf(s, on, 1), ...s.offlineSweep.lrs.flatMap((lr) => s.offlineSweep.betas.map((beta) => replayOf(s, on, 'all', { lr, beta }))), ...gridOf(cellOf(r))];
    });
    expect([...ids(fig4.runs(s))].sort()).toEqual([...ids(expected)].sort());
    for (const c of fig4.runs(s)) if (c.method.kind === 'replay') expect(c.hyper.steps).toBe(s.train.steps);
  });

  it('fig13: every window on every replicate; fig9: the seven runs of replicate 0', () => {
    expect([...ids(fig13.runs(s))].sort()).toEqual([...ids(replicates.flatMap((r) => s.shuffleWindows.map((w) => replayOf(s, onlineOf(s, cellOf(r)), w))))].sort());
    const bo2 = onlineOf(s, { ...cellOf(0), loss: 'bo2' });
    const ipo = onlineOf(s, cellOf(0));
    expect(ids(fig9.runs(s))).toEqual(ids([bo2, replayOf(s, bo2, 1), replayOf(s, bo2, 'all'), offlineOf(s, { ...cellOf(0), loss: 'bo2' }), ipo, replayOf(s, ipo, 'all'), offlineOf(s, cellOf(0))]));
  });
});

describe('fig1 against the stored records', () => {
  const main = () => replicates.map((r) => ({ online: onlineOf(s, cellOf(r)), grid: gridOf(cellOf(r)), matched: offlineOf(s, cellOf(r)) }));

  it('the chart has a point for exactly every stored evaluation of every run, a panel per task', async () => {
    const spec = chart('fig1', 'fig1-kl-winrate');
    expect(chartPoints(spec)).toEqual(await storedPoints(fig1.runs(s)));
    expect((spec.facet as { column: { field: string } }).column.field).toBe('task');
  });

  it('the run table: q90, max and final over evaluations after step 0, as recomputed', async () => {
    const t = out.get('fig1')!.result.tables.find((x) => x.title.startsWith('Runs'))!;
    const col = (n: string) => t.columns.indexOf(n);
    expect(t.rows.length).toBe(fig1.runs(s).length);
    let differs = 0;
    for (const c of fig1.runs(s)) {
      const row = t.rows.find((r) => r[col('run')] === idOf(env, 'train', c))!;
      const rs = await rec(c);
      expect(row[col('replicate')]).toBe(c.setup.data.replicate);
      expect(row[col('task')]).toBe(c.setup.data.task);
      expect(row[col('q90 win rate')]).toBe(fmt3(q90h([rs])));
      expect(row[col('max win rate')]).toBe(fmt3(maxh([rs])));
      expect(row[col('final win rate')]).toBe(fmt3(rs[rs.length - 1]!.metrics.winRate!.value));
      if (fmt3(q90h([rs])) !== fmt3(maxh([rs]))) differs++;
    }
    // The data can tell q90 from max (else a max-for-q90 mutation would pass unnoticed).
    expect(differs).toBeGreaterThan(0);
  });

  it('claims 1–5: the statistics recomputed by hand, the verdicts by the rules', async () => {
    const data = await Promise.all(main().map(async (m) => ({ online: await rec(m.online), grid: await Promise.all(m.grid.map(rec)), matched: await rec(m.matched) })));
    checkFinding(claim('fig1', 1), avg(data.map((d) => q90h([d.online]) - q90h(d.grid))), s.seeds, (ci) => above(ci));
    // Claim 2, brute force: the frontiers at 20 KL values of the common range.
    const frontier = (pts: MetricRecord[], x: number) => Math.max(...pts.filter((p) => p.metrics.kl!.value <= x).map((p) => p.metrics.winRate!.value));
    const gap2 = data.map((d) => {
      const on = after0(d.online);
      const off = d.grid.flatMap(after0);
      const kl = (ps: MetricRecord[]) => ps.map((p) => p.metrics.kl!.value);
      const lo = Math.max(Math.min(...kl(on)), Math.min(...kl(off)));
      const hi = Math.min(Math.max(...kl(on)), Math.max(...kl(off)));
      let sum = 0;
      for (let k = 0; k < 20; k++) sum += frontier(on, lo + (k / 19) * (hi - lo)) - frontier(off, lo + (k / 19) * (hi - lo));
      return sum / 20;
    });
    checkFinding(claim('fig1', 2), avg(gap2), s.seeds, (ci) => above(ci));
    checkFinding(claim('fig1', 3), avg(data.map((d) => q90h([d.online]) - q90h([d.matched]))), s.seeds, (ci) => above(ci));
    // The amended claims 4–5 statistic by hand: mean of the last two win rates − the largest before them.
    const fm = (rs: MetricRecord[]) => {
      const w = wins(rs);
      return w.length < 3 ? NaN : (w[w.length - 1]! + w[w.length - 2]!) / 2 - Math.max(...w.slice(0, -2));
    };
    checkFinding(claim('fig1', 4), avg(data.map((d) => fm(d.online))), s.seeds, (ci) => below(ci));
    checkFinding(claim('fig1', 5), avg(data.flatMap((d) => d.grid.map(fm))), s.seeds, (ci) => below(ci));
    expect(claim('fig1', 3).detail).toContain(`lr ${s.train.lr}, β ${s.train.beta}, ${s.train.steps} steps`);
  });

  it('claim 6: claim 1 on every other task, one replicate (bootstrap over prompts only)', async () => {
    const others = s.tasks.filter((t) => t !== s.data.task);
    expect(out.get('fig1')!.result.findings.filter((f) => f.protocolClaim === 6).length).toBe(others.length);
    for (const [i, task] of others.entries()) {
      const c = cellOf(0, { task: task as 'helpful' });
      const on = await rec(onlineOf(s, c));
      const grid = await Promise.all(gridOf(c).map(rec));
      const f = claim('fig1', 6, i);
      expect(f.claim).toContain(task);
      checkFinding(f, q90h([on]) - q90h(grid), 1, (ci) => above(ci));
    }
  });
});

describe('coverage ablation against the stored records', () => {
  it('claims 7–8 recomputed; the chart shows every evaluation of both regimes side by side', async () => {
    const d1 = async (coverage: 'suboptimal' | 'covered') => avg(await Promise.all(replicates.map(async (r) => {
      const c = cellOf(r, { coverage });
      return q90h([await rec(onlineOf(s, c))]) - q90h(await Promise.all(gridOf(c).map(rec)));
    })));
    const sub = await d1('suboptimal');
    const cov = await d1('covered');
    checkFinding(claim('coverage', 7), cov, s.seeds, (ci) => above(ci));
    checkFinding(claim('coverage', 8), sub - cov, s.seeds, (ci) => above(ci));
    const spec = chart('coverage', 'coverage-kl-winrate');
    expect(chartPoints(spec)).toEqual(await storedPoints(coverage.runs(s)));
    expect((spec.facet as { column: { field: string } }).column.field).toBe('regime');
    const t = out.get('coverage')!.result.tables.find((x) => x.title.startsWith('D_initial'))!;
    const ideal = t.rows.map((r) => Number(r[2]));
    expect(ideal[1]).toBeGreaterThan(ideal[0]!);
  });
});

describe('fig4, fig13, fig9 against the stored records', () => {
  it('fig4: claim 9 lists every replicate\'s hashes and holds; claim 10 recomputed; the trade-off chart shows every evaluation', async () => {
    const f9 = claim('fig4', 9) as Finding;
    expect(f9.holds).toBe(true);
    for (const r of replicates) {
      const res = (env.store.runs.get(idOf(env, 'train', onlineOf(s, cellOf(r))))!.result as { result: { paramsHash: string; optHash: string } }).result;
      expect(f9.detail).toContain(`r${r}: params ${res.paramsHash.slice(0, 12)}`);
      expect(f9.detail).toContain(res.optHash.slice(0, 12));
    }
    expect(f9.detail).toContain(`equal in ${s.seeds} of ${s.seeds} replicates`);
    const deltas = await Promise.all(replicates.map(async (r) => {
      const on = onlineOf(s, cellOf(r));
      const shuffled = s.offlineSweep.lrs.flatMap((lr) => s.offlineSweep.betas.map((beta) => replayOf(s, on, 'all', { lr, beta })));
      return q90h([await rec(on)]) - q90h(await Promise.all(shuffled.map(rec)));
    }));
    checkFinding(claim('fig4', 10), avg(deltas), s.seeds, (ci) => above(ci));
    expect(chartPoints(chart('fig4', 'fig4-kl-winrate'))).toEqual(await storedPoints(fig4.runs(s)));
  });

  it('fig13: claims 11–12 and the bars recomputed (w=1 vs the smallest window above 1, and vs all)', async () => {
    const q = async (w: 1 | 2 | 'all') => Promise.all(replicates.map(async (r) => q90h([await rec(replayOf(s, onlineOf(s, cellOf(r)), w))])));
    const [w1, w2, wAll] = await Promise.all([q(1), q(2), q('all')]);
    expect(s.shuffleWindows).toEqual([1, 2, 'all']);
    checkFinding(claim('fig13', 11), avg(w1.map((x, i) => x - w2[i]!)), s.seeds, (ci) => within(ci, 0.03));
    checkFinding(claim('fig13', 12), avg(w1.map((x, i) => x - wAll[i]!)), s.seeds, (ci) => above(ci));
    const bars = (chart('fig13', 'fig13-peak').data as { values: { label: string; value: number; lo: number; hi: number }[] }).values;
    expect(bars.map((b) => b.label)).toEqual(['w=1', 'w=2', 'w=all']);
    [w1, w2, wAll].forEach((ws, i) => {
      expect(bars[i]!.value).toBeCloseTo(avg(ws), 12);
      expect(bars[i]!.lo).toBeLessThanOrEqual(bars[i]!.hi);
    });
    expect(chartPoints(chart('fig13', 'fig13-kl-winrate'))).toEqual(await storedPoints(fig13.runs(s)));
  });

  it('fig9: claim 19 holds; claim 20 (R(Bo2) − R(IPO)) recomputed over prompts only', async () => {
    expect(claim('fig9', 19).holds).toBe(true);
    const R = async (loss: 'bo2' | 'ipo') => {
      const on = onlineOf(s, { ...cellOf(0), loss });
      const [o, sh, off] = await Promise.all([rec(on), rec(replayOf(s, on, 'all')), rec(offlineOf(s, { ...cellOf(0), loss }))]);
      return (q90h([sh!]) - q90h([off!])) / (q90h([o!]) - q90h([off!]));
    };
    const expected = (await R('bo2')) - (await R('ipo'));
    const f = claim('fig9', 20);
    if (Number.isFinite(expected)) checkFinding(f, expected, 1, (ci) => above(ci));
    else expect(Number.isFinite(f.statistic.estimate)).toBe(false);
  });

  it('every finding of these figures names its protocol claim, the claims 1–12 and 19–20 all present', () => {
    const nos = FIGS.flatMap((f) => out.get(f.name)!.result.findings.map((x) => x.protocolClaim));
    expect(nos.every((n) => typeof n === 'number')).toBe(true);
    expect([...new Set(nos)].sort((a, b) => a! - b!)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 19, 20]);
  });
});

// ----------------------------------------------------------------------------- stats.ts

describe('stats: quantile, bootstrap, verdicts, frontier', () => {
  it('quantile is R\'s type 7 (hand-computed values)', () => {
    const ten = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    expect(quantile(ten, 0.9)).toBeCloseTo(9.1, 12); // R: quantile(1:10, 0.9) = 9.1
    expect(quantile(ten, 0.5)).toBeCloseTo(5.5, 12);
    expect(quantile(ten, 0.25)).toBeCloseTo(3.25, 12);
    expect(quantile([0.2, 0.6], 0.9)).toBeCloseTo(0.56, 12);
    expect(quantile([0.2, 0.6, 0.5], 0.9)).toBeCloseTo(0.58, 12); // sorted 0.2 0.5 0.6, h = 1.8
    expect(quantile([3, NaN, 1], 0)).toBe(1);
    expect(quantile([3, 1], 1)).toBe(3);
    expect(quantile([0.4], 0.9)).toBe(0.4);
    expect(quantile([], 0.9)).toBeNaN();
  });

  it('bootstrap: with se = 0 and one replicate the interval collapses to the estimate', () => {
    for (const se of [0, undefined]) {
      const ci = bootstrap([{ value: 0.37, se }], (sample, d) => avg(sample.map(d)));
      expect(ci).toEqual({ estimate: 0.37, lo: 0.37, hi: 0.37, undefinedResamples: 0 });
    }
  });

  it('bootstrap: known Gaussian noise gives an interval of a mean of about ±1.96·se/√n', () => {
    // Prompt noise: one replicate, n = 16 estimates with se 0.1 → half-width ≈ 1.96·0.1/4 = 0.049.
    const est = Array.from({ length: 16 }, (_, i) => ({ value: 0.3 + 0.01 * i, se: 0.1 }));
    const ci = bootstrap([est], (sample, d) => avg(sample[0]!.map(d)));
    expect(ci.estimate).toBeCloseTo(avg(est.map((e) => e.value)), 12);
    expect((ci.hi - ci.lo) / 2).toBeGreaterThan(0.049 * 0.85);
    expect((ci.hi - ci.lo) / 2).toBeLessThan(0.049 * 1.15);
    expect(Math.abs((ci.hi + ci.lo) / 2 - ci.estimate)).toBeLessThan(0.01);
    // Replicate noise: 40 replicates ~ N(0.5, 0.1²) without prompt noise → ≈ ±1.96·sd/√40.
    let u = 12345;
    const unif = () => ((u = (Math.imul(u, 1103515245) + 12345) >>> 0) + 0.5) / 2 ** 32;
    const reps = Array.from({ length: 40 }, () => ({ value: 0.5 + 0.1 * Math.sqrt(-2 * Math.log(unif())) * Math.cos(2 * Math.PI * unif()), se: 0 }));
    const m = avg(reps.map((r) => r.value));
    const sd = Math.sqrt(avg(reps.map((r) => (r.value - m) ** 2)));
    const c2 = bootstrap(reps, (sample, d) => avg(sample.map(d)));
    const half = 1.96 * sd / Math.sqrt(40);
    expect((c2.hi - c2.lo) / 2).toBeGreaterThan(half * 0.75);
    expect((c2.hi - c2.lo) / 2).toBeLessThan(half * 1.25);
    expect(c2.lo).toBeLessThan(m);
    expect(c2.hi).toBeGreaterThan(m);
  });

  it('bootstrap: undefined (non-finite) resamples are left out and counted; groups of one are the plain bootstrap', () => {
    const ci = bootstrap([{ value: 0, se: 1 }], (sample, d) => (d(sample[0]!) > 0 ? Infinity : NaN));
    expect(ci.undefinedResamples).toBe(2000);
    expect(ci.lo).toBeNaN();
    const reps = [{ value: 0.1, se: 0.02 }, { value: 0.3, se: 0.05 }, { value: 0.2, se: 0.01 }];
    const a = bootstrap(reps, (sample, d) => avg(sample.map(d)));
    const b = bootstrapGroups([reps], ([sample], d) => avg(sample!.map(d)));
    expect(b).toEqual(a);
  });

  it('verdicts at their boundaries', () => {
    const ci = (lo: number, hi: number): Interval => ({ estimate: (lo + hi) / 2, lo, hi, undefinedResamples: 0 });
    expect(above(ci(1e-12, 1))).toBe(true);
    expect(above(ci(0, 1))).toBe(null); // touching 0 is not above it
    expect(above(ci(-1, -1e-12))).toBe(false);
    expect(above(ci(-1, 0))).toBe(null);
    expect(above(ci(NaN, NaN))).toBe(null);
    expect(above(ci(0.04, 0.1), 0.05)).toBe(null);
    expect(below(ci(-1, -1e-12))).toBe(true);
    expect(below(ci(1e-12, 1))).toBe(false);
    expect(below(ci(-1, 0))).toBe(null);
    expect(within(ci(-0.03, 0.03), 0.03)).toBe(true); // ends included
    expect(within(ci(-0.0301, 0.03), 0.03)).toBe(null);
    expect(within(ci(0.03, 0.1), 0.03)).toBe(null); // touching the margin is not outside
    expect(within(ci(0.0301, 0.1), 0.03)).toBe(false);
    expect(within(ci(-0.2, -0.0301), 0.03)).toBe(false);
    expect(within(ci(NaN, 0), 0.03)).toBe(null);
  });

  it('frontier, common KL grid and end − earlier peak against hand-computed values', () => {
    const a = { kl: [0.1, 0.5, 1.0], win: [0.5, 0.7, 0.6] };
    const b = { kl: [0.2, 0.8, 1.5], win: [0.4, 0.5, 0.65] };
    expect(frontierAt(a.kl, a.win, 0.05)).toBeNaN();
    expect(frontierAt(a.kl, a.win, 0.5)).toBe(0.7);
    expect(frontierAt(a.kl, a.win, 2)).toBe(0.7);
    const xs = commonKlGrid(a.kl, b.kl, 20);
    expect(xs.length).toBe(20);
    expect(xs[0]).toBeCloseTo(0.2, 12);
    expect(xs[19]).toBeCloseTo(1.0, 12);
    // On [0.2, 1.0] step 0.8/19: online frontier 0.5 below KL 0.5 (x = 0.2…0.4947: 8 values), 0.7 from there;
    // offline 0.4 below 0.8 (x < 0.8: 15 values: 0.2 + 14·0.0421 = 0.789), 0.5 from there.
    const expected = (8 * (0.5 - 0.4) + 7 * (0.7 - 0.4) + 5 * (0.7 - 0.5)) / 20;
    expect(frontierGap(a, b, 20)).toBeCloseTo(expected, 12);
    expect(commonKlGrid([0, 0.1], [0.2, 0.3])).toEqual([]);
    expect(frontierGap({ kl: [0, 0.1], win: [1, 1] }, { kl: [0.2, 0.3], win: [0, 0] })).toBeNaN();
    // (0.6 + 0.5)/2 − max(0.5, 0.7) = −0.15: turned down; a curve still rising ends above its earlier peak.
    expect(endMinusEarlierPeak([0.5, 0.7, 0.6, 0.5])).toBeCloseTo(-0.15, 12);
    expect(endMinusEarlierPeak([0.3, 0.4, 0.5, 0.6])).toBeCloseTo(0.15, 12);
    expect(endMinusEarlierPeak([0.5, 0.7])).toBeNaN();
    expect(endMinusEarlierPeak([])).toBeNaN();
  });
});

// ----------------------------------------------------------------------------- verdicts on synthetic records

describe('each claim\'s verdict follows its rule (synthetic records, SE 0: the interval is the point)', () => {
  /** Records at steps 0, 1, 2…: step 0 carries a win rate of 0.99 that the statistics must ignore. */
  const records = (pts: [win: number, kl: number][]): MetricRecord[] => [
    { step: 0, loss: null, metrics: { winRate: { value: 0.99, se: 0 }, kl: { value: 0, se: 0 } } },
    ...pts.map(([w, kl], i) => ({ step: i + 1, loss: 0.1, metrics: { winRate: { value: w, se: 0 }, kl: { value: kl, se: 0 } } })),
  ];
  const headline = (online: [number, number][], grid: [number, number][][], r: number): HeadlineData => {
    const g = grid.map(records);
    return { runs: headlineRuns(s, cellOf(r)), online: records(online), grid: g, matched: g[0]!, onlineResult: {} as TrainResult };
  };
  const verdicts = (fs: Finding[]) => Object.fromEntries(fs.map((f) => [f.protocolClaim, f.holds]));

  it('claims 1–5 (and 8): online ahead and turning down → yes; offline ahead and still rising → no', () => {
    // q90 online [0.6 0.9 0.7 0.6] = 0.84, pooled grid [0.4 0.45 0.35 0.5 0.3 0.3] = 0.475, matched [0.4 0.45 0.35] = 0.44.
    // End − earlier peak: online (0.7 + 0.6)/2 − 0.9 = −0.25; grid (0.4 − 0.4 + 0.3 − 0.5)/2 = −0.1.
    const a = [0, 1].map((r) => headline([[0.6, 0.1], [0.9, 0.2], [0.7, 0.3], [0.6, 0.4]], [[[0.4, 0.05], [0.45, 0.15], [0.35, 0.2]], [[0.5, 0.1], [0.3, 0.25], [0.3, 0.3]]], r));
    const fa = headlineFindings(a, s);
    expect(verdicts(fa)).toEqual({ 1: true, 2: true, 3: true, 4: true, 5: true });
    expect(fa.map((f) => f.statistic!.estimate)).toEqual([0.84 - 0.475, expect.any(Number), 0.84 - 0.44, -0.25, -0.1].map((x) => (typeof x === 'number' ? expect.closeTo(x, 12) : x)));
    for (const f of fa) expect([f.statistic!.lo, f.statistic!.hi]).toEqual([expect.closeTo(f.statistic!.estimate, 12), expect.closeTo(f.statistic!.estimate, 12)]);
    // q90 online [0.2 0.2 0.3] = 0.28 < pooled 0.6; everything still rising at the end: online (0.2 + 0.3)/2 − 0.2 = 0.05,
    // grid ((0.6 + 0.6)/2 − 0.5 + (0.55 + 0.6)/2 − 0.5)/2 = 0.0875 → claims 4 and 5 "no".
    const b = [0, 1].map((r) => headline([[0.2, 0.1], [0.2, 0.2], [0.3, 0.3]], [[[0.5, 0.1], [0.6, 0.2], [0.6, 0.25]], [[0.5, 0.15], [0.55, 0.3], [0.6, 0.35]]], r));
    const fb = headlineFindings(b, s);
    expect(verdicts(fb)).toEqual({ 1: false, 2: false, 3: false, 4: false, 5: false });
    expect(fb.slice(3).map((f) => f.statistic!.estimate)).toEqual([expect.closeTo(0.05, 12), expect.closeTo(0.0875, 12)]);
    expect(claim8Finding(a.map(pointsOf), b.map(pointsOf)).holds).toBe(true);
    expect(claim8Finding(b.map(pointsOf), a.map(pointsOf)).holds).toBe(false);
    expect(claim8Finding(a.map(pointsOf), a.map(pointsOf)).holds).toBe(null);
  });

  const ep = (...wins: number[]): EvalPoint[] => wins.map((w, i) => ({ step: i + 1, kl: 0.1 * (i + 1), win: { value: w, se: 0 } }));

  it('claims 9–12, 19–20', () => {
    const h = (p: string, o: string) => ({ paramsHash: p, optHash: o }) as TrainResult;
    expect(hashFinding(9, 'x', [{ replicate: 0, online: h('a', 'b'), replay: h('a', 'b') }, { replicate: 1, online: h('c', 'd'), replay: h('c', 'd') }]).holds).toBe(true);
    expect(hashFinding(9, 'x', [{ replicate: 0, online: h('a', 'b'), replay: h('a', 'b') }, { replicate: 1, online: h('c', 'd'), replay: h('c', 'e') }]).holds).toBe(false);
    expect(hashFinding(19, 'x', [{ replicate: 0, online: h('a', 'b'), replay: h('z', 'b') }]).holds).toBe(false);
    const c10 = claim10Finding([{ online: ep(0.6, 0.9, 0.7), shuffled: [ep(0.4, 0.45), ep(0.5, 0.3)] }]);
    expect([c10.holds, c10.statistic!.estimate]).toEqual([true, expect.closeTo(0.86 - 0.485, 12)]);
    expect(claim10Finding([{ online: ep(0.4, 0.45), shuffled: [ep(0.6, 0.9, 0.7)] }]).holds).toBe(false);
    // Windows 1, 2, all: q90 [0.5 0.6] = 0.59, [0.5 0.61] = 0.599 (|Δ| < 0.03: robust), [0.2 0.3] = 0.29.
    expect(s.shuffleWindows).toEqual([1, 2, 'all']);
    expect(verdicts(shuffleFindings(s, [[ep(0.5, 0.6), ep(0.5, 0.61), ep(0.2, 0.3)]]))).toEqual({ 11: true, 12: true });
    expect(verdicts(shuffleFindings(s, [[ep(0.5, 0.6), ep(0.9, 0.95), ep(0.9, 0.9)]]))).toEqual({ 11: false, 12: false });
    // R(Bo2) = (0.7 − 0.5) / (0.8 − 0.5) = 2/3, R(IPO) = (0.55 − 0.5) / 0.3 = 1/6.
    const bo2 = { online: ep(0.8, 0.8), shuffled: ep(0.7, 0.7), offline: ep(0.5, 0.5) };
    const ipo = { online: ep(0.8, 0.8), shuffled: ep(0.55, 0.55), offline: ep(0.5, 0.5) };
    const c20 = claim20Finding(bo2, ipo);
    expect([c20.holds, c20.statistic!.estimate]).toEqual([true, expect.closeTo(2 / 3 - 1 / 6, 12)]);
    expect(claim20Finding(ipo, bo2).holds).toBe(false);
  });
});

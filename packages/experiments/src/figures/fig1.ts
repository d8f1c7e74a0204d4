/**
 * Fig. 1 — the KL vs win-rate trade-off of online and offline IPO (offline pooled over the
 * grid of learning rates, β and lengths), with the protocol's claims 1–6
 * (docs/decisions/study-protocol.md §3): on the default task over every replicate, and on
 * every other task on replicate 0. The "optimum covered" ablation (coverage.ts) runs the
 * same headline comparison in the other regime.
 */
import type { Coverage, StudyConfig, TaskName } from '../config.js';
import { offlineGrid, offlineOf, onlineOf, type Cell } from '../study.js';
import type { Env } from '../program.js';
import { idOf } from '../runs/cache.js';
import type { MetricRecord } from '../runs/metrics.js';
import { describeRun, type TrainResult, type TrainRunConfig } from '../runs/train.js';
import { afterRuns, distinctRuns, fmt, klWinChart, klWinRows, metricsOf, repsText, type Finding, type FigureDef, type FigureResult, type Table } from './common.js';
import {
  above, below, bootstrap, bootstrapText, drawWins, evalPoints, endMinusEarlierPeak, frontierGap, commonKlGrid, mean, q90Of, showInterval, statisticOf, storedValue, verdictWord,
  type Draw, type EvalPoint, type Interval,
} from './stats.js';

/** A cell with every field given. */
export type FullCell = Required<Cell>;

/** The replicates of the headline comparisons: 0 … seeds − 1. */
export const replicatesOf = (s: StudyConfig): number[] => Array.from({ length: s.seeds }, (_, r) => r);

/** The runs of one headline comparison: the online run, the offline grid, and the offline run at the online lr, β and steps (claim 3; usually a member of the grid). */
export interface HeadlineRuns {
  cell: FullCell;
  online: TrainRunConfig;
  grid: TrainRunConfig[];
  matched: TrainRunConfig;
}

/** The headline runs of a cell. */
export function headlineRuns(s: StudyConfig, cell: FullCell): HeadlineRuns {
  return { cell, online: onlineOf(s, cell), grid: offlineGrid(s, cell), matched: offlineOf(s, cell) };
}

/** The headline runs of the default task in `coverage`, one per replicate. */
export function headlineReplicates(s: StudyConfig, coverage: Coverage): HeadlineRuns[] {
  return replicatesOf(s).map((replicate) => headlineRuns(s, { task: s.data.task, coverage, replicate }));
}

/** Fig. 1's runs: the default task on every replicate, every other task of `tasks` on replicate 0 (the study's coverage regime). */
export function fig1Plan(s: StudyConfig): { main: HeadlineRuns[]; others: HeadlineRuns[] } {
  return {
    main: headlineReplicates(s, s.data.coverage),
    others: s.tasks.filter((t) => t !== s.data.task).map((task: TaskName) => headlineRuns(s, { task, coverage: s.data.coverage, replicate: 0 })),
  };
}

/** The configs of headline comparisons (online first), without repeats. */
export const headlineConfigs = (hs: readonly HeadlineRuns[]): TrainRunConfig[] => distinctRuns(hs.flatMap((h) => [h.online, ...h.grid, h.matched]));

/** A headline comparison's stored evaluations. */
export interface HeadlineData {
  runs: HeadlineRuns;
  online: MetricRecord[];
  grid: MetricRecord[][];
  matched: MetricRecord[];
  /** The online run's result (its D_online identical-pair rate). */
  onlineResult: TrainResult;
}

/** The evaluations after step 0 that the statistics read. */
export interface HeadlinePoints {
  online: EvalPoint[];
  grid: EvalPoint[][];
  matched: EvalPoint[];
}

export const pointsOf = (d: HeadlineData): HeadlinePoints => ({ online: evalPoints(d.online), grid: d.grid.map(evalPoints), matched: evalPoints(d.matched) });

/** Reads a headline comparison's records (the runs are done). */
export async function loadHeadline(env: Env, h: HeadlineRuns, resultOf: (c: TrainRunConfig) => TrainResult): Promise<HeadlineData> {
  const [online, matched, ...grid] = await Promise.all([h.online, h.matched, ...h.grid].map((c) => metricsOf(env, c)));
  return { runs: h, online: online!, grid, matched: matched!, onlineResult: resultOf(h.online) };
}

/**
 * A figure program over `configs` (repeats allowed): ensures them (cache hits once the
 * experiment computed them), then builds with each config's result at hand.
 */
export function afterDistinct(configs: readonly TrainRunConfig[], build: (env: Env, resultOf: (c: TrainRunConfig) => TrainResult) => Promise<FigureResult>) {
  const cs = distinctRuns(configs);
  return afterRuns(cs, async (env, results) => {
    const byId = new Map(cs.map((c, i) => [idOf(env, 'train', c), results[i]!]));
    return build(env, (c) => {
      const r = byId.get(idOf(env, 'train', c));
      if (!r) throw new Error(`internal: run ${describeRun(c)} is not among the figure's runs`);
      return r;
    });
  });
}

/**
 * The runs and program of a figure over two groups of headline comparisons (Fig. 1: the default
 * task's replicates and the other tasks; the coverage ablation: the two regimes): its runs are
 * every comparison's configs without repeats; its program reads both groups' records, then builds.
 */
export function headlineFigure(
  plan: (s: StudyConfig) => readonly [HeadlineRuns[], HeadlineRuns[]],
  build: (env: Env, s: StudyConfig, a: HeadlineData[], b: HeadlineData[], configs: TrainRunConfig[]) => Promise<FigureResult>,
): Pick<FigureDef, 'runs' | 'program'> {
  const runs = (s: StudyConfig) => headlineConfigs(plan(s).flat());
  return {
    runs,
    program: (s) => {
      const [a, b] = plan(s);
      const configs = runs(s);
      return afterDistinct(configs, async (env, resultOf) => {
        const load = (hs: readonly HeadlineRuns[]) => Promise.all(hs.map((h) => loadHeadline(env, h, resultOf)));
        return build(env, s, await load(a), await load(b), configs);
      });
    },
  };
}

// ----------------------------------------------------------------------------- statistics (§2, claims 1–5)

const pooled = (grid: readonly EvalPoint[][]): EvalPoint[] => grid.flat();

/** Claim 1 for one replicate: q90(online) − q90(offline pooled over the grid). */
export const delta1 = (c: HeadlinePoints, d: Draw): number => q90Of(c.online, d) - q90Of(pooled(c.grid), d);
/** Claim 2 for one replicate: mean over 20 KL values in the common range of online frontier − offline (pooled) frontier. */
export const delta2 = (c: HeadlinePoints, d: Draw): number => {
  const off = pooled(c.grid);
  return frontierGap({ kl: c.online.map((p) => p.kl), win: drawWins(c.online, d) }, { kl: off.map((p) => p.kl), win: drawWins(off, d) });
};
/** Claim 3 for one replicate: q90(online) − q90(offline at the online lr, β and steps). */
export const delta3 = (c: HeadlinePoints, d: Draw): number => q90Of(c.online, d) - q90Of(c.matched, d);
/** Claim 4 for one replicate: the online run's last two win rates (mean) minus the largest before them. */
export const delta4 = (c: HeadlinePoints, d: Draw): number => endMinusEarlierPeak(drawWins(c.online, d));
/** Claim 5 for one replicate: the same for each grid run, mean over the grid's runs. */
export const delta5 = (c: HeadlinePoints, d: Draw): number => mean(c.grid.map((g) => endMinusEarlierPeak(drawWins(g, d))));

/** A per-replicate statistic averaged over a (resampled) list of replicates. */
export const meanOver = (stat: (c: HeadlinePoints, d: Draw) => number) => (sample: readonly HeadlinePoints[], d: Draw): number => mean(sample.map((c) => stat(c, d)));

/** The interval of the mean over replicates of a per-replicate statistic. */
export const intervalOf = (cells: readonly HeadlinePoints[], stat: (c: HeadlinePoints, d: Draw) => number): Interval => bootstrap(cells, meanOver(stat));

// ----------------------------------------------------------------------------- findings

/** A finding of a protocol claim read from an interval. */
export function protocolFinding(no: number, claim: string, ci: Interval, holds: boolean | null, replicates: number, what: string, rule: string, extra = ''): Finding {
  const undef = ci.undefinedResamples ? `; ${ci.undefinedResamples} resamples undefined (left out)` : '';
  return {
    claim: `Claim ${no} — ${claim}`,
    holds,
    detail: `${what} = ${showInterval(ci)}${extra ? `; ${extra}` : ''}; ${bootstrapText(replicates)}${undef}; ${rule}: ${verdictWord(holds)}`,
    protocolClaim: no,
    statistic: statisticOf(ci, replicates),
  };
}

export const RULE_ABOVE = 'yes when the CI lies above 0, no when below 0';
export const RULE_BELOW = 'yes when the CI lies below 0, no when above 0';
const perReplicate = (cells: readonly HeadlinePoints[], stat: (c: HeadlinePoints, d: Draw) => number) =>
  `per replicate: ${cells.map((c, r) => `r${r} ${fmt(stat(c, storedValue))}`).join(', ')}`;

/** Claim 1's finding on the replicates of a cell (numbered `no`: 1, 6 or 7). */
export function claim1Finding(no: number, claim: string, data: readonly HeadlineData[]): Finding {
  const cells = data.map(pointsOf);
  const ci = intervalOf(cells, delta1);
  const runs = data[0]!.grid.length;
  const q = cells.map((c, r) => `r${r} online ${fmt(q90Of(c.online))} vs offline ${fmt(q90Of(pooled(c.grid)))}`).join(', ');
  return protocolFinding(no, claim, ci, above(ci), cells.length,
    `Δ = q90(online) − q90(offline pooled over the ${runs}-run grid), win rates of evaluations after step 0, mean over ${repsText(cells.length)}`, RULE_ABOVE, q);
}

/** Claims 1–5 of the headline comparison on its replicates. */
export function headlineFindings(data: readonly HeadlineData[], s: StudyConfig): Finding[] {
  const cells = data.map(pointsOf);
  const n = cells.length;
  const c2 = intervalOf(cells, delta2);
  const c3 = intervalOf(cells, delta3);
  const c4 = intervalOf(cells, delta4);
  const c5 = intervalOf(cells, delta5);
  const ranges = cells.map((c, r) => {
    const xs = commonKlGrid(c.online.map((p) => p.kl), pooled(c.grid).map((p) => p.kl));
    return xs.length ? `r${r} [${fmt(xs[0])}, ${fmt(xs[xs.length - 1])}]` : `r${r} none (no overlap)`;
  }).join(', ');
  return [
    claim1Finding(1, "Online IPO's best performance exceeds offline IPO's (pooled grid)", data),
    protocolFinding(2, 'At equal KL online is better', c2, above(c2), n,
      `Δ = mean over 20 evenly spaced KL values x in the common KL range of [online frontier(x) − offline pooled frontier(x)], frontier(x) = best win rate among evaluations after step 0 with KL ≤ x, mean over ${repsText(n)}`,
      RULE_ABOVE, `common KL ranges: ${ranges}; ${perReplicate(cells, delta2)}`),
    protocolFinding(3, 'Matched config: online beats offline at the same lr, β and steps', c3, above(c3), n,
      `Δ = q90(online) − q90(offline at lr ${s.train.lr}, β ${s.train.beta}, ${s.train.steps} steps), mean over ${repsText(n)}`, RULE_ABOVE, perReplicate(cells, delta3)),
    protocolFinding(4, 'Over-optimisation (online): the win rate turns down', c4, below(c4), n,
      `Δ = mean of the online run's last two win rates − the largest win rate before them (evaluations after step 0; the protocol's amended statistic), mean over ${repsText(n)}`, RULE_BELOW, perReplicate(cells, delta4)),
    protocolFinding(5, 'Over-optimisation (offline): runs turn down', c5, below(c5), n,
      `Δ = mean of a run's last two win rates − the largest before them (evaluations after step 0; the protocol's amended statistic), mean over the ${data[0]!.grid.length} offline grid runs and ${repsText(n)}`, RULE_BELOW, perReplicate(cells, delta5)),
  ];
}

// ----------------------------------------------------------------------------- tables and charts

/** A run's row: q90, max, KL at the max and final win rate over its evaluations after step 0. */
export function runSummary(records: readonly MetricRecord[]): { q90: number; max: number; klAtMax: number; final: number } {
  const ps = evalPoints(records);
  let best: EvalPoint | undefined;
  for (const p of ps) if (!best || p.win.value > best.win.value) best = p;
  return { q90: q90Of(ps), max: best?.win.value ?? NaN, klAtMax: best?.kl ?? NaN, final: ps[ps.length - 1]?.win.value ?? NaN };
}

export const RUN_COLUMNS = ['task', 'coverage', 'replicate', 'method', 'lr', 'β', 'steps', 'q90 win rate', 'max win rate', 'KL at max', 'final win rate', 'identical pairs in D_online', 'run'];

/** Rows of the per-run table: the online run and every grid run (the matched run is a grid member, or listed after them when not). */
export function runRows(env: Env, d: HeadlineData): (string | number | null)[][] {
  const inGrid = d.runs.grid.some((g) => idOf(env, 'train', g) === idOf(env, 'train', d.runs.matched));
  const list: [string, TrainRunConfig, MetricRecord[]][] = [
    ['online', d.runs.online, d.online],
    ...d.runs.grid.map((c, i): [string, TrainRunConfig, MetricRecord[]] => [idOf(env, 'train', c) === idOf(env, 'train', d.runs.matched) ? 'offline (grid; matched config)' : 'offline (grid)', c, d.grid[i]!]),
    ...(inGrid ? [] : [['offline (matched config)', d.runs.matched, d.matched] as [string, TrainRunConfig, MetricRecord[]]]),
  ];
  return list.map(([method, c, rs]) => {
    const m = runSummary(rs);
    return [d.runs.cell.task, d.runs.cell.coverage, d.runs.cell.replicate, method, c.hyper.lr, c.hyper.beta, c.hyper.steps, fmt(m.q90), fmt(m.max), fmt(m.klAtMax), fmt(m.final),
      method === 'online' ? fmt(d.onlineResult.identicalPairs) : null, idOf(env, 'train', c)];
  });
}

/** The per-replicate statistics table of headline comparisons. */
export function replicateTable(title: string, data: readonly HeadlineData[]): Table {
  return {
    title,
    columns: ['task', 'coverage', 'replicate', 'q90 online', 'q90 offline pooled', 'Δ₁ (q90 gap)', 'Δ₂ (frontier gap)', 'q90 offline matched', 'Δ₃ (matched gap)', 'Δ₄ online end − earlier peak', 'Δ₅ offline end − earlier peak (mean)'],
    rows: data.map((d) => {
      const c = pointsOf(d);
      return [d.runs.cell.task, d.runs.cell.coverage, d.runs.cell.replicate, fmt(q90Of(c.online)), fmt(q90Of(pooled(c.grid))),
        fmt(delta1(c, storedValue)), fmt(delta2(c, storedValue)), fmt(q90Of(c.matched)), fmt(delta3(c, storedValue)), fmt(delta4(c, storedValue)), fmt(delta5(c, storedValue))];
    }),
  };
}

export const ONLINE = 'online IPO';
export const OFFLINE = 'offline IPO (pooled grid)';

/** KL–win-rate rows of headline comparisons: every stored evaluation of the online run and of every grid run (a matched run outside the grid is not drawn). */
export function headlineRows(env: Env, data: readonly HeadlineData[], extra: (d: HeadlineData) => Record<string, unknown> = () => ({})): Record<string, unknown>[] {
  return data.flatMap((d) => {
    const x = { task: d.runs.cell.task, replicate: d.runs.cell.replicate, ...extra(d) };
    const label = (c: TrainRunConfig) => `${describeRun(c)} ${c.hyper.steps} steps, ${d.runs.cell.task} r${d.runs.cell.replicate}`;
    return [
      ...klWinRows(ONLINE, idOf(env, 'train', d.runs.online), label(d.runs.online), d.online, x),
      ...d.runs.grid.flatMap((c, i) => klWinRows(OFFLINE, idOf(env, 'train', c), label(c), d.grid[i]!, x)),
    ];
  });
}

// ----------------------------------------------------------------------------- the figure

export const fig1: FigureDef = {
  name: 'fig1',
  title: 'Fig. 1 — KL vs win rate: online vs offline IPO',
  description:
    'Every evaluation of every run is a point (KL(π‖π_sft), win rate against the golden policy baseline judged by the golden model). ' +
    'Online IPO samples its pairs from the current policy and labels them with the proxy model; offline IPO trains on D_golden, pooled over the grid of learning rates, β and lengths. ' +
    'The default task runs on every replicate, the other tasks on replicate 0. Best performance is the 90% quantile of a run\'s (or a pooled method\'s) win rates after step 0; ' +
    'intervals come from the protocol\'s bootstrap over replicates and prompts (docs/decisions/study-protocol.md §2).',
  ...headlineFigure((s) => {
    const p = fig1Plan(s);
    return [p.main, p.others];
  }, async (env, s, main, others, configs) => {
    const all = [...main, ...others];
    const rows = headlineRows(env, all);
    const faceted = new Set(all.map((d) => d.runs.cell.task)).size > 1;
    const result: FigureResult = {
      name: 'fig1', title: fig1.title, description: fig1.description,
      charts: [{
        name: 'fig1-kl-winrate',
        title: `KL vs win rate: every evaluation of every run${faceted ? ', a panel per task' : ''} (${s.data.task}: ${repsText(main.length)}; other tasks: replicate 0)`,
        spec: klWinChart('KL vs win rate (every evaluation of every run)', rows, faceted ? { facet: 'task' } : {}),
      }],
      tables: [
        replicateTable('Headline statistics per replicate and task (evaluations after step 0)', all),
        { title: 'Runs (q90, max, KL at max and final over evaluations after step 0)', columns: RUN_COLUMNS, rows: all.flatMap((d) => runRows(env, d)) },
      ],
      findings: [
        ...headlineFindings(main, s),
        ...others.map((d) => claim1Finding(6, `Claim 1 on ${d.runs.cell.task}: online IPO's best performance exceeds offline IPO's (pooled grid)`, [d])),
      ],
      runs: configs.map((c) => idOf(env, 'train', c)),
    };
    return result;
  }),
};

/**
 * Fig. 4 — tandem: offline training on the recorded online stream D_online, in order,
 * reproduces the online run (here bit for bit); on D_online shuffled uniformly it does not
 * (claims 9–10). Fig. 13 — shuffle windows between the two (claims 11–12). Fig. 9 — the
 * same with the Bo2 loss (claims 19–20). docs/decisions/study-protocol.md §3.
 */
import type { StudyConfig } from '../config.js';
import type { Env } from '../program.js';
import { idOf } from '../runs/cache.js';
import type { MetricRecord } from '../runs/metrics.js';
import { describeRun, type TrainResult, type TrainRunConfig } from '../runs/train.js';
import { offlineGrid, offlineOf, onlineOf, replayOf } from '../study.js';
import { barChart, distinctRuns, fmt, klWinChart, klWinRows, lineChart, longRows, metricsOf, repsText, type Finding, type FigureDef, type FigureResult } from './common.js';
import { afterDistinct, protocolFinding, replicatesOf, RULE_ABOVE, runSummary } from './fig1.js';
import { above, bootstrap, bootstrapText, evalPoints, mean, q90Of, storedValue, within, type Draw, type EvalPoint } from './stats.js';

/**
 * Largest absolute difference between two runs' metric records: steps, losses, and the
 * values and standard errors of the metrics both measured (the proxy's accuracy aside).
 */
export function maxMetricDiff(a: readonly MetricRecord[], b: readonly MetricRecord[]): number {
  const diff = (x: number | null | undefined, y: number | null | undefined) =>
    (typeof x === 'number' && typeof y === 'number' && !Number.isNaN(x) && !Number.isNaN(y) ? Math.abs(x - y) : 0);
  let d = a.length === b.length ? 0 : Infinity;
  a.forEach((r, i) => {
    const o = b[i];
    if (!o) return;
    d = Math.max(d, diff(r.step, o.step), diff(r.loss, o.loss));
    for (const [k, m] of Object.entries(r.metrics)) {
      if (k === 'proxyAccuracy') continue;
      d = Math.max(d, diff(m.value, o.metrics[k]?.value), diff(m.se, o.metrics[k]?.se));
    }
  });
  return d;
}

const short = (h: string) => `${h.slice(0, 12)}…`;

/** Claims 9 and 19: equal params and optimiser hashes of the online run and its in-order replay in every replicate. */
export function hashFinding(no: number, claim: string, pairs: readonly { replicate: number; online: TrainResult; replay: TrainResult }[]): Finding {
  const equal = pairs.filter((p) => p.online.paramsHash === p.replay.paramsHash && p.online.optHash === p.replay.optHash).length;
  const holds = pairs.length > 0 && equal === pairs.length;
  const list = pairs.map((p) => `r${p.replicate}: params ${short(p.online.paramsHash)} vs ${short(p.replay.paramsHash)}, optimiser ${short(p.online.optHash)} vs ${short(p.replay.optHash)}`).join('; ');
  return {
    claim: `Claim ${no} — ${claim}`,
    holds,
    detail: `online vs in-order replay, sha256 of the final params and optimiser state: ${list}; equal in ${equal} of ${repsText(pairs.length)}; yes when equal in every replicate, no otherwise: ${holds ? 'yes' : 'no'}`,
    protocolClaim: no,
  };
}

/** Rows of a run table: q90, max, final (evaluations after step 0) and hashes. */
function tandemRow(env: Env, replicate: number, label: string, c: TrainRunConfig, rs: readonly MetricRecord[], r: TrainResult): (string | number | null)[] {
  const m = runSummary(rs);
  return [replicate, label, c.hyper.lr, c.hyper.beta, c.hyper.steps, fmt(m.q90), fmt(m.max), fmt(m.final), r.paramsHash.slice(0, 16), r.optHash.slice(0, 16), idOf(env, 'train', c)];
}
const TANDEM_COLUMNS = ['replicate', 'run', 'lr', 'β', 'steps', 'q90 win rate', 'max win rate', 'final win rate', 'params sha256', 'optimiser sha256', 'run id'];

// ----------------------------------------------------------------------------- Fig. 4

/** Fig. 4's runs of one replicate: online IPO, its in-order replay, the uniformly shuffled D_online at every grid lr × β, and the offline grid on D_golden. */
export interface TandemRuns {
  replicate: number;
  online: TrainRunConfig;
  replay: TrainRunConfig;
  shuffled: TrainRunConfig[];
  golden: TrainRunConfig[];
}

export function fig4Plan(s: StudyConfig): TandemRuns[] {
  return replicatesOf(s).map((replicate) => {
    const cell = { task: s.data.task, coverage: s.data.coverage, replicate };
    const online = onlineOf(s, cell);
    return {
      replicate, online, replay: replayOf(s, online, 1),
      shuffled: s.offlineSweep.lrs.flatMap((lr) => s.offlineSweep.betas.map((beta) => replayOf(s, online, 'all', { lr, beta }))),
      golden: offlineGrid(s, cell),
    };
  });
}

/** Claim 10 for one replicate: q90(online) − q90(shuffled D_online pooled over the grid). */
export const delta10 = (c: { online: EvalPoint[]; shuffled: EvalPoint[][] }, d: Draw): number => q90Of(c.online, d) - q90Of(c.shuffled.flat(), d);

/** Claim 10's finding over the replicates' online and shuffled (grid) evaluations. */
export function claim10Finding(cells: readonly { online: EvalPoint[]; shuffled: EvalPoint[][] }[]): Finding {
  const ci = bootstrap(cells, (sample, dr) => mean(sample.map((c) => delta10(c, dr))));
  const n = cells.length;
  return protocolFinding(10, 'Offline on D_online uniformly shuffled does not recover online', ci, above(ci), n,
    `Δ = q90(online) − q90(shuffled D_online pooled over the ${cells[0]?.shuffled.length ?? 0}-run lr × β grid), win rates after step 0, mean over ${repsText(n)}`, RULE_ABOVE,
    `per replicate: ${cells.map((c, r) => `r${r} ${fmt(delta10(c, storedValue))} (online ${fmt(q90Of(c.online))}, shuffled ${fmt(q90Of(c.shuffled.flat()))})`).join(', ')}`);
}

const SHUFFLED = 'offline on D_online shuffled (pooled lr × β grid)';
const GOLDEN = 'offline on D_golden (pooled grid)';

export const fig4: FigureDef = {
  name: 'fig4',
  title: 'Fig. 4 — tandem: offline on D_online vs D_online shuffled (IPO)',
  description:
    'The online IPO run records every batch it trains on (D_online). An offline run on D_online in order must reproduce it — tandem makes this exact ' +
    '(identical parameter bytes). A uniformly shuffled D_online has the same data coverage but loses the on-policy ordering; it is trained at every learning rate and β of the ' +
    'offline grid (the online run\'s length) and pooled. Offline IPO on D_golden (the pooled grid) is drawn as background. Every replicate.',
  runs: (s) => distinctRuns(fig4Plan(s).flatMap((p) => [p.online, p.replay, ...p.shuffled, ...p.golden])),
  program: (s) => {
    const plan = fig4Plan(s);
    const configs = fig4.runs(s);
    return afterDistinct(configs, async (env, resultOf) => {
      const id = (c: TrainRunConfig) => idOf(env, 'train', c);
      const data = await Promise.all(plan.map(async (p) => ({
        p,
        online: await metricsOf(env, p.online),
        replay: await metricsOf(env, p.replay),
        shuffled: await Promise.all(p.shuffled.map((c) => metricsOf(env, c))),
        golden: await Promise.all(p.golden.map((c) => metricsOf(env, c))),
      })));
      const identical = data.every((d) => maxMetricDiff(d.online, d.replay) === 0);
      const replayLabel = identical ? 'offline on D_online in order (identical to online)' : 'offline on D_online (in order)';
      // The in-order replay is usually bit-identical to the online run: it is drawn dashed on top
      // of a wider online line, and the legend and caption say so, so neither hides the other.
      const curves = data.flatMap((d) => [
        ...longRows('online', d.online, ['winRate', 'kl'], id(d.p.online)),
        ...longRows(replayLabel, d.replay, ['winRate', 'kl'], id(d.p.replay)),
        ...d.shuffled.flatMap((m, i) => longRows(SHUFFLED, m, ['winRate', 'kl'], id(d.p.shuffled[i]!))),
      ]);
      const styles = { online: { width: 6, dash: [] }, [replayLabel]: { width: 2.5, dash: [6, 4] } };
      const trade = data.flatMap((d) => {
        const x = { replicate: d.p.replicate };
        const label = (c: TrainRunConfig) => `${describeRun(c)} ${c.hyper.steps} steps r${d.p.replicate}`;
        return [
          ...klWinRows('online', id(d.p.online), label(d.p.online), d.online, x),
          ...klWinRows(replayLabel, id(d.p.replay), label(d.p.replay), d.replay, x),
          ...d.shuffled.flatMap((m, i) => klWinRows(SHUFFLED, id(d.p.shuffled[i]!), label(d.p.shuffled[i]!), m, x)),
          ...d.golden.flatMap((m, i) => klWinRows(GOLDEN, id(d.p.golden[i]!), label(d.p.golden[i]!), m, x)),
        ];
      });
      const cells = data.map((d) => ({ online: evalPoints(d.online), shuffled: d.shuffled.map(evalPoints) }));
      const n = cells.length;
      const out: FigureResult = {
        name: 'fig4', title: fig4.title, description: fig4.description,
        charts: [
          {
            name: 'fig4-curves',
            title: identical
              ? `Win rate and KL over training, ${repsText(n)} (a line per run). The in-order replay is identical to the online run: its dashed line lies exactly on the (wider) online line.`
              : `Win rate and KL over training, ${repsText(n)} (a line per run)`,
            spec: lineChart(identical ? 'online vs offline on D_online (in order: identical to online)' : 'online vs offline on D_online', curves, null, { facet: true, styles, detail: 'run' }),
          },
          {
            name: 'fig4-kl-winrate',
            title: `KL vs win rate: online, the in-order replay and the shuffled D_online (pooled over the grid), with offline IPO on D_golden (pooled grid) as background; ${repsText(n)}`,
            spec: klWinChart('KL vs win rate: online vs offline on D_online', trade, { background: [GOLDEN] }),
          },
        ],
        tables: [{
          title: 'Runs (q90, max and final over evaluations after step 0)',
          columns: TANDEM_COLUMNS,
          rows: data.flatMap((d) => [
            tandemRow(env, d.p.replicate, 'online', d.p.online, d.online, resultOf(d.p.online)),
            tandemRow(env, d.p.replicate, 'offline on D_online in order', d.p.replay, d.replay, resultOf(d.p.replay)),
            ...d.p.shuffled.map((c, i) => tandemRow(env, d.p.replicate, 'offline on D_online shuffled', c, d.shuffled[i]!, resultOf(c))),
          ]),
        }],
        findings: [
          hashFinding(9, 'Offline on D_online in order reproduces online', data.map((d) => ({ replicate: d.p.replicate, online: resultOf(d.p.online), replay: resultOf(d.p.replay) }))),
          claim10Finding(cells),
        ],
        runs: configs.map(id),
      };
      return out;
    });
  },
};

// ----------------------------------------------------------------------------- Fig. 13

/** Claim 11's "a little shuffling": the smallest window above 1 (4 in the paper preset). */
export const smallWindow = (s: StudyConfig): number | undefined => s.shuffleWindows.filter((w): w is number => w !== 'all' && w > 1).sort((a, b) => a - b)[0];

/** The replays of every window on every replicate. */
export function fig13Plan(s: StudyConfig): { replicate: number; replays: TrainRunConfig[] }[] {
  return replicatesOf(s).map((replicate) => {
    const online = onlineOf(s, { task: s.data.task, coverage: s.data.coverage, replicate });
    return { replicate, replays: s.shuffleWindows.map((w) => replayOf(s, online, w)) };
  });
}

/** The margin of claim 11: "robust" when the whole interval of Δ lies within ±0.03. */
export const ROBUST_MARGIN = 0.03;

/** Claims 11–12 from every replicate's evaluations per window (`cells[r][i]`: replicate r, window s.shuffleWindows[i]). */
export function shuffleFindings(s: StudyConfig, cells: readonly (readonly EvalPoint[][])[]): Finding[] {
  const ws = s.shuffleWindows;
  const n = cells.length;
  const i1 = ws.indexOf(1);
  const small = smallWindow(s);
  const iSmall = small === undefined ? -1 : ws.indexOf(small);
  const iAll = ws.indexOf('all');
  const diff = (a: number, b: number) => (c: readonly EvalPoint[][], d: Draw) => q90Of(c[a]!, d) - q90Of(c[b]!, d);
  const per = (a: number, b: number) => `per replicate: ${cells.map((c, r) => `r${r} ${fmt(diff(a, b)(c, storedValue))}`).join(', ')}`;
  const missing = (no: number, claim: string, why: string): Finding => ({ claim: `Claim ${no} — ${claim}`, holds: null, detail: `not computed: ${why}`, protocolClaim: no });
  const claim11 = 'Robust to a little shuffling';
  const claim12 = 'Degrades past a point: the uniform shuffle is below the in-order replay';
  const findings: Finding[] = [];
  if (i1 < 0 || iSmall < 0) findings.push(missing(11, claim11, 'shuffleWindows needs 1 and a window above 1'));
  else {
    const ci = bootstrap(cells, (sample, d) => mean(sample.map((c) => diff(i1, iSmall)(c, d))));
    findings.push(protocolFinding(11, claim11, ci, within(ci, ROBUST_MARGIN), n, `Δ = q90(w=1) − q90(w=${small}), win rates after step 0, mean over ${repsText(n)}`,
      `yes when the CI lies within ±${ROBUST_MARGIN}, no when it lies entirely outside ±${ROBUST_MARGIN}`, per(i1, iSmall)));
  }
  if (i1 < 0 || iAll < 0) findings.push(missing(12, claim12, "shuffleWindows needs 1 and 'all'"));
  else {
    const ci = bootstrap(cells, (sample, d) => mean(sample.map((c) => diff(i1, iAll)(c, d))));
    findings.push(protocolFinding(12, claim12, ci, above(ci), n, `Δ = q90(w=1) − q90(w=all), win rates after step 0, mean over ${repsText(n)}`, RULE_ABOVE, per(i1, iAll)));
  }
  return findings;
}

export const fig13: FigureDef = {
  name: 'fig13',
  title: 'Fig. 13 — shuffle levels of D_online',
  description:
    'Offline IPO on D_online with its batches shuffled within windows of w consecutive batches: w = 1 is the online order, w = all a uniform shuffle. ' +
    'Every replicate; best performance is the 90% quantile of win rates after step 0, with 95% bootstrap intervals over replicates and prompts.',
  runs: (s) => distinctRuns(fig13Plan(s).flatMap((p) => p.replays)),
  program: (s) => {
    const plan = fig13Plan(s);
    const configs = fig13.runs(s);
    return afterDistinct(configs, async (env) => {
      const id = (c: TrainRunConfig) => idOf(env, 'train', c);
      const ms = await Promise.all(plan.map((p) => Promise.all(p.replays.map((c) => metricsOf(env, c)))));
      const ws = s.shuffleWindows;
      const label = (i: number) => `w=${ws[i]}`;
      const cells = ms.map((m) => m.map(evalPoints));
      const n = cells.length;
      const perWindow = ws.map((_, i) => bootstrap(cells, (sample, d) => mean(sample.map((c) => q90Of(c[i]!, d)))));
      const bars = ws.map((_, i) => ({ label: label(i), value: perWindow[i]!.estimate, lo: perWindow[i]!.lo, hi: perWindow[i]!.hi }));
      const findings = shuffleFindings(s, cells);
      const trade = plan.flatMap((p, r) => p.replays.flatMap((c, i) => klWinRows(label(i), id(c), `${describeRun(c)} r${p.replicate}`, ms[r]![i]!, { replicate: p.replicate })));
      const curves = plan.flatMap((p, r) => p.replays.flatMap((c, i) => longRows(label(i), ms[r]![i]!, ['winRate'], id(c))));
      const out: FigureResult = {
        name: 'fig13', title: fig13.title, description: fig13.description,
        charts: [
          { name: 'fig13-peak', title: `Best performance (q90 of win rates after step 0) by shuffle window: mean over ${repsText(n)}, 95% bootstrap interval`, spec: barChart('q90 win rate vs shuffle window', bars, 'q90 win rate') },
          { name: 'fig13-kl-winrate', title: `KL vs win rate by shuffle window (every evaluation of every replay, ${repsText(n)})`, spec: klWinChart('KL vs win rate by shuffle window', trade) },
          { name: 'fig13-curves', title: `Win rate over training by shuffle window (a line per run, ${repsText(n)})`, spec: lineChart('win rate by shuffle window', curves, 'win rate', { detail: 'run' }) },
        ],
        tables: [
          {
            title: `q90 win rate by window (mean over ${repsText(n)}; ${bootstrapText(n)})`,
            columns: ['window', 'q90 win rate', '95% CI', ...plan.map((p) => `r${p.replicate}`)],
            rows: ws.map((_, i) => [label(i), fmt(perWindow[i]!.estimate), `[${fmt(perWindow[i]!.lo)}, ${fmt(perWindow[i]!.hi)}]`, ...cells.map((c) => fmt(q90Of(c[i]!)))]),
          },
          { title: 'Runs', columns: ['replicate', 'window', 'run id'], rows: plan.flatMap((p) => p.replays.map((c, i) => [p.replicate, label(i), id(c)])) },
        ],
        findings,
        runs: configs.map(id),
      };
      return out;
    });
  },
};

// ----------------------------------------------------------------------------- Fig. 9

/** Fig. 9's runs (replicate 0): Bo2 online, in order, shuffled and offline on D_golden, and the IPO online, shuffled and offline runs at the online config. */
export function fig9Plan(s: StudyConfig) {
  const cell = { task: s.data.task, coverage: s.data.coverage, replicate: 0 };
  const bo2 = onlineOf(s, { ...cell, loss: 'bo2' });
  const ipo = onlineOf(s, cell);
  return {
    bo2: { online: bo2, replay: replayOf(s, bo2, 1), shuffled: replayOf(s, bo2, 'all'), offline: offlineOf(s, { ...cell, loss: 'bo2' }) },
    ipo: { online: ipo, shuffled: replayOf(s, ipo, 'all'), offline: offlineOf(s, cell) },
  };
}

/** The evaluations R reads: the online run, its shuffled stream and offline on D_golden. */
export interface GapRuns {
  online: EvalPoint[];
  shuffled: EvalPoint[];
  offline: EvalPoint[];
}

/** The share of the online–offline gap that the shuffled stream recovers: (q90(shuffled) − q90(offline)) / (q90(online) − q90(offline)). */
export function recovered(c: GapRuns, d: Draw): number {
  const on = q90Of(c.online, d);
  const sh = q90Of(c.shuffled, d);
  const off = q90Of(c.offline, d);
  return (sh - off) / (on - off);
}

/** Claim 20: R(Bo2) − R(IPO), one replicate (bootstrap over prompts). */
export function claim20Finding(bo2: GapRuns, ipo: GapRuns): Finding {
  const ci = bootstrap([null], (_, d) => recovered(bo2, d) - recovered(ipo, d));
  const q = (c: GapRuns) => `q90 online ${fmt(q90Of(c.online))}, shuffled ${fmt(q90Of(c.shuffled))}, offline D_golden ${fmt(q90Of(c.offline))}`;
  return protocolFinding(20, 'For Bo2 coverage explains more of the gap: the shuffled stream recovers a larger share of the online–offline gap than for IPO', ci, above(ci), 1,
    'Δ = R(Bo2) − R(IPO), R = (q90(shuffled) − q90(offline D_golden)) / (q90(online) − q90(offline D_golden)), win rates after step 0, runs at the online config', RULE_ABOVE,
    `R(Bo2) ${fmt(recovered(bo2, storedValue))} (${q(bo2)}); R(IPO) ${fmt(recovered(ipo, storedValue))} (${q(ipo)})`);
}

export const fig9: FigureDef = {
  name: 'fig9',
  title: 'Fig. 9 — the same comparison with the Bo2 loss',
  description:
    'Best-of-2 (SFT on the winner of each pair) trained online, offline on D_online in order, on D_online shuffled, and offline on D_golden, at the online config (replicate 0); ' +
    'the IPO runs (online, shuffled D_online, offline D_golden) as background. The paper finds that for Bo2 data coverage explains more of the gap than for IPO.',
  runs: (s) => {
    const p = fig9Plan(s);
    return [p.bo2.online, p.bo2.replay, p.bo2.shuffled, p.bo2.offline, p.ipo.online, p.ipo.shuffled, p.ipo.offline];
  },
  program: (s) => {
    const p = fig9Plan(s);
    const configs = fig9.runs(s);
    return afterDistinct(configs, async (env, resultOf) => {
      const id = (c: TrainRunConfig) => idOf(env, 'train', c);
      const [bo, br, bs, bf, io, is, iff] = await Promise.all(configs.map((c) => metricsOf(env, c))) as MetricRecord[][];
      const identical = maxMetricDiff(bo!, br!) === 0;
      const replayLabel = identical ? 'Bo2 offline on D_online in order (identical to online)' : 'Bo2 offline on D_online in order';
      const series: [string, TrainRunConfig, MetricRecord[]][] = [
        ['Bo2 online', p.bo2.online, bo!], [replayLabel, p.bo2.replay, br!], ['Bo2 offline on D_online shuffled', p.bo2.shuffled, bs!], ['Bo2 offline on D_golden', p.bo2.offline, bf!],
      ];
      const background: [string, TrainRunConfig, MetricRecord[]][] = [
        ['IPO online (background)', p.ipo.online, io!], ['IPO offline on D_online shuffled (background)', p.ipo.shuffled, is!], ['IPO offline on D_golden (background)', p.ipo.offline, iff!],
      ];
      const curves = [...series, ...background].flatMap(([l, c, m]) => longRows(l, m, ['winRate', 'kl'], id(c)));
      const styles = { 'Bo2 online': { width: 6, dash: [] }, [replayLabel]: { width: 2.5, dash: [6, 4] }, ...Object.fromEntries(background.map(([l]) => [l, { width: 1, dash: [2, 3] }])) };
      const trade = [...series, ...background].flatMap(([l, c, m]) => klWinRows(l, id(c), `${describeRun(c)} ${c.hyper.steps} steps`, m));
      const bo2 = { online: evalPoints(bo!), shuffled: evalPoints(bs!), offline: evalPoints(bf!) };
      const ipo = { online: evalPoints(io!), shuffled: evalPoints(is!), offline: evalPoints(iff!) };
      const out: FigureResult = {
        name: 'fig9', title: fig9.title, description: fig9.description,
        charts: [
          {
            name: 'fig9-curves',
            title: identical ? 'Win rate and KL over training (Bo2; IPO thin dotted). The in-order replay is identical to the online run: its dashed line lies on the (wider) online line.' : 'Win rate and KL over training (Bo2; IPO thin dotted)',
            spec: lineChart('Bo2: online vs offline on D_online and D_golden', curves, null, { facet: true, styles }),
          },
          { name: 'fig9-kl-winrate', title: 'KL vs win rate: the Bo2 runs, with the IPO runs as background', spec: klWinChart('KL vs win rate: Bo2 (IPO as background)', trade, { background: background.map(([l]) => l) }) },
        ],
        tables: [{
          title: 'Runs (replicate 0; q90, max and final over evaluations after step 0)',
          columns: TANDEM_COLUMNS,
          rows: [...series, ...background].map(([l, c, m]) => tandemRow(env, 0, l, c, m, resultOf(c))),
        }],
        findings: [
          hashFinding(19, 'Bo2: offline on D_online in order reproduces online', [{ replicate: 0, online: resultOf(p.bo2.online), replay: resultOf(p.bo2.replay) }]),
          claim20Finding(bo2, ipo),
        ],
        runs: configs.map(id),
      };
      return out;
    });
  },
};

/**
 * Fig. 6 / 7 / 8 — preference models and policies as classifiers (claims 15–18 of
 * docs/decisions/study-protocol.md §3), each figure computing what it shows:
 *  - Fig. 6: the proxy model and the FINAL online and offline policies as classifiers of
 *    the online stream — the same distinct, golden-labelled stream pairs for all three —
 *    and the proxy's accuracy over training (claim 16);
 *  - Fig. 7: best performance against final accuracy on D_golden across the offline runs
 *    (the grid and Fig. 5's D_{a vs b} runs), with Pearson's r and its Fisher-z interval
 *    (claim 17);
 *  - Fig. 8: accuracy on D_golden over training (online, offline, and the tandem in-order
 *    replay of D_online) and the log-probability of D_golden's winners (claims 15 and 18).
 */
import type { TransformerParams } from '@tandem/nn';
import {
  accuracyOf, accuracyScores, classifierAccuracy, distinctPairs, getTask, modelJudge, type Accuracy, type PreferenceModelParams, type Verdict,
} from '@tandem/rlhf';
import { dispose } from '@tandem/tensor';
import type { StudyConfig } from '../config.js';
import type { Env } from '../program.js';
import { loadParams, loadStream } from '../runs/artifacts.js';
import { idOf } from '../runs/cache.js';
import { metricValue, type MetricRecord } from '../runs/metrics.js';
import { loadGolden, loadSft, policySpecOf, prefSpecOf } from '../runs/setup.js';
import { describeRun, type TrainRunConfig } from '../runs/train.js';
import { offlineGrid, offlineOf, onlineOf, replayOf } from '../study.js';
import { afterRuns, barChart, lineChart, longRows, metricsOf, PALETTE, runIds, type FigureDef, type FigureResult, type VegaLiteSpec } from './common.js';
import { datasetRuns, estimateOf, bestOf, uniqueRuns, verdictWord } from './datasets.js';
import { above, BOOTSTRAP, bootstrap, showInterval, type Estimate, type Interval } from './stats.js';

// ----------------------------------------------------------------------------- Fig. 6

/** The three classifiers of the online stream, scored on the same pairs. */
export interface StreamClassifiers {
  /** Pairs the online run recorded (its steps × batch size). */
  recorded: number;
  /** Of those, the pairs whose two responses differ. */
  distinct: number;
  /** The proxy model (the debiased sign rule; an exact tie predicted ½). */
  proxy: Accuracy;
  /** The final online policy as a classifier (App. E). */
  online: Accuracy;
  /** The final offline policy (at the online config) as a classifier. */
  offline: Accuracy;
}

/**
 * Scores the proxy and the final online and offline policies as classifiers of the online
 * run's recorded stream (stream.bin), against the golden model's verdicts, under the one
 * accuracy rule: identical pairs and pairs the golden model calls a tie are excluded, a
 * predicted tie counts ½. All three see the same pairs; `pairs` of each is their number.
 */
export async function streamClassifiers(env: Env, online: TrainRunConfig, offline: TrainRunConfig): Promise<StreamClassifiers> {
  const setup = online.setup;
  const task = getTask(setup.data.task);
  const stream = await loadStream(env, idOf(env, 'train', online), online.hyper.steps, online.hyper.batchSize);
  const all = stream.flatMap((b) => b.pairs);
  const items = distinctPairs(all);
  const golden = await loadGolden(env, setup.data);
  const held: unknown[] = [];
  try {
    const truth = items.length ? await golden.judge(items) : [];
    const proxyParams = await loadParams<PreferenceModelParams>(env, idOf(env, 'setup', setup), 'proxy.ckpt');
    held.push(proxyParams);
    const proxy = modelJudge(proxyParams, prefSpecOf(task, setup.setup.size), env.backend);
    const proxyAcc = accuracyOf(await accuracyScores(items, truth, (counted) => proxy(counted)));
    const sft = await loadSft(env, setup);
    held.push(sft);
    const ctx = { spec: policySpecOf(task, setup.setup.size), sft, backend: env.backend };
    const policy = async (c: TrainRunConfig) => {
      const p = await loadParams<TransformerParams>(env, idOf(env, 'train', c), 'final.ckpt');
      held.push(p);
      return classifierAccuracy(p, ctx, items, truth as Verdict[]);
    };
    return { recorded: all.length, distinct: items.length, proxy: proxyAcc, online: await policy(online), offline: await policy(offline) };
  } finally {
    golden.release();
    dispose(held as never);
  }
}

/** Claim 16's Δ = proxy − max(online, offline) accuracy, each accuracy drawn with its SE over pairs (one replicate). */
export function claim16(c: StreamClassifiers): Interval {
  const est = (a: Accuracy): Estimate => ({ value: a.value, se: a.se });
  return bootstrap([null], (_, d) => {
    const p = d(est(c.proxy));
    return p - Math.max(d(est(c.online)), d(est(c.offline)));
  });
}

const accText = (a: Accuracy) => `${a.value.toFixed(3)} ± ${Number.isNaN(a.se) ? 'n/a' : a.se.toFixed(3)}`;

/** Fig. 6's runs: the online run (its stream) and the offline run at the online config. */
export const fig6Runs = (s: StudyConfig) => ({ online: onlineOf(s), offline: offlineOf(s) });

export const fig6: FigureDef = {
  name: 'fig6',
  title: 'Fig. 6 — the proxy and the final policies as classifiers of the online stream',
  description:
    'Every pair the online IPO run trained on (D_online, labelled by the proxy), judged by the golden model. Three classifiers score the same distinct, ' +
    'golden-labelled pairs: the proxy model, the final online policy and the final offline policy (offline IPO on D_golden at the online config), the policies ' +
    'as classifiers by App. E. Identical pairs and golden ties are excluded, a predicted tie counts ½. Also the proxy\'s accuracy on the recent stream over training.',
  runs: (s) => Object.values(fig6Runs(s)),
  program: (s) => {
    const { online, offline } = fig6Runs(s);
    return afterRuns([online, offline], async (env) => {
      const mo = await metricsOf(env, online);
      const [io] = runIds(env, [online]);
      const c = await streamClassifiers(env, online, offline);
      const ci = claim16(c);
      const v = above(ci);
      const rows = [{ label: 'proxy model', a: c.proxy }, { label: 'final online policy', a: c.online }, { label: 'final offline policy', a: c.offline }];
      const out: FigureResult = {
        name: 'fig6', title: fig6.title, description: fig6.description,
        charts: [
          { name: 'fig6-stream-classifiers', title: `Accuracy on the same ${c.proxy.pairs} distinct, golden-labelled online-stream pairs (±1 SE)`, spec: barChart('classifiers of the online stream (golden labels)', rows.map((r) => ({ label: r.label, value: r.a.value, se: Number.isNaN(r.a.se) ? 0 : r.a.se })), 'accuracy') },
          { name: 'fig6-proxy', title: 'Proxy accuracy on the recent online pairs over training', spec: lineChart('proxy model accuracy on the pairs since the previous evaluation (golden labels)', longRows('proxy', mo, ['proxyAccuracy'], io), 'accuracy') },
        ],
        tables: [{
          title: `Classifiers of the online stream: ${c.recorded} recorded pairs, ${c.distinct} distinct; counted: those the golden model does not call a tie`,
          columns: ['classifier', 'accuracy', 'SE', 'pairs counted'],
          rows: rows.map((r) => [r.label, r.a.value, r.a.se, r.a.pairs]),
        }],
        findings: [{
          claim: 'Claim 16 — the proxy classifies the online stream better than the final online and offline policies do',
          holds: v,
          detail: `on the same ${c.proxy.pairs} pairs (${c.recorded} recorded, ${c.distinct} distinct, golden ties excluded, predicted ties ½): proxy ${accText(c.proxy)}, final online policy ${accText(c.online)}, ` +
            `final offline policy ${accText(c.offline)}; Δ = proxy − max(online, offline) = ${showInterval(ci)}; bootstrap over pairs only (one replicate): ${BOOTSTRAP.resamples} resamples, ` +
            `each accuracy drawn from a normal with its pair-level SE, independently; yes when the CI is above 0, no when below: ${verdictWord(v)}`,
        }],
        runs: runIds(env, [online, offline]),
      };
      return out;
    });
  },
};

// ----------------------------------------------------------------------------- Fig. 7

/** Pearson's r of paired values (NaN with fewer than 2 points or no spread). */
export function pearson(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2 || ys.length !== n) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** The 95% interval of a correlation r over n points by Fisher's z: tanh(atanh r ± 1.96/√(n − 3)); NaN for n < 4 or an undefined r. */
export function fisherInterval(r: number, n: number): { lo: number; hi: number } {
  if (n < 4 || Number.isNaN(r)) return { lo: NaN, hi: NaN };
  const z = Math.atanh(r);
  const h = 1.959963984540054 / Math.sqrt(n - 3);
  return { lo: Math.tanh(z - h), hi: Math.tanh(z + h) };
}

/**
 * Claim 17's verdict from r's interval: yes (accuracy is not predictive) when the interval
 * includes 0 or lies below it, no when it lies above 0; null when undefined.
 */
export function claim17(ci: { lo: number; hi: number }): boolean | null {
  if (Number.isNaN(ci.lo) || Number.isNaN(ci.hi)) return null;
  return !(ci.lo > 0);
}

/** Fig. 7's runs: every offline run (the grid at every length, and Fig. 5's D_{a vs b} runs), and the online run (drawn, not in r). */
export function fig7Runs(s: StudyConfig): { offline: { label: string; run: TrainRunConfig }[]; online: TrainRunConfig } {
  const grid = offlineGrid(s).map((run) => ({ label: `D_golden lr=${run.hyper.lr} β=${run.hyper.beta} ${run.hyper.steps} steps`, run }));
  const versus = datasetRuns(s).sets.slice(1).map((d) => ({ label: `${d.label} lr=${d.run.hyper.lr} β=${d.run.hyper.beta} ${d.run.hyper.steps} steps`, run: d.run }));
  const runs = uniqueRuns([...grid, ...versus].map((x) => x.run));
  return { offline: runs.map((r) => [...grid, ...versus].find((x) => x.run === r)!), online: onlineOf(s) };
}

/** One point of Fig. 7: a run's final accuracy on D_golden and its best performance. */
export interface AccuracyPoint {
  label: string;
  method: 'offline' | 'online';
  accGolden: number;
  q90: number;
}

/** A run's point: the last evaluation's accuracy on D_golden, and q90 of its win rates after step 0. */
export function accuracyPoint(label: string, method: 'offline' | 'online', rs: readonly MetricRecord[]): AccuracyPoint {
  return { label, method, accGolden: metricValue(rs[rs.length - 1], 'accGolden'), q90: bestOf([rs]) };
}

/** r and its Fisher-z interval over the offline points with both values measured (online points never enter). */
export function accuracyCorrelation(points: readonly AccuracyPoint[]): { r: number; n: number; lo: number; hi: number } {
  const pts = points.filter((p) => p.method === 'offline' && Number.isFinite(p.accGolden) && Number.isFinite(p.q90));
  const r = pearson(pts.map((p) => p.accGolden), pts.map((p) => p.q90));
  return { r, n: pts.length, ...fisherInterval(r, pts.length) };
}

/** Scatter of q90 win rate (y) against final accuracy on D_golden (x), coloured by method. */
function scatterChart(title: string, points: readonly AccuracyPoint[]): VegaLiteSpec {
  const groups = ['offline (in r)', 'online (not in r)'];
  const data = points.map((p) => ({ ...p, group: p.method === 'offline' ? groups[0] : groups[1] }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json', background: 'white', title, width: 520, height: 360,
    config: { font: 'DejaVu Sans', axis: { labelFontSize: 12, titleFontSize: 13 }, title: { fontSize: 15, anchor: 'start', offset: 12 }, legend: { orient: 'bottom' } },
    data: { values: data },
    mark: { type: 'point', filled: true, size: 90 },
    encoding: {
      x: { field: 'accGolden', type: 'quantitative', title: 'final accuracy on D_golden', scale: { zero: false } },
      y: { field: 'q90', type: 'quantitative', title: 'q90 win rate vs golden baseline', scale: { zero: false } },
      color: { field: 'group', type: 'nominal', title: null, scale: { domain: groups, range: [PALETTE[0]!, PALETTE[1]!] } },
      shape: { field: 'group', type: 'nominal', title: null, scale: { domain: groups, range: ['circle', 'square'] } },
      tooltip: [{ field: 'label', title: 'run', type: 'nominal' }, { field: 'accGolden', title: 'final accuracy on D_golden', type: 'quantitative', format: '.4~f' }, { field: 'q90', title: 'q90 win rate', type: 'quantitative', format: '.4~f' }],
    },
  };
}

export const fig7: FigureDef = {
  name: 'fig7',
  title: 'Fig. 7 — classification accuracy vs win rate across offline experiments',
  description:
    'One point per offline IPO run — the grid of learning rates, β and lengths on D_golden, and the D_{a vs b} runs of Fig. 5 — at its final accuracy on D_golden ' +
    '(policy as classifier, App. E) and its best performance (90% quantile of win rates after step 0). Pearson\'s r over the offline points with a Fisher-z 95% interval; ' +
    'the online run is drawn in another colour and does not enter r.',
  runs: (s) => {
    const { offline, online } = fig7Runs(s);
    return [...offline.map((x) => x.run), online];
  },
  program: (s) => {
    const { offline, online } = fig7Runs(s);
    const runs = [...offline.map((x) => x.run), online];
    return afterRuns(runs, async (env) => {
      const ms = await Promise.all(runs.map((c) => metricsOf(env, c)));
      const ids = runIds(env, runs);
      const points = [...offline.map((x, i) => accuracyPoint(x.label, 'offline', ms[i]!)), accuracyPoint(`online ${describeRun(online)}`, 'online', ms[ms.length - 1]!)];
      const c = accuracyCorrelation(points);
      const v = claim17(c);
      const gridN = offline.filter((x) => x.run.method.kind === 'offline' && x.run.method.dataset.kind === 'golden').length;
      const fmt = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(3));
      const out: FigureResult = {
        name: 'fig7', title: fig7.title, description: fig7.description,
        charts: [{ name: 'fig7-accuracy-vs-winrate', title: `q90 win rate against final accuracy on D_golden; r = ${fmt(c.r)} over ${c.n} offline runs`, spec: scatterChart('best performance vs final accuracy on D_golden', points) }],
        tables: [{
          title: 'Points (offline rows enter r; the online row does not)',
          columns: ['run', 'method', 'final accuracy on D_golden', 'q90 win rate', 'run id'],
          rows: points.map((p, i) => [p.label, p.method, p.accGolden, p.q90, ids[i]!]),
        }, {
          title: 'Pearson r between final accuracy on D_golden and q90 win rate over the offline runs, with its Fisher-z 95% interval',
          columns: ['offline runs', 'Pearson r', 'Fisher-z 95% CI low', 'Fisher-z 95% CI high'],
          rows: [[c.n, c.r, c.lo, c.hi]],
        }],
        findings: [{
          claim: 'Claim 17 — classification accuracy is not predictive of win rate (across offline experiments)',
          holds: v,
          detail: `Pearson r between final accuracy on D_golden and q90 win rate over ${c.n} offline runs (${gridN} of the D_golden grid, ${offline.length - gridN} D_{a vs b}; the online run excluded) = ${fmt(c.r)}, ` +
            `Fisher-z 95% CI [${fmt(c.lo)}, ${fmt(c.hi)}]; yes when the CI includes 0 or lies below it, no when it lies above 0: ${verdictWord(v)}`,
        }],
        runs: ids,
      };
      return out;
    });
  },
};

// ----------------------------------------------------------------------------- Fig. 8

/** Fig. 8's runs: online, offline at the online config, and the tandem run (offline on D_online in order). */
export function fig8Runs(s: StudyConfig): { online: TrainRunConfig; offline: TrainRunConfig; tandem: TrainRunConfig } {
  const online = onlineOf(s);
  return { online, offline: offlineOf(s), tandem: replayOf(s, online, 1) };
}

/** Claim 15: Δ = accGolden(offline final) − accGolden(online final), each drawn with its SE (one replicate). */
export function claim15(mo: readonly MetricRecord[], mf: readonly MetricRecord[]): Interval {
  const on = estimateOf(mo[mo.length - 1], 'accGolden');
  const off = estimateOf(mf[mf.length - 1], 'accGolden');
  return bootstrap([null], (_, d) => d(off) - d(on));
}

/** Claim 18: drop = winnerLogProb at step 0 − at the last evaluation; Δ = drop(offline) − drop(online), and drop(offline); every stored value drawn with its SE (one replicate). */
export function claim18(mo: readonly MetricRecord[], mf: readonly MetricRecord[]): { delta: Interval; dropOffline: Interval; dropOnline: Interval } {
  const e = (rs: readonly MetricRecord[]) => ({ first: estimateOf(rs.find((r) => r.step === 0), 'winnerLogProb'), last: estimateOf(rs[rs.length - 1], 'winnerLogProb') });
  const on = e(mo);
  const off = e(mf);
  const drop = (x: { first: Estimate; last: Estimate }, d: (e: Estimate) => number) => d(x.first) - d(x.last);
  return {
    delta: bootstrap([null], (_, d) => drop(off, d) - drop(on, d)),
    dropOffline: bootstrap([null], (_, d) => drop(off, d)),
    dropOnline: bootstrap([null], (_, d) => drop(on, d)),
  };
}

/** Claim 18's verdict: yes when both Δ and drop(offline) lie above 0; no when either lies below 0; otherwise inconclusive. */
export function claim18Verdict(c: { delta: Interval; dropOffline: Interval }): boolean | null {
  const a = above(c.delta);
  const b = above(c.dropOffline);
  if (a === true && b === true) return true;
  if (a === false || b === false) return false;
  return null;
}

export const fig8: FigureDef = {
  name: 'fig8',
  title: 'Fig. 8 — accuracy on D_golden and the log-probability of its winners over training',
  description:
    'Top: the policy-as-classifier accuracy (App. E) on D_golden pairs over training for online IPO, offline IPO on D_golden at the online config, and the tandem run ' +
    '(offline on D_online in the recorded order). Bottom: the mean log-probability of D_golden\'s winning responses for online and offline IPO.',
  runs: (s) => Object.values(fig8Runs(s)),
  program: (s) => {
    const { online, offline, tandem } = fig8Runs(s);
    return afterRuns([online, offline, tandem], async (env) => {
      const [mo, mf, mt] = await Promise.all([online, offline, tandem].map((c) => metricsOf(env, c))) as [MetricRecord[], MetricRecord[], MetricRecord[]];
      const [io, iff, it] = runIds(env, [online, offline, tandem]);
      const tandemLabel = 'tandem: offline on D_online in order';
      const acc = [...longRows('online', mo, ['accGolden'], io), ...longRows('offline', mf, ['accGolden'], iff), ...longRows(tandemLabel, mt, ['accGolden'], it)];
      const lp = [...longRows('online', mo, ['winnerLogProb'], io), ...longRows('offline', mf, ['winnerLogProb'], iff)];
      const c15 = claim15(mo, mf);
      const v15 = above(c15);
      const c18 = claim18(mo, mf);
      const v18 = claim18Verdict(c18);
      const last = (rs: readonly MetricRecord[], k: string) => estimateOf(rs[rs.length - 1], k);
      const e = (x: Estimate) => `${x.value.toFixed(3)} ± ${x.se === undefined || Number.isNaN(x.se) ? 'n/a' : x.se.toFixed(3)}`;
      const out: FigureResult = {
        name: 'fig8', title: fig8.title, description: fig8.description,
        charts: [
          { name: 'fig8-accuracy', title: 'Accuracy on D_golden over training (the tandem run is drawn dashed; in-order replay reproduces online)', spec: lineChart('policy-as-classifier accuracy on D_golden', acc, 'accuracy', { styles: { online: { width: 6, dash: [] }, [tandemLabel]: { width: 2.5, dash: [6, 4] } } }) },
          { name: 'fig8-logprob', title: 'Log-probability of D_golden winners over training', spec: lineChart('mean log π(y_w | x) over D_golden winners', lp, 'log-prob') },
        ],
        tables: [{
          title: 'Final values (± SE over pairs)',
          columns: ['run', 'final accuracy on D_golden', 'winner log-prob at step 0', 'final winner log-prob'],
          rows: [['online', mo, io], ['offline', mf, iff], [tandemLabel, mt, it]].map(([n, rs]) => {
            const r = rs as MetricRecord[];
            return [n as string, e(last(r, 'accGolden')), e(estimateOf(r.find((x) => x.step === 0), 'winnerLogProb')), e(last(r, 'winnerLogProb'))];
          }),
        }],
        findings: [
          {
            claim: 'Claim 15 — the final offline policy classifies D_golden better than the final online policy',
            holds: v15,
            detail: `final accuracy on D_golden: offline ${e(last(mf, 'accGolden'))}, online ${e(last(mo, 'accGolden'))}; Δ = offline − online = ${showInterval(c15)}; ` +
              `bootstrap over pairs only (one replicate): ${BOOTSTRAP.resamples} resamples, each accuracy drawn from a normal with its pair-level SE, independently; yes when the CI is above 0, no when below: ${verdictWord(v15)}`,
          },
          {
            claim: "Claim 18 — the winners' log-probabilities fall, most for offline",
            holds: v18,
            detail: `drop = mean log π(y_w|x) over D_golden winners at step 0 − at the last evaluation: offline ${showInterval(c18.dropOffline)}, online ${showInterval(c18.dropOnline)}; ` +
              `Δ = drop(offline) − drop(online) = ${showInterval(c18.delta)}; bootstrap over pairs only (one replicate): ${BOOTSTRAP.resamples} resamples, each of the four stored values drawn from a normal with its pair-level SE, independently; ` +
              `yes when the CIs of Δ and of drop(offline) are both above 0, no when either is below 0: ${verdictWord(v18)}`,
          },
        ],
        runs: runIds(env, [online, offline, tandem]),
      };
      return out;
    });
  },
};

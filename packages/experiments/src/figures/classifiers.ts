/**
 * Fig. 6 / 7 / 8 — preference models and policies as classifiers (claims 15–18 of
 * docs/decisions/study-protocol.md §3), each figure computing what it shows:
 *  - Fig. 6: the proxy model and the FINAL online and offline policies as classifiers of
 *    the online stream — the same distinct, golden-labelled stream pairs for all three —
 *    and the proxy's accuracy over training (claim 16, a paired bootstrap over those pairs);
 *  - Fig. 7: best performance against final accuracy on D_golden across the offline runs
 *    (the grid and Fig. 5's D_{a vs b} runs), with Pearson's r and its Fisher-z interval
 *    (claim 17);
 *  - Fig. 8: accuracy on D_golden over training (online, offline, and the tandem in-order
 *    replay of D_online) and the log-probability of D_golden's winners (claims 15 and 18,
 *    each a paired bootstrap over the D_golden pairs the evaluators read, with per-pair
 *    values recomputed from the stored final params and π_sft).
 * Claims 15, 16 and 18 compare sides measured on the same items, so their intervals come
 * from {@link pairedBootstrap} (protocol §2, "Paired items").
 */
import type { TransformerParams } from '@tandem/nn';
import {
  accuracyOf, accuracyScores, classifierMargin, distinctPairs, getTask, logProbs, modelJudge,
  type Accuracy, type Comparison, type EvalContext, type PreferenceModelParams, type Verdict,
} from '@tandem/rlhf';
import { dispose, tidy, type Tensor } from '@tandem/tensor';
import type { StudyConfig } from '../config.js';
import type { Env } from '../program.js';
import { loadParams, loadStream } from '../runs/artifacts.js';
import { idOf } from '../runs/cache.js';
import { metricValue, type MetricRecord } from '../runs/metrics.js';
import { loadDataDatasets, loadGolden, loadSft, policySpecOf, prefSpecOf } from '../runs/setup.js';
import { describeRun, type TrainRunConfig } from '../runs/train.js';
import { offlineGrid, offlineOf, onlineOf, replayOf } from '../study.js';
import { afterRuns, barChart, distinctRuns, fmt, lineChart, longRows, metricsOf, PALETTE, pm, runIds, type FigureDef, type FigureResult, type VegaLiteSpec } from './common.js';
import { datasetRuns } from './datasets.js';
import {
  above, bestOf, fisherInterval, mean, meanAt, pairedBootstrap, pairedBootstrapText, pearson, showInterval, statisticOf, verdictWord, type Interval,
} from './stats.js';

// ----------------------------------------------------------------------------- per-item values

/** The host values of a tensor computed in `f` (the tensor is disposed). */
async function hostValues(f: () => Tensor): Promise<number[]> {
  const t = tidy(f);
  try {
    return Array.from(await t.data());
  } finally {
    t.dispose();
  }
}

/**
 * Per-pair scores (1, 0 or ½) of a policy as a classifier (App. E: the sign of
 * {@link classifierMargin} against π_sft, a margin of exactly 0 a predicted tie) under
 * accuracyScores' rule — one score per counted pair, in order; their mean is exactly
 * classifierAccuracy's value.
 */
export function policyScores(policy: TransformerParams, ctx: Pick<EvalContext, 'spec' | 'sft' | 'backend'>, items: readonly Comparison[], truth: readonly Verdict[]): Promise<number[]> {
  return accuracyScores(items, truth, async (counted) =>
    (await hostValues(() => classifierMargin(policy, ctx, counted))).map((x): Verdict => (x > 0 ? 1 : x < 0 ? 0 : 0.5)));
}

// ----------------------------------------------------------------------------- Fig. 6

/** The three classifiers of the online stream, scored on the same pairs. */
export interface StreamClassifiers {
  /** Pairs the online run recorded (its steps × batch size). */
  recorded: number;
  /** Of those, the pairs whose two responses differ. */
  distinct: number;
  /** Per counted pair (distinct, not a golden tie; the same pairs in the same order for all three), each classifier's score: 1, 0 or ½. */
  scores: { proxy: number[]; online: number[]; offline: number[] };
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
    const proxyScores = await accuracyScores(items, truth, (counted) => proxy(counted));
    const sft = await loadSft(env, setup);
    held.push(sft);
    const ctx = { spec: policySpecOf(task, setup.setup.size), sft, backend: env.backend };
    const policy = async (c: TrainRunConfig) => {
      const p = await loadParams<TransformerParams>(env, idOf(env, 'train', c), 'final.ckpt');
      held.push(p);
      return policyScores(p, ctx, items, truth);
    };
    const scores = { proxy: proxyScores, online: await policy(online), offline: await policy(offline) };
    return { recorded: all.length, distinct: items.length, scores, proxy: accuracyOf(scores.proxy), online: accuracyOf(scores.online), offline: accuracyOf(scores.offline) };
  } finally {
    golden.release();
    dispose(held as never);
  }
}

/**
 * Claim 16's Δ = acc(proxy) − max(acc(final online), acc(final offline)) on the same counted
 * stream pairs, with a paired bootstrap over those pairs: each resample draws the pairs once
 * and all three accuracies are the means of their scores on that draw.
 */
export function claim16(c: Pick<StreamClassifiers, 'scores'>): Interval {
  const { proxy, online, offline } = c.scores;
  return pairedBootstrap(proxy.length, (ix) => meanAt(proxy, ix) - Math.max(meanAt(online, ix), meanAt(offline, ix)));
}

const accText = (a: Accuracy) => `${fmt(a.value)} ± ${fmt(a.se)}`;

/** Fig. 6's runs: the online run (its stream) and the offline run at the online config. */
export const fig6Runs = (s: StudyConfig) => ({ online: onlineOf(s), offline: offlineOf(s) });

export const fig6: FigureDef = {
  name: 'fig6',
  title: 'Fig. 6 — the proxy and the final policies as classifiers of the online stream',
  description:
    'Every pair the online IPO run trained on (D_online, labelled by the proxy), judged by the golden model. Three classifiers score the same distinct, ' +
    'golden-labelled pairs: the proxy model, the final online policy and the final offline policy (offline IPO on D_golden at the online config), the policies ' +
    'as classifiers by App. E. Identical pairs and golden ties are excluded, a predicted tie counts ½; claim 16 is decided with a paired bootstrap over those pairs. Also the proxy\'s accuracy on the recent stream over training.',
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
          protocolClaim: 16,
          statistic: statisticOf(ci, 1),
          detail: `on the same ${c.proxy.pairs} stream pairs (${c.recorded} recorded, ${c.distinct} distinct, golden ties excluded, predicted ties ½): proxy ${accText(c.proxy)}, final online policy ${accText(c.online)}, ` +
            `final offline policy ${accText(c.offline)} (± SE over pairs); Δ = acc(proxy) − max(acc(online), acc(offline)), each accuracy the mean of its per-pair scores (1, 0 or ½) = ${showInterval(ci)}; ` +
            `${pairedBootstrapText(c.proxy.pairs)}${ci.undefinedResamples ? ` (${ci.undefinedResamples} undefined, left out)` : ''}; yes when the CI is above 0, no when below: ${verdictWord(v)}`,
        }],
        runs: runIds(env, [online, offline]),
      };
      return out;
    });
  },
};

// ----------------------------------------------------------------------------- Fig. 7

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
  const runs = distinctRuns([...grid, ...versus].map((x) => x.run));
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
          protocolClaim: 17,
          statistic: { estimate: c.r, lo: c.lo, hi: c.hi, replicates: 1 },
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

/** The per-pair values of claims 15 and 18, recomputed from the stored final params of the online and offline runs and π_sft. */
export interface GoldenItems {
  /** The D_golden pairs the evaluators read: the first `eval.classifierPairs` (accGolden and winnerLogProb of every evaluation). */
  pairs: number;
  /** Claim 15: per pair counted for accuracy (the pairs with distinct responses, in order), each final policy's score as a classifier: 1, 0 or ½ (a predicted tie). */
  score: { online: number[]; offline: number[] };
  /** Claim 18: per pair (all `pairs`, in order), drop_i = log π_sft(y_w,i | x_i) − log π_final(y_w,i | x_i), y_w = y1 when the golden preference is 1, else y2. */
  drop: { online: number[]; offline: number[] };
}

/**
 * Claims 15 and 18's per-pair values on the D_golden pairs the evaluators read
 * (train.ts buildEvaluators: `dGolden.pairs.slice(0, classifierPairs)`): each final policy as a
 * classifier of them against π_sft (accuracyScores' rule: identical responses not counted, a
 * predicted tie ½), and the fall of each winner's log-probability from π_sft to the final
 * policy. The two runs must share their setup and D_golden pairs.
 */
export async function goldenItems(env: Env, online: TrainRunConfig, offline: TrainRunConfig): Promise<GoldenItems> {
  if (idOf(env, 'setup', online.setup) !== idOf(env, 'setup', offline.setup) || online.eval.classifierPairs !== offline.eval.classifierPairs) {
    throw new Error(`internal: ${describeRun(online)} and ${describeRun(offline)} do not read the same D_golden pairs`);
  }
  const setup = online.setup;
  const spec = policySpecOf(getTask(setup.data.task), setup.setup.size);
  const pairs = (await loadDataDatasets(env, setup.data)).golden.pairs.slice(0, online.eval.classifierPairs);
  const prompts = pairs.map((p) => p.prompt);
  const winners = pairs.map((p) => (p.preference === 1 ? p.y1 : p.y2));
  const held: TransformerParams[] = [];
  try {
    const sft = await loadSft(env, setup);
    held.push(sft);
    const ctx = { spec, sft, backend: env.backend };
    const winnerLp = (p: TransformerParams) => hostValues(() => logProbs(p, spec, prompts, winners, env.backend));
    const sftLp = await winnerLp(sft);
    const final = async (c: TrainRunConfig) => {
      const p = await loadParams<TransformerParams>(env, idOf(env, 'train', c), 'final.ckpt');
      held.push(p);
      const lp = await winnerLp(p);
      return { score: await policyScores(p, ctx, pairs, pairs.map((x) => x.preference)), drop: sftLp.map((v, i) => v - lp[i]!) };
    };
    const on = await final(online);
    const off = await final(offline);
    return { pairs: pairs.length, score: { online: on.score, offline: off.score }, drop: { online: on.drop, offline: off.drop } };
  } finally {
    dispose(held as never);
  }
}

/** Claim 15: Δ = accGolden(final offline) − accGolden(final online) = mean over the counted pairs of score(offline) − score(online), with a paired bootstrap over those pairs. */
export function claim15(g: Pick<GoldenItems, 'score'>): Interval {
  const { online, offline } = g.score;
  return pairedBootstrap(online.length, (ix) => meanAt(offline, ix) - meanAt(online, ix));
}

/**
 * Claim 18 with a paired bootstrap over the pairs (one draw of pairs per resample, shared by
 * all three intervals): Δ = mean_i(drop_off,i − drop_on,i), and mean_i drop_off,i and
 * mean_i drop_on,i.
 */
export function claim18(g: Pick<GoldenItems, 'drop'>): { delta: Interval; dropOffline: Interval; dropOnline: Interval } {
  const { online, offline } = g.drop;
  const n = online.length;
  return {
    delta: pairedBootstrap(n, (ix) => meanAt(offline, ix) - meanAt(online, ix)),
    dropOffline: pairedBootstrap(n, (ix) => meanAt(offline, ix)),
    dropOnline: pairedBootstrap(n, (ix) => meanAt(online, ix)),
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
    '(offline on D_online in the recorded order). Bottom: the mean log-probability of D_golden\'s winning responses for online and offline IPO. ' +
    'Claims 15 and 18 are decided on per-pair values recomputed from the final params and π_sft, with a paired bootstrap over the pairs.',
  runs: (s) => Object.values(fig8Runs(s)),
  program: (s) => {
    const { online, offline, tandem } = fig8Runs(s);
    return afterRuns([online, offline, tandem], async (env) => {
      const [mo, mf, mt] = await Promise.all([online, offline, tandem].map((c) => metricsOf(env, c))) as [MetricRecord[], MetricRecord[], MetricRecord[]];
      const [io, iff, it] = runIds(env, [online, offline, tandem]);
      const tandemLabel = 'tandem: offline on D_online in order';
      const acc = [...longRows('online', mo, ['accGolden'], io), ...longRows('offline', mf, ['accGolden'], iff), ...longRows(tandemLabel, mt, ['accGolden'], it)];
      const lp = [...longRows('online', mo, ['winnerLogProb'], io), ...longRows('offline', mf, ['winnerLogProb'], iff)];
      const g = await goldenItems(env, online, offline);
      const c15 = claim15(g);
      const v15 = above(c15);
      const c18 = claim18(g);
      const v18 = claim18Verdict(c18);
      const counted = g.score.online.length;
      const last = (rs: readonly MetricRecord[]) => rs[rs.length - 1];
      const undef = (ci: Interval) => (ci.undefinedResamples ? ` (${ci.undefinedResamples} undefined, left out)` : '');
      const out: FigureResult = {
        name: 'fig8', title: fig8.title, description: fig8.description,
        charts: [
          { name: 'fig8-accuracy', title: 'Accuracy on D_golden over training (the tandem run is drawn dashed; in-order replay reproduces online)', spec: lineChart('policy-as-classifier accuracy on D_golden', acc, 'accuracy', { styles: { online: { width: 6, dash: [] }, [tandemLabel]: { width: 2.5, dash: [6, 4] } } }) },
          { name: 'fig8-logprob', title: 'Log-probability of D_golden winners over training', spec: lineChart('mean log π(y_w | x) over D_golden winners', lp, 'log-prob') },
        ],
        tables: [{
          title: 'Final values (± SE over pairs)',
          columns: ['run', 'final accuracy on D_golden', 'winner log-prob at step 0', 'final winner log-prob'],
          rows: ([['online', mo], ['offline', mf], [tandemLabel, mt]] as const).map(([n, r]) => [n, pm(last(r), 'accGolden'), pm(r.find((x) => x.step === 0), 'winnerLogProb'), pm(last(r), 'winnerLogProb')]),
        }, {
          title: `Per-pair values recomputed from the final params and π_sft (the first ${g.pairs} D_golden pairs; ${counted} with distinct responses counted for accuracy)`,
          columns: ['run', 'accuracy on D_golden (final params)', 'mean winner log-prob drop (π_sft − final)', 'drop 95% CI low', 'drop 95% CI high'],
          rows: [['online', c18.dropOnline, g.score.online] as const, ['offline', c18.dropOffline, g.score.offline] as const].map(([n, d, sc]) => [n, mean(sc), d.estimate, d.lo, d.hi]),
        }],
        findings: [
          {
            claim: 'Claim 15 — the final offline policy classifies D_golden better than the final online policy',
            holds: v15,
            protocolClaim: 15,
            statistic: statisticOf(c15, 1),
            detail: `per-pair correctness (1, 0 or ½ for a predicted tie) of each final policy as a classifier against π_sft on the first ${g.pairs} D_golden pairs, ${counted} counted (identical responses excluded): ` +
              `offline ${fmt(mean(g.score.offline))}, online ${fmt(mean(g.score.online))} (stored final accGolden: offline ${pm(last(mf), 'accGolden')}, online ${pm(last(mo), 'accGolden')}); ` +
              `Δ = mean over the pairs of score(offline) − score(online) = ${showInterval(c15)}; ${pairedBootstrapText(counted)}${undef(c15)}; yes when the CI is above 0, no when below: ${verdictWord(v15)}`,
          },
          {
            claim: "Claim 18 — the winners' log-probabilities fall, most for offline",
            holds: v18,
            protocolClaim: 18,
            statistic: statisticOf(c18.delta, 1),
            detail: `drop_i = log π_sft(y_w,i|x_i) − log π_final(y_w,i|x_i) on each of the first ${g.pairs} D_golden pairs (y_w = y1 when the golden preference is 1, else y2), from the stored final params: ` +
              `mean drop offline ${showInterval(c18.dropOffline)}, online ${showInterval(c18.dropOnline)}; Δ = mean_i(drop_off,i − drop_on,i) = ${showInterval(c18.delta)}; ` +
              `${pairedBootstrapText(g.pairs)}${undef(c18.delta)}; yes when the CIs of Δ and of the mean offline drop are both above 0, no when either is below 0: ${verdictWord(v18)}`,
          },
        ],
        runs: runIds(env, [online, offline, tandem]),
      };
      return out;
    });
  },
};

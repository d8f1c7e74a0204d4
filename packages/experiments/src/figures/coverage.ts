/**
 * Ablation — "optimum covered": the headline comparison of Fig. 1 (online IPO vs offline IPO
 * pooled over the grid, every replicate) when D_initial is written by every behaviour policy,
 * the near-ideal ones included, beside the paper's sub-optimal regime. Protocol claims 7–8
 * (docs/decisions/study-protocol.md §3).
 */
import { getTask, identicalResponses } from '@tandem/rlhf';
import { initialSplit } from '../capacity.js';
import type { Coverage, StudyConfig } from '../config.js';
import { idOf } from '../runs/cache.js';
import { fmt, klWinChart, type Finding, type FigureDef, type FigureResult, type Table } from './common.js';
import {
  claim1Finding, delta1, headlineFigure, headlineReplicates, headlineRows, pointsOf, protocolFinding, replicateTable, RULE_ABOVE,
  type HeadlinePoints,
} from './fig1.js';
import { above, bootstrapGroups, mean, q90Of, storedValue, type Draw } from './stats.js';

const REGIMES: readonly Coverage[] = ['suboptimal', 'covered'];
const REGIME_LABEL: Record<Coverage, string> = { suboptimal: 'sub-optimal (optimum not covered)', covered: 'optimum covered' };

/** The headline runs of both regimes, sub-optimal first. */
export function coveragePlan(s: StudyConfig): { suboptimal: ReturnType<typeof headlineReplicates>; covered: ReturnType<typeof headlineReplicates> } {
  return { suboptimal: headlineReplicates(s, 'suboptimal'), covered: headlineReplicates(s, 'covered') };
}

/** Claim 8's statistic: Δ₁(sub-optimal) − Δ₁(covered), each the mean over its (resampled) replicates. */
export const delta8 = (sub: readonly HeadlinePoints[], cov: readonly HeadlinePoints[], d: Draw): number =>
  mean(sub.map((c) => delta1(c, d))) - mean(cov.map((c) => delta1(c, d)));

/** Claim 8's finding from both regimes' replicates (resampled independently). */
export function claim8Finding(sub: readonly HeadlinePoints[], cov: readonly HeadlinePoints[]): Finding {
  const ci = bootstrapGroups([sub, cov], ([a, b], d) => delta8(a!, b!, d));
  const d1 = (cs: readonly HeadlinePoints[]) => fmt(mean(cs.map((c) => delta1(c, storedValue))));
  const n = sub.length;
  const m = cov.length;
  return protocolFinding(8, 'The online advantage is larger when D_initial does not cover the optimum', ci, above(ci), n,
    `Δ = Δ₁(sub-optimal) − Δ₁(covered), Δ₁ = q90(online) − q90(offline pooled grid) mean over the replicates of its regime (${n} sub-optimal, ${m} covered; the two regimes resampled independently)`,
    RULE_ABOVE, `Δ₁(sub-optimal) ${d1(sub)}, Δ₁(covered) ${d1(cov)}`);
}

/**
 * How D_initial covers the optimum in a regime: of its training pairs, the fraction with at
 * least one response exactly the task's ideal response, and the fraction of responses that are.
 */
export function coverageStats(s: StudyConfig, coverage: Coverage): { pairs: number; pairsWithIdeal: number; idealResponses: number } {
  const [train] = initialSplit({ ...s.data, coverage });
  const task = getTask(s.data.task);
  let withIdeal = 0;
  let ideal = 0;
  for (const p of train.pairs) {
    const y = task.idealResponse(p.prompt);
    const a = identicalResponses({ prompt: p.prompt, y1: p.y1, y2: y });
    const b = identicalResponses({ prompt: p.prompt, y1: p.y2, y2: y });
    if (a || b) withIdeal++;
    ideal += Number(a) + Number(b);
  }
  const n = train.pairs.length;
  return { pairs: n, pairsWithIdeal: withIdeal / n, idealResponses: ideal / (2 * n) };
}

export const coverage: FigureDef = {
  name: 'coverage',
  title: 'Ablation — "optimum covered": online vs offline when D_initial covers the optimum',
  description:
    'The headline comparison of Fig. 1 (online IPO vs offline IPO pooled over the grid, on every replicate) in two regimes: D_initial written only by behaviour policies that ' +
    'rarely emit the ideal response (sub-optimal, the paper\'s), and by every behaviour including the near-ideal ones (optimum covered). The paper\'s coverage explanation predicts a ' +
    'smaller online advantage when the optimum is covered.',
  ...headlineFigure((s) => {
    const p = coveragePlan(s);
    return [p.suboptimal, p.covered];
  }, async (env, s, sub, cov, configs) => {
    const subP = sub.map(pointsOf);
    const covP = cov.map(pointsOf);
    const rows = headlineRows(env, [...sub, ...cov], (d) => ({ regime: REGIME_LABEL[d.runs.cell.coverage] }));
    const stats = REGIMES.map((r) => ({ regime: r, ...coverageStats(s, r) }));
    const q90Table: Table = {
      title: 'Best performance (q90 of win rates after step 0) per regime, replicate and method',
      columns: ['regime', 'replicate', 'q90 online IPO', 'q90 offline IPO (pooled grid)', 'Δ₁'],
      rows: [...subP.map((c, r) => ['sub-optimal', r, c] as const), ...covP.map((c, r) => ['covered', r, c] as const)].map(([regime, r, c]) =>
        [regime, r, fmt(q90Of(c.online)), fmt(q90Of(c.grid.flat())), fmt(delta1(c, storedValue))]),
    };
    const n = sub.length;
    const out: FigureResult = {
      name: 'coverage', title: coverage.title, description: coverage.description,
      charts: [{
        name: 'coverage-kl-winrate',
        title: `KL vs win rate in both regimes: every evaluation of every run, ${n} replicate${n === 1 ? '' : 's'} each`,
        spec: klWinChart('KL vs win rate: sub-optimal D_initial vs optimum covered', rows, { facet: 'regime' }),
      }],
      tables: [
        q90Table,
        {
          title: `D_initial of ${s.data.task} (training pairs): how often it contains the exact ideal response`,
          columns: ['regime', 'training pairs', 'pairs with an ideal response', 'responses that are ideal'],
          rows: stats.map((x) => [REGIME_LABEL[x.regime], x.pairs, fmt(x.pairsWithIdeal), fmt(x.idealResponses)]),
        },
        replicateTable('Headline statistics per regime and replicate (evaluations after step 0)', [...sub, ...cov]),
      ],
      findings: [
        claim1Finding(7, 'Claim 1 in the "optimum covered" regime: online IPO\'s best performance exceeds offline IPO\'s (pooled grid)', cov),
        claim8Finding(subP, covP),
      ],
      runs: configs.map((c) => idOf(env, 'train', c)),
    };
    return out;
  }),
};

/**
 * Fig. 5 / 12 — offline IPO on datasets built from other policies and relabelled
 * by the golden model: D_golden (≈ D_sft-vs-sft), D_sft-vs-early, D_early-vs-late
 * and D_late-vs-late, with early/late the online run's kept checkpoints. Claims 13
 * and 14 of the protocol (docs/decisions/study-protocol.md §3).
 */
import type { StudyConfig } from '../config.js';
import type { MetricRecord } from '../runs/metrics.js';
import type { TrainRunConfig } from '../runs/train.js';
import { offlineOf, onlineOf, versusDatasets } from '../study.js';
import { afterRuns, barChart, lineChart, longRows, metricsOf, runIds, type FigureDef, type FigureResult } from './common.js';
import { above, bestOf, bootstrap, bootstrapText, showInterval, statisticOf, verdictWord, type Interval } from './stats.js';

// ----------------------------------------------------------------------------- Fig. 5 / 12

/** The runs of Fig. 5: offline IPO at the online config on D_golden and on each D_{a vs b} (from the online run's checkpoints). */
export function datasetRuns(s: StudyConfig): { online: TrainRunConfig; sets: { label: string; run: TrainRunConfig }[] } {
  const online = onlineOf(s);
  return { online, sets: [{ label: 'D_golden', run: offlineOf(s) }, ...versusDatasets(s, online).map((d) => ({ label: d.name, run: offlineOf(s, { dataset: d }) }))] };
}

/** Fig. 5's statistics from the four runs' records (D_golden, D_sft-vs-early, D_early-vs-late, D_late-vs-late, in that order). */
export function datasetStats(ms: readonly (readonly MetricRecord[])[]): { best: Interval[]; claim13: Interval; claim14: Interval } {
  const [golden, sftEarly, earlyLate, lateLate] = ms as [MetricRecord[], MetricRecord[], MetricRecord[], MetricRecord[]];
  const one = [null];
  return {
    best: ms.map((m) => bootstrap(one, (_, d) => bestOf([m], d))),
    claim13: bootstrap(one, (_, d) => bestOf([golden], d) - bestOf([lateLate], d)),
    claim14: bootstrap(one, (_, d) => {
      const se = bestOf([sftEarly], d);
      return se - Math.max(bestOf([golden], d), bestOf([earlyLate], d), bestOf([lateLate], d));
    }),
  };
}

export const fig5: FigureDef = {
  name: 'fig5',
  title: 'Fig. 5 / 12 — offline IPO on datasets from other policies',
  description:
    'Offline IPO at the online run\'s config (lr, β, length) on D_golden and on D_{a vs b}: one response from policy a and one from policy b per training prompt, ' +
    'relabelled by the golden model. a and b are the SFT policy and the online run\'s policies at an early and a late checkpoint (the paper\'s 800 and 4k steps). ' +
    'Best performance: the 90% quantile of win rates after step 0, with a 95% bootstrap interval over prompts (one replicate).',
  runs: (s) => {
    const { online, sets } = datasetRuns(s);
    return [online, ...sets.map((d) => d.run)];
  },
  program: (s) => {
    const { sets } = datasetRuns(s);
    const runs = sets.map((d) => d.run);
    return afterRuns(fig5.runs(s), async (env) => {
      const ms = await Promise.all(runs.map((c) => metricsOf(env, c)));
      const ids = runIds(env, runs);
      const labels = sets.map((d) => d.label);
      const st = datasetStats(ms);
      const bars = st.best.map((ci, i) => ({ label: labels[i]!, value: ci.estimate, lo: ci.lo, hi: ci.hi }));
      const v13 = above(st.claim13);
      const v14 = above(st.claim14);
      const q = (i: number) => st.best[i]!.estimate.toFixed(3);
      const out: FigureResult = {
        name: 'fig5', title: fig5.title, description: fig5.description,
        charts: [
          { name: 'fig5-q90', title: 'Best performance (90% quantile of win rate) by dataset, with 95% bootstrap intervals', spec: barChart('offline IPO: 90% quantile of win rate by dataset', bars, 'q90 win rate') },
          { name: 'fig5-curves', title: 'Win rate over training', spec: lineChart('offline IPO by dataset', ms.flatMap((m, i) => longRows(labels[i]!, m, ['winRate'], ids[i])), 'win rate') },
        ],
        tables: [{
          title: 'Best performance by dataset (q90 of win rates after step 0; 95% bootstrap interval over prompts, one replicate)',
          columns: ['dataset', 'q90 win rate', '95% CI low', '95% CI high', 'run'],
          rows: bars.map((b, i) => [b.label, b.value, b.lo, b.hi, ids[i]!]),
        }],
        findings: [
          {
            claim: 'Claim 13 — high-quality data alone does not help: D_late-vs-late is no better than D_golden',
            holds: v13,
            protocolClaim: 13,
            statistic: statisticOf(st.claim13, 1),
            detail: `Δ = q90(D_golden) − q90(${labels[3]}) = ${showInterval(st.claim13)} (q90 ${q(0)} vs ${q(3)}); ${bootstrapText(1)}; yes when the CI is above 0, no when below: ${verdictWord(v13)}`,
          },
          {
            claim: `Claim 14 — one side near the SFT policy helps most: ${labels[1]} beats every other dataset`,
            holds: v14,
            protocolClaim: 14,
            statistic: statisticOf(st.claim14, 1),
            detail: `Δ = q90(${labels[1]}) − max(q90(D_golden), q90(${labels[2]}), q90(${labels[3]})) = ${showInterval(st.claim14)} (q90 ${q(1)} vs ${q(0)}, ${q(2)}, ${q(3)}); ${bootstrapText(1)}; yes when the CI is above 0, no when below: ${verdictWord(v14)}`,
          },
        ],
        runs: runIds(env, fig5.runs(s)),
      };
      return out;
    });
  },
};

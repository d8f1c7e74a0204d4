/**
 * Fig. 5 / 12 — offline IPO on datasets built from other policies and relabelled
 * by the golden model: D_golden (≈ D_sft-vs-sft), D_sft-vs-early, D_early-vs-late
 * and D_late-vs-late, with early/late the online run's kept checkpoints. Claims 13
 * and 14 of the protocol (docs/decisions/study-protocol.md §3).
 *
 * Also the helpers the secondary figures (Fig. 5–8, 10/11/14) share: best performance
 * (§2) of stored records under a bootstrap draw, the offline grid, and a bar chart of
 * 95% intervals.
 */
import type { StudyConfig } from '../config.js';
import type { MetricRecord } from '../runs/metrics.js';
import type { TrainRunConfig } from '../runs/train.js';
import { canonicalJson } from '../hash.js';
import { offlineOf, onlineOf, versusDatasets, type RunOptions } from '../study.js';
import { afterRuns, lineChart, longRows, metricsOf, PALETTE, runIds, type FigureDef, type FigureResult, type VegaLiteSpec } from './common.js';
import { above, BOOTSTRAP, bootstrap, q90, showInterval, type Draw, type Estimate, type Interval } from './stats.js';

// ----------------------------------------------------------------------------- shared helpers

/** The win-rate estimates of a run's evaluations after step 0 (records without a measured win rate are skipped). */
export function winRateEstimates(rs: readonly MetricRecord[]): Estimate[] {
  return rs.filter((r) => r.step > 0).flatMap((r) => {
    const m = r.metrics.winRate;
    return m && !Number.isNaN(m.value) ? [{ value: m.value, se: m.se }] : [];
  });
}

/**
 * Best performance (protocol §2): the 90% quantile of the win rates of every evaluation
 * after step 0 of `runs` (one run, or a pooled method's runs), each win rate read through
 * `draw` (its value by default; a perturbed value inside a bootstrap resample).
 */
export function bestOf(runs: readonly (readonly MetricRecord[])[], draw: Draw = (e) => e.value): number {
  return q90(runs.flatMap((rs) => winRateEstimates(rs).map(draw)));
}

/** A metric of a record as an estimate (value and SE; NaN value when absent). */
export function estimateOf(r: MetricRecord | undefined, name: string): Estimate {
  const m = r?.metrics[name];
  return { value: m?.value ?? NaN, se: m?.se };
}

/** Configs without repeats (equal configs are one run), in first-appearance order. */
export function uniqueRuns(cs: readonly TrainRunConfig[]): TrainRunConfig[] {
  const seen = new Set<string>();
  return cs.filter((c) => {
    const k = canonicalJson(c);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The word of a verdict: yes, no or inconclusive. */
export const verdictWord = (v: boolean | null): string => (v === true ? 'yes' : v === false ? 'no' : 'inconclusive');

/** How a one-replicate bootstrap of win-rate statistics was computed, for findings' details. */
export const PROMPT_BOOTSTRAP = `bootstrap over prompts only (one replicate): ${BOOTSTRAP.resamples} resamples, each stored win rate drawn from a normal around its value with its prompt-level SE`;

/** A bar per category with its 95% interval as an error bar (`lo`, `hi`); coloured by `group` when given. */
export function ciBarChart(title: string, rows: readonly { label: string; value: number; lo: number; hi: number; group?: string }[], yTitle: string): VegaLiteSpec {
  const data = rows.map((r) => ({ ...r, group: r.group ?? r.label }));
  const groups = [...new Set(data.map((r) => r.group))];
  const grouped = data.some((r) => r.group !== r.label);
  const color = { field: 'group', type: 'nominal', title: null, scale: { domain: groups, range: groups.map((_, i) => PALETTE[i % PALETTE.length]!) }, legend: grouped ? { title: null, orient: 'bottom', direction: 'vertical', labelLimit: 1000, labelFontSize: 12 } : null };
  const num = (field: string, t: string) => ({ field, title: t, type: 'quantitative', format: '.4~f' });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json', background: 'white', title,
    config: { font: 'DejaVu Sans', axis: { labelFontSize: 12, titleFontSize: 13 }, title: { fontSize: 15, anchor: 'start', offset: 12 } },
    width: Math.max(380, 110 * data.length), height: 260, data: { values: data },
    layer: [
      { mark: 'bar', encoding: { y: { field: 'value', type: 'quantitative', title: yTitle }, color, tooltip: [{ field: 'label', title: 'bar', type: 'nominal' }, num('value', yTitle), num('lo', '95% CI low'), num('hi', '95% CI high')] } },
      { mark: { type: 'errorbar' }, encoding: { y: { field: 'lo', type: 'quantitative', title: yTitle }, y2: { field: 'hi' } } },
    ],
    encoding: { x: { field: 'label', type: 'nominal', title: null, sort: null, axis: { labelAngle: 0, labelLimit: 200 } } },
  };
}

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
    const { online, sets } = datasetRuns(s);
    const runs = sets.map((d) => d.run);
    return afterRuns([online, ...runs], async (env) => {
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
          { name: 'fig5-q90', title: 'Best performance (90% quantile of win rate) by dataset, with 95% bootstrap intervals', spec: ciBarChart('offline IPO: 90% quantile of win rate by dataset', bars, 'q90 win rate') },
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
            detail: `Δ = q90(D_golden) − q90(${labels[3]}) = ${showInterval(st.claim13)} (q90 ${q(0)} vs ${q(3)}); ${PROMPT_BOOTSTRAP}; yes when the CI is above 0, no when below: ${verdictWord(v13)}`,
          },
          {
            claim: `Claim 14 — one side near the SFT policy helps most: ${labels[1]} beats every other dataset`,
            holds: v14,
            detail: `Δ = q90(${labels[1]}) − max(q90(D_golden), q90(${labels[2]}), q90(${labels[3]})) = ${showInterval(st.claim14)} (q90 ${q(1)} vs ${q(0)}, ${q(2)}, ${q(3)}); ${PROMPT_BOOTSTRAP}; yes when the CI is above 0, no when below: ${verdictWord(v14)}`,
          },
        ],
        runs: runIds(env, [online, ...runs]),
      };
      return out;
    });
  },
};

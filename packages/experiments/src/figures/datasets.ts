/**
 * Fig. 5 / 12 — offline IPO on datasets built from other policies and relabelled
 * by the golden model: D_golden (≈ D_sft-vs-sft), D_sft-vs-early, D_early-vs-late
 * and D_late-vs-late, with early/late the online run's kept checkpoints.
 */
import { offlineOf, onlineOf, versusDatasets } from '../study.js';
import { metricValue } from '../runs/metrics.js';
import { afterRuns, barChart, greater, lineChart, longRows, metricsOf, peak, runIds, seOrZero, type FigureDef, type FigureResult } from './common.js';

export const fig5: FigureDef = {
  name: 'fig5',
  title: 'Fig. 5 / 12 — offline IPO on datasets from other policies',
  description:
    'Offline IPO on D_golden and on D_{a vs b}: one response from policy a and one from policy b per training prompt, relabelled by the golden model. ' +
    'a and b are the SFT policy and the online run\'s policies at an early and a late checkpoint (the paper\'s 800 and 4k steps).',
  program: (s) => {
    const online = onlineOf(s);
    const sets = versusDatasets(s, online);
    const runs = [offlineOf(s), ...sets.map((d) => offlineOf(s, { dataset: d }))];
    const labels = ['D_golden', ...sets.map((d) => d.name)];
    return afterRuns(runs, async (env) => {
        const ms = await Promise.all(runs.map((c) => metricsOf(env, c)));
        const bars = ms.map((m, i) => {
          const p = peak(m, 'winRate');
          return { label: labels[i]!, value: metricValue(p, 'winRate'), se: seOrZero(p?.metrics.winRate) };
        });
        const [golden, sftEarly, earlyLate, lateLate] = bars as [typeof bars[0], typeof bars[0], typeof bars[0], typeof bars[0]];
        const best = bars.reduce((a, b) => (b.value > a.value ? b : a));
        const out: FigureResult = {
          name: 'fig5', title: fig5.title, description: fig5.description,
          charts: [
            { name: 'fig5-peak', title: 'Peak win rate by dataset', spec: barChart('offline IPO: peak win rate by dataset', bars, 'peak win rate') },
            { name: 'fig5-curves', title: 'Win rate over training', spec: lineChart('offline IPO by dataset', ms.flatMap((m, i) => longRows(labels[i]!, m, ['winRate'], runIds(env, runs)[i])), 'win rate') },
          ],
          tables: [{ title: 'Peak win rate', columns: ['dataset', 'peak win rate'], rows: bars.map((b) => [b.label, `${b.value.toFixed(3)} ± ${b.se.toFixed(3)}`]) }],
          findings: [
            {
              claim: 'High-quality data alone does not help: D_late-vs-late (both sides from the final online policy) is not better than D_golden',
              holds: greater(lateLate, golden) !== true,
              detail: `${lateLate.label} ${lateLate.value.toFixed(3)} ± ${lateLate.se.toFixed(3)} vs D_golden ${golden.value.toFixed(3)} ± ${golden.se.toFixed(3)}`,
            },
            {
              claim: 'A dataset with one side close to the SFT policy (D_sft-vs-early) helps most',
              holds: best === sftEarly ? true : greater(best, sftEarly) === true ? false : null,
              detail: `best: ${best.label} ${best.value.toFixed(3)}; ${sftEarly.label} ${sftEarly.value.toFixed(3)} ± ${sftEarly.se.toFixed(3)}; ${earlyLate.label} ${earlyLate.value.toFixed(3)} ± ${earlyLate.se.toFixed(3)}`,
            },
          ],
          runs: runIds(env, [online, ...runs]),
        };
        return out;
    });
  },
};

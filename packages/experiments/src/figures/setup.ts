/**
 * The controlled setup as measured (docs/decisions/study-protocol.md §1): for every cell of
 * the headline comparisons (task × coverage × replicate), the golden and proxy preference
 * models' plateau fits (steps, the kept step, validation and test accuracy), D_golden's
 * agreement with the raters, D_initial's utilities, and the online run's D_online: the
 * fraction of identical pairs and the proxy's accuracy on distinct on-policy pairs. It
 * decides no claim; it is what every claim stands on.
 */
import type { StudyConfig } from '../config.js';
import { idOf, readResult } from '../runs/cache.js';
import type { DataResult, PrefFitReport, SetupResult } from '../runs/setup.js';
import type { TrainRunConfig } from '../runs/train.js';
import { afterRuns, fmt, metricsOf, type FigureDef } from './common.js';
import { fig1Plan, headlineReplicates, type HeadlineRuns } from './fig1.js';
import { mean } from './stats.js';

/** The online runs of every headline cell: fig1's (default task on every replicate, the other tasks on replicate 0) and the coverage ablation's. */
function cells(s: StudyConfig): HeadlineRuns[] {
  const plan = fig1Plan(s);
  const other = s.data.coverage === 'suboptimal' ? 'covered' : 'suboptimal';
  return [...plan.main, ...plan.others, ...headlineReplicates(s, other)];
}

const fit = (r: PrefFitReport | null | undefined): (string | number | null)[] =>
  (r ? [`${r.stepsTaken} (best ${r.bestStep})`, fmt(r.validationAccuracy), fmt(r.testAccuracy)] : ['n/a (rater)', null, null]);

export const setupFigure: FigureDef = {
  name: 'setup',
  title: 'The setup — preference models, D_initial and D_online as measured',
  description:
    'For every cell of the headline comparisons: the golden model (trained on D_initial) and the proxy (trained on D_golden) fitted to a plateau of validation accuracy ' +
    '(steps taken, the step kept, validation and test accuracy on the two halves of the held-out pairs; the test half never decides when to stop), ' +
    'D_golden\'s agreement with the raters, D_initial\'s mean utilities (the ideal scores 3), and the online IPO run\'s stream D_online: ' +
    'the fraction of its pairs whose two responses are identical (no preference, zero gradient), the proxy\'s accuracy on its distinct pairs ' +
    '(judged by the golden model; identical pairs and golden ties excluded), averaged over the evaluations.',
  runs: (s) => cells(s).map((c) => c.online),
  program: (s) => {
    const cs = cells(s);
    return afterRuns(cs.map((c) => c.online), async (env, results) => {
      const rows = await Promise.all(cs.map(async (c, i) => {
        const on: TrainRunConfig = c.online;
        const data = await readResult<DataResult>(env, idOf(env, 'data', on.setup.data));
        const setup = await readResult<SetupResult>(env, idOf(env, 'setup', on.setup));
        const ms = await metricsOf(env, on);
        const proxyAcc = ms.flatMap((r) => (r.metrics.proxyAccuracy && !Number.isNaN(r.metrics.proxyAccuracy.value) ? [r.metrics.proxyAccuracy.value] : []));
        const init = data?.initial;
        return [
          c.cell.task, c.cell.coverage, c.cell.replicate,
          ...fit(data?.golden), fmt(data?.goldenAgreement),
          ...fit(setup?.proxy),
          fmt(init?.meanUtility, 2), fmt(init?.meanUtilityWinner, 2), fmt(init?.meanUtilityLoser, 2),
          fmt(results[i]!.identicalPairs), fmt(mean(proxyAcc)),
        ];
      }));
      return {
        name: 'setup', title: setupFigure.title, description: setupFigure.description, charts: [],
        tables: [{
          title: 'Preference models, D_initial and D_online per cell',
          columns: [
            'task', 'coverage', 'replicate',
            'golden steps', 'golden val acc', 'golden test acc', 'D_golden = raters',
            'proxy steps', 'proxy val acc', 'proxy test acc',
            'D_initial mean u', 'winner u', 'loser u',
            'identical pairs in D_online', 'proxy acc on distinct on-policy pairs (mean over evaluations)',
          ],
          rows,
        }],
        findings: [],
        runs: cs.map((c) => idOf(env, 'train', c.online)),
      };
    });
  },
};

/** Fig. 1 — the KL vs win-rate trade-off of online and offline IPO (offline pooled over the sweep). */
import type { StudyConfig } from '../config.js';
import { offlineOf, onlineOf } from '../study.js';
import { metricValue, type MetricRecord } from '../runs/metrics.js';
import { describeRun, type TrainRunConfig } from '../runs/train.js';
import { afterRuns, fmt, greater, klWinChart, measured, metricsOf, peak, pm, runIds, type FigureDef, type FigureResult } from './common.js';

/** Every offline configuration of the sweep. */
export function offlineSweep(s: StudyConfig): TrainRunConfig[] {
  return s.offlineSweep.lrs.flatMap((lr) => s.offlineSweep.betas.flatMap((beta) => s.offlineSweep.steps.map((steps) => offlineOf(s, { lr, beta, steps }))));
}

/** The best win rate reachable at KL ≤ x along a set of points: the trade-off frontier. */
export function frontierAt(points: readonly MetricRecord[], x: number): number | undefined {
  let best: number | undefined;
  for (const p of points) {
    const w = metricValue(p, 'winRate');
    if (metricValue(p, 'kl') <= x && (best === undefined || w > best)) best = w;
  }
  return best;
}

/** True when a curve peaks before its end and its last point is below the peak by > 2 SE. */
export function risesThenFalls(rs: readonly MetricRecord[]): boolean {
  const p = peak(rs, 'winRate');
  const last = rs[rs.length - 1];
  if (!p || !last || p === last) return false;
  return greater(p.metrics.winRate, last.metrics.winRate) === true;
}

export const fig1: FigureDef = {
  name: 'fig1',
  title: 'Fig. 1 — KL vs win rate: online vs offline IPO',
  description:
    'Every evaluation of every run is a point (KL(π‖π_sft), win rate against the golden policy baseline judged by the golden model). ' +
    'Online IPO samples its pairs from the current policy and labels them with the proxy model; offline IPO trains on D_golden, pooled over the sweep of learning rates, β and lengths.',
  program: (s) => {
    const online = onlineOf(s);
    const offline = offlineSweep(s);
    return afterRuns([online, ...offline], async (env) => {
        const on = await metricsOf(env, online);
        const offs = await Promise.all(offline.map((c) => metricsOf(env, c)));
        const ids = runIds(env, [online, ...offline]);
        const point = (method: string, i: number, r: MetricRecord) => ({
          method, run: ids[i]!, label: `${describeRun([online, ...offline][i]!)} ${[online, ...offline][i]!.hyper.steps} steps`, step: r.step,
          kl: metricValue(r, 'kl'), klSe: r.metrics.kl?.se ?? null, winRate: metricValue(r, 'winRate'), winRateSe: r.metrics.winRate?.se ?? null,
        });
        const rows = [
          ...on.map((r) => point('online IPO', 0, r)),
          ...offs.flatMap((rs, i) => rs.map((r) => point('offline IPO (sweep)', i + 1, r))),
        ].filter((r) => !Number.isNaN(r.winRate));
        const onPeak = peak(on, 'winRate');
        const pooled = offs.flat();
        const offPeak = peak(pooled, 'winRate');
        const onMax = Math.max(...measured(on, 'kl'));
        const comparable = pooled.filter((p) => metricValue(p, 'kl') <= onMax && p.step > 0);
        const dominated = comparable.filter((p) => (frontierAt(on, metricValue(p, 'kl')) ?? -1) >= metricValue(p, 'winRate')).length;
        const declining = offs.filter(risesThenFalls).length;
        const result: FigureResult = {
          name: 'fig1', title: fig1.title, description: fig1.description,
          charts: [{ name: 'fig1-kl-winrate', title: 'KL vs win rate', spec: klWinChart('KL vs win rate (every checkpoint of every run)', rows) }],
          tables: [{
            title: 'Runs',
            columns: ['method', 'lr', 'β', 'steps', 'peak win rate', 'step of peak', 'KL at peak', 'final win rate'],
            rows: [online, ...offline].map((c, i) => {
              const rs = i === 0 ? on : offs[i - 1]!;
              const p = peak(rs, 'winRate');
              const last = rs[rs.length - 1];
              return [c.method.kind, c.hyper.lr, c.hyper.beta, c.hyper.steps, pm(p, 'winRate'), p?.step ?? null, fmt(metricValue(p, 'kl')), pm(last, 'winRate')];
            }),
          }],
          findings: [
            {
              claim: 'Online IPO reaches a higher peak win rate than offline IPO (pooled sweep)',
              holds: greater(onPeak?.metrics.winRate, offPeak?.metrics.winRate),
              detail: `online peak ${pm(onPeak, 'winRate')} at KL ${fmt(metricValue(onPeak, 'kl'))}; best offline ${pm(offPeak, 'winRate')} at KL ${fmt(metricValue(offPeak, 'kl'))}`,
            },
            {
              claim: 'At equal KL, online is better: the online frontier dominates the offline points',
              holds: comparable.length ? dominated / comparable.length >= 0.5 : null,
              detail: `${dominated} of ${comparable.length} offline points within online's KL range lie on or below online's best-win-rate-at-≤KL frontier`,
            },
            {
              claim: 'Over-optimisation: win rate rises then falls as KL grows (online)',
              holds: risesThenFalls(on),
              detail: `online: peak ${pm(onPeak, 'winRate')} at step ${onPeak?.step}, final ${pm(on[on.length - 1], 'winRate')}`,
            },
            {
              claim: 'Over-optimisation: win rate rises then falls (offline runs)',
              holds: offs.length ? declining > 0 : null,
              detail: `${declining} of ${offs.length} offline runs end more than 2 SE below their peak`,
            },
          ],
          runs: runIds(env, [online, ...offline]),
        };
        return result;
    });
  },
};

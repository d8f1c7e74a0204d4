/**
 * Fig. 10 / 11 / 14 — policy-size scaling: online and offline IPO at each size;
 * best performance is the 90% quantile of win rate over evaluations, normalised by
 * the best online policy of that size.
 */
import type { SizeName } from '../config.js';
import type { MetricRecord } from '../runs/metrics.js';
import { offlineOf, onlineOf } from '../study.js';
import { afterRuns, barChart, measured, metricsOf, runIds, type FigureDef, type FigureResult } from './common.js';

/** The q-quantile (linear interpolation) of a metric over evaluations after step 0. */
export function quantile(rs: readonly MetricRecord[], name: string, q: number): number {
  const v = measured(rs.filter((r) => r.step > 0), name).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const pos = (v.length - 1) * q;
  const lo = Math.floor(pos);
  return v[lo]! + (v[Math.min(lo + 1, v.length - 1)]! - v[lo]!) * (pos - lo);
}

export const fig10: FigureDef = {
  name: 'fig10',
  title: 'Fig. 10 / 11 / 14 — policy-size scaling',
  description: 'Online and offline IPO at each policy size (each with its own proxy, SFT policy and golden baseline). Best performance: the 90% quantile of win rate, normalised by the best online policy of the same size.',
  program: (s) => {
    const pairs = s.sizes.map((size: SizeName) => ({ size, online: onlineOf(s, { size }), offline: offlineOf(s, { size }) }));
    return afterRuns(pairs.flatMap((p) => [p.online, p.offline]), async (env) => {
        const rows: { size: string; on: number; off: number; best: number }[] = [];
        for (const p of pairs) {
          const [mo, mf] = await Promise.all([metricsOf(env, p.online), metricsOf(env, p.offline)]);
          const best = Math.max(...measured(mo.filter((r) => r.step > 0), 'winRate'));
          rows.push({ size: p.size, on: quantile(mo, 'winRate', 0.9) / best, off: quantile(mf, 'winRate', 0.9) / best, best });
        }
        const bars = rows.flatMap((r) => [
          { label: `${r.size} online`, value: r.on, se: 0, group: 'online' },
          { label: `${r.size} offline`, value: r.off, se: 0, group: 'offline' },
        ]);
        const gaps = rows.map((r) => r.on - r.off);
        const out: FigureResult = {
          name: 'fig10', title: fig10.title, description: fig10.description,
          charts: [{ name: 'fig10-scaling', title: 'Normalised best performance by size', spec: barChart('90% quantile of win rate / best online (same size)', bars, 'normalised performance') }],
          tables: [{ title: 'By size', columns: ['size', 'online (norm.)', 'offline (norm.)', 'best online win rate'], rows: rows.map((r) => [r.size, r.on.toFixed(3), r.off.toFixed(3), r.best.toFixed(3)]) }],
          findings: [
            { claim: 'Online outperforms offline at every policy size', holds: gaps.every((g) => g > 0), detail: rows.map((r) => `${r.size}: ${r.on.toFixed(3)} vs ${r.off.toFixed(3)}`).join('; ') },
            { claim: 'Scaling the policy does not close the online–offline gap', holds: gaps.length > 1 ? gaps[gaps.length - 1]! > 0 : null, detail: `gap by size: ${gaps.map((g) => g.toFixed(3)).join(', ')}` },
          ],
          runs: runIds(env, pairs.flatMap((p) => [p.online, p.offline])),
        };
        return out;
    });
  },
};

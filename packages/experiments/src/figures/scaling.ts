/**
 * Fig. 10 / 11 / 14 — policy-size scaling (claims 21 and 22 of
 * docs/decisions/study-protocol.md §3). For every size, with that size's own proxy, SFT
 * policy and golden baseline: online IPO, the offline grid on D_golden pooled at the online
 * length only (lrs × βs), and offline IPO on D_online uniformly shuffled. Best performance
 * (§2) is the 90% quantile of win rates after step 0 (pooled over the grid's runs), and
 * Fig. 10 normalises it by the best online q90 of the same size.
 */
import type { SizeName, StudyConfig } from '../config.js';
import type { MetricRecord } from '../runs/metrics.js';
import { describeRun, type TrainRunConfig } from '../runs/train.js';
import { offlineGrid, onlineOf, replayOf } from '../study.js';
import { afterRuns, barChart, klWinChart, klWinRows, metricsOf, runIds, type FigureDef, type FigureResult } from './common.js';
import { above, bestOf, bootstrap, bootstrapText, showInterval, statisticOf, verdictWord, type Draw, type Interval } from './stats.js';

/** The runs of one size. */
export interface SizeRuns {
  size: SizeName;
  online: TrainRunConfig;
  /** The offline grid on D_golden at the online length (lrs × βs). */
  grid: TrainRunConfig[];
  /** Offline IPO on the online run's stream, uniformly shuffled. */
  shuffled: TrainRunConfig;
}

/** Fig. 10's runs, size by size (`s.sizes` order). */
export function scalingRuns(s: StudyConfig): SizeRuns[] {
  return s.sizes.map((size) => {
    const online = onlineOf(s, { size });
    return { size, online, grid: offlineGrid(s, { size, onlineLengthOnly: true }), shuffled: replayOf(s, online, 'all') };
  });
}

/** The stored records of one size's runs. */
export interface SizeRecords {
  online: readonly MetricRecord[];
  grid: readonly (readonly MetricRecord[])[];
  shuffled: readonly MetricRecord[];
}

/** One size's best performances under a draw: q90 of online, of the pooled grid, of the shuffled replay. */
export function sizeBest(m: SizeRecords, draw?: Draw): { online: number; offline: number; shuffled: number } {
  return { online: bestOf([m.online], draw), offline: bestOf(m.grid, draw), shuffled: bestOf([m.shuffled], draw) };
}

/** The best online q90 of a size: with one online run per size (one replicate), that run's q90. */
export const bestOnline = (b: { online: number }): number => b.online;

/** Fig. 10's numbers: each method's q90 divided by the best online q90 of the same size. */
export function normalised(b: { online: number; offline: number; shuffled: number }): { online: number; offline: number; shuffled: number } {
  const n = bestOnline(b);
  return { online: b.online / n, offline: b.offline / n, shuffled: b.shuffled / n };
}

/** Claim 22's gap of a size: (q90(online) − q90(offline pooled)) / best online q90 of the size. */
export function normalisedGap(b: { online: number; offline: number; shuffled: number }): number {
  const n = normalised(b);
  return n.online - n.offline;
}

type Method = 'online' | 'offline' | 'shuffled';

/** The statistics of Fig. 10 (one replicate: bootstrap over prompts only). */
export function scalingStats(ms: readonly SizeRecords[]): {
  /** Per size: each method's normalised q90 with its interval, and claim 21's Δ = q90(online) − q90(offline pooled). */
  sizes: { raw: { online: number; offline: number; shuffled: number }; rawCi: Record<Method, Interval>; norm: Record<Method, Interval>; claim21: Interval }[];
  /** Claim 22: normalised gap(last size) − gap(first size); undefined with one size. */
  claim22: Interval | undefined;
} {
  const one = [null];
  const sizes = ms.map((m) => ({
    raw: sizeBest(m),
    rawCi: {
      online: bootstrap(one, (_, d) => sizeBest(m, d).online),
      offline: bootstrap(one, (_, d) => sizeBest(m, d).offline),
      shuffled: bootstrap(one, (_, d) => sizeBest(m, d).shuffled),
    },
    norm: {
      online: bootstrap(one, (_, d) => normalised(sizeBest(m, d)).online),
      offline: bootstrap(one, (_, d) => normalised(sizeBest(m, d)).offline),
      shuffled: bootstrap(one, (_, d) => normalised(sizeBest(m, d)).shuffled),
    },
    claim21: bootstrap(one, (_, d) => {
      const b = sizeBest(m, d);
      return b.online - b.offline;
    }),
  }));
  const claim22 = ms.length < 2 ? undefined : bootstrap(one, (_, d) => normalisedGap(sizeBest(ms[ms.length - 1]!, d)) - normalisedGap(sizeBest(ms[0]!, d)));
  return { sizes, claim22 };
}

/** Claim 21's verdict from the per-size verdicts of claim 1: yes when yes at every size, no when no at any, otherwise inconclusive. */
export function claim21Verdict(vs: readonly (boolean | null)[]): boolean | null {
  if (vs.some((v) => v === false)) return false;
  if (vs.length > 0 && vs.every((v) => v === true)) return true;
  return null;
}

const METHODS = [['online', 'online IPO'], ['offline', 'offline IPO (grid pooled, length L)'], ['shuffled', 'offline on D_online shuffled']] as const;

export const fig10: FigureDef = {
  name: 'fig10',
  title: 'Fig. 10 / 11 / 14 — policy-size scaling',
  description:
    'At each policy size (each with its own proxy, SFT policy and golden baseline): online IPO, the offline grid on D_golden (every learning rate and β) at the ' +
    'online length pooled, and offline IPO on D_online uniformly shuffled. Best performance: the 90% quantile of win rates after step 0 (over all evaluations of all ' +
    'runs for the pooled grid), normalised by the best online q90 of the same size, with 95% bootstrap intervals over prompts (one replicate). Fig. 14: the KL–win-rate trade-off per size.',
  runs: (s) => scalingRuns(s).flatMap((r) => [r.online, ...r.grid, r.shuffled]),
  program: (s) => {
    const per = scalingRuns(s);
    const all = per.flatMap((r) => [r.online, ...r.grid, r.shuffled]);
    return afterRuns(all, async (env) => {
      const ms: SizeRecords[] = [];
      for (const r of per) {
        ms.push({ online: await metricsOf(env, r.online), grid: await Promise.all(r.grid.map((c) => metricsOf(env, c))), shuffled: await metricsOf(env, r.shuffled) });
      }
      const st = scalingStats(ms);
      const v21 = st.sizes.map((x) => above(x.claim21));
      const all21 = claim21Verdict(v21);
      const v22 = st.claim22 ? above(st.claim22, -0.05) : null;
      const bars = per.flatMap((r, i) => METHODS.map(([k, name]) => {
        const ci = st.sizes[i]!.norm[k];
        return { label: `${r.size} · ${k}`, value: ci.estimate, lo: ci.lo, hi: ci.hi, group: name };
      }));
      const rawBars = per.flatMap((r, i) => METHODS.map(([k, name]) => {
        const ci = st.sizes[i]!.rawCi[k];
        return { label: `${r.size} · ${k}`, value: ci.estimate, lo: ci.lo, hi: ci.hi, group: name };
      }));
      const ids = runIds(env, all);
      const idOfRun = new Map(all.map((c, i) => [c, ids[i]!]));
      const kwRows = (r: SizeRuns, i: number) => {
        const m = ms[i]!;
        const pts = (method: string, c: TrainRunConfig, rs: readonly MetricRecord[]) => klWinRows(method, idOfRun.get(c)!, `${describeRun(c)} ${c.hyper.steps} steps`, rs);
        return [...pts(METHODS[0][1], r.online, m.online), ...r.grid.flatMap((c, j) => pts(METHODS[1][1], c, m.grid[j]!)), ...pts(METHODS[2][1], r.shuffled, m.shuffled)];
      };
      const f = (x: number) => x.toFixed(3);
      const out: FigureResult = {
        name: 'fig10', title: fig10.title, description: fig10.description,
        charts: [
          { name: 'fig10-scaling', title: 'Best performance by size and method, normalised by the best online q90 of the size (95% bootstrap intervals)', spec: barChart('q90 win rate / best online q90 (same size)', bars, 'normalised q90 win rate') },
          { name: 'fig11-q90', title: 'Best performance by size and method (q90 win rate, not normalised; 95% bootstrap intervals)', spec: barChart('q90 win rate by size and method', rawBars, 'q90 win rate') },
          ...per.map((r, i) => ({ name: `fig14-kl-winrate-${r.size}`, title: `KL vs win rate, ${r.size} policies`, spec: klWinChart(`KL vs win rate (${r.size} policies; every evaluation of every run)`, kwRows(r, i)) })),
        ],
        tables: [{
          title: 'By size and method: q90 of win rates after step 0, and normalised by the best online q90 of the size (95% bootstrap interval over prompts, one replicate)',
          columns: ['size', 'method', 'runs', 'q90 win rate', 'normalised', '95% CI low', '95% CI high'],
          rows: per.flatMap((r, i) => METHODS.map(([k, name]) => {
            const ci = st.sizes[i]!.norm[k];
            return [r.size, name, k === 'offline' ? r.grid.length : 1, st.sizes[i]!.raw[k], ci.estimate, ci.lo, ci.hi];
          })),
        }],
        findings: [
          {
            claim: 'Claim 21 — online beats offline (pooled grid) at every size',
            holds: all21,
            protocolClaim: 21,
            detail: per.map((r, i) => {
              const x = st.sizes[i]!;
              return `${r.size}: Δ = q90(online) − q90(offline grid pooled, ${r.grid.length} runs at length ${s.train.steps}) = ${showInterval(x.claim21)} (q90 ${f(x.raw.online)} vs ${f(x.raw.offline)}): ${verdictWord(v21[i]!)}`;
            }).join('; ') + `; ${bootstrapText(1)}; per size yes when the CI is above 0, no when below; yes when yes at every size, no when no at any: ${verdictWord(all21)}`,
          },
          {
            claim: 'Claim 22 — scaling does not close the gap',
            holds: v22,
            protocolClaim: 22,
            ...(st.claim22 ? { statistic: statisticOf(st.claim22, 1) } : {}),
            detail: st.claim22
              ? `gap = (q90(online) − q90(offline grid pooled)) / best online q90 of the size; Δ = gap(${per[per.length - 1]!.size}) − gap(${per[0]!.size}) = ${showInterval(st.claim22)} ` +
                `(gaps ${per.map((r, i) => `${r.size} ${f(normalisedGap(st.sizes[i]!.raw))}`).join(', ')}); ${bootstrapText(1)}; yes when the CI is above −0.05, no when below −0.05: ${verdictWord(v22)}`
              : `not decided: the preset has one size (${per.map((r) => r.size).join(', ')}); the claim compares the gap of the largest size with the smallest`,
          },
        ],
        runs: ids,
      };
      return out;
    });
  },
};

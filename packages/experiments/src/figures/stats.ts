/**
 * The statistics of the pre-registered protocol (docs/decisions/study-protocol.md §2): best
 * performance as the 90% quantile, and a bootstrap over replicates and prompts that turns a
 * statistic into a 95% interval and the interval into a verdict. Everything is seeded, so a
 * report is the same bits every time it is built from the same runs.
 */
import { rngFromKey, type Rng } from '@tandem/rlhf';
import { key } from '@tandem/tensor';
import type { MetricRecord } from '../runs/metrics.js';

/** A measured value and its standard error over prompts (0 or NaN when it has none). */
export interface Estimate {
  value: number;
  se?: number | undefined;
}

/** The q-quantile of `xs` with linear interpolation between order statistics (R's type 7); NaN for no values. */
export function quantile(xs: readonly number[], q: number): number {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const h = (v.length - 1) * q;
  const lo = Math.floor(h);
  return v[lo]! + (h - lo) * ((v[Math.min(lo + 1, v.length - 1)] ?? v[lo]!) - v[lo]!);
}

/** Best performance (the paper's Fig. 10/11/14 statistic): the 90% quantile of win rates. */
export const q90 = (xs: readonly number[]): number => quantile(xs, 0.9);

/** Draws a value of an estimate: its value, or (inside a bootstrap resample) its value plus its SE times a standard normal. */
export type Draw = (e: Estimate) => number;

/** The 95% interval of a statistic, with its point estimate (the statistic on the data as measured). */
export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
  /** Resamples whose statistic was NaN (left out of the interval). */
  undefinedResamples: number;
}

/** A standard normal from a uniform stream (Box–Muller; one draw per call). */
function normal(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** Default number of bootstrap resamples and seed (the protocol's). */
export const BOOTSTRAP = { resamples: 2000, seed: 0x5eed } as const;

/**
 * A bootstrap over replicates and prompts: each resample draws `replicates` with
 * replacement and evaluates `stat` with a `draw` that perturbs every estimate it reads by
 * its standard error (a Gaussian parametric bootstrap over prompts, since per-prompt outcomes
 * are not stored). The point estimate is `stat` on all replicates with `draw = value`.
 * With one replicate it is a bootstrap over prompts only. `draw` returns a fresh value at
 * every call: a statistic that reads one estimate twice must draw it once and reuse it.
 * Resamples whose statistic is not finite (NaN, ±∞) are left out and counted.
 */
export function bootstrap<R>(replicates: readonly R[], stat: (sample: readonly R[], draw: Draw) => number, o: { resamples?: number; seed?: number } = {}): Interval {
  return bootstrapGroups([replicates], (samples, draw) => stat(samples[0]!, draw), o);
}

/**
 * {@link bootstrap} over several independent groups of replicates (e.g. the two coverage
 * regimes of claim 8): each resample draws every group's replicates with replacement,
 * independently, group by group. With one group it is exactly {@link bootstrap}.
 */
export function bootstrapGroups<R>(groups: readonly (readonly R[])[], stat: (samples: readonly (readonly R[])[], draw: Draw) => number, o: { resamples?: number; seed?: number } = {}): Interval {
  const resamples = o.resamples ?? BOOTSTRAP.resamples;
  const rng = rngFromKey(key(o.seed ?? BOOTSTRAP.seed));
  const estimate = stat(groups, storedValue);
  const draw: Draw = (e) => e.value + (e.se !== undefined && Number.isFinite(e.se) ? e.se : 0) * normal(rng);
  const values: number[] = [];
  let undefinedResamples = 0;
  for (let b = 0; b < resamples; b++) {
    const samples = groups.map((g) => g.map(() => g[rng.int(g.length)]!));
    const v = stat(samples, draw);
    if (Number.isFinite(v)) values.push(v);
    else undefinedResamples++;
  }
  return { estimate, lo: quantile(values, 0.025), hi: quantile(values, 0.975), undefinedResamples };
}

/**
 * The protocol's verdict on a claim "Δ > threshold" (default 0): true when the whole 95%
 * interval is above it, false when the whole interval is below it, null otherwise (or when
 * the interval is undefined).
 */
export function above(ci: Interval, threshold = 0): boolean | null {
  if (Number.isNaN(ci.lo) || Number.isNaN(ci.hi)) return null;
  if (ci.lo > threshold) return true;
  if (ci.hi < threshold) return false;
  return null;
}

/** The verdict on "Δ < threshold": {@link above} with the sides swapped. */
export function below(ci: Interval, threshold = 0): boolean | null {
  const v = above(ci, threshold);
  return v === null ? null : !v;
}

/**
 * The verdict on "|Δ| is small" (claim 11): true when the whole 95% interval lies within
 * [−margin, margin] (ends included), false when it lies entirely outside (above margin or
 * below −margin), null otherwise (or when the interval is undefined).
 */
export function within(ci: Interval, margin: number): boolean | null {
  if (Number.isNaN(ci.lo) || Number.isNaN(ci.hi)) return null;
  if (ci.lo >= -margin && ci.hi <= margin) return true;
  if (ci.lo > margin || ci.hi < -margin) return false;
  return null;
}

/** The word of a verdict: 'yes', 'no' or 'inconclusive'. */
export const verdictWord = (v: boolean | null): string => (v === true ? 'yes' : v === false ? 'no' : 'inconclusive');

/** How an interval was computed, for a finding's detail: the replicates (prompts only for one), the resamples and what each draws. */
export function bootstrapText(replicates: number, o: { resamples?: number; groups?: string } = {}): string {
  // The procedure itself is spelled out once, in the protocol (§2); a finding names which variant it used.
  const n = o.resamples ?? BOOTSTRAP.resamples;
  if (o.groups) return `bootstrap over replicates (${o.groups}, resampled independently) and prompts, ${n} resamples (protocol §2)`;
  return replicates === 1
    ? `one replicate: bootstrap over prompts only, ${n} resamples (protocol §2)`
    : `bootstrap over ${replicates} replicates and prompts, ${n} resamples (protocol §2)`;
}

/** A finding's `statistic` (findings.json): an interval's estimate and ends, and the replicates behind it. */
export const statisticOf = (ci: Interval, replicates: number): { estimate: number; lo: number; hi: number; replicates: number } =>
  ({ estimate: ci.estimate, lo: ci.lo, hi: ci.hi, replicates });

/** `Δ = 0.031 [0.012, 0.050]` — an interval for a finding's detail. */
export function showInterval(ci: Interval, d = 3): string {
  const f = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(d));
  return `${f(ci.estimate)} [95% CI ${f(ci.lo)}, ${f(ci.hi)}]`;
}

/** The mean of numbers (NaN for none). */
export const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** The draw outside a bootstrap: every estimate read at its stored value. */
export const storedValue: Draw = (e) => e.value;

// ----------------------------------------------------------------------------- paired items

/**
 * A paired bootstrap over items (protocol §2, "Paired items"; claims 15, 16 and 18): when
 * every side of a claim is measured on the same n items (the same D_golden pairs, the same
 * stream pairs), each resample draws n item indices with replacement ONCE and `stat` reads
 * every side at those same indices — so what the sides share (their items, and for claim 18
 * the π_sft log-probability) stays shared, instead of each side being perturbed independently.
 * The point estimate is `stat` on the indices 0 … n − 1. Same resamples and seed as
 * {@link bootstrap}; resamples whose statistic is not finite are left out and counted.
 * With no items the interval is undefined (NaN).
 */
export function pairedBootstrap(n: number, stat: (items: readonly number[]) => number, o: { resamples?: number; seed?: number } = {}): Interval {
  const resamples = o.resamples ?? BOOTSTRAP.resamples;
  if (n < 1) return { estimate: NaN, lo: NaN, hi: NaN, undefinedResamples: resamples };
  const rng = rngFromKey(key(o.seed ?? BOOTSTRAP.seed));
  const estimate = stat(Array.from({ length: n }, (_, i) => i));
  const values: number[] = [];
  let undefinedResamples = 0;
  for (let b = 0; b < resamples; b++) {
    const items = Array.from({ length: n }, () => rng.int(n));
    const v = stat(items);
    if (Number.isFinite(v)) values.push(v);
    else undefinedResamples++;
  }
  return { estimate, lo: quantile(values, 0.025), hi: quantile(values, 0.975), undefinedResamples };
}

/** The mean of per-item values `xs` over the items of a (resampled) index list. */
export const meanAt = (xs: readonly number[], items: readonly number[]): number => mean(items.map((i) => xs[i]!));

/** How a {@link pairedBootstrap} interval was computed, for a finding's detail. */
export function pairedBootstrapText(n: number, o: { resamples?: number } = {}): string {
  return `paired bootstrap over the ${n} pairs (one replicate), ${o.resamples ?? BOOTSTRAP.resamples} resamples (protocol §2, paired items)`;
}

// ----------------------------------------------------------------------------- correlation

/** Pearson's r of paired values (NaN with fewer than 2 points or no spread). */
export function pearson(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2 || ys.length !== n) return NaN;
  const mx = mean(xs);
  const my = mean(ys);
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

// ----------------------------------------------------------------------------- evaluations

/** One evaluation that the protocol's statistics read: after step 0, with a measured win rate. */
export interface EvalPoint {
  /** The training step. */
  step: number;
  /** KL(π‖π_sft) at that step (NaN when not measured). */
  kl: number;
  /** The win rate against the golden baseline and its prompt-level SE. */
  win: Estimate;
}

/** A run's evaluations after step 0 with a measured win rate, in step order (§2: step 0, the SFT policy itself, is left out). */
export function evalPoints(records: readonly MetricRecord[]): EvalPoint[] {
  return records.filter((r) => r.step > 0).flatMap((r) => {
    const w = r.metrics.winRate;
    return w && !Number.isNaN(w.value) ? [{ step: r.step, kl: r.metrics.kl?.value ?? NaN, win: { value: w.value, se: w.se } }] : [];
  });
}

/** The win rates of points, each read once through `draw`. */
export const drawWins = (points: readonly EvalPoint[], draw: Draw): number[] => points.map((p) => draw(p.win));

/** Best performance of evaluation points (§2): the 90% quantile of their win rates, each read once through `draw`. */
export const q90Of = (points: readonly EvalPoint[], draw: Draw = storedValue): number => q90(drawWins(points, draw));

/**
 * Best performance (§2) of stored runs — one run, or a pooled method's runs: the 90% quantile
 * of the win rates of every evaluation after step 0 ({@link evalPoints}), each read through
 * `draw` (its stored value by default; a perturbed value inside a bootstrap resample).
 */
export const bestOf = (runs: readonly (readonly MetricRecord[])[], draw: Draw = storedValue): number => q90Of(runs.flatMap(evalPoints), draw);

/**
 * Whether a curve turns down (claims 4–5, as amended in the protocol): the mean of its last two
 * win rates minus the largest of the ones before them. Negative when the curve ends below an
 * earlier peak, positive when it is still rising; NaN with fewer than three values.
 */
export function endMinusEarlierPeak(wins: readonly number[]): number {
  if (wins.length < 3) return NaN;
  const n = wins.length;
  return (wins[n - 1]! + wins[n - 2]!) / 2 - Math.max(...wins.slice(0, n - 2));
}

/** The frontier at x: the best win rate among points with KL ≤ x; NaN when there is none. */
export function frontierAt(kls: readonly number[], wins: readonly number[], x: number): number {
  let best = NaN;
  kls.forEach((k, i) => {
    if (k <= x && (Number.isNaN(best) || wins[i]! > best)) best = wins[i]!;
  });
  return best;
}

/** k evenly spaced KL values over the common range of two KL sets, [max of the minima, min of the maxima]; [] when they do not overlap. */
export function commonKlGrid(a: readonly number[], b: readonly number[], k = 20): number[] {
  const fa = a.filter(Number.isFinite);
  const fb = b.filter(Number.isFinite);
  if (!fa.length || !fb.length) return [];
  const lo = Math.max(Math.min(...fa), Math.min(...fb));
  const hi = Math.min(Math.max(...fa), Math.max(...fb));
  if (hi < lo) return [];
  return Array.from({ length: k }, (_, i) => (k === 1 ? lo : lo + ((hi - lo) * i) / (k - 1)));
}

/** Claim 2's statistic for one replicate: the mean over {@link commonKlGrid} of frontier(a) − frontier(b); NaN when the KL ranges do not overlap. */
export function frontierGap(a: { kl: readonly number[]; win: readonly number[] }, b: { kl: readonly number[]; win: readonly number[] }, k = 20): number {
  const xs = commonKlGrid(a.kl, b.kl, k);
  return mean(xs.map((x) => frontierAt(a.kl, a.win, x) - frontierAt(b.kl, b.win, x)));
}

/** What a figure program returns, and helpers the figures share. */
import type { Metric } from '@tandem/rlhf';
import type { StudyConfig } from '../config.js';
import { chain, fromAsync, pipe, sequence, type Env, type Program } from '../program.js';
import { ensureRun } from '../study.js';
import { idOf } from '../runs/cache.js';
import { runId } from '../hash.js';
import { metricValue, readMetricRecords, type MetricRecord } from '../runs/metrics.js';
import type { TrainResult, TrainRunConfig } from '../runs/train.js';

/** One of the paper's qualitative claims, checked against the measured numbers. */
export interface Finding {
  /** The claim, in words. */
  claim: string;
  /** true/false when the numbers decide it; null when they cannot (e.g. overlapping error bars). */
  holds: boolean | null;
  /** The numbers behind the verdict. */
  detail: string;
  /** The number of the protocol's claim it checks (docs/decisions/study-protocol.md §3), when it is one. */
  protocolClaim?: number;
  /** The statistic Δ the verdict is read from: its estimate, 95% interval and the replicates behind it (findings.json carries it in full precision). */
  statistic?: { estimate: number; lo: number; hi: number; replicates: number };
}

/** A table of a figure's numbers, rendered into the report. */
export interface Table {
  /** The table's caption. */
  title: string;
  /** Column headers. */
  columns: string[];
  /** Rows of cells, one per column; null renders as an empty cell. */
  rows: (string | number | null)[][];
}

/** A Vega-Lite spec (kept untyped: vega-lite's types are large and we build plain JSON). */
export type VegaLiteSpec = Record<string, unknown>;

/** What a figure program returns: its charts, tables and checked findings, for the report. */
export interface FigureResult {
  /** The figure's name (e.g. 'fig1'), which labels its findings and PNGs in the report. */
  name: string;
  /** The figure's title. */
  title: string;
  /** What the paper's figure shows and what this program runs. */
  description: string;
  /** Charts as Vega-Lite specs; the report writes each as `<name>.svg`, `.png` and `.vl.json`, with `title` as its caption. */
  charts: { name: string; title: string; spec: VegaLiteSpec }[];
  /** Tables of the numbers. */
  tables: Table[];
  /** The paper's claims checked against this run's numbers. */
  findings: Finding[];
  /** Run ids this figure read, for provenance. */
  runs: string[];
}

/** A figure of the study: a program from the study config to its result. */
export interface FigureDef {
  /** The figure's name, as given on the command line (e.g. 'fig1'). */
  name: string;
  /** The figure's title. */
  title: string;
  /** What the paper's figure shows and what this program runs. */
  description: string;
  /** Every training run the figure reads; an experiment computes them all (with what they depend on) as one job graph before it builds its figures. */
  runs(s: StudyConfig): TrainRunConfig[];
  /** The program that builds the figure's result from its runs (cache hits once they are computed). */
  program(s: StudyConfig): Program<FigureResult>;
}

/** The metric records of a finished train run, read from the store and decoded. */
export async function metricsOf(env: Env, c: TrainRunConfig): Promise<MetricRecord[]> {
  return readMetricRecords(env, idOf(env, 'train', c));
}

/** The record with the largest value of metric `name` (first on ties; records without it are skipped). */
export function peak(records: readonly MetricRecord[], name: string): MetricRecord | undefined {
  let best: MetricRecord | undefined;
  for (const r of records) {
    const v = metricValue(r, name);
    if (!Number.isNaN(v) && (!best || v > metricValue(best, name))) best = r;
  }
  return best;
}

/** The values of metric `name` over records, skipping those without it (absent or NaN). */
export function measured(records: readonly MetricRecord[], name: string): number[] {
  return records.map((r) => metricValue(r, name)).filter((v) => !Number.isNaN(v));
}

/** A metric's standard error, 0 when it has none (not an estimate, or a single item). */
export function seOrZero(m: Metric | undefined): number {
  return m?.se === undefined || Number.isNaN(m.se) ? 0 : m.se;
}

/** A number with `d` decimals, or 'n/a' for null, undefined or NaN. */
export const fmt = (x: number | null | undefined, d = 3): string => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
/** `n replicate(s)`, for captions and details. */
export const repsText = (n: number): string => `${n} replicate${n === 1 ? '' : 's'}`;
/** `value ± se` of a record's metric `name`, or 'n/a' without a record. */
export const pm = (r: MetricRecord | undefined, name: string): string => (r ? `${fmt(r.metrics[name]?.value)} ± ${fmt(r.metrics[name]?.se)}` : 'n/a');

/**
 * a > b decided with standard errors: true if the gap exceeds 2 combined SEs,
 * false if b exceeds a by that much, null when the error bars overlap or either
 * metric is missing (or NaN).
 */
export function greater(a: Metric | undefined, b: Metric | undefined): boolean | null {
  if (!a || !b) return null;
  const z = Math.sqrt(seOrZero(a) ** 2 + seOrZero(b) ** 2);
  if (a.value - b.value > 2 * z) return true;
  if (b.value - a.value > 2 * z) return false;
  return null;
}

/**
 * Human labels of the evaluators' metric names, used for facet titles, axes, legends
 * and tooltips (the stored names stay as they are: `kl`, `winRate`, …).
 */
export const METRIC_LABELS: Readonly<Record<string, string>> = {
  kl: 'KL(π‖π_sft)',
  winRate: 'win rate vs golden baseline',
  accGolden: 'accuracy on D_golden',
  accStream: 'accuracy on the online stream',
  selfAccuracy: 'self-classification accuracy',
  proxyAccuracy: 'proxy accuracy (golden labels)',
  winnerLogProb: 'log π(y_w | x) of D_golden winners',
};

/** The human label of a metric name (the name itself when it has none). */
export function metricLabel(name: string): string {
  return METRIC_LABELS[name] ?? name;
}

const num = (x: number | undefined): number | null => (x === undefined || Number.isNaN(x) ? null : x);

/**
 * Rows for line charts over steps, one per record and metric: `series` (the legend
 * entry), `run` (the run id, when given), `step`, `metric` (its human label), `key`
 * (the stored name), `value`, `se`, `lo`/`hi` (±1 SE), and the record's KL and win
 * rate with their standard errors for the tooltip. Records without the metric are skipped.
 */
export function longRows(series: string, records: readonly MetricRecord[], names: readonly string[], run?: string): Record<string, unknown>[] {
  return records.flatMap((r) => names.flatMap((k) => {
    const m = r.metrics[k];
    if (!m || Number.isNaN(m.value)) return [];
    const se = seOrZero(m);
    return [{
      series, run: run ?? series, step: r.step, metric: metricLabel(k), key: k, value: m.value, se, lo: m.value - se, hi: m.value + se,
      kl: num(r.metrics.kl?.value), klSe: num(r.metrics.kl?.se), winRate: num(r.metrics.winRate?.value), winRateSe: num(r.metrics.winRate?.se),
    }];
  }));
}

/** Tableau 10: the colours of every chart's series, assigned in the order the series first appear. */
export const PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];
/** Dash patterns assigned like {@link PALETTE} ([] is solid). */
const DASHES: number[][] = [[], [7, 4], [2, 3], [10, 3, 2, 3], [4, 4, 1, 4]];

/** How one series of a line chart is drawn (overrides the defaults assigned in order). */
export interface SeriesStyle {
  /** Stroke dash pattern ([] for solid). */
  dash?: number[];
  /** Stroke width in pixels (default 2). */
  width?: number;
}

const BASE = {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json', background: 'white',
  config: {
    font: 'DejaVu Sans',
    title: { fontSize: 15, anchor: 'start', offset: 12 },
    axis: { labelFontSize: 12, titleFontSize: 13 },
    header: { labelFontSize: 14, labelFontWeight: 'bold' },
    legend: { labelLimit: 1000, orient: 'bottom', columns: 2, labelFontSize: 12, symbolStrokeWidth: 3, symbolSize: 260 },
  },
};

/** Fades what the legend did not pick: a click on a legend entry (shift-click for several) shows that series alone; a click elsewhere in the legend or a double click resets. */
const PICK = (field: string) => ({ name: 'pick', select: { type: 'point', fields: [field] }, bind: 'legend' });
/** Zoom with the mouse wheel and pan by dragging; a double click resets. */
const ZOOM = { name: 'zoom', select: 'interval', bind: 'scales' };
const picked = (on: number, off: number) => ({ condition: { param: 'pick', value: on }, value: off });

/** A tooltip entry; numbers with four significant decimals. */
const tip = (field: string, title: string, type: 'quantitative' | 'nominal' = 'quantitative') =>
  (type === 'quantitative' ? { field, title, type, format: '.4~f' } : { field, title, type });

/** Tooltip entries for line-chart rows: run, step, the metric ± SE, and the checkpoint's KL and win rate (± SE) where measured. */
function lineTooltip(rows: readonly Record<string, unknown>[], facet: boolean): Record<string, unknown>[] {
  const has = (f: string) => rows.some((r) => typeof r[f] === 'number');
  const distinctRuns = rows.some((r) => r.run !== r.series);
  return [
    tip('series', 'series', 'nominal'),
    ...(distinctRuns ? [tip('run', 'run', 'nominal')] : []),
    tip('step', 'step'),
    ...(facet ? [] : [tip('metric', 'metric', 'nominal')]),
    tip('value', 'value'), tip('se', 'standard error'),
    ...(has('kl') ? [tip('kl', 'KL(π‖π_sft)'), tip('klSe', 'KL standard error')] : []),
    ...(has('winRate') ? [tip('winRate', 'win rate'), tip('winRateSe', 'win rate standard error')] : []),
  ];
}

/** The series of rows in first-appearance order. */
function seriesOf(rows: readonly Record<string, unknown>[], field = 'series'): string[] {
  return [...new Set(rows.map((r) => String(r[field])))];
}

/**
 * Metric over training steps, one line per series, with ±1 SE bands. Every series has its
 * own colour and dash pattern, shown together in one legend whose swatches are the
 * lines themselves; `styles` overrides a series' dash or width (e.g. to keep a
 * series visible under another drawn exactly on top of it). With `facet`, a panel per
 * metric, titled with its human label (give `yTitle` null there). With `detail` (a row
 * field such as 'run'), a series draws one line per value of that field (a pooled method's
 * runs, or the replicates of a run). Interactive in the report: tooltips, legend toggles,
 * zoom and pan.
 */
export function lineChart(title: string, rows: Record<string, unknown>[], yTitle: string | null, opts: { facet?: boolean; styles?: Record<string, SeriesStyle>; detail?: string } = {}): VegaLiteSpec {
  const series = seriesOf(rows);
  const style = (s: string, i: number): Required<SeriesStyle> => ({ dash: DASHES[i % DASHES.length]!, width: 2, ...opts.styles?.[s] });
  const styles = series.map(style);
  // Every channel on `series` shares this legend, so Vega-Lite merges them into one whose
  // swatches are drawn like the lines: colour, dash and width.
  const legend = { symbolType: 'stroke', symbolOpacity: 1, symbolSize: 500, labelLimit: 1000, title: null };
  const scale = <T>(range: T[]) => ({ domain: series, range });
  // `detail`: one line (and band) per value of that field within a series, e.g. per run of a pooled series.
  const detail = opts.detail ? { detail: { field: opts.detail, type: 'nominal' } } : {};
  const layer = {
    layer: [
      {
        mark: { type: 'errorband' },
        encoding: {
          y: { field: 'lo', type: 'quantitative', title: yTitle }, y2: { field: 'hi' },
          color: { field: 'series', type: 'nominal', title: null, scale: scale(series.map((_, i) => PALETTE[i % PALETTE.length]!)), legend },
          opacity: picked(0.16, 0.03),
          ...detail,
        },
      },
      {
        params: [PICK('series'), ZOOM],
        mark: { type: 'line', point: { filled: true, size: 45 } },
        encoding: {
          y: { field: 'value', type: 'quantitative', title: yTitle },
          color: { field: 'series', type: 'nominal', title: null, scale: scale(series.map((_, i) => PALETTE[i % PALETTE.length]!)), legend },
          strokeDash: { field: 'series', type: 'nominal', title: null, scale: scale(styles.map((s) => s.dash)), legend },
          strokeWidth: { field: 'series', type: 'nominal', sort: series, title: null, scale: { type: 'ordinal', ...scale(styles.map((s) => s.width)) }, legend },
          opacity: picked(1, 0.12),
          tooltip: lineTooltip(rows, opts.facet === true),
          ...detail,
        },
      },
    ],
    encoding: { x: { field: 'step', type: 'quantitative', title: 'training step', axis: { format: 'd', tickMinStep: 1 } } },
  };
  if (opts.facet) {
    return {
      ...BASE, title, data: { values: rows },
      facet: { column: { field: 'metric', type: 'nominal', title: null, sort: seriesOf(rows, 'metric') } },
      spec: { width: 340, height: 240, ...layer }, resolve: { scale: { y: 'independent' } },
    };
  }
  return { ...BASE, title, width: 560, height: 300, data: { values: rows }, ...layer };
}

/** Options of {@link klWinChart}. */
export interface KlWinOptions {
  /** A row field to facet by: one panel per value, side by side (e.g. 'task' or 'regime'). */
  facet?: string;
  /** Methods drawn as background: grey, smaller and fainter, listed last in the legend. */
  background?: readonly string[];
}

/**
 * KL (x) vs win rate (y): a point per evaluation, lines joining each run's points in step
 * order. Rows: { method, run, step, kl, winRate } and optionally klSe, winRateSe and label
 * (a run description), all shown in the tooltip. With `facet`, a panel per value of that
 * field; `background` methods are drawn in grey behind the others.
 */
export function klWinChart(title: string, rows: Record<string, unknown>[], opts: KlWinOptions = {}): VegaLiteSpec {
  const bg = new Set(opts.background ?? []);
  const all = seriesOf(rows, 'method');
  const methods = [...all.filter((m) => !bg.has(m)), ...all.filter((m) => bg.has(m))];
  const GREYS = ['#bab0ac', '#8c8c8c', '#d4d4d4', '#6f6f6f'];
  let fg = 0;
  let g = 0;
  const colours = methods.map((m) => (bg.has(m) ? GREYS[g++ % GREYS.length]! : PALETTE[fg++ % PALETTE.length]!));
  const has = (f: string) => rows.some((r) => typeof r[f] === 'number' || typeof r[f] === 'string');
  const color = { field: 'method', type: 'nominal', title: null, sort: methods, scale: { domain: methods, range: colours }, legend: { symbolType: 'circle', symbolOpacity: 1, title: null } };
  const isBg = { field: 'method', oneOf: [...bg] };
  const layers = {
    layer: [
      {
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: { detail: { field: 'run' }, order: { field: 'step' }, color, opacity: bg.size ? { condition: [{ test: isBg, value: 0.2 }, { param: 'pick', value: 0.45 }], value: 0.06 } : picked(0.45, 0.06) },
      },
      {
        params: [PICK('method'), ZOOM],
        mark: { type: 'point', filled: true },
        encoding: {
          color,
          size: bg.size ? { condition: { test: isBg, value: 30 }, value: 70 } : { value: 70 },
          shape: { field: 'method', type: 'nominal', title: null, legend: color.legend, scale: { domain: methods, range: methods.map((_, i) => ['circle', 'square', 'triangle-up', 'diamond', 'cross', 'triangle-down'][i % 6]!) } },
          opacity: picked(0.95, 0.08),
          tooltip: [
            tip('method', 'method', 'nominal'), ...(opts.facet ? [tip(opts.facet, opts.facet, 'nominal')] : []), ...(has('label') ? [tip('label', 'run', 'nominal')] : []),
            tip('run', 'run id', 'nominal'), tip('step', 'step'),
            tip('kl', 'KL(π‖π_sft)'), ...(has('klSe') ? [tip('klSe', 'KL standard error')] : []),
            tip('winRate', 'win rate'), ...(has('winRateSe') ? [tip('winRateSe', 'win rate standard error')] : []),
          ],
        },
      },
    ],
    encoding: {
      x: { field: 'kl', type: 'quantitative', title: 'KL(π‖π_sft)' },
      y: { field: 'winRate', type: 'quantitative', title: 'win rate vs golden baseline', scale: { domain: [0, 1] } },
    },
  };
  if (opts.facet) {
    return {
      ...BASE, title, data: { values: rows },
      facet: { column: { field: opts.facet, type: 'nominal', title: null, sort: seriesOf(rows, opts.facet) } },
      spec: { width: 420, height: 320, ...layers },
    };
  }
  return { ...BASE, title, width: 680, height: 420, data: { values: rows }, ...layers };
}

/**
 * A bar per category with ±1 SE error bars, or with the interval `lo`–`hi` when every row
 * gives one (e.g. a 95% bootstrap interval; the tooltip then shows it); a legend (with
 * toggles) only when `group` sets colours apart from the labels.
 */
export function barChart(title: string, rows: { label: string; value: number; se?: number; lo?: number; hi?: number; group?: string }[], yTitle: string): VegaLiteSpec {
  const ci = rows.length > 0 && rows.every((r) => r.lo !== undefined && r.hi !== undefined);
  const data = rows.map((r) => ({ ...r, se: r.se ?? null, lo: ci ? r.lo! : r.value - (r.se ?? 0), hi: ci ? r.hi! : r.value + (r.se ?? 0), group: r.group ?? r.label }));
  const groups = seriesOf(data, 'group');
  const grouped = data.some((r) => r.group !== r.label);
  const color = { field: 'group', type: 'nominal', title: null, scale: { domain: groups, range: groups.map((_, i) => PALETTE[i % PALETTE.length]!) }, legend: grouped ? { title: null } : null };
  return {
    ...BASE, title, width: Math.max(380, 90 * data.length), height: 260, data: { values: data },
    layer: [
      {
        ...(grouped ? { params: [PICK('group')] } : {}),
        mark: 'bar',
        encoding: {
          y: { field: 'value', type: 'quantitative', title: yTitle }, color, opacity: grouped ? picked(1, 0.2) : { value: 1 },
          tooltip: [tip('label', 'bar', 'nominal'), tip('value', yTitle), ...(ci ? [tip('lo', '95% CI low'), tip('hi', '95% CI high')] : [tip('se', 'standard error')])],
        },
      },
      { mark: { type: 'errorbar' }, encoding: { y: { field: 'lo', type: 'quantitative', title: yTitle }, y2: { field: 'hi' } } },
    ],
    encoding: { x: { field: 'label', type: 'nominal', title: null, sort: null, axis: { labelAngle: 0, labelLimit: 160 } } },
  };
}

/** Configs without repeats (equal configs are one run, whatever the code version), in first-appearance order. */
export function distinctRuns(cs: readonly TrainRunConfig[]): TrainRunConfig[] {
  const seen = new Set<string>();
  return cs.filter((c) => {
    const k = runId('train', c, '');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * The rows of a KL–win-rate chart ({@link klWinChart}) for one run: every stored evaluation
 * with a measured KL and win rate, step 0 included, each with `extra` fields (e.g. task, replicate).
 */
export function klWinRows(method: string, id: string, label: string, records: readonly MetricRecord[], extra: Record<string, unknown> = {}): Record<string, unknown>[] {
  return records.flatMap((r) => {
    const kl = r.metrics.kl;
    const w = r.metrics.winRate;
    if (!kl || !w || Number.isNaN(kl.value) || Number.isNaN(w.value)) return [];
    return [{ ...extra, method, run: id, label, step: r.step, kl: kl.value, klSe: num(kl.se), winRate: w.value, winRateSe: num(w.se) }];
  });
}

/** The run ids of train configs (for a figure's provenance list). */
export function runIds(env: Env, cs: readonly TrainRunConfig[]): string[] {
  return cs.map((c) => idOf(env, 'train', c));
}

/**
 * A figure's program: ensure its training runs (cache hits when done), then build the
 * figure from the environment and their results, in run order.
 */
export function afterRuns(configs: readonly TrainRunConfig[], build: (env: Env, results: TrainResult[]) => Promise<FigureResult>): Program<FigureResult> {
  return pipe(
    sequence(configs.map((c) => ensureRun(c))),
    chain((rs) => fromAsync((env) => build(env, rs.map((r) => r.result)))),
  );
}

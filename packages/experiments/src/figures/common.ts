/** What a figure program returns, and helpers the figures share. */
import type { Metric } from '@tandem/rlhf';
import type { StudyConfig } from '../config.js';
import { chain, fromAsync, pipe, sequence, type Env, type Program } from '../program.js';
import { ensureRun } from '../study.js';
import { idOf } from '../runs/cache.js';
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
  /** The program that runs (or reuses) the figure's runs and builds its result. */
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

/** Rows { series, step, metric, value, lo, hi } for line charts over steps (±1 SE; records without the metric are skipped). */
export function longRows(series: string, records: readonly MetricRecord[], names: readonly string[]): Record<string, unknown>[] {
  return records.flatMap((r) => names.flatMap((k) => {
    const m = r.metrics[k];
    if (!m || Number.isNaN(m.value)) return [];
    const se = seOrZero(m);
    return [{ series, step: r.step, metric: k, value: m.value, lo: m.value - se, hi: m.value + se }];
  }));
}

const BASE = { $schema: 'https://vega.github.io/schema/vega-lite/v5.json', background: 'white', config: { font: 'DejaVu Sans', legend: { labelLimit: 360, orient: 'bottom', columns: 2 } } };

/** Metric over training steps, one line per series, with ±1 SE bands. */
export function lineChart(title: string, rows: Record<string, unknown>[], yTitle: string, opts: { facet?: boolean } = {}): VegaLiteSpec {
  const layer = {
    layer: [
      { mark: { type: 'errorband', opacity: 0.2 }, encoding: { y: { field: 'lo', type: 'quantitative', title: yTitle }, y2: { field: 'hi' }, color: { field: 'series', type: 'nominal', title: null } } },
      // Dashed lines keep a series visible when another lies exactly on top of it (a bit-identical replay).
      { mark: { type: 'line', point: true }, encoding: { y: { field: 'value', type: 'quantitative', title: yTitle }, color: { field: 'series', type: 'nominal', title: null }, strokeDash: { field: 'series', type: 'nominal', legend: null } } },
    ],
    encoding: { x: { field: 'step', type: 'quantitative', title: 'training step' } },
  };
  if (opts.facet) {
    return { ...BASE, title, data: { values: rows }, facet: { column: { field: 'metric', type: 'nominal', title: null } }, spec: { width: 260, height: 200, ...layer }, resolve: { scale: { y: 'independent' } } };
  }
  return { ...BASE, title, width: 420, height: 260, data: { values: rows }, ...layer };
}

/** KL (x) vs win rate (y) scatter with connecting lines per run. */
export function klWinChart(title: string, rows: Record<string, unknown>[]): VegaLiteSpec {
  return {
    ...BASE, title, width: 440, height: 300, data: { values: rows },
    layer: [
      { mark: { type: 'line', opacity: 0.35 }, encoding: { detail: { field: 'run' }, order: { field: 'step' } } },
      { mark: { type: 'point', filled: true, size: 45 } },
    ],
    encoding: {
      x: { field: 'kl', type: 'quantitative', title: 'KL(π ‖ π_sft)' },
      y: { field: 'winRate', type: 'quantitative', title: 'win rate vs golden baseline', scale: { domain: [0, 1] } },
      color: { field: 'method', type: 'nominal', title: null },
    },
  };
}

/** A bar per category with ±1 SE error bars. */
export function barChart(title: string, rows: { label: string; value: number; se: number; group?: string }[], yTitle: string): VegaLiteSpec {
  const data = rows.map((r) => ({ ...r, lo: r.value - r.se, hi: r.value + r.se, group: r.group ?? r.label }));
  return {
    ...BASE, title, width: 380, height: 240, data: { values: data },
    layer: [
      { mark: 'bar', encoding: { y: { field: 'value', type: 'quantitative', title: yTitle }, color: { field: 'group', type: 'nominal', title: null } } },
      { mark: { type: 'errorbar' }, encoding: { y: { field: 'lo', type: 'quantitative', title: yTitle }, y2: { field: 'hi' } } },
    ],
    encoding: { x: { field: 'label', type: 'nominal', title: null, sort: null } },
  };
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

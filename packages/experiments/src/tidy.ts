/**
 * The tidy table of an experiment's runs (shared by `experiment export` and the report's
 * metrics.csv): a row per run and evaluation step, a column per metric (`<metric>`, and its
 * standard error as `<metric>_se`), and the run's config flattened into
 * `config.<dotted.path>` columns; written as CSV (RFC 4180) or JSON Lines.
 */
import type { FigureResult } from './figures/common.js';
import type { Env } from './program.js';
import { idOf } from './runs/cache.js';
import { readMetricRecords } from './runs/metrics.js';
import { describeRun, type TrainRunConfig } from './runs/train.js';

export type Cell = string | number | boolean | null;

/** A tidy table: its column names in order, and a row per run × evaluation step. */
export interface TidyTable {
  columns: string[];
  rows: Record<string, Cell>[];
}

/** The columns every table starts with. */
export const FIXED_COLUMNS = ['run', 'description', 'figures', 'step', 'loss'] as const;
/** Metrics placed first, in this order; the others follow in the order they first appear. */
const FIRST_METRICS = ['kl', 'winRate'];

const isTrainConfig = (v: unknown): v is TrainRunConfig =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && ['setup', 'method', 'hyper', 'eval'].every((k) => k in v);

/**
 * A run config as `config.<dotted.path>` → value. A nested training-run config (a replay's
 * `method.source`, the golden baseline `eval.baseline`, a versus dataset's checkpoint run)
 * becomes that run's id; arrays become their JSON text.
 */
export function flattenConfig(env: Env, config: unknown, prefix = 'config'): Record<string, Cell> {
  const out: Record<string, Cell> = {};
  const walk = (v: unknown, path: string, top: boolean) => {
    if (!top && isTrainConfig(v)) out[path] = idOf(env, 'train', v);
    else if (Array.isArray(v)) out[path] = JSON.stringify(v);
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`, false);
    else out[path] = v === undefined ? null : (v as Cell);
  };
  walk(config, prefix, true);
  return out;
}

/** The tidy table of the training runs the figures read (each run once, in figure order; `figures` lists the figures that use it). */
export async function tidyTable(env: Env, figures: readonly Pick<FigureResult, 'name' | 'runs'>[]): Promise<TidyTable> {
  const usedBy = new Map<string, string[]>();
  for (const f of figures) for (const id of f.runs) if (id.startsWith('train-')) usedBy.set(id, [...(usedBy.get(id) ?? []), f.name].filter((x, i, a) => a.indexOf(x) === i));
  const metricNames: string[] = [...FIRST_METRICS];
  const configColumns: string[] = [];
  const rows: Record<string, Cell>[] = [];
  const seenMetrics = new Set<string>();
  for (const [id, figs] of usedBy) {
    const bytes = await env.store.readBlob(id, 'config.json');
    if (!bytes) throw new Error(`run ${id}: ${env.store.location(id)}/config.json is missing; rerun the experiment to recompute it`);
    const stored = JSON.parse(Buffer.from(bytes).toString('utf8')) as { config: TrainRunConfig };
    const config = flattenConfig(env, stored.config);
    for (const k of Object.keys(config)) if (!configColumns.includes(k)) configColumns.push(k);
    const description = `${describeRun(stored.config)} ${stored.config.hyper.steps} steps`;
    for (const r of await readMetricRecords(env, id)) {
      const row: Record<string, Cell> = { run: id, description, figures: figs.join(' '), step: r.step, loss: r.loss };
      for (const [k, m] of Object.entries(r.metrics)) {
        seenMetrics.add(k);
        if (!metricNames.includes(k)) metricNames.push(k);
        row[k] = m.value;
        row[`${k}_se`] = m.se ?? null;
      }
      Object.assign(row, config);
      rows.push(row);
    }
  }
  const metrics = metricNames.filter((m) => seenMetrics.has(m));
  return { columns: [...FIXED_COLUMNS, ...metrics.flatMap((m) => [m, `${m}_se`]), ...configColumns], rows };
}

/** A cell as CSV text: empty for null and NaN, shortest round-trip decimal for numbers. */
function csvText(v: Cell | undefined): string {
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '';
  return String(v);
}

/** A CSV field quoted per RFC 4180: in double quotes (doubled inside) when it holds a comma, a quote, CR or LF. */
export function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The table as CSV (RFC 4180: a header row, CRLF line ends, quoted fields where needed); NaN and absent values are empty fields. */
export function tidyCsv(t: TidyTable): string {
  const line = (cells: string[]) => `${cells.map(csvField).join(',')}\r\n`;
  return line(t.columns) + t.rows.map((r) => line(t.columns.map((c) => csvText(r[c])))).join('');
}

/** The table as JSON Lines: one object per row with every column (null where absent or NaN). */
export function tidyJsonl(t: TidyTable): string {
  return t.rows.map((r) => `${JSON.stringify(Object.fromEntries(t.columns.map((c) => {
    const v = r[c];
    return [c, v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? null : v];
  })))}\n`).join('');
}

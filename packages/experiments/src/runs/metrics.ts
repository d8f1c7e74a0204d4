/**
 * A training run's evaluations as stored: one {@link MetricRecord} per line of the
 * run's `metrics.jsonl`, and the last one in its `result.json`. Records are written
 * as JSON — where NaN (nothing measured) becomes null — and decoded with io-ts when
 * read back, so a record from another results version fails with a message that
 * names the file and line instead of being misread.
 *
 * On disk (results version 3 onwards), one line per evaluation:
 *
 * ```json
 * {"step":40,"loss":0.6931,"metrics":{"kl":{"value":0.12,"se":0.01},"winRate":{"value":0.55,"se":0.04}}}
 * ```
 */
import * as t from 'io-ts';
import * as E from 'fp-ts/lib/Either.js';
import type { Metric, Metrics } from '@tandem/rlhf';
import { NonNegInt, formatErrors } from '../config.js';
import { storeError, type Env } from '../program.js';
import { REPAIR } from './artifacts.js';

/** One evaluation of a training run. */
export interface MetricRecord {
  /** The training step the policy was evaluated at (0: before any step). */
  readonly step: number;
  /** Mean training loss over the steps since the previous evaluation; null when no step was taken (step 0, or a resumed final evaluation). */
  readonly loss: number | null;
  /** The evaluators' metrics (see @tandem/rlhf's Evaluators), by name. */
  readonly metrics: Metrics;
}

/** A number stored as JSON: NaN (and ±∞), which JSON cannot hold, is written as null and read back as NaN. */
const JsonNumber = new t.Type<number, number | null, unknown>(
  'a number (null for NaN)',
  (u): u is number => typeof u === 'number',
  (u, c) => (u === null ? t.success(NaN) : typeof u === 'number' ? t.success(u) : t.failure(u, c)),
  (n) => (Number.isFinite(n) ? n : null),
);

/** Codec of a {@link Metric}: `{ value, se? }`. */
export const MetricCodec: t.Type<Metric, unknown, unknown> = t.exact(t.intersection([t.type({ value: JsonNumber }), t.partial({ se: JsonNumber })]), 'Metric');

/** Codec of a {@link MetricRecord}, one line of metrics.jsonl. */
export const MetricRecordCodec: t.Type<MetricRecord, unknown, unknown> = t.exact(t.type({
  step: NonNegInt,
  loss: t.union([t.number, t.null]),
  metrics: t.record(t.string, MetricCodec),
}), 'MetricRecord');

/** The value of metric `name` of a record, or NaN when the record or the metric is absent. */
export function metricValue(r: MetricRecord | undefined, name: string): number {
  return r?.metrics[name]?.value ?? NaN;
}

/** The file a training run's evaluations are appended to. */
export const METRICS_FILE = 'metrics.jsonl';

/** The whole lines of a metrics.jsonl (or of its first `limit` bytes), checked one by one. */
export interface MetricsScan {
  /** The lines that are whole and decode, each with its `\n`, as stored. */
  lines: string[];
  /** Their records. */
  records: MetricRecord[];
  /** Bytes those lines take. */
  bytes: number;
  /** The first line (1-based) that is torn or does not decode, and why; absent when every line up to `limit` is good. */
  problem?: { line: number; why: string };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Splits metrics.jsonl bytes into lines and checks each: valid UTF-8, `\n`-terminated,
 * JSON, a {@link MetricRecord}. Stops at the first bad line — it never skips one, so a
 * damaged line in the middle can never shorten what a caller reads without it knowing.
 */
export function scanMetrics(bytes: Uint8Array, limit = bytes.length): MetricsScan {
  const end = Math.min(limit, bytes.length);
  const lines: string[] = [];
  const records: MetricRecord[] = [];
  let at = 0;
  while (at < end) {
    const line = lines.length + 1;
    const nl = bytes.indexOf(10, at);
    if (nl < 0 || nl >= end) return { lines, records, bytes: at, problem: { line, why: `torn: ${end - at} bytes without a line end` } };
    let text: string;
    try {
      text = utf8.decode(bytes.subarray(at, nl));
    } catch {
      return { lines, records, bytes: at, problem: { line, why: 'torn: not valid UTF-8 (corrupted)' } };
    }
    let u: unknown;
    try {
      u = JSON.parse(text);
    } catch (e) {
      return { lines, records, bytes: at, problem: { line, why: `torn: not valid JSON (${(e as Error).message})` } };
    }
    const r = MetricRecordCodec.decode(u);
    if (E.isLeft(r)) return { lines, records, bytes: at, problem: { line, why: `not a metric record of this results version (${formatErrors(r.left).join('; ')})` } };
    lines.push(`${text}\n`);
    records.push(r.right);
    at = nl + 1;
  }
  return { lines, records, bytes: at };
}

/** The line that {@link appendMetricRecords} writes for a record. */
export const metricLine = (r: MetricRecord): string => `${JSON.stringify(r)}\n`;

/** Appends evaluation records to a run's metrics.jsonl (durably: the store fsyncs) and returns the lines written. */
export async function appendMetricRecords(env: Env, id: string, records: readonly MetricRecord[]): Promise<string[]> {
  const lines = records.map(metricLine);
  if (lines.length) await env.store.appendBlob(id, METRICS_FILE, Buffer.from(lines.join(''), 'utf8'));
  return lines;
}

/**
 * A run's evaluation records, decoded and checked: a missing file, or any torn or
 * undecodable line, is a StoreError naming the run, the file, the line and the fix —
 * never a shortened list.
 */
export async function readMetricRecords(env: Env, id: string): Promise<MetricRecord[]> {
  const where = `${env.store.location(id)}/${METRICS_FILE}`;
  const bytes = await env.store.readBlob(id, METRICS_FILE);
  if (!bytes) throw storeError(`run ${id}: ${where} is missing; ${REPAIR}`);
  const scan = scanMetrics(bytes);
  if (scan.problem) {
    const { line, why } = scan.problem;
    throw storeError(`run ${id}: ${where} line ${line} is ${why.startsWith('torn') ? why : `damaged: ${why}`}; ${REPAIR}`);
  }
  return scan.records;
}

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

/** Decodes one stored record, or throws a StoreError naming `where` (file and line) and the fix. */
export function decodeMetricRecord(u: unknown, where: string): MetricRecord {
  const r = MetricRecordCodec.decode(u);
  if (E.isLeft(r)) {
    throw storeError(`${where} is not a metric record of this results version (${formatErrors(r.left).join('; ')}); ` +
      'it was written by another version of the code: delete the run folder (or rerun with --fresh) to recompute it');
  }
  return r.right;
}

/** The value of metric `name` of a record, or NaN when the record or the metric is absent. */
export function metricValue(r: MetricRecord | undefined, name: string): number {
  return r?.metrics[name]?.value ?? NaN;
}

/** Appends evaluation records to a run's metrics.jsonl. */
export async function appendMetricRecords(env: Env, id: string, records: readonly MetricRecord[]): Promise<void> {
  await env.store.appendMetrics(id, records as unknown as Record<string, unknown>[]);
}

/** A run's evaluation records, decoded (a StoreError names the first bad line of metrics.jsonl). */
export async function readMetricRecords(env: Env, id: string): Promise<MetricRecord[]> {
  return (await env.store.readMetrics(id)).map((u, i) => decodeMetricRecord(u, `${env.store.location(id)}/metrics.jsonl line ${i + 1}`));
}

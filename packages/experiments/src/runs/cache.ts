/**
 * The caching combinator: a run is a pure function of its config (and the code
 * version), so a finished run's stored result is returned instead of recomputing.
 */
import * as t from 'io-ts';
import * as E from 'fp-ts/lib/Either.js';
import { formatErrors } from '../config.js';
import { fromAsync, runOrThrow, storeError, type Env, type Program } from '../program.js';
import { runId, sha256 } from '../hash.js';
import { REPAIR, STREAM_FILE, TEMP_NAME, streamBatchCount } from './artifacts.js';
import { METRICS_FILE } from './metrics.js';

/** Identifies a run in the store. */
export interface RunHandle {
  /** The run id: `<kind>-<hash>` of its kind, config and code version (see {@link runId}). */
  readonly id: string;
  /** Where the run lives, human-readable (a directory, or `memory:<id>`). */
  readonly location: string;
}

/** A run's handle, its result, and whether it came from the store. */
export interface RunOutcome<R> {
  /** The run's id and location. */
  run: RunHandle;
  /** The run's result (from the store on a cache hit). */
  result: R;
  /** True when the result was read from the store rather than computed. */
  cached: boolean;
}

/** What result.json records about one file the result depends on. */
export interface FileRecord {
  bytes: number;
  sha256: string;
  /** metrics.jsonl: its number of records (lines). */
  records?: number;
  /** stream.bin: its number of batches (segments). */
  batches?: number;
}

/**
 * result.json: the run's result, the size and SHA-256 of every file of the run it
 * depends on (all but config.json, the lock, ckpt.bin and temp files), and a SHA-256
 * of the two, so neither an edited result nor a changed file is ever read as the run's.
 */
export interface StoredResult<R = unknown> {
  result: R;
  files: Record<string, FileRecord>;
  /** SHA-256 of `JSON.stringify({ result, files })`. */
  sha256: string;
}

/** Files of a run folder that result.json does not cover: the config, the result itself, the resume checkpoint, locks and temp files. */
export function isCoveredFile(name: string): boolean {
  return !['config.json', 'result.json', 'ckpt.bin'].includes(name) && !name.startsWith('lock') && !TEMP_NAME.test(name);
}

/** The {@link FileRecord}s of a run's files as they are now. */
export async function manifestOf(env: Env, id: string): Promise<Record<string, FileRecord>> {
  const files: Record<string, FileRecord> = {};
  for (const f of await env.store.listFiles(id)) {
    if (!isCoveredFile(f.name)) continue;
    const bytes = await env.store.readBlob(id, f.name);
    if (!bytes) continue;
    const rec: FileRecord = { bytes: bytes.length, sha256: sha256(bytes) };
    if (f.name === METRICS_FILE) rec.records = bytes.reduce((n, b) => n + (b === 10 ? 1 : 0), 0);
    if (f.name === STREAM_FILE) rec.batches = streamBatchCount(bytes);
    files[f.name] = rec;
  }
  return files;
}

/** The sealed form of a result (see {@link StoredResult}). */
export function sealResult<R>(result: R, files: Record<string, FileRecord>): StoredResult<R> {
  // Through JSON first, so the digest is of exactly what a reader parses back (NaN → null…).
  const body = JSON.parse(JSON.stringify({ result, files })) as { result: R; files: Record<string, FileRecord> };
  return { ...body, sha256: sha256(JSON.stringify(body)) };
}

const FileRecordCodec = t.intersection([t.type({ bytes: t.number, sha256: t.string }), t.partial({ records: t.number, batches: t.number })]);
const StoredResultCodec = t.type({ result: t.unknown, files: t.record(t.string, FileRecordCodec), sha256: t.string });

/** Why a stored result.json cannot be trusted, or its parts. */
export function checkSealed(stored: unknown): { ok: true; result: unknown; files: Record<string, FileRecord> } | { ok: false; why: string } {
  const d = StoredResultCodec.decode(stored);
  if (E.isLeft(d)) return { ok: false, why: `is not a sealed result of this results version (${formatErrors(d.left).slice(0, 3).join('; ')})` };
  const { result, files } = d.right;
  const actual = sha256(JSON.stringify({ result, files }));
  if (actual !== d.right.sha256) return { ok: false, why: `does not match its own checksum (SHA-256 ${actual.slice(0, 12)}…, recorded ${d.right.sha256.slice(0, 12)}…): it was edited or corrupted` };
  return { ok: true, result, files };
}

/** Differences between the files result.json records and the run's files now, one line each (empty when they agree). */
export async function fileMismatches(env: Env, id: string, files: Record<string, FileRecord>): Promise<{ file: string; why: string }[]> {
  const out: { file: string; why: string }[] = [];
  for (const [name, rec] of Object.entries(files)) {
    const bytes = await env.store.readBlob(id, name);
    if (!bytes) {
      out.push({ file: name, why: `is missing (result.json records ${rec.bytes} bytes)` });
      continue;
    }
    if (bytes.length !== rec.bytes) {
      out.push({ file: name, why: `is ${bytes.length} bytes, but result.json records ${rec.bytes}${bytes.length < rec.bytes ? ' (truncated)' : ''}` });
      continue;
    }
    const h = sha256(bytes);
    if (h !== rec.sha256) out.push({ file: name, why: `has SHA-256 ${h.slice(0, 12)}…, but result.json records ${rec.sha256.slice(0, 12)}… (corrupted or replaced)` });
  }
  return out;
}

/**
 * Reads a run's stored result, verified: result.json's own checksum, the result decoded
 * with `codec` when given, and every file it records (size and SHA-256). Anything that
 * does not check out is a StoreError naming the run, the file and the fix.
 */
export async function readResult<R>(env: Env, id: string, codec?: t.Decoder<unknown, R>): Promise<R | undefined> {
  const stored = await env.store.readResult<unknown>(id);
  if (stored === undefined) return undefined;
  const where = `run ${id}: ${env.store.location(id)}`;
  const sealed = checkSealed(stored);
  if (!sealed.ok) throw storeError(`${where}/result.json ${sealed.why}; ${REPAIR}`);
  let result = sealed.result as R;
  if (codec) {
    const r = codec.decode(sealed.result);
    if (E.isLeft(r)) throw storeError(`${where}/result.json does not hold a result of this results version (${formatErrors(r.left).join('; ')}); ${REPAIR}`);
    result = r.right;
  }
  const bad = await fileMismatches(env, id, sealed.files);
  if (bad.length) throw storeError(`${where}/${bad[0]!.file} ${bad[0]!.why}${bad.length > 1 ? ` (and ${bad.length - 1} more: ${bad.slice(1).map((b) => b.file).join(', ')})` : ''}; ${REPAIR}`);
  return result;
}

/**
 * Runs the program `body` makes unless a result for (kind, config) is stored; either
 * way returns it with the run's handle. `codec`, when given, decodes the stored result.
 * A stored result is returned only after {@link readResult} has verified it and its files;
 * a computed one is sealed with the sizes and hashes of the files the run wrote.
 */
export function cachedRun<C, R>(kind: string, config: C, body: (run: RunHandle) => Program<R>, codec?: t.Decoder<unknown, R>): Program<RunOutcome<R>> {
  return fromAsync(async (env) => {
    const id = idOf(env, kind, config);
    const run: RunHandle = { id, location: env.store.location(id) };
    const done = await readResult(env, run.id, codec);
    if (done !== undefined) {
      env.log(`cache hit: ${kind} ${run.id}`);
      return { run, result: done, cached: true };
    }
    // One process per run at a time (local workers, or machines sharing the store);
    // whoever waited finds the result written by the holder.
    const release = await env.store.lock(run.id, { log: env.log, interruption: env.interruption });
    try {
      const now = await readResult(env, run.id, codec);
      if (now !== undefined) return { run, result: now, cached: true };
      await env.store.writeConfig(run.id, { kind, codeVersion: env.codeVersion, config });
      const result = await runOrThrow(body(run), env);
      await env.store.writeResult(run.id, sealResult(result, await manifestOf(env, run.id)));
      return { run, result, cached: false };
    } finally {
      await release();
    }
  });
}

/** The id a (kind, config) run has under `env` (without running it). */
export function idOf(env: Env, kind: string, config: unknown): string {
  return runId(kind, config, env.codeVersion);
}

/**
 * The caching combinator: a run is a pure function of its config (and the code
 * version), so a finished run's stored result is returned instead of recomputing.
 */
import type * as t from 'io-ts';
import * as E from 'fp-ts/lib/Either.js';
import { formatErrors } from '../config.js';
import { fromAsync, runOrThrow, storeError, type Env, type Program } from '../program.js';
import { runId } from '../hash.js';

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

/** Reads a run's stored result, decoded with `codec` when given; a result that does not decode is a StoreError naming the file. */
export async function readResult<R>(env: Env, id: string, codec?: t.Decoder<unknown, R>): Promise<R | undefined> {
  const stored = await env.store.readResult<unknown>(id);
  if (stored === undefined || !codec) return stored as R | undefined;
  const r = codec.decode(stored);
  if (E.isLeft(r)) {
    throw storeError(`${env.store.location(id)}/result.json does not hold a result of this results version (${formatErrors(r.left).join('; ')}); ` +
      'delete the run folder (or rerun with --fresh) to recompute it');
  }
  return r.right;
}

/**
 * Runs the program `body` makes unless a result for (kind, config) is stored; either
 * way returns it with the run's handle. `codec`, when given, decodes the stored result.
 */
export function cachedRun<C, R>(kind: string, config: C, body: (run: RunHandle) => Program<R>, codec?: t.Decoder<unknown, R>): Program<RunOutcome<R>> {
  return fromAsync(async (env) => {
    const id = runId(kind, config, env.codeVersion);
    const run: RunHandle = { id, location: env.store.location(id) };
    const done = await readResult(env, run.id, codec);
    if (done !== undefined) {
      env.log(`cache hit: ${kind} ${run.id}`);
      return { run, result: done, cached: true };
    }
    // One process per run at a time (local workers, or machines sharing the store);
    // whoever waited finds the result written by the holder.
    const release = await env.store.lock(run.id);
    try {
      const now = await readResult(env, run.id, codec);
      if (now !== undefined) return { run, result: now, cached: true };
      await env.store.writeConfig(run.id, { kind, codeVersion: env.codeVersion, config });
      const result = await runOrThrow(body(run), env);
      await env.store.writeResult(run.id, result);
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

/**
 * The caching combinator: a run is a pure function of its config (and the code
 * version), so a finished run's stored result is returned instead of recomputing.
 */
import { fromAsync, type Env, type Program } from '../program.js';
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

/** What a run body gets: its id and the environment. */
export interface RunContext extends RunHandle {
  /** The environment the run executes in. */
  readonly env: Env;
}

/** Runs `body` unless a result for (kind, config) is stored; either way returns it with the run's handle. */
export function cachedRun<C, R>(kind: string, config: C, body: (ctx: RunContext) => Promise<R>): Program<RunOutcome<R>> {
  return fromAsync(async (env) => {
    const id = runId(kind, config, env.codeVersion);
    const location = env.store.location(id);
    const done = await env.store.readResult<R>(id);
    if (done !== undefined) {
      env.log(`cache hit: ${kind} ${id}`);
      return { run: { id, location }, result: done, cached: true };
    }
    // One process per run at a time (local workers, or machines sharing the store);
    // whoever waited finds the result written by the holder.
    const release = await env.store.lock(id);
    try {
      const now = await env.store.readResult<R>(id);
      if (now !== undefined) return { run: { id, location }, result: now, cached: true };
      await env.store.writeConfig(id, { kind, codeVersion: env.codeVersion, config });
      const result = await body({ id, location, env });
      await env.store.writeResult(id, result);
      return { run: { id, location }, result, cached: false };
    } finally {
      await release();
    }
  });
}

/** The id a (kind, config) run has under `env` (without running it). */
export function idOf(env: Env, kind: string, config: unknown): string {
  return runId(kind, config, env.codeVersion);
}

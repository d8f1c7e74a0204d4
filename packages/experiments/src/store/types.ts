/**
 * Where runs live. A run is identified by the hash of its canonical config and
 * the code version; its folder holds the config, append-only metrics, atomic
 * checkpoints, the recorded online stream, artifacts (figures) and, once finished,
 * its result — whose presence makes the run a cache hit.
 */
export interface RunStore {
  /** A human-readable location of the run (a directory path, or `memory:<id>`). */
  location(id: string): string;
  /** Writes the run's config (once, before work starts). */
  writeConfig(id: string, config: unknown): Promise<void>;
  /** The finished run's result, if any. */
  readResult<A>(id: string): Promise<A | undefined>;
  /** Marks the run finished (atomically). */
  writeResult(id: string, result: unknown): Promise<void>;
  /**
   * Appends metric records to `metrics.jsonl` (one JSON line each, `\n`-terminated) durably:
   * the data is flushed to disk (fsync) before the promise resolves. Read them back with
   * `readBlob(id, 'metrics.jsonl')` (runs/metrics.ts parses and checks them).
   */
  appendMetrics(id: string, records: readonly Record<string, unknown>[]): Promise<void>;
  /** Writes a named binary blob atomically (checkpoints, datasets). */
  writeBlob(id: string, name: string, data: Uint8Array): Promise<void>;
  /** Reads any of the run's files as bytes (blobs, `metrics.jsonl`, `config.json`…); undefined when the run has none of that name. */
  readBlob(id: string, name: string): Promise<Uint8Array | undefined>;
  /** Appends bytes to a named file durably (fsync before resolving), creating it when absent: the recorded stream's segments. */
  appendBlob(id: string, name: string, data: Uint8Array): Promise<void>;
  /** Cuts a named file to its first `length` bytes durably (a torn or uncheckpointed tail on resume); a no-op when it is absent or no longer. */
  truncateBlob(id: string, name: string, length: number): Promise<void>;
  /** Removes one of the run's files (no error when absent). */
  removeFile(id: string, name: string): Promise<void>;
  /** The ids of every run folder in the store. */
  listRuns(): Promise<string[]>;
  /** The run's files (temp files and the lock included), with their sizes and modification times. */
  listFiles(id: string): Promise<{ name: string; bytes: number; mtimeMs: number }[]>;
  /** Writes a named text artifact atomically (figures, reports). Returns its location. */
  writeText(id: string, name: string, text: string): Promise<string>;
  /** Writes a named binary artifact atomically (e.g. a figure's PNG). Returns its location. */
  writeArtifact(id: string, name: string, data: Uint8Array): Promise<string>;
  /**
   * Takes the run's exclusive lock, waiting (and saying so through `o.log`) while another
   * running process — or machine, on a shared filesystem — holds it. A holder on this
   * machine whose process is gone is taken over at once; one on another machine after
   * its heartbeat has stopped for the staleness window; a live one, even paused, never.
   * Writes to a run are refused unless this process holds its lock or nobody does.
   * Resolves to the held lock: call it to release it (see {@link RunLock}).
   */
  lock(id: string, o?: LockOptions): Promise<RunLock>;
}

/**
 * A held run lock. Calling it releases the lock — only while it is still this holder's:
 * a lock that was taken over is left in place and the call rejects with a StoreError
 * naming the new holder.
 */
export interface RunLock {
  (): Promise<void>;
  /** Unique to this acquisition; written into the lock file. */
  readonly token: string;
  /** Resolves while this process still holds the lock; rejects with a StoreError naming the new holder once it was taken over. */
  check(): Promise<void>;
}

/** How {@link RunStore.lock} waits. */
export interface LockOptions {
  /** Where "waiting for run X, held by …" and takeover messages go (default: stderr). */
  log?: (message: string) => void;
  /** Stop waiting (an `Interrupted` error) once this is requested (Ctrl-C). */
  interruption?: { readonly requested: boolean };
  /** False: a lock held by a running process is a StoreError naming it, instead of a wait. */
  wait?: boolean;
  /** How long another machine's lock may go without a heartbeat before it is taken over (default `TANDEM_LOCK_STALE_MS`, else 30 s). */
  staleMs?: number;
  /** How often a waiter looks again (default 200 ms). */
  pollMs?: number;
  /** How often a waiter repeats its message (default 15 s). */
  reportMs?: number;
}

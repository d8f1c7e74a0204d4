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
  /** Appends metric records (one JSON line each). */
  appendMetrics(id: string, records: readonly Record<string, unknown>[]): Promise<void>;
  /** All metric records so far, in order. */
  readMetrics(id: string): Promise<Record<string, unknown>[]>;
  /** Replaces the metrics with a prefix (used on resume, to drop records written after the last checkpoint). */
  truncateMetrics(id: string, keep: number): Promise<void>;
  /** Writes a named binary blob atomically (checkpoints, recorded streams, datasets). */
  writeBlob(id: string, name: string, data: Uint8Array): Promise<void>;
  /** Reads a named blob; undefined when the run has none of that name. */
  readBlob(id: string, name: string): Promise<Uint8Array | undefined>;
  /** Writes a named text artifact atomically (figures, reports). Returns its location. */
  writeText(id: string, name: string, text: string): Promise<string>;
  /** Writes a named binary artifact atomically (e.g. a figure's PNG). Returns its location. */
  writeArtifact(id: string, name: string, data: Uint8Array): Promise<string>;
  /**
   * Takes the run's exclusive lock, waiting while another process (or machine, on a
   * shared filesystem) holds it; a holder that stopped refreshing it is presumed dead
   * and the lock is taken over. Returns the release function.
   */
  lock(id: string): Promise<() => Promise<void>>;
}

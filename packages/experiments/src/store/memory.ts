/** An in-memory run store for tests: the same contract as the filesystem store. */
import type { RunStore } from './types.js';

/** A {@link RunStore} held in memory, whose contents tests can inspect through `runs`. */
export interface MemoryStore extends RunStore {
  /** Everything stored, for assertions. */
  readonly runs: Map<string, { config?: unknown; result?: unknown; metrics: Record<string, unknown>[]; blobs: Map<string, Uint8Array>; texts: Map<string, string> }>;
}

/** A fresh, empty in-memory run store. Configs, results and metrics are deep-copied through JSON (as a file would), blobs are copied, and locks are in-process. */
export function memoryStore(): MemoryStore {
  const runs: MemoryStore['runs'] = new Map();
  const run = (id: string) => {
    let r = runs.get(id);
    if (!r) runs.set(id, (r = { metrics: [], blobs: new Map(), texts: new Map() }));
    return r;
  };
  // Values are deep-copied through JSON, as the filesystem would, so no caller can alias stored state.
  const copy = <A>(x: A): A => (x === undefined ? x : JSON.parse(JSON.stringify(x)));
  const locks = new Map<string, Promise<void>>();
  return {
    runs,
    async lock(id) {
      // An in-process mutex per run: waiters chain on the previous holder.
      const prev = locks.get(id) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((r) => (release = r));
      const chained = prev.then(() => mine);
      locks.set(id, chained);
      await prev;
      return async () => {
        release();
        if (locks.get(id) === chained) locks.delete(id);
      };
    },
    location: (id) => `memory:${id}`,
    async writeConfig(id, config) { run(id).config = copy(config); },
    async readResult<A>(id: string) { return copy(runs.get(id)?.result) as A | undefined; },
    async writeResult(id, result) { run(id).result = copy(result); },
    async appendMetrics(id, records) { run(id).metrics.push(...records.map(copy)); },
    async readMetrics(id) { return copy(runs.get(id)?.metrics ?? []); },
    async truncateMetrics(id, keep) { run(id).metrics.splice(keep); },
    async writeBlob(id, name, data) { run(id).blobs.set(name, data.slice()); },
    async readBlob(id, name) { return runs.get(id)?.blobs.get(name)?.slice(); },
    async writeText(id, name, text) { run(id).texts.set(name, text); return `memory:${id}/${name}`; },
    async writeArtifact(id, name, data) { run(id).blobs.set(name, data.slice()); return `memory:${id}/${name}`; },
  };
}

/** An in-memory run store for tests: the same contract as the filesystem store. */
import { randomUUID } from 'node:crypto';
import { storeError } from '../program.js';
import type { RunStore } from './types.js';

/** One run held by a {@link MemoryStore}. */
export interface MemoryRun {
  /** config.json, as parsed JSON. */
  config?: unknown;
  /** result.json (the sealed result), as parsed JSON; absent while the run is unfinished. */
  result?: unknown;
  /** The records of metrics.jsonl (its whole lines that parse; the file itself is the blob `metrics.jsonl`). */
  readonly metrics: Record<string, unknown>[];
  /** Every file but config.json and result.json, as bytes: blobs, `metrics.jsonl`, the recorded stream. */
  blobs: Map<string, Uint8Array>;
  /** Text artifacts (figures, reports) by name. */
  texts: Map<string, string>;
}

/** A {@link RunStore} held in memory, whose contents tests can inspect (and damage) through `runs`. */
export interface MemoryStore extends RunStore {
  /** Everything stored, for assertions. */
  readonly runs: Map<string, MemoryRun>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A fresh, empty in-memory run store. Configs and results are deep-copied through JSON (as a file would), blobs are copied, and locks are in-process. */
export function memoryStore(): MemoryStore {
  const runs: MemoryStore['runs'] = new Map();
  const run = (id: string): MemoryRun => {
    let r = runs.get(id);
    if (!r) {
      const blobs = new Map<string, Uint8Array>();
      runs.set(id, (r = {
        blobs, texts: new Map(),
        get metrics() {
          const text = dec.decode(blobs.get('metrics.jsonl') ?? new Uint8Array());
          const out: Record<string, unknown>[] = [];
          for (const line of text.split('\n')) {
            try {
              if (line !== '') out.push(JSON.parse(line));
            } catch { /* a torn line: not a record */ }
          }
          return out;
        },
      }));
    }
    return r;
  };
  // Values are deep-copied through JSON, as the filesystem would, so no caller can alias stored state.
  const copy = <A>(x: A): A => (x === undefined ? x : JSON.parse(JSON.stringify(x)));
  const append = (id: string, name: string, data: Uint8Array) => {
    const blobs = run(id).blobs;
    const old = blobs.get(name) ?? new Uint8Array();
    const next = new Uint8Array(old.length + data.length);
    next.set(old);
    next.set(data, old.length);
    blobs.set(name, next);
  };
  const locks = new Map<string, Promise<void>>();
  return {
    runs,
    async lock(id, o = {}) {
      // An in-process mutex per run: waiters chain on the previous holder.
      if (o.wait === false && locks.has(id)) throw storeError(`run ${id} is in use: its lock is held in this process`);
      const prev = locks.get(id) ?? Promise.resolve();
      let release!: () => void;
      const mine = new Promise<void>((r) => (release = r));
      const chained = prev.then(() => mine);
      locks.set(id, chained);
      await prev;
      let held = true;
      const check = async () => {
        if (!held) throw storeError(`run ${id}: this lock was released`);
      };
      return Object.assign(async () => {
        if (!held) return;
        held = false;
        release();
        if (locks.get(id) === chained) locks.delete(id);
      }, { token: randomUUID(), check });
    },
    location: (id) => `memory:${id}`,
    async writeConfig(id, config) { run(id).config = copy(config); },
    async readResult<A>(id: string) { return copy(runs.get(id)?.result) as A | undefined; },
    async writeResult(id, result) { run(id).result = copy(result); },
    async appendMetrics(id, records) {
      if (records.length) append(id, 'metrics.jsonl', enc.encode(records.map((r) => JSON.stringify(r) + '\n').join('')));
    },
    async writeBlob(id, name, data) { run(id).blobs.set(name, data.slice()); },
    async readBlob(id, name) {
      const r = runs.get(id);
      if (!r) return undefined;
      if (name === 'config.json') return r.config === undefined ? undefined : enc.encode(JSON.stringify(r.config, null, 2) + '\n');
      if (name === 'result.json') return r.result === undefined ? undefined : enc.encode(JSON.stringify(r.result, null, 2) + '\n');
      const t = r.texts.get(name);
      return t !== undefined ? enc.encode(t) : r.blobs.get(name)?.slice();
    },
    async appendBlob(id, name, data) { append(id, name, data); },
    async truncateBlob(id, name, length) {
      const b = runs.get(id)?.blobs.get(name);
      if (b && b.length > length) runs.get(id)!.blobs.set(name, b.slice(0, length));
    },
    async removeFile(id, name) {
      const r = runs.get(id);
      if (!r) return;
      if (name === 'config.json') delete r.config;
      else if (name === 'result.json') delete r.result;
      else {
        r.blobs.delete(name);
        r.texts.delete(name);
      }
    },
    async listRuns() { return [...runs.keys()].sort(); },
    async listFiles(id) {
      const r = runs.get(id);
      if (!r) return [];
      const names = [...(r.config === undefined ? [] : ['config.json']), ...(r.result === undefined ? [] : ['result.json']), ...r.blobs.keys(), ...r.texts.keys()];
      const out = [];
      for (const name of [...new Set(names)].sort()) out.push({ name, bytes: (await this.readBlob(id, name))!.length, mtimeMs: 0 });
      return out;
    },
    async writeText(id, name, text) { run(id).texts.set(name, text); return `memory:${id}/${name}`; },
    async writeArtifact(id, name, data) { run(id).blobs.set(name, data.slice()); return `memory:${id}/${name}`; },
  };
}

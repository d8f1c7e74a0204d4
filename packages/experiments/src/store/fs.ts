/**
 * The filesystem run store: one folder per run under a root. Every write that
 * replaces a file goes through @tandem/nn's writeFileAtomic (temp file, fsync,
 * rename), so a crash leaves either the old or the new file, never half of one.
 */
import { mkdir, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { syncDirectory, writeFileAtomic } from '@tandem/nn';
import { storeError } from '../program.js';
import { acquireLock, guardWrites } from './lock.js';
import type { RunStore } from './types.js';

const SAFE = /^[A-Za-z0-9._@-]+$/;
function checkName(name: string): string {
  if (!SAFE.test(name) || name.startsWith('.')) throw new Error(`run store: invalid file name ${JSON.stringify(name)}`);
  return name;
}

/**
 * Appends `data` to `path` and flushes it to disk before returning; a file this call
 * creates also has its directory entry flushed. A crash mid-append leaves a prefix of
 * `data` at the end of the file (a torn tail), which readers detect and resume cuts.
 */
async function appendDurably(path: string, data: Uint8Array): Promise<void> {
  const created = !existsSync(path);
  const fh = await open(path, 'a');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (created) await syncDirectory(dirname(path));
}


/** The filesystem run store: one directory per run under `root` (config.json, metrics.jsonl, result.json, blobs and artifacts), written atomically except for appended metrics, with a lock file that works across processes and machines sharing the filesystem. */
export function fsStore(root: string): RunStore {
  const dir = async (id: string) => {
    const d = join(root, checkName(id));
    await mkdir(d, { recursive: true });
    return d;
  };
  const readJson = async <A>(path: string): Promise<A | undefined> => {
    if (!existsSync(path)) return undefined;
    try {
      return JSON.parse(await readFile(path, 'utf8')) as A;
    } catch (e) {
      throw storeError(`${path} is not valid JSON (${(e as Error).message}); run \`experiment verify --repair\` (then rerun the command) to recompute the run`, e);
    }
  };
  // Every write checks that this process holds the run's lock, or that no running process does (store/lock.ts).
  return guardWrites<RunStore>({
    location: (id) => join(root, id),
    async writeConfig(id, config) {
      await writeFileAtomic(join(await dir(id), 'config.json'), JSON.stringify(config, null, 2) + '\n');
    },
    async readResult<A>(id: string) {
      return readJson<A>(join(root, id, 'result.json'));
    },
    async writeResult(id, result) {
      await writeFileAtomic(join(await dir(id), 'result.json'), JSON.stringify(result, null, 2) + '\n');
    },
    async appendMetrics(id, records) {
      if (records.length === 0) return;
      await appendDurably(join(await dir(id), 'metrics.jsonl'), Buffer.from(records.map((r) => JSON.stringify(r) + '\n').join(''), 'utf8'));
    },
    async appendBlob(id, name, data) {
      await appendDurably(join(await dir(id), checkName(name)), data);
    },
    async truncateBlob(id, name, length) {
      const p = join(root, id, checkName(name));
      const st = await stat(p).catch(() => undefined);
      if (!st || st.size <= length) return;
      const fh = await open(p, 'r+');
      try {
        await fh.truncate(length);
        await fh.sync();
      } finally {
        await fh.close();
      }
    },
    async removeFile(id, name) {
      await rm(join(root, checkName(id), checkName(name)), { force: true });
    },
    async listRuns() {
      const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
      return entries.filter((e) => e.isDirectory() && SAFE.test(e.name) && !e.name.startsWith('.')).map((e) => e.name).sort();
    },
    async listFiles(id) {
      const d = join(root, checkName(id));
      const names = await readdir(d).catch(() => [] as string[]);
      const out: { name: string; bytes: number; mtimeMs: number }[] = [];
      for (const name of names.sort()) {
        const st = await stat(join(d, name)).catch(() => undefined);
        if (st?.isFile()) out.push({ name, bytes: st.size, mtimeMs: st.mtimeMs });
      }
      return out;
    },
    async writeBlob(id, name, data) {
      await writeFileAtomic(join(await dir(id), checkName(name)), data);
    },
    async readBlob(id, name) {
      const p = join(root, id, checkName(name));
      if (!existsSync(p)) return undefined;
      return new Uint8Array(await readFile(p));
    },
    async writeText(id, name, text) {
      const p = join(await dir(id), checkName(name));
      await writeFileAtomic(p, text);
      return p;
    },
    async lock(id, o) {
      return acquireLock(join(await dir(id), 'lock'), id, o);
    },
    async writeArtifact(id, name, data) {
      const p = join(await dir(id), checkName(name));
      await writeFileAtomic(p, data);
      return p;
    },
  }, (id) => join(root, checkName(id), 'lock'));
}

/**
 * The filesystem run store: one folder per run under a root. Every write that
 * replaces a file goes through @tandem/nn's writeFileAtomic (temp file, fsync,
 * rename), so a crash leaves either the old or the new file, never half of one.
 */
import { appendFile, mkdir, open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@tandem/nn';
import { storeError } from '../program.js';
import type { RunStore } from './types.js';

const SAFE = /^[A-Za-z0-9._@-]+$/;
function checkName(name: string): string {
  if (!SAFE.test(name) || name.startsWith('.')) throw new Error(`run store: invalid file name ${JSON.stringify(name)}`);
  return name;
}

/** A lock not refreshed for this long is presumed abandoned (its holder died). */
const LOCK_STALE_MS = Number(process.env.TANDEM_LOCK_STALE_MS ?? 30_000);
const LOCK_REFRESH_MS = Math.max(100, Math.floor(LOCK_STALE_MS / 6));
const LOCK_POLL_MS = 200;

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
      throw storeError(`${path} is not valid JSON (${(e as Error).message}); delete the run folder (or rerun with --fresh) to recompute it`, e);
    }
  };
  return {
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
      await appendFile(join(await dir(id), 'metrics.jsonl'), records.map((r) => JSON.stringify(r) + '\n').join(''));
    },
    async readMetrics(id) {
      const p = join(root, id, 'metrics.jsonl');
      if (!existsSync(p)) return [];
      const text = await readFile(p, 'utf8');
      const out: Record<string, unknown>[] = [];
      for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        try {
          out.push(JSON.parse(line));
        } catch {
          break; // a line torn by a crash mid-append: everything after it is dropped on resume
        }
      }
      return out;
    },
    async truncateMetrics(id, keep) {
      const all = await this.readMetrics(id);
      await writeFileAtomic(join(await dir(id), 'metrics.jsonl'), all.slice(0, keep).map((r) => JSON.stringify(r) + '\n').join(''));
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
    async lock(id) {
      const path = join(await dir(id), 'lock');
      for (;;) {
        try {
          const fh = await open(path, 'wx');
          await fh.writeFile(JSON.stringify({ host: hostname(), pid: process.pid, since: new Date().toISOString() }));
          await fh.close();
          // Refresh the lock's mtime so others know the holder is alive.
          const timer = setInterval(() => void utimes(path, new Date(), new Date()).catch(() => undefined), LOCK_REFRESH_MS);
          timer.unref();
          return async () => {
            clearInterval(timer);
            await rm(path, { force: true });
          };
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          const st = await stat(path).catch(() => undefined);
          if (st && Date.now() - st.mtimeMs > LOCK_STALE_MS) {
            await rm(path, { force: true }); // the holder died: take over (its checkpoint makes this safe)
            continue;
          }
          await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
        }
      }
    },
    async writeArtifact(id, name, data) {
      const p = join(await dir(id), checkName(name));
      await writeFileAtomic(p, data);
      return p;
    },
  };
}

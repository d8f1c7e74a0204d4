/**
 * The one atomic file write of the repository: checkpoints (here) and the
 * experiments' run store (results, configs, metrics, blobs, figures) use it.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Writes `data` to `path` so that a reader — or a crash at any moment — sees the old
 * file or the new one, never a mix:
 *
 * 1. the data goes to a temp file with a unique name (`<path>.tmp-<pid>-<random>`,
 *    created exclusively) in the same directory, so the rename below stays on one filesystem;
 * 2. the temp file is fsynced, so the data is on disk before it becomes visible;
 * 3. it is renamed over `path` (atomic on POSIX filesystems);
 * 4. the directory is fsynced, so the rename itself survives a crash (best effort:
 *    some platforms cannot open a directory for syncing).
 *
 * If any step before the rename fails, the temp file is removed and the error is
 * rethrown: `path` keeps its old content and no temp file is left behind.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(tmp, 'wx', 0o644);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await syncDirectory(dirname(path));
}

/**
 * fsyncs a directory so that a rename or a newly created file in it survives a power
 * loss. Best effort: some filesystems refuse to open or sync a directory, and the
 * rename (or create) is atomic either way.
 */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    /* best effort (see above) */
  }
}

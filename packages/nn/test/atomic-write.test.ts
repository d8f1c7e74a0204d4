/**
 * writeFileAtomic: the new content or the old one, never a mix and never a stray
 * temp file — also when the write, the fsync or the rename fails.
 */
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { writeFileAtomic } from '../src/atomic-write.js';

/** Which file-handle operation the mocked fs makes fail (after writing half the data, for 'write'). */
const inject = vi.hoisted(() => ({ fail: undefined as undefined | 'write' | 'sync' }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  return {
    ...fs,
    open: async (...args: Parameters<typeof fs.open>) => {
      const fh = await fs.open(...args);
      if (inject.fail === 'write') {
        fh.writeFile = async (data: Parameters<typeof fh.writeFile>[0]) => {
          const bytes = typeof data === 'string' ? Buffer.from(data) : (data as Uint8Array);
          await fh.write(bytes.subarray(0, bytes.length >> 1));
          throw enospc();
        };
      }
      if (inject.fail === 'sync') fh.sync = async () => { throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' }); };
      return fh;
    },
  };
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-atomic-'));
});
afterEach(async () => {
  inject.fail = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('replaces the content and leaves no temp file', async () => {
    const p = join(dir, 'result.json');
    await writeFileAtomic(p, 'old');
    await writeFileAtomic(p, new Uint8Array([110, 101, 119]));
    expect(await readFile(p, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['result.json']);
  });

  for (const fail of ['write', 'sync'] as const) {
    it(`a failed ${fail} leaves the old content intact and no temp file`, async () => {
      const p = join(dir, 'ckpt.bin');
      await writeFile(p, 'old content');
      inject.fail = fail;
      await expect(writeFileAtomic(p, 'x'.repeat(1 << 16))).rejects.toThrow(fail === 'write' ? /ENOSPC/ : /EIO/);
      inject.fail = undefined;
      expect(await readFile(p, 'utf8')).toBe('old content');
      expect(await readdir(dir)).toEqual(['ckpt.bin']);
    });
  }

  it('a failed rename (the target is a directory) leaves no temp file', async () => {
    const p = join(dir, 'taken');
    await mkdir(p);
    await writeFile(join(p, 'inside'), 'kept');
    await expect(writeFileAtomic(p, 'data')).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['taken']);
    expect(await readFile(join(p, 'inside'), 'utf8')).toBe('kept');
  });

  it('a missing directory fails without creating anything', async () => {
    await expect(writeFileAtomic(join(dir, 'no', 'such', 'file'), 'data')).rejects.toThrow(/ENOENT/);
    expect(await readdir(dir)).toEqual([]);
  });
});

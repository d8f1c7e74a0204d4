#!/usr/bin/env node
/**
 * `pnpm worker --queue redis://host:port [--out dir] [--backend cpu|webgpu|auto]`:
 * serves a BullMQ queue of training runs, writing results into the shared run store
 * at `--out`. Start one per core on as many machines as you like; Ctrl-C finishes
 * the current run's step, and its job is retried elsewhere from its last checkpoint.
 */
import { realpathSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { shutdownWebGPU, useBackend, type BackendChoice } from '@tandem/tensor';
import { checkRedis, parseRedisUrl, startQueueWorker } from './queue.js';

export async function workerMain(argv: string[]): Promise<number> {
  const { values: o } = parseArgs({ args: argv, options: { queue: { type: 'string' }, out: { type: 'string', default: 'runs' }, backend: { type: 'string', default: 'cpu' } } });
  if (!o.queue) {
    process.stderr.write('usage: worker --queue redis://host:port [--out dir] [--backend cpu|webgpu|auto]\n');
    return 2;
  }
  // The URL is checked and Redis reached before anything else, with a message and an exit code instead of a silent wait.
  try {
    parseRedisUrl(o.queue);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  try {
    await checkRedis(o.queue);
  } catch (e) {
    process.stderr.write(`worker: ${(e as Error).message}\n`);
    return 1;
  }
  const backend = await useBackend(o.backend as BackendChoice);
  const root = resolve(o.out!);
  await mkdir(root, { recursive: true });
  const close = await startQueueWorker({ url: o.queue, root, backend, lockMs: Number(process.env.TANDEM_QUEUE_LOCK_MS ?? 15_000) });
  await new Promise<void>((r) => {
    process.once('SIGINT', r);
    process.once('SIGTERM', r);
  });
  await close();
  await shutdownWebGPU();
  return 0;
}

if (process.argv[1] && realpathSync(fileURLToPath(import.meta.url)) === realpathSync(resolve(process.argv[1]))) {
  workerMain(process.argv.slice(2)).then((c) => process.exit(c), (e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}

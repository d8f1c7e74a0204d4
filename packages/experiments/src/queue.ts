/**
 * Distributed sweeps on BullMQ (Redis). The submitting process enqueues one job
 * per run (job id = run id, so a run is never enqueued twice) and waits; workers
 * on any machine take jobs and execute them against a shared run store (a
 * directory on a shared filesystem). Guarantees: at-least-once execution (a
 * worker that dies mid-run has its job retried after its lock expires, with
 * exponential backoff between attempts), no lost runs, and deterministic results:
 * a retry resumes from the run's last checkpoint and ends bit-identical.
 */
import { Queue, QueueEvents, Worker, type ConnectionOptions } from 'bullmq';
import type { Backend } from '@tandem/tensor';
import { describeError, fromAsync, run, type Env } from './program.js';
import { idOf } from './runs/cache.js';
import { describeRun, trainRun, type TrainRunConfig } from './runs/train.js';
import { fsStore } from './store/fs.js';
import type { Executor } from './sweep.js';
import { CODE_VERSION } from './version.js';

export const QUEUE_NAME = 'tandem-runs';

/** Connection options from `redis://host:port[/db]`. */
export function redisConnection(url: string): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--queue: '${url}' is not a URL; expected redis://host:port`);
  }
  if (u.protocol !== 'redis:') throw new Error(`--queue: expected a redis:// URL, got '${url}'`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return { host: u.hostname, port: Number(u.port || 6379), db, password: u.password || undefined, maxRetriesPerRequest: null };
}

export interface QueueOptions {
  url: string;
  /** Attempts per run before it is reported failed (default 5). */
  attempts?: number;
  /** First retry delay in ms, doubled each attempt (default 1000). */
  backoffMs?: number;
}

/** An executor that enqueues the runs and waits until every one has completed. */
export function queueExecutor(o: QueueOptions): Executor {
  return (runs) => fromAsync(async (env) => {
    const connection = redisConnection(o.url);
    const queue = new Queue(QUEUE_NAME, { connection });
    const events = new QueueEvents(QUEUE_NAME, { connection });
    try {
      await events.waitUntilReady();
      const jobs = await Promise.all(runs.map((config) => queue.add('train', { config }, {
        jobId: idOf(env, 'train', config),
        attempts: o.attempts ?? 5,
        backoff: { type: 'exponential', delay: o.backoffMs ?? 1000 },
        removeOnComplete: { age: 24 * 3600 },
        removeOnFail: { age: 7 * 24 * 3600 },
      })));
      env.log(`enqueued ${jobs.length} runs on ${o.url} (queue ${QUEUE_NAME}); waiting for workers`);
      const bar = env.progress('runs completed', jobs.length);
      let done = 0;
      await Promise.all(jobs.map(async (job) => {
        await job.waitUntilFinished(events);
        bar.update(++done);
      }));
      bar.stop();
    } finally {
      await events.close();
      await queue.close();
    }
  });
}

export interface WorkerOptions {
  url: string;
  /** The shared run store directory. */
  root: string;
  backend: Backend;
  /** A job whose worker stops renewing its lock for this long is retried elsewhere (default 15 s). */
  lockMs?: number;
  log?: (m: string) => void;
}

/** Starts a worker; resolves to a function that closes it gracefully. */
export async function startQueueWorker(o: WorkerOptions): Promise<() => Promise<void>> {
  const log = o.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const env: Env = {
    backend: o.backend,
    store: fsStore(o.root),
    codeVersion: CODE_VERSION,
    log,
    interruption: { requested: false },
    progress: (label, total) => {
      let last = -1;
      return {
        update: (step) => {
          const tenth = Math.floor((10 * step) / Math.max(1, total));
          if (tenth !== last) log(`[${label}] ${step}/${total}`);
          last = tenth;
        },
        stop: () => undefined,
      };
    },
  };
  const lockMs = o.lockMs ?? 15_000;
  const worker = new Worker(QUEUE_NAME, async (job) => {
    const config = job.data.config as TrainRunConfig;
    log(`job ${job.id} (attempt ${job.attemptsMade + 1}): ${describeRun(config)}`);
    const r = await run(trainRun(config), env);
    if (r._tag === 'Left') throw new Error(describeError(r.left));
    return { id: r.right.run.id, paramsHash: r.right.result.paramsHash };
  }, { connection: redisConnection(o.url), concurrency: 1, lockDuration: lockMs, stalledInterval: Math.max(1000, lockMs / 2), maxStalledCount: 10 });
  await worker.waitUntilReady();
  log(`worker ${process.pid} serving ${o.url} with the run store at ${o.root}`);
  return () => worker.close();
}

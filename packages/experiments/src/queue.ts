/**
 * Distributed sweeps on BullMQ (Redis). The submitting process enqueues one job
 * per run (job id = run id, so a run is never enqueued twice) and waits; workers
 * on any machine take jobs and execute them against a shared run store (a
 * directory on a shared filesystem). Guarantees: at-least-once execution (a
 * worker that dies mid-run has its job retried after its lock expires, with
 * exponential backoff between attempts), no lost runs, and deterministic results:
 * a retry resumes from the run's last checkpoint and ends bit-identical.
 */
import { connect } from 'node:net';
import { Queue, QueueEvents, UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq';
import * as t from 'io-ts';
import * as E from 'fp-ts/lib/Either.js';
import type { Backend } from '@tandem/tensor';
import { decodeWith } from './config.js';
import { chain, describeError, fromAsync, pipe, run, type Env, type Program } from './program.js';
import { runJobsInOrder } from './jobs.js';
import { TrainRunConfigCodec } from './run-config.js';
import { idOf } from './runs/cache.js';
import { describeRun, trainRun, type TrainRunConfig } from './runs/train.js';
import { fsStore } from './store/fs.js';
import type { Executor } from './sweep.js';
import { CODE_VERSION } from './version.js';

export const QUEUE_NAME = 'tandem-runs';

/** The parts of a `redis://[user:password@]host[:port][/db]` URL. */
export interface RedisAddress {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  /** The URL with any password replaced by `***`, for messages. */
  shown: string;
}

/** Parses and checks a queue URL, `redis://[user:password@]host[:port][/db]`; throws an Error naming the URL and what is wrong. */
export function parseRedisUrl(url: string): RedisAddress {
  const expected = 'expected redis://host:port[/db]';
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    const port = /^[a-z]+:\/\/[^/]*:(\d+)/i.exec(url)?.[1];
    const why = port !== undefined && Number(port) > 65535 ? ` (port ${port} is above 65535)` : '';
    throw new Error(`--queue: '${url}' is not a URL${why}; ${expected}`);
  }
  const shown = u.password ? url.replace(`:${u.password}@`, ':***@') : url;
  if (u.protocol !== 'redis:') throw new Error(`--queue: '${shown}' is a ${u.protocol.replace(/:$/, '')} URL; ${expected}`);
  if (!u.hostname) throw new Error(`--queue: '${shown}' names no host; ${expected}`);
  const port = u.port === '' ? 6379 : Number(u.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--queue: '${shown}' has port ${u.port}; expected a port from 1 to 65535`);
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!/^\d*$/.test(dbText) || !Number.isSafeInteger(db)) throw new Error(`--queue: '${shown}' names database '${dbText}'; expected a database number (redis://host:port/0)`);
  if (u.search || u.hash) throw new Error(`--queue: '${shown}' has a query or fragment; ${expected}`);
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port, db, shown,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
}

/** Connection options from `redis://[user:password@]host[:port][/db]` (checked by {@link parseRedisUrl}). */
export function redisConnection(url: string): ConnectionOptions {
  const a = parseRedisUrl(url);
  return { host: a.host, port: a.port, db: a.db, username: a.username, password: a.password, maxRetriesPerRequest: null };
}

/** How long {@link checkRedis} waits for Redis by default: `TANDEM_QUEUE_CONNECT_TIMEOUT_MS`, or 5 s. */
export function connectTimeoutMs(): number {
  const v = Number(process.env.TANDEM_QUEUE_CONNECT_TIMEOUT_MS);
  return Number.isFinite(v) && v > 0 ? v : 5000;
}

/**
 * Reaches the Redis server of `url` before any work: connects (within `timeoutMs`),
 * authenticates and selects the database when the URL says so, and expects PONG to a
 * PING. Throws an Error naming the URL, what failed and what to do. (BullMQ itself
 * retries a connection forever without a word, which is right for a running worker
 * riding out a Redis restart, not for a first contact with a wrong address.)
 */
export async function checkRedis(url: string, timeoutMs = connectTimeoutMs()): Promise<void> {
  const a = parseRedisUrl(url);
  const resp = (...args: string[]) => `*${args.length}\r\n${args.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`;
  const commands = [
    ...(a.password !== undefined ? [a.username ? resp('AUTH', a.username, a.password) : resp('AUTH', a.password)] : []),
    ...(a.db !== 0 ? [resp('SELECT', String(a.db))] : []),
    resp('PING'),
  ];
  const fail = (why: string, fix: string) => new Error(`--queue ${a.shown}: ${why}; ${fix}`);
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: a.host, port: a.port });
    let buf = '';
    let done = false;
    const finish = (e?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (e) reject(e);
      else resolve();
    };
    const timer = setTimeout(() => finish(fail(`no answer from Redis at ${a.host}:${a.port} within ${timeoutMs / 1000} s`,
      'check the host and port, that redis-server runs there and that a firewall lets you reach it')), timeoutMs);
    socket.on('connect', () => socket.write(commands.join('')));
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      const lines = buf.split('\r\n');
      for (const line of lines.slice(0, -1)) {
        if (line.startsWith('-')) {
          return finish(fail(`Redis refused: ${line.slice(1)}`, /NOAUTH|WRONGPASS|AUTH/i.test(line) ? 'give the right user and password in the URL (redis://user:password@host:port)' : 'check the database number and the server'));
        }
        if (!line.startsWith('+')) return finish(fail(`the server at ${a.host}:${a.port} is not Redis (it answered ${JSON.stringify(line.slice(0, 40))})`, 'point --queue at a Redis server'));
      }
      if (lines.length - 1 >= commands.length) finish();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => finish(fail(`cannot reach Redis at ${a.host}:${a.port} (${e.code ?? e.message})`,
      e.code === 'ECONNREFUSED' ? 'start redis-server there (or fix the host and port)' : e.code === 'ENOTFOUND' ? 'the host name does not resolve: fix it' : 'check the URL and the network')));
    socket.on('close', () => finish(fail(`Redis at ${a.host}:${a.port} closed the connection without answering`, 'check that it is a Redis server that accepts this client')));
  });
}

/** What a queued job carries: the run's config and the code version of the process that submitted it. */
export const QueueJobData = t.exact(t.type({ config: TrainRunConfigCodec, codeVersion: t.string }), 'QueueJobData');
export type QueueJobData = t.TypeOf<typeof QueueJobData>;

export interface QueueOptions {
  url: string;
  /** Attempts per run before it is reported failed (default 5). */
  attempts?: number;
  /** First retry delay in ms, doubled each attempt (default 1000). */
  backoffMs?: number;
}

/** An executor that enqueues the runs and waits until every one has completed. */
export function queueExecutor(o: QueueOptions): Executor {
  // The graph's other jobs (data, setup, baselines…) run here first; the queue serves the targets.
  return (g, targets) => pipe(runJobsInOrder({ jobs: g.jobs.filter((_, i) => !targets.includes(i)), deps: [] }), chain(() => queueRuns(o, targets.map((i) => g.jobs[i]!.config as TrainRunConfig))));
}

function queueRuns(o: QueueOptions, runs: readonly TrainRunConfig[]): Program<void> {
  return fromAsync(async (env) => {
    const connection = redisConnection(o.url);
    await checkRedis(o.url);
    const queue = new Queue(QUEUE_NAME, { connection });
    const events = new QueueEvents(QUEUE_NAME, { connection });
    try {
      await events.waitUntilReady();
      const jobs = await Promise.all(runs.map((config) => queue.add('train', { config, codeVersion: env.codeVersion } satisfies QueueJobData, {
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
  await checkRedis(o.url);
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
    // Job data comes from Redis: decoded and checked like a config file before anything runs.
    const reject = (m: string): never => {
      log(`job ${job.id} rejected: ${m}`);
      throw new UnrecoverableError(m);
    };
    const decoded = decodeWith(QueueJobData, job.data, `data of job ${job.id}`);
    if (E.isLeft(decoded)) return reject(`${decoded.left.message}\n(the job was not run; remove it and resubmit the sweep)`);
    const { config, codeVersion } = decoded.right;
    if (codeVersion !== env.codeVersion) {
      return reject(`job ${job.id} was submitted by code ${codeVersion} but this worker runs ${env.codeVersion}; run the workers from the same code as the command that submits the sweep`);
    }
    const id = idOf(env, 'train', config);
    if (job.id !== id) return reject(`job ${job.id} holds the config of run ${id}: its data was altered after it was submitted; remove it and resubmit the sweep`);
    log(`job ${job.id} (attempt ${job.attemptsMade + 1}): ${describeRun(config)}`);
    const r = await run(trainRun(config), env);
    if (r._tag === 'Left') throw new Error(describeError(r.left));
    return { id: r.right.run.id, paramsHash: r.right.result.paramsHash };
  }, { connection: redisConnection(o.url), concurrency: 1, lockDuration: lockMs, stalledInterval: Math.max(1000, lockMs / 2), maxStalledCount: 10 });
  await worker.waitUntilReady();
  log(`worker ${process.pid} serving ${o.url} with the run store at ${o.root}`);
  return () => worker.close();
}

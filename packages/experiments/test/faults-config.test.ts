/**
 * Fault injection: configs, queues and run ids (docs/reliability.md, "Configs, queues
 * and run ids"). Every bad input must end in a clear error naming the field (or URL,
 * or file) and the fix, before any work starts — never a run that fails later without
 * naming the field, a NaN cached as a finished result, a hang, or exit 0 with nothing
 * done — and run ids must change when the code that computes the runs does.
 *
 * Config faults are checked in this process; the CLI and worker faults run the real
 * entry points in child processes (each exits before any backend work). The job-data
 * faults need `redis-server`: under CI (TANDEM_REQUIRE_REDIS=1) a missing server is a
 * failure; elsewhere those tests are skipped with the reason printed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as E from 'fp-ts/lib/Either.js';
import { Job, Queue, QueueEvents } from 'bullmq';
import { MAX_TREE_DEPTH, NnError, decodeCheckpoint, encodeSafetensors } from '@tandem/nn';
import { getBackend } from '@tandem/tensor';
import {
  CODE_VERSION, PRESETS, SMOKE, StudyConfig, TrainRunConfigCodec, cachedRun, codeHashOf, codeVersion, dataCapacity, decodeWith, deepMerge,
  idOf, loadedCodeRoots, memoryEnv, of, onlineOf, parseConfigJson, runId, runOrThrow, type TrainRunConfig,
} from '../src/index.js';
import { QUEUE_NAME, startQueueWorker } from '../src/queue.js';

const ROOT = resolve(__dirname, '../../..');
const NODE = [process.execPath, '--conditions=tandem-source', '--import', 'tsx'];
const CLI = join(ROOT, 'packages/experiments/src/cli.ts');
const WORKER = join(ROOT, 'packages/experiments/src/worker.ts');
const tmp = mkdtempSync(join(tmpdir(), 'tandem-faults-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The ConfigError message for the smoke preset with `over` merged in (fails the test if the config is accepted). */
function rejected(over: unknown, literals?: Map<string, string>): string {
  const r = decodeWith(StudyConfig, deepMerge(SMOKE, over), 'config', literals);
  if (E.isRight(r)) throw new Error(`config accepted: ${JSON.stringify(over)}`);
  expect(r.left.code).toBe('ConfigError');
  return r.left.message;
}

/** Runs the CLI (or the worker) in a child process; they must exit before any work, so 60 s is plenty. */
function cli(args: string[], env: Record<string, string> = {}, entry = CLI) {
  const r = spawnSync(NODE[0]!, [...NODE.slice(1), entry, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` };
}

/** Run folders in `out` (none may exist when a command was rejected before any work). */
const runsIn = (out: string) => (existsSync(out) ? readdirSync(out).filter((d) => /^(data|setup|train|dataset)-/.test(d)) : []);

/** The smoke preset's distinct training prompts and training pairs (what its runs draw from). */
const smoke = () => dataCapacity(SMOKE.data);

describe('configs that make sense, checked before any work', () => {
  it('datasetCheckpoints.late beyond train.steps is rejected naming both fields', () => {
    expect(rejected({ datasetCheckpoints: { late: 20 } })).toContain('datasetCheckpoints.late: 20 exceeds train.steps (8): the online run never reaches that step; expected ≤ 8');
  });

  it('initialPairs: 1 (no held-out pair: a NaN accuracy) is rejected with the smallest size that splits', () => {
    expect(rejected({ data: { initialPairs: 1 } })).toMatch(/data\.initialPairs: 1 pair splits at heldOutFraction 0\.2 into 1 for training and 0 held out; .* expected ≥ 3/);
  });

  it('batchSize: 100000 (more than the prompts: an online run never fills a batch) is rejected naming the prompt count', () => {
    expect(rejected({ train: { batchSize: 100000 } })).toContain(`train.batchSize: 100000 exceeds the ${smoke().prompts} training prompts; expected ≤ ${smoke().prompts}`);
  });

  it('klPrompts: 1e9 (silently cut to the prompts there are) is rejected, printed as written', () => {
    expect(rejected({ eval: { klPrompts: 1e9 } })).toContain(`eval.klPrompts: 1000000000 exceeds the ${smoke().prompts} training prompts`);
    const p = parseConfigJson('{"eval": {"klPrompts": 1e9, "winRatePrompts": 100000, "classifierPairs": 1E6}}', 'f.json');
    if (E.isLeft(p)) throw p.left;
    const m = rejected(p.right.value, p.right.literals);
    expect(m).toContain(`eval.klPrompts: 1e9 exceeds the ${smoke().prompts} training prompts; expected ≤ ${smoke().prompts}`);
    expect(m).toContain(`eval.winRatePrompts: 100000 exceeds the ${smoke().prompts} training prompts`);
    expect(m).toContain(`eval.classifierPairs: 1E6 exceeds the ${smoke().trainPairs} pairs of D_golden`);
  });

  it('an empty offlineSweep grid (exit 0 with nothing done) is rejected, as are empty shuffleWindows and sizes', () => {
    const m = rejected({ offlineSweep: { lrs: [], betas: [0.1], steps: [] }, shuffleWindows: [], sizes: [] });
    for (const p of ['offlineSweep.lrs: [] is empty', 'offlineSweep.steps: [] is empty', 'shuffleWindows: [] is empty', 'sizes: [] is empty']) expect(m).toContain(p);
  });

  it('every problem of a config is reported at once, each with its path', () => {
    const r = decodeWith(StudyConfig, deepMerge(SMOKE, {
      datasetCheckpoints: { late: 20 }, train: { batchSize: 100000, lr: -1 }, eval: { klPrompts: 1e9 }, offlineSweep: { lrs: [] }, extra: 1,
    }), 'config');
    expect(E.isLeft(r)).toBe(true);
    if (E.isLeft(r)) {
      for (const p of ['datasetCheckpoints.late:', 'train.batchSize:', 'train.lr:', 'eval.klPrompts:', 'offlineSweep.lrs:', 'extra: unknown key']) expect(r.left.paths.some((x) => x.startsWith(p)), p).toBe(true);
    }
  });

  it('lr: 1e999 says "not finite (1e999 in the config)", not "got null" (CLI)', () => {
    const f = join(tmp, 'inf.json');
    writeFileSync(f, '{ "train": { "lr": 1e999 } }');
    const r = cli(['fig1', '--preset', 'smoke', '--config', f, '--out', join(tmp, 'inf-out'), '--backend', 'cpu']);
    expect(r.status, r.out).toBe(2);
    expect(r.out).toContain('train.lr: not finite (1e999 in the config); expected a positive number');
    expect(r.out).not.toContain('null');
    expect(runsIn(join(tmp, 'inf-out'))).toEqual([]);
  }, 60_000);

  it('a key named __proto__ (silently became a prototype) is an unknown key', () => {
    const m = rejected(JSON.parse('{"__proto__": {"x": 1}, "train": {"__proto__": {"steps": 3}}}'));
    expect(m).toMatch(/^ {2}__proto__: unknown key/m);
    expect(m).toMatch(/^ {2}train\.__proto__: unknown key/m);
  });

  it('keys named like Object methods (constructor, toString) are unknown keys, not silently dropped', () => {
    const m = rejected({ train: { constructor: 1 }, eval: { toString: 2 } });
    expect(m).toContain('train.constructor: unknown key');
    expect(m).toContain('eval.toString: unknown key');
  });

  it('data.seed: 1e300 (not a safe integer: the data run failed naming no field) is rejected', () => {
    expect(rejected({ data: { seed: 1e300 } })).toContain('data.seed: expected a non-negative integer, got 1e+300');
  });

  it('sizes past one machine: steps, batch, pairs and an online stream over LIMITS are rejected naming the limit', () => {
    const m = rejected({ data: { initialPairs: 1e7 }, train: { steps: 1e9 }, setup: { sft: { batchSize: 1e5 } }, offlineSweep: { steps: [8, 1e6] } });
    expect(m).toContain('data.initialPairs: 10000000 exceeds the limit of 100000 pairs (LIMITS.initialPairs)');
    expect(m).toContain('train.steps: 1000000000 exceeds the limit of 100000 steps (LIMITS.steps)');
    expect(m).toContain('setup.sft.batchSize: 100000 exceeds the limit of 4096 items per batch (LIMITS.batchSize)');
    expect(m).toContain('offlineSweep.steps.1: 1000000 exceeds the limit of 100000 steps');
    expect(rejected({ train: { steps: 100000, batchSize: 16 } })).toMatch(/train\.steps: 100000 steps × 16 pairs per batch = 1600000 pairs of online stream exceed the limit of 1000000 stream pairs \(LIMITS\.streamPairs\).*expected ≤ 62500 steps/);
  });

  it('datasetCheckpoints.early not before late, shuffle windows beyond the stream, warm-up beyond the fit, repeated grid entries are rejected', () => {
    const m = rejected({ datasetCheckpoints: { early: 8, late: 8 }, shuffleWindows: [1, 16, 'all'], setup: { sft: { warmup: 50 } }, offlineSweep: { betas: [0.1, 0.1] } });
    expect(m).toContain('datasetCheckpoints.early: 8 is not before datasetCheckpoints.late (8); expected < 8');
    expect(m).toContain("shuffleWindows.1: 16 exceeds the 8 batches of the online stream (train.steps); expected ≤ 8, or 'all' for a uniform shuffle");
    expect(m).toContain("setup.sft.warmup: 50 warm-up steps exceed the fit's 12 steps");
    expect(m).toContain('offlineSweep.betas.1: 0.1 repeats entry 0');
  });

  it('a config file that is not JSON, or not an object, is rejected with the line and column (CLI)', () => {
    const f = join(tmp, 'bad.json');
    writeFileSync(f, '{\n  "train": {\n    "steps": 8,\n  }\n}\n');
    const r = cli(['fig1', '--preset', 'smoke', '--config', f, '--out', join(tmp, 'bad-out')]);
    expect(r.status, r.out).toBe(2);
    expect(r.out).toMatch(/bad\.json: not valid JSON \(.*line 4, column 3\)/);
    writeFileSync(f, 'null');
    const n = cli(['fig1', '--preset', 'smoke', '--config', f, '--out', join(tmp, 'bad-out')]);
    expect(n.status, n.out).toBe(2);
    expect(n.out).toContain('bad.json: holds null, not an object of config fields');
  }, 120_000);

  it('the presets are valid, and the prompt count the rules use is the one the runs see', () => {
    for (const [name, preset] of Object.entries(PRESETS)) expect(E.isRight(decodeWith(StudyConfig, preset, name)), name).toBe(true);
    expect(smoke().trainPairs).toBe(128);
    expect(smoke().prompts).toBeGreaterThan(0);
    expect(smoke().prompts).toBeLessThanOrEqual(smoke().trainPairs);
  });
});

describe('--queue checked and Redis reached before any work', () => {
  const sweep = (out: string, queue: string, env: Record<string, string> = {}) =>
    cli(['sweep', 'offline', '--preset', 'smoke', '--out', out, '--backend', 'cpu', '--queue', queue], env);

  it('sweep offline --queue http://x is rejected before data, setup and baseline run', () => {
    const out = join(tmp, 'http');
    const r = sweep(out, 'http://x');
    expect(r.status, r.out).toBe(2);
    expect(r.out).toContain("--queue: 'http://x' is a http URL; expected redis://host:port[/db]");
    expect(runsIn(out)).toEqual([]);
  }, 60_000);

  it('--queue redis://127.0.0.1:1 (nothing listening) fails fast in the CLI, naming the URL', () => {
    const out = join(tmp, 'refused');
    const t0 = Date.now();
    const r = sweep(out, 'redis://127.0.0.1:1');
    expect(r.status, r.out).toBe(1);
    expect(r.out).toContain('--queue redis://127.0.0.1:1: cannot reach Redis at 127.0.0.1:1 (ECONNREFUSED); start redis-server there');
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(runsIn(out)).toEqual([]);
  }, 60_000);

  it('--queue redis://127.0.0.1:1 (nothing listening) fails fast in the worker, naming the URL', () => {
    const r = cli(['--queue', 'redis://127.0.0.1:1', '--out', join(tmp, 'w-refused')], {}, WORKER);
    expect(r.status, r.out).toBe(1);
    expect(r.out).toContain('worker: --queue redis://127.0.0.1:1: cannot reach Redis at 127.0.0.1:1 (ECONNREFUSED)');
  }, 60_000);

  it('a queue URL with a bad port or database is rejected before any work', () => {
    for (const [url, text] of [
      ['redis://127.0.0.1:99999', "'redis://127.0.0.1:99999' is not a URL (port 99999 is above 65535)"],
      ['redis://127.0.0.1:0', 'has port 0; expected a port from 1 to 65535'],
      ['redis://127.0.0.1:6379/abc', "names database 'abc'"],
    ] as const) {
      const out = join(tmp, `port-${url.length}`);
      const r = sweep(out, url);
      expect(r.status, r.out).toBe(2);
      expect(r.out).toContain(text);
      expect(runsIn(out)).toEqual([]);
    }
  }, 180_000);

  describe('servers that are not a working Redis', () => {
    let silent: Server;
    let http: Server;
    const port = (s: Server) => (s.address() as { port: number }).port;
    beforeAll(async () => {
      silent = createServer(() => undefined); // accepts, never answers
      http = createServer((sock) => sock.once('data', () => sock.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
      await Promise.all([silent, http].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))));
    });
    afterAll(() => {
      silent.close();
      http.close();
    });

    it('a server that accepts but never answers: the worker gives up after the connect timeout with a message', async () => {
      const r = await cliAsync(['--queue', `redis://127.0.0.1:${port(silent)}`, '--out', join(tmp, 'w-silent')], { TANDEM_QUEUE_CONNECT_TIMEOUT_MS: '500' }, WORKER);
      expect(r.status, r.out).toBe(1);
      expect(r.out).toContain(`no answer from Redis at 127.0.0.1:${port(silent)} within 0.5 s`);
    }, 60_000);

    it('a server that is not Redis (HTTP) is named as such, not waited on', async () => {
      const r = await cliAsync(['sweep', 'offline', '--preset', 'smoke', '--out', join(tmp, 'http-srv'), '--backend', 'cpu', '--queue', `redis://127.0.0.1:${port(http)}`]);
      expect(r.status, r.out).toBe(1);
      expect(r.out).toContain(`the server at 127.0.0.1:${port(http)} is not Redis (it answered "HTTP/1.1 400 Bad Request")`);
      expect(runsIn(join(tmp, 'http-srv'))).toEqual([]);
    }, 60_000);
  });
});

/** {@link cli} without blocking this process's event loop (for tests whose servers live in this process). */
function cliAsync(args: string[], env: Record<string, string> = {}, entry = CLI): Promise<{ status: number | null; out: string }> {
  return new Promise((res) => {
    const c = spawn(NODE[0]!, [...NODE.slice(1), entry, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    const t = setTimeout(() => c.kill('SIGKILL'), 50_000);
    c.on('exit', (status) => {
      clearTimeout(t);
      res({ status, out });
    });
  });
}

const redisBin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
if (!redisBin && process.env.TANDEM_REQUIRE_REDIS === '1') throw new Error('TANDEM_REQUIRE_REDIS=1 but redis-server is not installed (apt-get install redis-server)');
if (!redisBin) console.warn('queue job-data fault tests skipped: redis-server is not installed (apt-get install redis-server)');

describe.skipIf(!redisBin)('job data in Redis is decoded by the worker before anything runs', () => {
  let redis: ChildProcess;
  let url: string;
  let queue: Queue;
  let events: QueueEvents;
  let close: () => Promise<void>;
  const store = join(tmp, 'job-store');
  const log: string[] = [];

  beforeAll(async () => {
    const p = await new Promise<number>((res) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const x = (s.address() as { port: number }).port;
        s.close(() => res(x));
      });
    });
    redis = spawn(redisBin, ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((res, rej) => {
      let buf = '';
      const t = setTimeout(() => rej(new Error(`redis-server did not start: ${buf}`)), 20_000);
      redis.stdout!.on('data', (d) => {
        buf += d;
        if (/Ready to accept connections/.test(buf)) {
          clearTimeout(t);
          res();
        }
      });
    });
    url = `redis://127.0.0.1:${p}`;
    const connection = { host: '127.0.0.1', port: p, maxRetriesPerRequest: null };
    queue = new Queue(QUEUE_NAME, { connection });
    events = new QueueEvents(QUEUE_NAME, { connection });
    await events.waitUntilReady();
    mkdirSync(store, { recursive: true });
    close = await startQueueWorker({ url, root: store, backend: getBackend('cpu'), log: (m) => log.push(m) });
  }, 60_000);

  afterAll(async () => {
    await close?.();
    await events?.close();
    await queue?.close();
    redis?.kill('SIGTERM');
  });

  /** Enqueues `data` under `jobId` (3 attempts, as a submitter would) and returns the reason it failed and how often it was attempted. */
  async function failure(jobId: string, data: unknown): Promise<{ reason: string; attempts: number }> {
    const job = await queue.add('train', data, { jobId, attempts: 3, backoff: { type: 'fixed', delay: 200 } });
    const reason = await job.waitUntilFinished(events, 60_000).then(() => 'completed', (e: Error) => e.message);
    const done = await Job.fromId(queue, jobId);
    return { reason, attempts: done?.attemptsMade ?? -1 };
  }

  const valid = (): TrainRunConfig => JSON.parse(JSON.stringify(onlineOf(SMOKE)));
  const trainRuns = () => readdirSync(store).filter((d) => d.startsWith('train-'));

  it('hyper.steps: "3; rm -rf /" is rejected naming the field; nothing runs, nothing is cached, no retry', async () => {
    const config = valid() as unknown as { hyper: Record<string, unknown> };
    config.hyper.steps = '3; rm -rf /';
    const f = await failure('job-steps', { config, codeVersion: CODE_VERSION });
    expect(f.reason).toContain('hyper.steps: expected a positive integer, got "3; rm -rf /"');
    expect(f.attempts).toBe(1);
    expect(trainRuns()).toEqual([]);
  }, 90_000);

  it('β ≤ 0 and negative, zero or fractional counts in job data are rejected, each named', async () => {
    const config = valid() as unknown as { hyper: Record<string, unknown>; keepSteps: unknown[]; eval: Record<string, unknown> };
    Object.assign(config.hyper, { beta: 0, batchSize: -4, checkpointEvery: 2.5 });
    config.keepSteps = [0];
    config.eval.every = 0;
    const f = await failure('job-counts', { config, codeVersion: CODE_VERSION });
    for (const p of ['hyper.beta: expected a positive number, got 0', 'hyper.batchSize: expected a positive integer, got -4', 'hyper.checkpointEvery: expected a positive integer, got 2.5', 'keepSteps.0:', 'eval.every:']) expect(f.reason).toContain(p);
    expect(trainRuns()).toEqual([]);
  }, 90_000);

  it('an unknown model size ("huge") and an unknown key in job data are rejected', async () => {
    const config = valid() as unknown as { setup: { setup: Record<string, unknown> }; eval: { baseline: Record<string, unknown> } };
    config.setup.setup.size = 'huge';
    config.eval.baseline.shell = 'rm -rf /';
    const f = await failure('job-size', { config, codeVersion: CODE_VERSION });
    expect(f.reason).toContain(`setup.setup.size: expected a model size ('tiny' | 'small' | 'base' | 'large'), got "huge"`);
    expect(f.reason).toContain('eval.baseline.shell: unknown key');
    expect(trainRuns()).toEqual([]);
  }, 90_000);

  it('a job submitted by another code version is refused, naming both versions', async () => {
    const config = valid();
    const other = 'tandem@r3+code.0123456789abcdef';
    const f = await failure(runId('train', config, other), { config, codeVersion: other });
    expect(f.reason).toContain(`was submitted by code ${other} but this worker runs ${CODE_VERSION}`);
    expect(trainRuns()).toEqual([]);
  }, 90_000);

  it('job data altered after submission (its config no longer hashes to the job id) is refused', async () => {
    const config = valid();
    const id = idOf(memoryEnv(), 'train', config);
    config.seed = 99;
    const f = await failure(id, { config, codeVersion: CODE_VERSION });
    expect(f.reason).toContain(`job ${id} holds the config of run ${idOf(memoryEnv(), 'train', config)}: its data was altered`);
    expect(trainRuns()).toEqual([]);
    expect(log.some((l) => l.includes(`job ${id} rejected`))).toBe(true);
  }, 90_000);
});

describe('run configs decoded stack-safely', () => {
  it('a run config nested 100,000 deep is a ConfigError, not a stack overflow', () => {
    const on = onlineOf(SMOKE);
    let deep: unknown = on;
    for (let i = 0; i < 100_000; i++) deep = { ...on, eval: { ...on.eval, baseline: deep } };
    const r = decodeWith(TrainRunConfigCodec, deep, 'job data');
    expect(E.isLeft(r) && r.left.message).toContain('nested more than 64 levels deep (LIMITS.depth)');
  });
});

describe('a stack-safe checkpoint tree decoder', () => {
  /** Checkpoint bytes (valid checksum) whose tandem.tree nests `depth` array nodes. */
  function deepCheckpoint(depth: number): Uint8Array {
    const tree = `{"params":${'{"a":['.repeat(depth)}{"c":{"v":1}}${']}'.repeat(depth)},"opt":{"c":{"x":"undefined"}}}`;
    const zero = '0'.repeat(64);
    const bytes = encodeSafetensors({}, { format: 'tandem.checkpoint/1', 'tandem.tree': tree, 'tandem.step': '0', 'tandem.key': '[0,0]', 'tandem.sha256': zero });
    const at = Buffer.from(bytes).indexOf(zero);
    bytes.set(Buffer.from(createHash('sha256').update(bytes).digest('hex')), at);
    return bytes;
  }

  it('a checkpoint tree nested 3,000 deep is a checkpoint-corrupt NnError naming the limit, not a stack overflow', () => {
    let err: unknown;
    try {
      decodeCheckpoint(deepCheckpoint(3000), { backend: 'cpu', source: 'deep.ckpt' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NnError);
    expect((err as NnError).code).toBe('checkpoint-corrupt');
    expect((err as Error).message).toContain(`deep.ckpt: tandem.tree is nested more than ${MAX_TREE_DEPTH} levels deep`);
    // At the limit the tree still loads.
    expect(decodeCheckpoint(deepCheckpoint(MAX_TREE_DEPTH), { backend: 'cpu' }).step).toBe(0);
  });
});

describe('run ids that change when the code does', () => {
  const copy = join(tmp, 'code');
  const roots = () => ['tensor', 'autodiff', 'nn', 'rlhf', 'experiments'].map((name) => ({ name, dir: join(copy, name, 'src') }));
  beforeAll(() => {
    for (const r of loadedCodeRoots()) cpSync(r.dir, join(copy, r.name, 'src'), { recursive: true });
  });

  it('editing a task in packages/rlhf/src changes the code version, so every run id changes', () => {
    const before = codeHashOf(roots());
    const config = onlineOf(SMOKE);
    const idBefore = runId('train', config, `tandem@r3+code.${before.slice(0, 16)}`);
    appendFileSync(join(copy, 'rlhf/src/tasks/summarize.ts'), '\n// an edited behaviour mixture\n');
    const after = codeHashOf(roots());
    expect(after).not.toBe(before);
    expect(runId('train', config, `tandem@r3+code.${after.slice(0, 16)}`)).not.toBe(idBefore);
    // The ids this process uses carry the hash of the code it loaded (computed once, when it loaded).
    expect(codeVersion()).toBe(CODE_VERSION);
    expect(CODE_VERSION).toMatch(/^tandem@r\d+\+code\.[0-9a-f]{16}$/);
    expect(memoryEnv().codeVersion).toBe(CODE_VERSION);
  });

  it('presentation-only files (figures, reports, the CLI) leave the code version as it is', () => {
    const before = codeHashOf(roots());
    appendFileSync(join(copy, 'experiments/src/report.ts'), '\n// a new figure caption\n');
    appendFileSync(join(copy, 'experiments/src/figures/fig1.ts'), '\n// a new axis label\n');
    expect(codeHashOf(roots())).toBe(before);
    appendFileSync(join(copy, 'experiments/src/runs/train.ts'), '\n// an edited training step\n');
    expect(codeHashOf(roots())).not.toBe(before);
  });

  it('the code version is identical in another process (CLI, pool and queue workers agree) and is stored in config.json', async () => {
    const probe = join(tmp, 'probe.mts');
    writeFileSync(probe, `import { codeVersion } from ${JSON.stringify(join(ROOT, 'packages/experiments/src/version.ts'))};\nprocess.stdout.write(codeVersion());\n`);
    // Both sides hash the files as they are now (in a shared checkout someone may be editing them; CI's is still).
    const now = () => `tandem@r${CODE_VERSION.split('+')[0]!.split('@r')[1]}+code.${codeHashOf(loadedCodeRoots()).slice(0, 16)}`;
    const probeVersion = () => spawnSync(NODE[0]!, [...NODE.slice(1), probe], { cwd: join(ROOT, 'packages/experiments'), encoding: 'utf8', timeout: 60_000 }).stdout;
    let [a, b, c] = [now(), probeVersion(), now()];
    if (a !== c) [a, b, c] = [now(), probeVersion(), now()];
    expect(a).toBe(c);
    expect(b).toBe(a);
    const env = memoryEnv();
    const out = await runOrThrow(cachedRun('probe', { x: 1 }, () => of(1)), env);
    expect(env.store.runs.get(out.run.id)!.config).toMatchObject({ kind: 'probe', codeVersion: CODE_VERSION });
  }, 60_000);
});

/**
 * Sweeps: a local pool and a BullMQ queue give the same results as a sequential
 * run; a queue worker killed mid-run has its job retried, resuming from the run's
 * last checkpoint, and nothing is lost.
 *
 * The queue test needs `redis-server` (Debian package redis-server). Under CI
 * (TANDEM_REQUIRE_REDIS=1, set by .ci/run, which installs it) a missing server is a
 * failure; elsewhere the test is skipped with the reason printed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');
const NODE = [process.execPath, '--conditions=tandem-source', '--import', 'tsx'];
const CLI = join(ROOT, 'packages/experiments/src/cli.ts');
const WORKER = join(ROOT, 'packages/experiments/src/worker.ts');
const SWEEP = { offlineSweep: { lrs: [0.001, 0.002], betas: [0.1, 0.5, 1], steps: [24] }, train: { checkpointEvery: 2 } };

function sweep(out: string, config: string, extra: string[]) {
  return spawnSync(NODE[0]!, [...NODE.slice(1), CLI, 'sweep', 'offline', '--preset', 'smoke', '--config', config, '--out', out, '--backend', 'cpu', ...extra], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
}

function results(out: string): Record<string, string> {
  return Object.fromEntries(readdirSync(out).filter((d) => d.startsWith('train-') && existsSync(join(out, d, 'result.json'))).map((d) => [d, readFileSync(join(out, d, 'result.json'), 'utf8')]));
}

const redisBin = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim();
const REQUIRED = process.env.TANDEM_REQUIRE_REDIS === '1';
if (!redisBin && REQUIRED) throw new Error('TANDEM_REQUIRE_REDIS=1 but redis-server is not installed (apt-get install redis-server)');
if (!redisBin) console.warn('queue sweep test skipped: redis-server is not installed (apt-get install redis-server)');

async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

function waitFor(child: ChildProcess, text: RegExp, ms: number): Promise<void> {
  return new Promise((res, rej) => {
    let buf = '';
    const t = setTimeout(() => rej(new Error(`timed out waiting for ${text}: ${buf}`)), ms);
    const on = (d: Buffer) => {
      buf += d.toString();
      if (text.test(buf)) {
        clearTimeout(t);
        res();
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
  });
}

describe('sweeps', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'tandem-sweep-'));
  const config = join(tmp, 'sweep.json');
  writeFileSync(config, JSON.stringify(SWEEP));
  const sequential = join(tmp, 'sequential');

  it('a local pool of 2 workers gives the results of a sequential run', () => {
    const a = sweep(sequential, config, ['--workers', '1']);
    expect(a.status, a.stderr).toBe(0);
    const pooled = join(tmp, 'pooled');
    const b = sweep(pooled, config, ['--workers', '2']);
    expect(b.status, b.stderr).toBe(0);
    const ra = results(sequential);
    expect(Object.keys(ra).length).toBeGreaterThanOrEqual(6);
    expect(results(pooled)).toEqual(ra);
  }, 600_000);

  it.skipIf(!redisBin)('two BullMQ workers, one killed mid-run: all 6 runs complete and equal the sequential results', async () => {
    const port = await freePort();
    const redis = spawn(redisBin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const workers: ChildProcess[] = [];
    try {
      await waitFor(redis, /Ready to accept connections/, 20_000);
      const url = `redis://127.0.0.1:${port}`;
      const shared = join(tmp, 'shared');
      const env = { ...process.env, TANDEM_QUEUE_LOCK_MS: '3000', TANDEM_LOCK_STALE_MS: '3000' };
      let workerLog = '';
      for (let i = 0; i < 2; i++) {
        const w = spawn(NODE[0]!, [...NODE.slice(1), WORKER, '--queue', url, '--out', shared, '--backend', 'cpu'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
        workers.push(w);
        w.stderr!.on('data', (d) => (workerLog += d));
        await waitFor(w, /serving/, 60_000);
      }
      const submit = spawn(NODE[0]!, [...NODE.slice(1), CLI, 'sweep', 'offline', '--preset', 'smoke', '--config', config, '--out', shared, '--backend', 'cpu', '--queue', url], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      submit.stdout.on('data', (d) => (out += d));
      submit.stderr.on('data', (d) => (out += d));
      // Kill the worker that holds the lock of a run in progress (it has a checkpoint but no result).
      const killed = await new Promise<number>((res, rej) => {
        const timer = setInterval(() => {
          if (!existsSync(shared)) return;
          for (const d of readdirSync(shared).filter((x) => x.startsWith('train-'))) {
            const dir = join(shared, d);
            if (!existsSync(join(dir, 'ckpt.bin')) || existsSync(join(dir, 'result.json')) || !existsSync(join(dir, 'lock'))) continue;
            try {
              const pid = JSON.parse(readFileSync(join(dir, 'lock'), 'utf8')).pid as number;
              const w = workers.find((x) => x.pid === pid);
              if (!w) continue;
              clearInterval(timer);
              w.kill('SIGKILL');
              res(pid);
              return;
            } catch { /* lock being written */ }
          }
        }, 20);
        submit.on('exit', () => {
          clearInterval(timer);
          rej(new Error(`the sweep finished before a worker could be killed:\n${out}`));
        });
      });
      expect(killed).toBeGreaterThan(0);
      const code = await new Promise<number | null>((r) => submit.on('exit', r));
      expect(code, out).toBe(0);
      const shared6 = results(shared);
      const seq = results(sequential);
      for (const id of Object.keys(shared6)) expect(shared6[id]).toBe(seq[id]);
      expect(Object.keys(shared6).length).toBe(Object.keys(seq).length);
      // The killed worker's job was taken again and resumed from its checkpoint.
      expect(workerLog).toMatch(/resuming .* from step \d+/);
    } finally {
      for (const w of workers) w.kill('SIGTERM');
      redis.kill('SIGTERM');
    }
  }, 600_000);

  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
});

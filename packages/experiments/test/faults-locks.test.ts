/**
 * Fault injection: locks, concurrent writers and signals (docs/reliability.md,
 * "Locks, concurrent writers and signals"). Every fault ends in one of two ways:
 * the runs equal an uninterrupted run byte for byte, or a clear error names the run
 * (or file) and the fix — never a wrong result with exit 0.
 *
 * The first group drives the filesystem store's locks in this process (and in child
 * processes contending for one lock); the second runs the real CLI (smoke preset,
 * `--backend cpu`, a two-run offline sweep) in child processes and interrupts it with
 * signals, pauses, kills and a second writer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fsStore } from '../src/store/fs.js';
import { memoryStore } from '../src/store/memory.js';
import { NODE } from '../src/store/lock.js';

const ROOT = resolve(__dirname, '../../..');
const NODE_ARGS = ['--conditions=tandem-source', '--import', 'tsx'];
const CLI = join(ROOT, 'packages/experiments/src/cli.ts');
const CHILD = join(ROOT, 'packages/experiments/test/fixtures/lock-child.ts');
const tmp = mkdtempSync(join(tmpdir(), 'tandem-faults-locks-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitUntil<A>(what: string, f: () => A | undefined | false, o: { ms?: number; context?: () => string } = {}): Promise<A> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() - t0 > (o.ms ?? 20_000)) throw new Error(`timed out waiting for ${what}${o.context ? `:\n${o.context()}` : ''}`);
    await sleep(15);
  }
}

/** A pid that no process has (a child that has exited and been reaped). */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

/** Writes `info` as the lock file at `path` the way a holder does (whole, then renamed into place). */
function putLock(path: string, info: Record<string, unknown>): void {
  writeFileSync(`${path}.test`, JSON.stringify(info));
  renameSync(`${path}.test`, path);
}
const foreign = (o: Record<string, unknown> = {}) => ({
  token: 'intruder', pid: 4242, host: 'elsewhere', node: 'elsewhere|boot|ns', start: '1', since: '2024-01-01T00:00:00.000Z', heartbeat: new Date().toISOString(), ...o,
});

describe('run locks', () => {
  it('release by a non-holder is refused: a holder whose lock was taken over cannot release it, write to the run, or pass check()', async () => {
    const root = join(tmp, 'u-release');
    const store = fsStore(root);
    const lock = await store.lock('r', { log: () => undefined });
    await lock.check();
    const path = join(root, 'r', 'lock');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ token: lock.token, pid: process.pid, host: hostname() });
    putLock(path, foreign());
    await expect(store.writeBlob('r', 'x.bin', new Uint8Array([1]))).rejects.toThrow(/no longer holds the run's lock: it is now held by pid 4242 on host elsewhere/);
    await expect(lock.check()).rejects.toThrow(/pid 4242 on host elsewhere/);
    await expect(lock()).rejects.toThrow(/only its holder releases it/);
    expect(JSON.parse(readFileSync(path, 'utf8')).token).toBe('intruder');
    expect(existsSync(join(root, 'r', 'x.bin'))).toBe(false);
  });

  it('a process that does not hold a run\'s lock cannot write to it while a running process does', async () => {
    const root = join(tmp, 'u-guard');
    mkdirSync(join(root, 'r'), { recursive: true });
    putLock(join(root, 'r', 'lock'), { token: 't', pid: process.ppid, host: hostname(), node: NODE, start: '', since: 'then', heartbeat: new Date().toISOString() });
    await expect(fsStore(root).writeResult('r', { x: 1 })).rejects.toThrow(/run r is being written by pid \d+ .*does not hold the run's lock/);
    expect(existsSync(join(root, 'r', 'result.json'))).toBe(false);
  });

  it('a stale lock from a dead pid on this machine is taken over at once, with a message (also a lock in the old format)', async () => {
    for (const [name, info] of [
      ['new', { token: 'old-holder', pid: deadPid(), host: hostname(), node: NODE, start: '1', since: '2024-01-01T00:00:00.000Z', heartbeat: new Date().toISOString() }],
      ['legacy', { host: hostname(), pid: deadPid(), since: '2024-01-01T00:00:00.000Z' }],
    ] as const) {
      const root = join(tmp, `u-dead-${name}`);
      mkdirSync(join(root, 'r'), { recursive: true });
      putLock(join(root, 'r', 'lock'), info);
      const logs: string[] = [];
      const t0 = Date.now();
      const lock = await fsStore(root).lock('r', { log: (m) => logs.push(m), staleMs: 60_000 });
      expect(Date.now() - t0).toBeLessThan(2_000);
      expect(logs.join('\n')).toMatch(new RegExp(`run r: took over the lock of pid ${info.pid} on host ${hostname()} since 2024-01-01T00:00:00.000Z: that process is no longer running`));
      await lock();
      expect(existsSync(join(root, 'r', 'lock'))).toBe(false);
    }
  }, 10_000);

  it('another machine\'s lock is taken over only once its heartbeat has stopped for the staleness window', async () => {
    const root = join(tmp, 'u-remote');
    const path = join(root, 'r', 'lock');
    mkdirSync(join(root, 'r'), { recursive: true });
    putLock(path, foreign());
    const beat = setInterval(() => putLock(path, foreign()), 40);
    const logs: string[] = [];
    let got = false;
    const p = fsStore(root).lock('r', { log: (m) => logs.push(m), staleMs: 400, pollMs: 30 }).then((l) => ((got = true), l));
    await sleep(1_500); // well past the window, but the heartbeat moves
    expect(got).toBe(false);
    expect(logs[0]).toMatch(/^waiting for run r, held by pid 4242 on host elsewhere since 2024-01-01T00:00:00.000Z; on another machine: taken over if its heartbeat stops for 0.4 s/);
    clearInterval(beat);
    const t0 = Date.now();
    const lock = await p;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(logs.join('\n')).toMatch(/took over the lock of pid 4242 on host elsewhere .*its heartbeat has not changed for/);
    await lock();
  }, 10_000);

  it('a waiter says who holds the run, once and then periodically, and stops waiting on Ctrl-C', async () => {
    const root = join(tmp, 'u-wait');
    const holder = await fsStore(root).lock('r', { log: () => undefined });
    const logs: string[] = [];
    const waiting = fsStore(root).lock('r', { log: (m) => logs.push(m), reportMs: 300, pollMs: 25 });
    await sleep(1_000);
    expect(logs[0]).toMatch(new RegExp(`^waiting for run r, held by pid ${process.pid} on host ${hostname()} since \\d{4}-`));
    expect(logs.length).toBeGreaterThanOrEqual(3);
    expect(logs.slice(1).every((m) => /^still waiting \([\d.]+ s\) for run r, held by pid /.test(m))).toBe(true);
    await holder();
    const lock = await waiting;
    await lock();

    const interruption = { requested: false };
    const held = await fsStore(root).lock('r', { log: () => undefined });
    const stopped = fsStore(root).lock('r', { log: () => undefined, interruption, pollMs: 25 });
    setTimeout(() => (interruption.requested = true), 100);
    await expect(stopped).rejects.toThrow(/stopped while waiting for the lock of run r/);
    await expect(fsStore(root).lock('r', { wait: false })).rejects.toThrow(new RegExp(`run r is in use: its lock is held by pid ${process.pid}`));
    await held();
  }, 10_000);

  it('the in-memory store has the same lock contract (token, check, wait: false)', async () => {
    const store = memoryStore();
    const a = await store.lock('r');
    expect(a.token).toMatch(/\w/);
    await a.check();
    await expect(store.lock('r', { wait: false })).rejects.toThrow(/in use/);
    await a();
    await expect(a.check()).rejects.toThrow(/released/);
    await (await store.lock('r', { wait: false }))();
  });

  it('four processes taking over one stale lock at once: exactly one removes it, and no two ever hold it together', async () => {
    const root = join(tmp, 'u-race');
    mkdirSync(join(root, 'r'), { recursive: true });
    const dead = deadPid();
    putLock(join(root, 'r', 'lock'), { token: 'dead-holder', pid: dead, host: hostname(), node: NODE, start: '1', since: 'then', heartbeat: 'then' });
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(root, 'r', 'lock'), hourAgo, hourAgo); // stale by any measure, file age included
    const events = join(root, 'events');
    writeFileSync(events, '');
    const startAt = Date.now() + 2_500; // after the children have loaded
    const children = Array.from({ length: 4 }, () => spawn(process.execPath, [...NODE_ARGS, CHILD, root, 'r', String(startAt), events, '150'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
    const outs = children.map((c) => {
      let s = '';
      c.stdout!.on('data', (d) => (s += d));
      c.stderr!.on('data', (d) => (s += d));
      return () => s;
    });
    const codes = await Promise.all(children.map((c) => new Promise<number | null>((r) => c.on('exit', r))));
    const all = outs.map((o) => o()).join('\n');
    expect(codes, all).toEqual([0, 0, 0, 0]);
    expect(all.match(/took over the lock of pid \d+/g), all).toEqual([`took over the lock of pid ${dead}`]);
    const lines = readFileSync(events, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(8);
    for (let i = 0; i < 8; i += 2) {
      // acquire A, release A, acquire B, release B…: never two holders.
      expect(lines[i]).toMatch(/^acquire \d+$/);
      expect(lines[i + 1]).toBe(lines[i]!.replace('acquire', 'release'));
    }
    expect(existsSync(join(root, 'r', 'lock'))).toBe(false);
  }, 30_000);
});

describe('through the CLI: a second writer, pauses, kills and signals', () => {
  const config = join(tmp, 'sweep.json');
  writeFileSync(config, JSON.stringify({ offlineSweep: { lrs: [0.001, 0.002], betas: [0.1], steps: [60] }, train: { checkpointEvery: 2 }, eval: { every: 10 } }));
  const straight = join(tmp, 'straight');
  let sweepIds: string[] = [];

  const args = (out: string, extra: string[]) => [...NODE_ARGS, CLI, 'sweep', 'offline', '--preset', 'smoke', '--config', config, '--out', out, '--backend', 'cpu', ...extra];
  interface Proc { child: ChildProcess; text(): string; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> }
  function start(out: string, extra: string[] = ['--workers', '1'], env: Record<string, string> = {}, detached = false): Proc {
    const t0 = Date.now();
    const child = spawn(process.execPath, args(out, extra), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached });
    let s = '';
    child.stdout!.on('data', (d) => (s += d));
    child.stderr!.on('data', (d) => (s += d));
    // A process that hangs is killed (and says so in its text) rather than left to the test's timeout.
    const limit = setTimeout(() => {
      s += '\n[killed by the test after 40 s]';
      child.kill('SIGKILL');
    }, 40_000);
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((r) => child.on('exit', (code, signal) => {
      clearTimeout(limit);
      r({ code, signal, ms: Date.now() - t0 });
    }));
    return { child, text: () => s, exit };
  }
  /** A store holding the straight run's prerequisites (data, setup, baseline), so each case computes only the sweep's runs. */
  function prepared(name: string): string {
    const out = join(tmp, name);
    mkdirSync(out, { recursive: true });
    for (const d of readdirSync(straight)) if (!sweepIds.includes(d) && !d.startsWith('report')) cpSync(join(straight, d), join(out, d), { recursive: true });
    return out;
  }
  /** A sweep run in progress: it has a checkpoint and a lock but no result. */
  const midRun = (out: string) => () => sweepIds.find((d) => existsSync(join(out, d, 'ckpt.bin')) && existsSync(join(out, d, 'lock')) && !existsSync(join(out, d, 'result.json')));
  const lockPid = (out: string, id: string): number | undefined => {
    try {
      return JSON.parse(readFileSync(join(out, id, 'lock'), 'utf8')).pid;
    } catch {
      return undefined;
    }
  };
  function expectSameAsStraight(out: string): void {
    for (const d of readdirSync(straight).filter((x) => x.startsWith('train-'))) {
      for (const f of ['result.json', 'metrics.jsonl']) expect(readFileSync(join(out, d, f), 'utf8'), `${d}/${f}`).toBe(readFileSync(join(straight, d, f), 'utf8'));
    }
  }

  beforeAll(async () => {
    const r = start(straight);
    const { code } = await r.exit;
    expect(code, r.text()).toBe(0);
    sweepIds = [...r.text().matchAll(/^(train-[0-9a-f]+) {2}offline/gm)].map((m) => m[1]!);
    expect(sweepIds).toHaveLength(2);
  }, 60_000);

  it('--fresh while another process runs the same study is refused, naming the run and its holder; the running study is unharmed', async () => {
    const out = prepared('fresh');
    const a = start(out);
    const id = await waitUntil('a run in progress', midRun(out), { context: a.text });
    // Held still while the second process looks, so the run in progress is still `id` (a
    // paused holder is alive: its lock must be respected all the same).
    a.child.kill('SIGSTOP');
    const b = start(out, ['--workers', '1', '--fresh']);
    const rb = await b.exit;
    a.child.kill('SIGCONT');
    expect(rb.code, b.text()).toBe(1);
    expect(b.text()).toMatch(new RegExp(`--fresh: 1 unfinished run\\(s\\) are in use by another process, so nothing was deleted:\\n  .*${id} \\(held by pid ${a.child.pid} on host `));
    expect(b.text()).toMatch(/then rerun with --fresh/);
    const ra = await a.exit;
    expect(ra.code, a.text()).toBe(0);
    expectSameAsStraight(out);
  }, 60_000);

  it('a holder paused past the staleness window (SIGSTOP) is not taken over: the second process waits, saying so, and both end right', async () => {
    const out = prepared('paused');
    const a = start(out);
    const id = await waitUntil('a run in progress', midRun(out), { context: a.text });
    a.child.kill('SIGSTOP');
    const before = readFileSync(join(out, id, 'metrics.jsonl'), 'utf8');
    const b = start(out, ['--workers', '1'], { TANDEM_LOCK_STALE_MS: '300' });
    await waitUntil('the waiting message', () => new RegExp(`waiting for run ${id}, held by pid ${a.child.pid} on host `).test(b.text()), { context: b.text });
    await sleep(1_500); // five staleness windows
    expect(readFileSync(join(out, id, 'metrics.jsonl'), 'utf8')).toBe(before);
    expect(b.text()).not.toMatch(/took over/);
    a.child.kill('SIGCONT');
    const [ra, rb] = await Promise.all([a.exit, b.exit]);
    expect(ra.code, a.text()).toBe(0);
    expect(rb.code, b.text()).toBe(0);
    expectSameAsStraight(out);
  }, 60_000);

  it('a holder whose lock was taken over stops writing with an error naming the new holder, and leaves its lock alone', async () => {
    const out = prepared('taken');
    const a = start(out);
    const id = await waitUntil('a run in progress', midRun(out), { context: a.text });
    putLock(join(out, id, 'lock'), foreign());
    const ra = await a.exit;
    expect(ra.code, a.text()).toBe(1);
    expect(a.text()).toMatch(new RegExp(`run ${id}: this process \\(pid ${a.child.pid}\\) no longer holds the run's lock: it is now held by pid 4242 on host elsewhere`));
    expect(JSON.parse(readFileSync(join(out, id, 'lock'), 'utf8')).token).toBe('intruder');
    expect(existsSync(join(out, id, 'result.json'))).toBe(false);
    rmSync(join(out, id, 'lock')); // the intruder is gone
    const b = start(out);
    expect((await b.exit).code, b.text()).toBe(0);
    expectSameAsStraight(out);
  }, 60_000);

  it('SIGKILL leaves a lock behind; the next run sees its pid is dead and takes it over at once, with a message', async () => {
    const out = prepared('sigkill');
    const a = start(out);
    const id = await waitUntil('a run in progress', midRun(out), { context: a.text });
    a.child.kill('SIGKILL');
    await a.exit;
    expect(lockPid(out, id)).toBe(a.child.pid);
    const b = start(out); // the default 30 s staleness window
    const rb = await b.exit;
    expect(rb.code, b.text()).toBe(0);
    expect(b.text()).toMatch(new RegExp(`run ${id}: took over the lock of pid ${a.child.pid} on host .*: that process is no longer running on this machine`));
    expect(b.text()).toMatch(/resuming .* from step \d+/);
    expect(rb.ms).toBeLessThan(20_000);
    expectSameAsStraight(out);
  }, 60_000);

  it('double Ctrl-C (a second signal while stopping) aborts at once and releases the lock; the next run resumes without waiting', async () => {
    const out = prepared('double-ctrl-c');
    const a = start(out);
    const id = await waitUntil('a run in progress', midRun(out), { context: a.text });
    // Two signals, both handled before the run can reach its checkpoint: the process is
    // stopped while they are sent (two SIGINTs would merge into one pending signal, so
    // the other is a SIGTERM, which the CLI treats the same way) and continued.
    a.child.kill('SIGSTOP');
    a.child.kill('SIGINT');
    a.child.kill('SIGTERM');
    a.child.kill('SIGCONT');
    const ra = await a.exit;
    expect([130, 143], a.text()).toContain(ra.code); // 128 + the second signal's number (they may be handled in either order)
    expect(a.text()).toMatch(/(Ctrl-C|SIGTERM): stopping at the next checkpoint[^]*(Ctrl-C|SIGTERM) again: aborting now/);
    expect(existsSync(join(out, id, 'lock'))).toBe(false);
    const b = start(out);
    const rb = await b.exit;
    expect(rb.code, b.text()).toBe(0);
    expect(b.text()).not.toMatch(/waiting for run/);
    expect(rb.ms).toBeLessThan(20_000);
    expectSameAsStraight(out);
  }, 60_000);

  it('SIGTERM stops at the next checkpoint, releases the lock and exits 143 with a message; rerunning resumes', async () => {
    const out = prepared('sigterm');
    const a = start(out);
    const id = await waitUntil('a run in progress', midRun(out), { context: a.text });
    a.child.kill('SIGTERM');
    const ra = await a.exit;
    expect(ra.code, a.text()).toBe(143);
    expect(a.text()).toMatch(/SIGTERM: stopping at the next checkpoint/);
    const step = /Interrupted: stopped at step (\d+); rerun the same command to resume from this checkpoint/.exec(a.text())?.[1];
    expect(step, a.text()).toBeDefined();
    expect(existsSync(join(out, id, 'lock'))).toBe(false);
    expect(existsSync(join(out, id, 'result.json'))).toBe(false);
    const b = start(out);
    expect((await b.exit).code, b.text()).toBe(0);
    expect(b.text()).toMatch(new RegExp(`resuming .* from step ${step}\\b`));
    expectSameAsStraight(out);
  }, 60_000);

  it('Ctrl-C during --workers 2 stops the running jobs at a checkpoint and releases their locks', async () => {
    const out = prepared('pool-ctrl-c');
    const a = start(out, ['--workers', '2'], {}, true);
    await waitUntil('a run in progress', midRun(out), { context: a.text });
    process.kill(-a.child.pid!, 'SIGINT'); // a terminal's Ctrl-C: the whole process group
    const ra = await a.exit;
    expect(ra.code, a.text()).toBe(130);
    expect(a.text()).toMatch(/Interrupted: local pool: [12] running job\(s\) stopped at a checkpoint/);
    for (const id of sweepIds) expect(existsSync(join(out, id, 'lock')), id).toBe(false);
    expect(sweepIds.some((id) => existsSync(join(out, id, 'ckpt.bin')) && !existsSync(join(out, id, 'result.json')))).toBe(true);
    const b = start(out, ['--workers', '2']);
    expect((await b.exit).code, b.text()).toBe(0);
    expect(b.text()).toMatch(/resuming .* from step \d+/);
    expectSameAsStraight(out);
  }, 60_000);

  it('a pool worker killed while it holds a lock: the sweep fails naming the worker and run; the rerun takes the lock over at once', async () => {
    const out = prepared('pool-kill');
    const a = start(out, ['--workers', '2']);
    const [id, pid] = await waitUntil('a worker holding a run', () => {
      const id = midRun(out)();
      const pid = id && lockPid(out, id);
      return pid && pid !== a.child.pid ? ([id, pid] as const) : undefined;
    }, { context: a.text });
    process.kill(pid, 'SIGKILL');
    const ra = await a.exit;
    expect(ra.code, a.text()).toBe(1);
    expect(a.text()).toMatch(new RegExp(`worker ${pid} was killed by SIGKILL while running offline/.*rerun the same command`));
    expect(lockPid(out, id)).toBe(pid);
    const b = start(out, ['--workers', '2']);
    const rb = await b.exit;
    expect(rb.code, b.text()).toBe(0);
    expect(b.text()).toMatch(new RegExp(`run ${id}: took over the lock of pid ${pid} .*no longer running`));
    expectSameAsStraight(out);
  }, 60_000);
});

/**
 * Run locks that know their owner, on a filesystem shared by processes (and by
 * machines, over a network filesystem).
 *
 * A lock is the file `<run>/lock` holding one JSON object: a token unique to this
 * acquisition, the holder's pid, host, machine identity (`node`: host name, boot id
 * and pid namespace), the process's start time, `since` and `heartbeat`.
 *
 * - **Taking it** is `link(2)` of a fully written temp file onto `lock`: atomic, so a
 *   reader never sees half a lock and two takers never both win.
 * - **Liveness** is asked of the holder's process, not read off the file's age. On the
 *   same machine (same `node`) a holder is dead when its pid is gone, a zombie, or a
 *   different process (start time differs); a live holder is never taken over, however
 *   long it is paused (Ctrl-Z, SIGSTOP, a debugger). On another machine, where pids
 *   mean nothing, a holder is dead when its heartbeat (rewritten every `staleMs / 6`)
 *   has not changed for `staleMs`, timed by the waiter's own monotonic clock (so
 *   clock skew and clock jumps between machines do not matter).
 * - **Taking over** a dead holder's lock is guarded by a break file named after the
 *   dead lock's token (`lock.break-<token>`, created with `link(2)`: one breaker per
 *   dead lock), then `rename(2)` of the lock to a name of the breaker's own, checked
 *   (same inode and bytes as the lock judged dead) before it is deleted — a lock that
 *   changed in between is put back. The breaker, like every waiter, then races for a
 *   fresh `link(2)`: exactly one process wins.
 * - **Refresh and release** only by the holder: both first check that `lock` is still
 *   the holder's own file (same inode); a holder that finds its lock gone or someone
 *   else's stops writing (every write of the store checks, see {@link assertWritable})
 *   and fails with an error naming the new holder. A release that is not the holder's
 *   leaves the lock in place and is refused.
 * - A process that exits (also through `process.exit`, e.g. a second Ctrl-C) releases
 *   the locks it holds on its way out; one killed with SIGKILL leaves its lock, which
 *   the next process on this machine takes over at once (its pid is dead), with a message.
 *
 * `TANDEM_LOCK_STALE_MS` (default 30 000) is the staleness window for other machines;
 * every machine sharing a store should use the same value.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync, statSync, unlinkSync } from 'node:fs';
import { link, open, readFile, readdir, rename, rm, rmdir, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { interrupted, storeError } from '../program.js';
import type { LockOptions, RunLock } from './types.js';

/** The contents of a lock file. */
export interface LockInfo {
  /** Unique to one acquisition: whoever holds a lock can tell it from any other. */
  readonly token: string;
  readonly pid: number;
  readonly host: string;
  /** Host name, boot id and pid namespace: processes with the same `node` can see each other's pids. */
  readonly node: string;
  /** The holder process's start time (clock ticks since boot, Linux), to tell a reused pid from the holder. */
  readonly start: string;
  /** When the lock was taken (ISO 8601). */
  readonly since: string;
  /** Rewritten by the holder every `staleMs / 6` (ISO 8601). */
  readonly heartbeat: string;
}

/** A lock file as read: its parsed contents (undefined when they do not parse), inode and raw bytes. */
interface LockFile {
  readonly info: LockInfo | undefined;
  readonly ino: number;
  readonly mtimeMs: number;
  readonly raw: string;
}

const tryRead = (f: () => string): string => {
  try {
    return f().trim();
  } catch {
    return '';
  }
};

/** This machine (and pid namespace): processes with equal node ids can check each other's pids. */
export const NODE = [hostname(), tryRead(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')), tryRead(() => readlinkSync('/proc/self/ns/pid'))].join('|');

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, …]; undefined when unreadable (not Linux, or no such process). */
function procStat(pid: number): string[] | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
const START = procStat(process.pid)?.[19] ?? '';

/** The timing of locks: `TANDEM_LOCK_STALE_MS` (default 30 s) unless a test sets it. */
function tuning(o: LockOptions) {
  const staleMs = o.staleMs ?? Number(process.env.TANDEM_LOCK_STALE_MS ?? 30_000);
  return {
    staleMs,
    refreshMs: Math.min(5_000, Math.max(50, Math.floor(staleMs / 6))),
    pollMs: o.pollMs ?? 200,
    reportMs: o.reportMs ?? 15_000,
  };
}

/** Locks this process holds, by path (for the write guard and the exit hook). */
const HELD = new Map<string, Holder>();

interface Holder {
  readonly path: string;
  readonly token: string;
  readonly ino: number;
  check(): Promise<void>;
}

async function readLock(path: string): Promise<LockFile | undefined> {
  let raw: string;
  let st;
  try {
    [raw, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let info: LockInfo | undefined;
  try {
    const j = JSON.parse(raw) as Partial<LockInfo>;
    if (typeof j.pid === 'number' && typeof j.host === 'string') {
      // A lock written before locks had tokens has none: its inode and bytes stand for one.
      info = { token: j.token ?? `legacy-${st.ino}`, pid: j.pid, host: j.host, node: j.node ?? '', start: j.start ?? '', since: j.since ?? '?', heartbeat: j.heartbeat ?? new Date(st.mtimeMs).toISOString() };
    }
  } catch { /* unparsable: judged by whether it changes */ }
  return { info, ino: st.ino, mtimeMs: st.mtimeMs, raw };
}

/** Whether no process of this pid namespace has the pid (`kill(pid, 0)` answers ESRCH); a process we may not signal counts as there. */
export function pidGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Whether a lock's holder is running: `alive` or `dead` when it is on this machine
 * (its pid can be asked), `remote` otherwise (only its heartbeat can tell).
 */
export function liveness(info: LockInfo): 'alive' | 'dead' | 'remote' {
  const local = info.node ? info.node === NODE : info.host === hostname();
  if (!local) return 'remote';
  if (info.pid === process.pid) return [...HELD.values()].some((h) => h.token === info.token) ? 'alive' : 'dead';
  if (pidGone(info.pid)) return 'dead';
  const ps = procStat(info.pid);
  if (ps && (ps[0] === 'Z' || ps[0] === 'X')) return 'dead';
  if (ps && info.start && ps[19] !== info.start) return 'dead'; // the pid was reused by another process
  return 'alive';
}

/** "pid 123 on host h since 2024-…" */
export function describeHolder(info: LockInfo | undefined): string {
  return info ? `pid ${info.pid} on host ${info.host} since ${info.since}` : 'an unreadable lock file';
}

const secs = (ms: number) => `${ms < 10_000 ? (ms / 1000).toFixed(1) : Math.round(ms / 1000)} s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const code = (e: unknown) => (e as NodeJS.ErrnoException).code;
const quiet = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch { /* best effort */ }
};

let exitHook = false;
/** On exit (also `process.exit`, e.g. after a second Ctrl-C) the locks this process still holds are removed, when still its own. */
function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const h of HELD.values()) {
      try {
        if (statSync(h.path).ino === h.ino) unlinkSync(h.path);
      } catch { /* gone already */ }
    }
  });
}

/**
 * Takes the lock at `path` for run `run`: waits while a live process holds it (saying
 * so through `o.log`, once and then every `reportMs`), takes it over at once from a
 * dead holder on this machine, or after `staleMs` without a heartbeat from a holder
 * on another one. With `wait: false` a held lock is a StoreError naming its holder.
 */
export async function acquireLock(path: string, run: string, o: LockOptions = {}): Promise<RunLock> {
  const { staleMs, refreshMs, pollMs, reportMs } = tuning(o);
  const log = o.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const token = randomUUID();
  const since = new Date().toISOString();
  const tmp = `${path}.tmp-${token}`;
  const me = (): LockInfo => ({ token, pid: process.pid, host: hostname(), node: NODE, start: START, since, heartbeat: new Date().toISOString() });
  // Another machine's lock: when its bytes last changed, by this process's monotonic clock.
  let seen: { raw: string; at: number } | undefined;
  let waitingSince: number | undefined;
  let reportedAt = -Infinity;
  for (;;) {
    if (o.interruption?.requested) throw interrupted(`stopped while waiting for the lock of run ${run}; rerun the same command to continue`);
    const written = me();
    await writeFile(tmp, JSON.stringify(written));
    let fh: FileHandle | undefined;
    try {
      await link(tmp, path);
      fh = await open(tmp, 'r+').catch(() => open(path, 'r+'));
      if (!(await fh.readFile('utf8')).includes(token)) {
        await fh.close();
        fh = undefined;
      }
    } catch (e) {
      // EEXIST: held; ENOENT: the temp file vanished (an orphan cleanup): try again.
      if (code(e) !== 'EEXIST' && code(e) !== 'ENOENT') {
        await quiet(unlink(tmp));
        throw e;
      }
    } finally {
      await quiet(unlink(tmp));
    }
    if (fh) return holding(path, run, written, fh, refreshMs, log);

    const cur = await readLock(path);
    if (!cur) continue; // released in between: try again at once
    const now = performance.now();
    const state = cur.info ? liveness(cur.info) : 'remote';
    let dead: string | undefined;
    if (state === 'dead') dead = `that process is no longer running on this machine`;
    else if (state === 'remote') {
      if (!seen || seen.raw !== cur.raw) seen = { raw: cur.raw, at: now };
      else if (now - seen.at > staleMs) dead = `its heartbeat has not changed for ${secs(now - seen.at)} (the staleness window is ${secs(staleMs)})`;
    }
    if (dead) {
      if (await breakLock(path, cur, token, staleMs)) {
        log(`run ${run}: took over the lock of ${describeHolder(cur.info)}: ${dead}; the run resumes from its last checkpoint`);
      } else await sleep(Math.min(pollMs, 20)); // another process is breaking it
      continue;
    }
    if (o.wait === false) {
      throw storeError(`run ${run} is in use: its lock is held by ${describeHolder(cur.info)}${state === 'remote' ? ' (another machine)' : ''}; ` +
        'wait for that process to finish, or stop it (Ctrl-C), then rerun the command');
    }
    waitingSince ??= now;
    if (now - reportedAt >= reportMs) {
      reportedAt = now;
      const beat = cur.info ? Date.now() - Date.parse(cur.info.heartbeat) : NaN;
      const note = state === 'alive'
        ? (beat > staleMs ? `; its heartbeat is ${secs(beat)} old, so it may be paused (Ctrl-Z, SIGSTOP): a running process is never taken over` : '')
        : `; on another machine: taken over if its heartbeat stops for ${secs(staleMs)}`;
      log(`${now === waitingSince ? 'waiting' : `still waiting (${secs(now - waitingSince)})`} for run ${run}, held by ${describeHolder(cur.info)}${note}`);
    }
    await sleep(pollMs);
  }
}

/**
 * Removes the lock `cur`, judged dead, unless it changed since: one breaker per dead
 * lock (the break file), and the lock moved aside is checked before it is deleted.
 * True when this call removed it.
 */
async function breakLock(path: string, cur: LockFile, token: string, staleMs: number): Promise<boolean> {
  const tag = (cur.info?.token ?? `ino${cur.ino}`).replace(/[^A-Za-z0-9-]/g, '');
  const brk = `${path}.break-${tag}`;
  const btmp = `${path}.tmp-${token}-break`;
  await writeFile(btmp, JSON.stringify({ pid: process.pid, host: hostname(), node: NODE, start: START, since: new Date().toISOString() }));
  try {
    await link(btmp, brk);
  } catch (e) {
    if (code(e) !== 'EEXIST') throw e;
    // Another process is breaking this lock. If it died doing so, its break file goes.
    const b = await readLock(brk);
    if (b && ((b.info && liveness(b.info) === 'dead') || Date.now() - b.mtimeMs > staleMs)) await quiet(unlink(brk));
    return false;
  } finally {
    await quiet(unlink(btmp));
  }
  try {
    const again = await readLock(path);
    if (!again || again.ino !== cur.ino || again.raw !== cur.raw) return false; // it changed: judge it again
    const aside = `${path}.stale-${token}`;
    try {
      await rename(path, aside);
    } catch (e) {
      if (code(e) === 'ENOENT') return false;
      throw e;
    }
    const moved = await readLock(aside);
    if (moved && (moved.ino !== cur.ino || moved.raw !== cur.raw)) {
      // Not the lock judged dead (it changed in the instant between): put it back.
      await quiet(link(aside, path));
      await quiet(unlink(aside));
      return false;
    }
    await quiet(unlink(aside));
    return true;
  } finally {
    await quiet(unlink(brk));
  }
}

/** The held lock: heartbeat, ownership checks, release. */
function holding(path: string, run: string, first: LockInfo, fh: FileHandle, refreshMs: number, log: (m: string) => void): Promise<RunLock> {
  const token = first.token;
  return (async () => {
    const ino = (await fh.stat()).ino;
    let info = first;
    let lost: string | undefined;
    let released = false;
    const loseTo = async (): Promise<string> => {
      if (lost) return lost;
      const now = await readLock(path).catch(() => undefined);
      lost = `run ${run}: this process (pid ${process.pid}) no longer holds the run's lock: ` +
        (now ? `it is now held by ${describeHolder(now.info)}` : 'the lock file was removed by another process') +
        ', so it stopped writing to the run; rerun the command, which resumes the run from its last checkpoint (or reads the result of whoever finished it)';
      log(lost);
      return lost;
    };
    const mine = async () => (await stat(path).catch(() => undefined))?.ino === ino;
    const check = async () => {
      if (lost) throw storeError(lost);
      if (!(await mine())) throw storeError(await loseTo());
    };
    let busy = false;
    const timer = setInterval(() => {
      if (busy || lost || released) return;
      busy = true;
      void (async () => {
        if (!(await mine())) {
          await loseTo();
          clearInterval(timer);
          return;
        }
        info = { ...info, heartbeat: new Date().toISOString() };
        await fh.write(JSON.stringify(info), 0); // same length: the heartbeat is a fixed-width timestamp
        const t = new Date();
        await fh.utimes(t, t);
      })().catch(() => undefined).finally(() => (busy = false));
    }, refreshMs);
    timer.unref();
    const holder: Holder = { path, token, ino, check };
    HELD.set(path, holder);
    installExitHook();
    const release = async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      if (HELD.get(path) === holder) HELD.delete(path);
      try {
        if (!lost && (await mine())) {
          const aside = `${path}.release-${token}`;
          await rename(path, aside);
          if ((await stat(aside)).ino === ino) {
            await unlink(aside);
            return;
          }
          // Taken over in the instant between the check and the rename: put the new holder's lock back.
          await quiet(link(aside, path));
          await quiet(unlink(aside));
        }
        throw storeError(`${await loseTo()} (its lock was left in place: only its holder releases it)`);
      } finally {
        await quiet(fh.close());
      }
    };
    return Object.assign(release, { token, check });
  })();
}

/**
 * The store's write guard: a process writes to a run only while it holds the run's
 * lock (and the lock is still its own), or when no running process holds it.
 */
export async function assertWritable(path: string, run: string): Promise<void> {
  const held = HELD.get(path);
  if (held) return held.check();
  const cur = await readLock(path).catch(() => undefined);
  if (!cur || (cur.info && liveness(cur.info) === 'dead')) return;
  throw storeError(`run ${run} is being written by ${describeHolder(cur.info)}; this process does not hold the run's lock, so it does not write to it ` +
    '(wait for that process to finish, or stop it, then rerun the command)');
}

/** Method names of a store that write to a run (their first argument is the run id). */
const WRITES = /^(write|append|truncate|remove|delete|rename|mark|repair|set)/;

/** `store` whose writing methods first check {@link assertWritable} for the run they write to. */
export function guardWrites<S extends object>(store: S, lockPath: (id: string) => string): S {
  const out = { ...store } as Record<string, unknown>;
  for (const [name, f] of Object.entries(store)) {
    if (typeof f !== 'function' || !WRITES.test(name)) continue;
    out[name] = async (id: string, ...rest: unknown[]) => {
      await assertWritable(lockPath(id), id);
      return (f as (...a: unknown[]) => unknown).call(out, id, ...rest);
    };
  }
  return out as S;
}

/** Whether a run folder holds a lock of a running process (or of another machine): its description, else undefined. */
async function liveHolder(path: string): Promise<string | undefined> {
  const cur = await readLock(path).catch(() => undefined);
  const live = cur?.info && liveness(cur.info);
  if (!cur || live === 'dead') return undefined;
  return describeHolder(cur.info) + (live === 'remote' ? ' (another machine)' : '');
}

/**
 * `--fresh`: deletes every unfinished run under `root` (a config.json but no
 * result.json), each while holding its lock. While any of them is locked by a
 * running process nothing is deleted and a StoreError names each run and holder.
 * Returns the ids deleted.
 */
export async function discardUnfinished(root: string, o: LockOptions = {}): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  const unfinished: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const names = await readdir(join(root, e.name)).catch(() => [] as string[]);
    if (names.includes('config.json') && !names.includes('result.json')) unfinished.push(e.name);
  }
  const busy: string[] = [];
  for (const id of unfinished) {
    const h = await liveHolder(join(root, id, 'lock'));
    if (h) busy.push(`${join(root, id)} (held by ${h})`);
  }
  if (busy.length) {
    throw storeError(`--fresh: ${busy.length} unfinished run(s) are in use by another process, so nothing was deleted:\n  ${busy.join('\n  ')}\n` +
      'wait for that process to finish (or stop it with Ctrl-C), then rerun with --fresh');
  }
  const done: string[] = [];
  for (const id of unfinished) {
    const dir = join(root, id);
    const release = await acquireLock(join(dir, 'lock'), id, { ...o, wait: false });
    try {
      for (const name of await readdir(dir)) if (name !== 'lock' && !name.startsWith('lock.')) await rm(join(dir, name), { recursive: true, force: true });
    } finally {
      await release();
    }
    await quiet(rmdir(dir));
    done.push(id);
  }
  return done;
}

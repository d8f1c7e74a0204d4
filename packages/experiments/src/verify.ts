/**
 * `experiment verify [--out dir] [--repair]`: checks every run of a store the way a
 * resume or a cache hit would, without running anything.
 *
 * - A finished run (result.json): the result's own checksum, its decoding, and every
 *   file it records (size and SHA-256).
 * - An unfinished training run with a checkpoint: ckpt.bin (its SHA-256), the part of
 *   metrics.jsonl and stream.bin it covers (counts, sizes, hashes, segment checksums) and
 *   the kept params it passed; a tail after the checkpoint is noted (resuming cuts it).
 * - config.json against the run id (the id is a hash of it); runs made by other code
 *   versions are reported, not checked further.
 * - Locks: a run held by a running process is reported and left alone.
 * - Orphan temp files (`<name>.tmp-<pid>-<hex>` of `writeFileAtomic` whose process is gone).
 *
 * `--repair` removes orphans and marks each damaged run unfinished — result.json goes,
 * with every part that cannot be trusted (a training run keeps its checkpoint only when
 * everything the checkpoint relies on checks out) — so the next command recomputes it.
 */
import { hostname } from 'node:os';
import { runId } from './hash.js';
import type { Env } from './program.js';
import { STREAM_FILE, TEMP_NAME } from './runs/artifacts.js';
import { checkSealed, fileMismatches } from './runs/cache.js';
import { METRICS_FILE } from './runs/metrics.js';
import { TrainResultCodec, inspectCheckpoint, type TrainRunConfig } from './runs/train.js';
import { describeHolder, liveness, pidGone, type LockInfo } from './store/lock.js';
import { dispose } from '@tandem/tensor';
import * as E from 'fp-ts/lib/Either.js';

/** A run's state as verify sees it. */
export type RunStatus = 'ok' | 'unfinished' | 'running' | 'other code' | 'damaged';

/** One thing wrong with a run: the file, and what is wrong with it. */
export interface RunProblem {
  file: string;
  why: string;
}

/** The verdict on one run folder. */
export interface RunCheck {
  id: string;
  /** train, data, setup, dataset, report… (from config.json, else the id). */
  kind: string;
  status: RunStatus;
  /** What is damaged (status 'damaged'). */
  problems: RunProblem[];
  /** What is worth knowing but harmless (a tail resuming cuts, a stale lock, the step a resume starts from…). */
  notes: string[];
  /** Orphan temp files in the folder. */
  orphans: string[];
}

/** The verdict on a whole store. */
export interface StoreCheck {
  runs: RunCheck[];
  /** Runs with status 'damaged'. */
  damaged: number;
  /** Orphan temp files, all runs together. */
  orphans: number;
}

const text = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
const kindOfId = (id: string) => id.replace(/-[^-]*$/, '');

/** A temp file is an orphan when the process that wrote it is gone (or, whatever its pid, when it is over an hour old: no atomic write takes that long). */
function isOrphanTemp(name: string, mtimeMs: number, now = Date.now()): boolean {
  const m = TEMP_NAME.exec(name);
  if (!m || name.startsWith('lock')) return false;
  const pid = Number(m[1]);
  if (now - mtimeMs > 3_600_000) return true;
  if (pid === process.pid) return false;
  return pidGone(pid);
}

/** Removes the orphan temp files of every run in the store (those of running writers stay); returns their `<run>/<name>`s. */
export async function removeOrphans(env: Pick<Env, 'store'>): Promise<string[]> {
  const out: string[] = [];
  for (const id of await env.store.listRuns()) {
    for (const f of await env.store.listFiles(id)) {
      if (!isOrphanTemp(f.name, f.mtimeMs)) continue;
      await env.store.removeFile(id, f.name).catch(() => undefined); // a run being written refuses: its writer may still rename it
      out.push(`${id}/${f.name}`);
    }
  }
  return out;
}

/** Checks one run folder (see the module comment). */
export async function checkRun(env: Env, id: string): Promise<RunCheck> {
  const files = await env.store.listFiles(id);
  const names = new Set(files.map((f) => f.name));
  const check: RunCheck = { id, kind: kindOfId(id), status: 'ok', problems: [], notes: [], orphans: files.filter((f) => isOrphanTemp(f.name, f.mtimeMs)).map((f) => f.name) };
  const problem = (file: string, why: string) => check.problems.push({ file, why });
  const done = () => {
    if (check.problems.length) check.status = 'damaged';
    return check;
  };
  if (id.startsWith('report-')) {
    check.kind = 'report';
    return done();
  }

  if (names.has('lock')) {
    const raw = await env.store.readBlob(id, 'lock').catch(() => undefined);
    let info: LockInfo | undefined;
    try {
      info = raw ? (JSON.parse(text(raw)) as LockInfo) : undefined;
    } catch { /* unreadable: being written, or torn */ }
    const live = info ? liveness(info) : 'alive';
    if (live !== 'dead') {
      check.status = 'running';
      check.notes.push(`locked by ${describeHolder(info)}${live === 'remote' ? ` (another machine; this is ${hostname()})` : ''}: not checked`);
      return check;
    }
    check.notes.push(`stale lock of ${describeHolder(info)} (a dead process; the next run takes it over)`);
  }

  // config.json: the run id is a hash of it.
  let config: { kind: string; codeVersion: string; config: unknown } | undefined;
  const cbytes = await env.store.readBlob(id, 'config.json');
  if (!cbytes) {
    if (names.has('result.json')) problem('config.json', 'is missing');
    else if ([...names].every((n) => n.startsWith('lock') || TEMP_NAME.test(n))) check.notes.push('empty: nothing computed yet');
  } else {
    try {
      const c = JSON.parse(text(cbytes)) as typeof config;
      if (!c || typeof c.kind !== 'string' || typeof c.codeVersion !== 'string' || !('config' in c)) throw new Error('not { kind, codeVersion, config }');
      if (runId(c.kind, c.config, c.codeVersion) !== id) problem('config.json', `does not hash to the run id (edited or corrupted: it names a ${c.kind} run ${runId(c.kind, c.config, c.codeVersion)})`);
      else config = c;
    } catch (e) {
      problem('config.json', `is not a run config (${(e as Error).message})`);
    }
  }
  if (config) {
    check.kind = config.kind;
    if (config.codeVersion !== env.codeVersion) {
      check.status = 'other code';
      check.notes.push(`made by ${config.codeVersion} (this is ${env.codeVersion}): never read by this code; not checked`);
      return done();
    }
  }

  const rbytes = await env.store.readBlob(id, 'result.json');
  if (rbytes) {
    let stored: unknown;
    try {
      stored = JSON.parse(text(rbytes));
    } catch (e) {
      problem('result.json', `is not valid JSON (${(e as Error).message})`);
      return done();
    }
    const sealed = checkSealed(stored);
    if (!sealed.ok) {
      problem('result.json', sealed.why);
      return done();
    }
    if (check.kind === 'train' && E.isLeft(TrainResultCodec.decode(sealed.result))) problem('result.json', 'does not hold a training result of this results version');
    for (const m of await fileMismatches(env, id, sealed.files)) problem(m.file, m.why);
    return done();
  }

  check.status = 'unfinished';
  if (check.kind === 'train' && names.has('ckpt.bin')) {
    if (!config) return done();
    const r = await inspectCheckpoint(env, id, config.config as TrainRunConfig);
    if (!r.ok) {
      problem(r.problem.file, r.problem.why);
      return done();
    }
    const { ckpt, tails } = r.state;
    dispose([ckpt.params as never, ckpt.optState as never]);
    check.notes.push(`resumes from the checkpoint at step ${ckpt.step}`);
    for (const t of tails) check.notes.push(`${t.file}: ${t.bytes} bytes after the checkpoint (a torn or uncheckpointed tail: cut and recomputed on resume)`);
  } else if (config) {
    check.notes.push(check.kind === 'train' ? 'no checkpoint: restarts from step 0' : 'not finished: recomputed by the next command that needs it');
  }
  return done();
}

/** Checks every run of the store. */
export async function verifyStore(env: Env): Promise<StoreCheck> {
  const runs: RunCheck[] = [];
  for (const id of await env.store.listRuns()) runs.push(await checkRun(env, id));
  return { runs, damaged: runs.filter((r) => r.status === 'damaged').length, orphans: runs.reduce((n, r) => n + r.orphans.length, 0) };
}

/**
 * Repairs what {@link verifyStore} found: removes orphan temp files, and marks each
 * damaged run unfinished under its lock — result.json and every damaged file go; a
 * training run also loses its checkpoint, metrics and stream unless everything the
 * checkpoint relies on checks out (then resuming recomputes from it). Returns one line
 * per action.
 */
export async function repairStore(env: Env, check: StoreCheck): Promise<string[]> {
  const done: string[] = [];
  for (const r of check.runs) {
    for (const name of r.orphans) {
      await env.store.removeFile(r.id, name);
      done.push(`${r.id}: removed the orphan temp file ${name}`);
    }
    if (r.status !== 'damaged') continue;
    let release;
    try {
      release = await env.store.lock(r.id, { wait: false, log: env.log });
    } catch (e) {
      done.push(`${r.id}: not repaired: ${(e as Error).message}`);
      continue;
    }
    try {
      const removed: string[] = [];
      const remove = async (name: string) => {
        if (removed.includes(name) || !(await env.store.readBlob(r.id, name))) return;
        await env.store.removeFile(r.id, name);
        removed.push(name);
      };
      await remove('result.json');
      const resumeState = ['ckpt.bin', METRICS_FILE, STREAM_FILE];
      // A training run's metrics and stream are judged by its checkpoint below: a damaged tail is cut on resume.
      for (const p of r.problems) if (!(r.kind === 'train' && resumeState.includes(p.file))) await remove(p.file);
      if (r.kind === 'train' && (await env.store.readBlob(r.id, 'ckpt.bin'))) {
        const cbytes = await env.store.readBlob(r.id, 'config.json');
        let ok = false;
        if (cbytes) {
          const c = JSON.parse(text(cbytes)) as { config: TrainRunConfig };
          const ins = await inspectCheckpoint(env, r.id, c.config);
          if (ins.ok) dispose([ins.state.ckpt.params as never, ins.state.ckpt.optState as never]);
          ok = ins.ok;
        }
        if (!ok) for (const name of resumeState) await remove(name);
      } else if (r.kind === 'train') {
        for (const name of resumeState) await remove(name);
      }
      done.push(`${r.id}: marked unfinished (removed ${removed.join(', ') || 'nothing'}); the next command recomputes it`);
    } finally {
      await release();
    }
  }
  return done;
}

/** The table verify prints: run, kind, status, problem (one row per problem or note). */
export function verifyTable(check: StoreCheck): string {
  const rows: string[][] = [['run', 'kind', 'status', 'problem']];
  for (const r of check.runs) {
    const lines = [
      ...r.problems.map((p) => `${p.file} ${p.why}`),
      ...r.orphans.map((o) => `orphan temp file ${o}`),
      ...r.notes,
    ];
    rows.push([r.id, r.kind, r.status, lines[0] ?? '']);
    for (const l of lines.slice(1)) rows.push(['', '', '', l]);
  }
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const count = (s: RunStatus) => check.runs.filter((r) => r.status === s).length;
  const summary = `${check.runs.length} runs: ${count('ok')} ok, ${count('unfinished')} unfinished, ${check.damaged} damaged, ${count('running')} running, ` +
    `${count('other code')} made by other code; ${check.orphans} orphan temp file${check.orphans === 1 ? '' : 's'}`;
  return [...rows.map((row) => row.map((c, i) => (i < 3 ? c.padEnd(w[i]!) : c)).join('  ').trimEnd()), '', summary].join('\n');
}

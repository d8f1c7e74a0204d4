/**
 * The local pool: runs a job graph (jobs.ts) in N worker processes on this machine, all
 * sharing the filesystem run store. A worker takes the next job whose dependencies are
 * done (graph order breaks ties); a worker with nothing ready waits for a running job to
 * finish. A failed job's dependents are not started and are reported. Processes (not threads) keep each worker's
 * backend, WebAssembly memory and buffer pools separate; the store's run locks
 * keep two workers off the same run.
 *
 * Ctrl-C or SIGTERM in the parent is forwarded to every worker (a `stop` message),
 * so the running jobs stop at their next checkpoint and release their locks; no new
 * job starts, and the sweep ends as `Interrupted`. A worker that dies (SIGKILL, out
 * of memory) is reported with the run it held; its lock is taken over at once by
 * the next process that runs that run (its pid is dead).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fromAsync, interrupted, type ProgressBar } from './program.js';
import { describeJob, type Job, type JobGraph } from './jobs.js';
import type { Executor } from './sweep.js';

/** Messages between the pool and its workers: a job to run, a request to stop the running job at its next checkpoint, or to exit. */
export type ToWorker = { type: 'run'; root: string; backend: string; job: Job; index: number } | { type: 'stop' } | { type: 'exit' };
export type FromWorker =
  | { type: 'progress'; index: number; step: number; total: number; fields: Record<string, string | number> }
  | { type: 'done'; index: number }
  | { type: 'error'; index: number; message: string; code?: string };

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
export const WORKER_ENTRY = fileURLToPath(new URL(`./pool-worker${ext}`, import.meta.url));

/** An executor that runs a job graph on `workers` child processes against the store at `root`. */
export function poolExecutor(o: { workers: number; root: string; backend: string }): Executor {
  return (g: JobGraph) => fromAsync(async (env) => {
    const started = new Set<number>();
    const done = new Set<number>();
    const running = new Set<number>();
    const idle: (() => void)[] = [];
    const readyJob = () => g.jobs.findIndex((_, i) => !started.has(i) && g.deps[i]!.every((d) => done.has(d)));
    const bars = new Map<number, ProgressBar>();
    const errors: string[] = [];
    let stoppedJobs = 0;
    const children = new Set<ChildProcess>();
    // Forward a stop request (Ctrl-C, SIGTERM) to every worker once.
    let forwarded = false;
    const forward = setInterval(() => {
      if (forwarded || !env.interruption.requested) return;
      forwarded = true;
      for (const c of children) if (c.connected) c.send({ type: 'stop' } satisfies ToWorker);
    }, 50);
    const startWorker = () => new Promise<void>((resolve) => {
      const child: ChildProcess = fork(WORKER_ENTRY, [], { execArgv: process.execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.add(child);
      let current: number | undefined;
      const send = (m: ToWorker) => {
        if (child.connected) child.send(m);
      };
      const next = () => {
        current = undefined;
        const i = env.interruption.requested ? -1 : readyJob();
        if (i < 0) {
          // Nothing ready: wait while another worker's job may unlock one; otherwise done.
          if (running.size > 0 && !env.interruption.requested) idle.push(next);
          else send({ type: 'exit' });
          return;
        }
        current = i;
        started.add(i);
        running.add(i);
        send({ type: 'run', root: o.root, backend: o.backend, job: g.jobs[i]!, index: i });
      };
      const finished = (i: number, ok: boolean) => {
        running.delete(i);
        if (ok) done.add(i);
        // Wake every waiting worker: the finished job may have unlocked theirs (or ended the graph).
        for (const w of idle.splice(0)) w();
      };
      child.on('message', (m: FromWorker) => {
        if (m.type === 'progress') {
          let bar = bars.get(m.index);
          if (!bar) bars.set(m.index, (bar = env.progress(`[w${child.pid}] ${describeJob(g.jobs[m.index]!)}`, m.total)));
          bar.update(m.step, m.fields);
        } else {
          bars.get(m.index)?.stop();
          if (m.type === 'error' && m.code === 'Interrupted') stoppedJobs++;
          else if (m.type === 'error') errors.push(`${describeJob(g.jobs[m.index]!)}: ${m.message}`);
          finished(m.index, m.type === 'done');
          next();
        }
      });
      child.on('exit', (code, signal) => {
        children.delete(child);
        const i = idle.indexOf(next);
        if (i >= 0) idle.splice(i, 1);
        if (current !== undefined && signal && env.interruption.requested) stoppedJobs++; // stopped by the user's own Ctrl-C: resumes from its last checkpoint
        else if (current !== undefined) {
          errors.push(`worker ${child.pid} ${signal ? `was killed by ${signal}` : `exited with code ${code}`} while running ${describeJob(g.jobs[current]!)}; ` +
            'rerun the same command: the run resumes from its last checkpoint (the lock it left is taken over at once)');
        } else if (code !== 0 && code !== null) errors.push(`worker ${child.pid} exited with code ${code}`);
        if (current !== undefined) finished(current, false);
        resolve();
      });
      next();
    });
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(o.workers, g.jobs.length)) }, startWorker));
    } finally {
      clearInterval(forward);
    }
    const notStarted = g.jobs.length - started.size;
    if (errors.length) throw new Error(`local pool: ${errors.length} job(s) failed${notStarted ? ` (${notStarted} job(s) that depend on them not started)` : ''}:\n  ${errors.join('\n  ')}`);
    if (env.interruption.requested) {
      throw interrupted(`local pool: ${stoppedJobs} running job(s) stopped at a checkpoint, ${notStarted} not started; rerun the same command to resume`);
    }
  });
}

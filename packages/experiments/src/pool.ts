/**
 * The local pool: runs a sweep's runs in N worker processes on this machine, all
 * sharing the filesystem run store. Processes (not threads) keep each worker's
 * backend, WebAssembly memory and buffer pools separate; the store's run locks
 * keep two workers off the same run.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fromAsync, type ProgressBar } from './program.js';
import { describeRun, type TrainRunConfig } from './runs/train.js';
import type { Executor } from './sweep.js';

/** Messages between the pool and its workers. */
export type ToWorker = { type: 'run'; root: string; backend: string; config: TrainRunConfig; index: number };
export type FromWorker =
  | { type: 'progress'; index: number; step: number; total: number; fields: Record<string, string | number> }
  | { type: 'done'; index: number }
  | { type: 'error'; index: number; message: string };

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
export const WORKER_ENTRY = fileURLToPath(new URL(`./pool-worker${ext}`, import.meta.url));

/** An executor that runs configs on `workers` child processes against the store at `root`. */
export function poolExecutor(o: { workers: number; root: string; backend: string }): Executor {
  return (runs) => fromAsync(async (env) => {
    const queue = runs.map((config, index) => ({ config, index }));
    const bars = new Map<number, ProgressBar>();
    const errors: string[] = [];
    const startWorker = () => new Promise<void>((resolve) => {
      const child: ChildProcess = fork(WORKER_ENTRY, [], { execArgv: process.execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      const next = () => {
        const job = queue.shift();
        if (!job || env.interruption.requested) {
          child.send({ type: 'exit' });
          return;
        }
        const msg: ToWorker = { type: 'run', root: o.root, backend: o.backend, config: job.config, index: job.index };
        child.send(msg);
      };
      child.on('message', (m: FromWorker) => {
        if (m.type === 'progress') {
          let bar = bars.get(m.index);
          if (!bar) bars.set(m.index, (bar = env.progress(`[w${child.pid}] ${describeRun(runs[m.index]!)}`, m.total)));
          bar.update(m.step, m.fields);
        } else {
          bars.get(m.index)?.stop();
          if (m.type === 'error') errors.push(`${describeRun(runs[m.index]!)}: ${m.message}`);
          next();
        }
      });
      child.on('exit', (code) => {
        if (code !== 0 && code !== null) errors.push(`worker ${child.pid} exited with code ${code}`);
        resolve();
      });
      next();
    });
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.workers, runs.length)) }, startWorker));
    if (errors.length) throw new Error(`local pool: ${errors.length} run(s) failed:\n  ${errors.join('\n  ')}`);
  });
}

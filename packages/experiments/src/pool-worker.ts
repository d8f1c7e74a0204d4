/**
 * A local-pool worker process: runs the jobs (cached runs of any kind) it is sent, reporting progress
 * over IPC. It stops its running job at the next checkpoint (releasing the run's lock)
 * when the pool asks (`stop`, the parent's Ctrl-C or SIGTERM), on its own SIGINT or
 * SIGTERM (a terminal's Ctrl-C reaches the whole process group), or when the parent
 * is gone; a second signal exits at once (the exit releases its locks).
 */
// First: the signal handlers are in place before the rest loads.
import { interruption } from './pool-signals.js';
import { initBackend, shutdownWebGPU, type BackendName } from '@tandem/tensor';
import { describeError, run, type Env } from './program.js';
import type { FromWorker, ToWorker } from './pool.js';
import { jobProgram } from './jobs.js';
import { fsStore } from './store/fs.js';
import { CODE_VERSION } from './version.js';

const send = (m: FromWorker) => {
  if (process.connected) process.send?.(m);
};

process.on('message', async (m: ToWorker) => {
  if (m.type === 'stop') {
    interruption.requested = true;
    return;
  }
  if (m.type === 'exit') {
    await shutdownWebGPU();
    process.disconnect?.();
    return;
  }
  const backend = await initBackend(m.backend as BackendName);
  const env: Env = {
    backend,
    store: fsStore(m.root),
    codeVersion: CODE_VERSION,
    log: (msg) => process.stderr.write(`${msg}\n`),
    interruption,
    progress: (_label, total) => ({
      update: (step, fields = {}) => send({ type: 'progress', index: m.index, step, total, fields }),
      stop: () => undefined,
    }),
  };
  const r = await run(jobProgram(m.job), env);
  if (r._tag === 'Left') send({ type: 'error', index: m.index, message: describeError(r.left), code: r.left.code });
  else send({ type: 'done', index: m.index });
  if (!process.connected) process.exit(r._tag === 'Left' ? 1 : 0);
});

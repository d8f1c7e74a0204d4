/** A local-pool worker process: runs the training runs it is sent, reporting progress over IPC. */
import { initBackend, shutdownWebGPU, type BackendName } from '@tandem/tensor';
import { describeError, run, type Env } from './program.js';
import type { FromWorker, ToWorker } from './pool.js';
import { trainRun } from './runs/train.js';
import { fsStore } from './store/fs.js';
import { CODE_VERSION } from './version.js';

const send = (m: FromWorker) => process.send?.(m);

process.on('message', async (m: ToWorker | { type: 'exit' }) => {
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
    interruption: { requested: false },
    progress: (_label, total) => ({
      update: (step, fields = {}) => send({ type: 'progress', index: m.index, step, total, fields }),
      stop: () => undefined,
    }),
  };
  const r = await run(trainRun(m.config), env);
  if (r._tag === 'Left') send({ type: 'error', index: m.index, message: describeError(r.left) });
  else send({ type: 'done', index: m.index });
});
// The parent's Ctrl-C reaches the whole process group; the parent decides what to do.
process.on('SIGINT', () => undefined);

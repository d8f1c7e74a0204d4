/** The matmul helper thread under Node: a worker_thread (see thread.ts). */
import { Worker } from 'node:worker_threads';
import type { HelperThread, HelperThreadData, StartHelperThread } from './thread.js';

/**
 * Runs `body` on a worker_thread. The script is evaluated (`eval: true`) and only uses
 * dynamic import, so it runs whether Node treats eval code as CommonJS or, under
 * --input-type=module, as ESM. The worker is unref'd: it never keeps the process alive.
 */
export function startHelperThread(body: string, data: HelperThreadData): HelperThread | null {
  const worker = new Worker(`import('node:worker_threads').then(({ workerData }) => (${body})(workerData));`, {
    eval: true,
    // Do not inherit the parent's flags (loaders such as --import tsx, --input-type):
    // the worker only needs plain WebAssembly.
    execArgv: [],
    workerData: data,
  });
  worker.unref();
  return {
    onFail(cb) {
      worker.on('error', cb);
      worker.on('exit', cb);
    },
  };
}

// Both platform variants have the same signature.
startHelperThread satisfies StartHelperThread;

/**
 * The matmul helper thread in a browser: a Web Worker started from a Blob URL, only where
 * the page is cross-origin isolated (COOP/COEP headers), since the two threads share a
 * WebAssembly memory and that needs SharedArrayBuffer. Elsewhere there is no helper
 * thread and every matmul runs on one thread, with the same bits.
 */
import type { HelperThread, HelperThreadData, StartHelperThread } from './thread.js';

interface WebWorkerLike {
  postMessage(data: unknown): void;
  addEventListener(type: 'error' | 'messageerror', cb: () => void): void;
}
interface BrowserGlobals {
  crossOriginIsolated?: boolean;
  SharedArrayBuffer?: unknown;
  Worker?: new (url: string) => WebWorkerLike;
  Blob?: new (parts: string[], opts: { type: string }) => object;
  URL?: { createObjectURL?(blob: object): string };
}

export function startHelperThread(body: string, data: HelperThreadData): HelperThread | null {
  const g = globalThis as unknown as BrowserGlobals;
  if (g.crossOriginIsolated !== true || g.SharedArrayBuffer === undefined || g.Worker === undefined
    || g.Blob === undefined || typeof g.URL?.createObjectURL !== 'function') return null;
  // The URL is not revoked: the worker script must still be loadable when the browser
  // fetches it, and there is one per page.
  const url = g.URL.createObjectURL(new g.Blob(
    [`self.onmessage = (e) => { self.onmessage = null; (${body})(e.data); };`],
    { type: 'text/javascript' },
  ));
  const worker = new g.Worker(url);
  // A WebAssembly.Module and a shared WebAssembly.Memory are structured-cloneable.
  worker.postMessage(data);
  return {
    onFail(cb) {
      worker.addEventListener('error', cb);
      worker.addEventListener('messageerror', cb);
    },
  };
}

// Both platform variants have the same signature.
startHelperThread satisfies StartHelperThread;

/**
 * The helper thread of the two-thread matmul path (see matmul.ts), as the platform
 * provides it: thread.node.ts (a worker_thread) or thread.browser.ts (a Web Worker),
 * which bundlers targeting browsers substitute for the former (package.json's `browser` map).
 */

/** What the worker body is started with. */
export interface HelperThreadData {
  /** The compiled kernels (shared-memory variant). */
  module: object;
  /** The shared WebAssembly.Memory both threads run on. */
  memory: unknown;
  /** The control block's SharedArrayBuffer. */
  ctl: SharedArrayBuffer;
  /** Atomics.load polls before the worker sleeps. */
  SPIN: number;
}

/** A started helper thread. */
export interface HelperThread {
  /** Calls `cb` if the thread fails to start, throws, or exits. */
  onFail(cb: () => void): void;
}

/** Starts `body` (the source of a function of HelperThreadData) on a new thread; null where threads are unavailable. */
export type StartHelperThread = (body: string, data: HelperThreadData) => HelperThread | null;

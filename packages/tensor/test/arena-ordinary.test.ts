// The kernels' tests again with the arena's memory ordinary (not shared): tensors still in
// place, the matmul on one thread — the configuration of a browser page that is not
// cross-origin isolated (no SharedArrayBuffer). vitest runs each file in its own process,
// so the arena configured here is this file's alone.
import { configureArena } from '../src/cpu/wasm/arena.js';

configureArena({ shared: false });
await import('./matmul-wasm.test.js');
await import('./elementwise-wasm.test.js');

// The kernels' tests again with no arena: every kernel call copies its operands into the
// single-thread instance's memory and the result out (the path taken when the arena is
// disabled or full). vitest runs each file in its own process.
import { configureArena } from '../src/cpu/wasm/arena.js';

configureArena({ enabled: false });
await import('./matmul-wasm.test.js');
await import('./elementwise-wasm.test.js');

// Test helpers that put arrays into the cpu backend's arena (src/cpu/wasm/arena.ts), so a
// kernel's in-place path (pointers into the arena) is exercised besides its copying one.
import { arenaAlloc, arenaFree, getArena } from '../../src/cpu/wasm/arena.js';

type View = Float32Array | Uint8Array;

/**
 * A copy of `x` in a block of the arena (with `extra` more elements, filled with `fill`),
 * and the function that frees the block; a plain copy where there is no arena or no room.
 */
export function inArenaCopy<A extends View>(x: A, extra = 0, fill = 0): [A, () => void] {
  const a = getArena();
  const bytes = (x.length + extra) * x.BYTES_PER_ELEMENT;
  const off = a === null || bytes === 0 ? -1 : arenaAlloc(bytes);
  const n = x.length + extra;
  const y = (off < 0
    ? (x instanceof Float32Array ? new Float32Array(n) : new Uint8Array(n))
    : (x instanceof Float32Array ? new Float32Array(a!.buffer, off, n) : new Uint8Array(a!.buffer, off, n))) as A;
  y.fill(fill);
  y.set(x as never);
  return [y, off < 0 ? () => {} : () => arenaFree(off, bytes)];
}

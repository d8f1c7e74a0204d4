// The cpu backend's arena: the storage of its tensors, placed in the linear memory of an
// instance of the wasm kernels, so that a kernel reads its operands and writes its result
// in place instead of copying them in and out (which had become a fifth of a training
// step once the loops themselves were SIMD), and so that the matmul's second thread can
// work on them too. See docs/decisions/cpu-arena.md.
//
// The memory is created at its full size and never grown (maximum = initial): growing an
// ordinary wasm memory detaches every view on it, and tensors' storage are such views. The
// size (4 GiB, wasm32's whole address space, where the host allows) only reserves address
// space — pages are committed when first touched — so it costs nothing until used. It is a *shared* memory where the host has shared memory
// (Node; a cross-origin isolated page), so the matmul's worker thread runs on it; an
// ordinary one otherwise (one thread).
//
// Allocation: 64-byte aligned blocks. The backend keeps freed blocks by dtype and length
// and hands them out again (its pool), so a training step's steady state never reaches
// this allocator; what does reach it is first-fit over address-ordered free ranges that
// coalesce with their neighbours, then a bump from the top. When a block does not fit,
// the caller falls back to a plain typed array (kernels then copy, as before): the arena
// is an optimisation and never a limit on what can be allocated.
import { KERNELS_SHARED_WASM_BASE64, KERNELS_WASM_BASE64 } from './kernels.generated.js';
import { decodeBase64, type KernelExports, singleKernels, wasmApi } from './matmul.js';

const PAGE = 65536;
const ALIGN = 64;

/** Arena sizes tried in turn (a browser may refuse a large memory); see configureArena. */
let sizes = [4 * 1024 * 1024 * 1024, 1024 * 1024 * 1024, 256 * 1024 * 1024, 64 * 1024 * 1024];

export interface Arena {
  /** The compiled kernels module (the shared-memory build when `shared`). */
  readonly module: object;
  readonly memory: { readonly buffer: ArrayBuffer | SharedArrayBuffer };
  readonly exports: KernelExports;
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Views of the whole memory (valid for the arena's life: it never grows). */
  readonly f32: Float32Array;
  readonly f64: Float64Array;
  readonly bytes: number;
  /** Whether the memory is shared, so a worker thread can run kernels on it (matmul.ts's pool). */
  readonly shared: boolean;
}

let arena: Arena | null | undefined;
let enabled = true;
let allowShared = true;
/** First byte never handed out (everything at and above it is free). */
let top = 0;
/** Free ranges below `top`, ordered by address, never adjacent (they coalesce): [offset, bytes]. */
const free: [number, number][] = [];
/** The kernels' scratch block (see {@link arenaScratch}). */
let scratch = { offset: -1, bytes: 0 };

function instantiate(base64: string, shared: boolean): Arena | null {
  const module = new wasmApi.Module(decodeBase64(base64));
  for (const size of sizes) {
    try {
      const memory = new wasmApi.Memory({ initial: size / PAGE, maximum: size / PAGE, shared });
      const exports = new wasmApi.Instance(module, { env: { memory } }).exports as KernelExports;
      const buffer = memory.buffer;
      top = Math.ceil(exports.heapBase() / ALIGN) * ALIGN;
      return { module, memory, exports, buffer, f32: new Float32Array(buffer), f64: new Float64Array(buffer), bytes: size, shared };
    } catch {
      // Too large for this host: try the next size.
    }
  }
  return null;
}

function create(): Arena | null {
  if (!enabled) return null;
  // Shared where the host has shared memory (Node; browsers when cross-origin isolated), so
  // the matmul's second thread works on the tensors in place; ordinary otherwise.
  const shared = allowShared && typeof SharedArrayBuffer === 'function' ? instantiate(KERNELS_SHARED_WASM_BASE64, true) : null;
  return shared ?? instantiate(KERNELS_WASM_BASE64, false);
}

/** The arena, created on first use; null where wasm memories cannot be made (or it is disabled). */
export function getArena(): Arena | null {
  if (arena === undefined) arena = create();
  return arena;
}

/**
 * Options of the arena, effective only before it is created (the first cpu tensor of at
 * least 1 KiB creates it): `enabled: false` keeps every array a plain typed array (for
 * hosts that must not reserve address space; the matmul then runs on one thread);
 * `bytes` (a multiple of 64 KiB, at most 4 GiB) is its size instead of 4 GiB; `shared: false` makes its
 * memory ordinary even where shared memory exists (one thread). Results are the same bits
 * either way. Returns the settings in force and the arena's size and kind if it exists.
 */
export function configureArena(options: { enabled?: boolean; bytes?: number; shared?: boolean } = {}): { enabled: boolean; bytes: number; shared: boolean } {
  if (arena === undefined) {
    if (options.enabled !== undefined) enabled = options.enabled;
    if (options.shared !== undefined) allowShared = options.shared;
    if (options.bytes !== undefined) {
      if (!(Number.isInteger(options.bytes) && options.bytes > 0 && options.bytes % PAGE === 0 && options.bytes <= 2 ** 32)) {
        throw new RangeError(`configureArena: bytes must be a positive multiple of 65536 up to 4 GiB, got ${options.bytes}`);
      }
      sizes = [options.bytes];
    }
  }
  return { enabled, bytes: arena?.bytes ?? 0, shared: arena?.shared ?? false };
}

/** Whether `x` is a view on the arena (so a kernel may use its byte offset as a pointer). */
export function inArena(x: ArrayBufferView): boolean {
  return arena != null && x.buffer === arena.buffer;
}

/** A block of at least `bytes` bytes: its offset, or -1 if the arena is full or absent. */
export function arenaAlloc(bytes: number): number {
  const a = getArena();
  if (a === null) return -1;
  const need = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  for (let i = 0; i < free.length; i++) {
    const [off, len] = free[i]!;
    if (len < need) continue;
    if (len === need) free.splice(i, 1);
    else free[i] = [off + need, len - need];
    return off;
  }
  if (top + need > a.bytes) return -1;
  const off = top;
  top += need;
  return off;
}

/** Returns a block from {@link arenaAlloc} (same `bytes`). */
export function arenaFree(offset: number, bytes: number): void {
  const len = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
  // Binary search for the first range above offset.
  let lo = 0;
  let hi = free.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (free[mid]![0] < offset) lo = mid + 1;
    else hi = mid;
  }
  let start = offset;
  let end = offset + len;
  const prev = free[lo - 1];
  const next = free[lo];
  let from = lo;
  let count = 0;
  if (prev && prev[0] + prev[1] === start) {
    start = prev[0];
    from = lo - 1;
    count++;
  }
  if (next && next[0] === end) {
    end = next[0] + next[1];
    count++;
  }
  if (end === top) {
    // The range reaches the top: lower the top instead of keeping a range.
    top = start;
    free.splice(from, count);
  } else {
    free.splice(from, count, [start, end - start]);
  }
}

/** Gives blocks held for reuse back to the allocator (set by the owner of such a cache: the backend's pool); whether any were. */
let reclaim: () => boolean = () => false;

/** Registers the function that hands cached blocks back when a block does not fit (the cpu backend's pool). */
export function setArenaReclaim(f: () => boolean): void {
  reclaim = f;
}

/**
 * A block of at least `bytes` bytes, first giving cached blocks back to the allocator if it
 * does not fit: its offset, or -1 if it still does not fit (or there is no arena).
 */
export function arenaAllocOrReclaim(bytes: number): number {
  const off = arenaAlloc(bytes);
  return off >= 0 || !reclaim() ? off : arenaAlloc(bytes);
}

/** Bytes of the arena in use (handed out and not freed), for tests. */
export function arenaBytesInUse(): number {
  return top - free.reduce((s, r) => s + r[1], 0) - (arena ? Math.ceil(arena.exports.heapBase() / ALIGN) * ALIGN : 0);
}

/**
 * The kernels' scratch region (packing buffers, the copy of an operand not in the arena):
 * an offset with at least `bytes` bytes, valid until the next call; -1 if the arena cannot
 * hold it. One region, reallocated larger when a call needs more.
 */
export function arenaScratch(bytes: number): number {
  if (scratch.offset >= 0 && bytes <= scratch.bytes) return scratch.offset;
  if (scratch.offset >= 0) arenaFree(scratch.offset, scratch.bytes);
  const want = Math.max(bytes, 65536, Math.floor(scratch.bytes * 1.5));
  let off = arenaAlloc(want);
  if (off < 0 && reclaim()) off = arenaAlloc(want);
  scratch = off < 0 ? { offset: -1, bytes: 0 } : { offset: off, bytes: want };
  return off;
}

type View = Float32Array | Int32Array | Uint8Array;

/** What a kernel call sees: the exports of an instance and views of its memory. */
export interface KernelMemory {
  readonly exports: KernelExports;
  readonly f32: Float32Array;
  readonly f64: Float64Array;
}

function align(x: number): number {
  return Math.ceil(x / ALIGN) * ALIGN;
}

/** Copies x's bytes to `offset` in `buf`. */
function copyBytes(x: View, buf: ArrayBuffer | SharedArrayBuffer, offset: number): void {
  if (x instanceof Float32Array) new Float32Array(buf, offset, x.length).set(x);
  else new Uint8Array(buf, offset, x.byteLength).set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
}

/**
 * Runs one kernel call over `inputs` (read) and `outputs` (written; an output may also be
 * an input, for in-place calls): `call` receives the instance, a pointer per array (inputs
 * then outputs) and a scratch pointer with `scratchBytes` bytes. On the arena instance an
 * array that is a view on the arena is passed in place; any other is copied into the
 * arena's scratch region (inputs before the call, outputs after it). Without an arena (or
 * when its scratch cannot grow) the call runs on the copying instance (matmul.ts's
 * single-thread instance) with every array copied. Each array must be exactly as long as
 * the kernel reads or writes (pass a subarray).
 */
export function withArrays(inputs: readonly View[], outputs: readonly View[], scratchBytes: number,
  call: (m: KernelMemory, ptrs: number[], scratch: number) => void): void {
  if (arena != null) {
    const buf = arena.buffer;
    let extra = 0;
    for (const x of inputs) if (x.buffer !== buf) extra += align(x.byteLength);
    for (const x of outputs) if (x.buffer !== buf) extra += align(x.byteLength);
    const base = extra + scratchBytes > 0 ? arenaScratch(extra + scratchBytes) : 0;
    if (base >= 0) {
      const ptrs: number[] = [];
      let q = base;
      for (const x of inputs) {
        if (x.buffer === buf) ptrs.push(x.byteOffset);
        else {
          copyBytes(x, buf, q);
          ptrs.push(q);
          q += align(x.byteLength);
        }
      }
      for (const x of outputs) {
        if (x.buffer === buf) ptrs.push(x.byteOffset);
        else {
          ptrs.push(q);
          q += align(x.byteLength);
        }
      }
      call(arena, ptrs, q);
      if (extra > 0) {
        for (let i = 0; i < outputs.length; i++) {
          const x = outputs[i]!;
          if (x.buffer !== buf) new Uint8Array(x.buffer, x.byteOffset, x.byteLength).set(new Uint8Array(buf, ptrs[inputs.length + i]!, x.byteLength));
        }
      }
      return;
    }
  }
  let bytes = 0;
  const offs: number[] = [];
  for (const x of [...inputs, ...outputs]) {
    offs.push(bytes);
    bytes += align(x.byteLength);
  }
  const k = singleKernels(bytes + scratchBytes);
  const ptrs = offs.map((o) => k.heapBase + o);
  const u8 = new Uint8Array(k.f32.buffer);
  inputs.forEach((x, i) => u8.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), ptrs[i]!));
  call(k, ptrs, k.heapBase + bytes);
  // The call never grows the copying instance's memory, so its views are still current.
  outputs.forEach((x, i) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength).set(u8.subarray(ptrs[inputs.length + i]!, ptrs[inputs.length + i]! + x.byteLength)));
}

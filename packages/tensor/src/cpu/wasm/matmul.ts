// Synchronous float32 batched matmul on the WebAssembly SIMD kernel in
// packages/tensor/wasm/matmul.ts (compiled into ./kernels.generated.ts).
//
// On the arena (arena.ts; the normal case): the cpu backend's tensors live in the linear
// memory of the arena's instance, so the kernel reads A and B and writes C in place (an
// operand that is not an arena view is first copied into the arena's scratch region). The
// per-thread scratch (B panels | A^T block (transA only) | edge tile, each 64-byte aligned)
// is taken from the same region. A call costs a few argument checks and one wasm call.
//
// Two-thread path (problems from ~2 MFLOP, when the arena's memory is shared): one worker
// thread runs its own instance of the kernels on the arena's memory. The output is cut
// into chunks (whole batch entries, or ranges of 8-column panels, or row ranges); both
// threads claim chunks from an atomic counter and the main thread blocks (Atomics.wait)
// until all are done, so the API stays synchronous. A chunk's result does not depend on
// which thread computes it, or on the chunking: every output element is the same
// sequential k loop (see wasm/matmul.ts), so results are bit-identical to the
// single-thread path. The k sum is never split.
//
// Without an arena (disabled, or full): a separate single-thread instance on its own
// ordinary memory, grown as needed; A, B and C are copied in and out
//   [heapBase .. )  A | B | C | scratch.

// The helper thread is a worker_thread under Node and a Web Worker in a browser (only
// where the page is cross-origin isolated, so shared memory exists): bundlers targeting
// browsers replace ./thread.node.js by ./thread.browser.js (package.json's `browser` map).
import { startHelperThread } from './thread.node.js';
import { KERNELS_WASM_BASE64 } from './kernels.generated.js';
import type { HelperThread } from './thread.js';
import { type Arena, getArena, withArrays } from './arena.js';
import { exact } from './elementwise.js';

/** The module's exports (see wasm/matmul.ts for the contracts). */
export interface KernelExports {
  matmul(
    aPtr: number, bPtr: number, cPtr: number,
    m: number, k: number, n: number,
    transA: number, transB: number, aStride: number, bStride: number,
    b0: number, b1: number, m0: number, m1: number, jp0: number, jp1: number,
    pack: number, packA: number, tmp: number,
  ): void;
  packBytes(n: number): number;
  packABytes(): number;
  readsBDirect(k: number, n: number, transB: number): number;
  tmpBytes(): number;
  heapBase(): number;
  /** wasm/softmax.ts (same module): see softmax.ts. */
  softmaxRows(xPtr: number, oPtr: number, rows: number, n: number, mode: number, auxPtr: number): void;
  /** wasm/softmax.ts: V8's Math.exp, bit for bit. */
  exp(x: number): number;
  /** wasm/softmax.ts: lane `lane` of the two-lane exp of (a, b) (falls back to exp per lane where it must). */
  expPair(a: number, b: number, lane: number): number;
  /** wasm/elementwise.ts: see elementwise.ts. */
  binaryF32(op: number, mode: number, swap: number, fullPtr: number, smallPtr: number, outPtr: number, rows: number, n: number, scalar: number): void;
  /** wasm/elementwise.ts: float64-accumulated sums (see elementwise.ts). */
  sumF32(xPtr: number, outPtr: number, outer: number, red: number, inner: number, accPtr: number): void;
  reluF32(xPtr: number, outPtr: number, n: number): void;
  copyRows32(xPtr: number, outPtr: number, rank: number, dims: number, base: number, total: number): void;
  normalizeF32(xPtr: number, outPtr: number, rows: number, n: number, eps: number): void;
  scaleBiasF32(sPtr: number, outPtr: number, b: number, h: number, tq: number, tk: number, scale: number, biasPtr: number, s0: number, s1: number, s2: number, s3: number): void;
  gtScalarF32(xPtr: number, s: number, outPtr: number, n: number): void;
  selectF32(cPtr: number, aPtr: number, bPtr: number, bScalar: number, bWord: number, outPtr: number, n: number): void;
  adamF32(gPtr: number, mPtr: number, vPtr: number, pPtr: number, m2Ptr: number, v2Ptr: number, uPtr: number, n: number,
    lerpFromM: number, lerp: number, b2: number, oneMinusB2: number, negStepSize: number, bc2Sqrt: number, eps: number, negDecay: number): void;
}

/**
 * The slice of the WebAssembly JS API used here. The project's TypeScript libs (ES2022 +
 * @types/node 20) do not declare the `WebAssembly` global, and declaring it globally
 * would clash once some other lib does, so it is typed locally and read off globalThis.
 */
interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(deltaPages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { readonly exports: unknown };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}
export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const PAGE = 65536;
/** wasm32 address-space limit. */
const MAX_PAGES = 65536;
const MAX_BYTES = MAX_PAGES * PAGE;
/** Panel width of the kernel (NR in wasm/matmul.ts). */
const NR = 8;
/** Rows per micro-tile of the kernel (MR in wasm/matmul.ts). */
const MR = 5;

/** The copying (single-thread) instance: its memory grows as calls need (see ensureMemory). */
interface Kernels {
  readonly memory: WasmMemory;
  readonly exports: KernelExports;
  readonly heapBase: number;
  /** View of the whole memory; replaced whenever the memory grows. */
  f32: Float32Array;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Decodes standard base64 (no Buffer, no atob: the same code in Node and in browsers). */
export function decodeBase64(s: string): Uint8Array {
  const clean = s.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    const v = B64.indexOf(clean[i]!);
    if (v < 0) throw new RangeError(`decodeBase64: invalid character at ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}

function loadKernels(base64: string): Kernels {
  // Synchronous compile: fine in Node, and in browsers too since the module is a few KiB
  // (Chromium refuses synchronous compiles on the main thread only above 8 MB).
  const module = new wasmApi.Module(decodeBase64(base64));
  const memory = new wasmApi.Memory({ initial: 16 });
  const exports = new wasmApi.Instance(module, { env: { memory } }).exports as KernelExports;
  return { memory, exports, heapBase: align64(exports.heapBase()), f32: new Float32Array(memory.buffer) };
}

function align64(x: number): number {
  return Math.ceil(x / 64) * 64;
}

/** Makes sure linear memory holds at least `bytes` bytes; refreshes the view if it grew. */
function ensureMemory(kr: Kernels, bytes: number): void {
  const have = kr.f32.length * 4;
  if (bytes <= have) return;
  if (bytes > MAX_BYTES) {
    throw new RangeError(`matmulF32: problem needs ${bytes} bytes of wasm memory (> 4 GiB)`);
  }
  // Grow geometrically (x1.5) so a sequence of slightly larger calls does not grow every time.
  const target = Math.min(MAX_BYTES, Math.max(bytes, Math.floor(have * 1.5)));
  kr.memory.grow(Math.ceil((target - have) / PAGE));
  kr.f32 = new Float32Array(kr.memory.buffer);
}

/**
 * One thread's scratch region for a problem with n output columns — B panels | A^T block
 * (transA only) | edge tile, each 64-byte aligned: its size, and its [pack, packA, tmp]
 * pointers when it starts at `base`.
 */
function scratchLayout(e: KernelExports, n: number, transA: boolean): { bytes: number; ptrs(base: number): number[] } {
  const packB = align64(e.packBytes(n));
  const packA = align64(transA ? e.packABytes() : 0);
  return { bytes: packB + packA + align64(e.tmpBytes()), ptrs: (base) => [base, base + packB, base + packB + packA] };
}

// ---- two-thread pool ------------------------------------------------------------------

// Control block (its own SharedArrayBuffer) shared with the worker: int32 words, then the
// chunks' arguments as float64 (exact for every i32 pointer and size, and for the f32/f64
// scalars some kernels take).
const READY = 0; // worker: 1 once its instance exists, -1 if it failed to start
const JOB = 1; // main: generation of the latest job (wakes the worker)
const NEXT = 2; // claim word: gen << 12 | chunkCount << 6 | nextChunkIndex
const DONE = 3; // chunks finished in the current job
const ERROR = 4; // worker: 1 if a chunk threw (main then redoes the call alone)
const FN = 5; // the kernel export to call, as an index into KERNEL_FNS
const NARGS = 6; // its argument count
const SCRATCH_AT = 7; // where in the arguments each thread puts its own scratch pointers
const SCRATCH_N = 8; // how many (0: none)
const WSCRATCH = 9; // the worker's scratch pointers (up to 3)
const CTL_HEADER_BYTES = 64;
const MAX_CHUNKS = 8;
const MAX_ARGS = 20;
const CTL_BYTES = CTL_HEADER_BYTES + 8 * MAX_CHUNKS * MAX_ARGS;
/** The kernel exports a job may call (wasm/matmul.ts, softmax.ts, elementwise.ts). */
const KERNEL_FNS = ['matmul', 'binaryF32', 'reluF32', 'gtScalarF32', 'selectF32', 'adamF32', 'sumF32', 'normalizeF32', 'softmaxRows'] as const;
export type ParallelKernel = (typeof KERNEL_FNS)[number];

/**
 * Worker body: the source of a function of its start data ({ module, memory, ctl, SPIN }),
 * which thread.node.ts / thread.browser.ts wrap into a worker script. Plain JavaScript
 * and WebAssembly only, so it runs as a worker_thread and as a Web Worker. It blocks in
 * Atomics.wait between jobs, so it never returns to its event loop (under Node it is
 * unref'd and cannot keep the process alive). After a job it spins briefly (~50 us) before sleeping,
 * because large kernels often come back to back (a training step) and waking a sleeping
 * thread costs tens of microseconds (up to ~100 us for an idle vCPU).
 * A chunk is claimed by a compare-and-swap on the claim word, which carries the job's
 * generation and chunk count, so a worker that wakes late can never claim a chunk of a
 * job other than the one whose arguments are currently published. A chunk is one call of
 * the job's kernel export with that chunk's arguments, the worker's own scratch pointers
 * substituted at SCRATCH_AT.
 */
const WORKER_BODY = `(workerData) => {
const { module, memory, ctl, SPIN } = workerData;
const c = new Int32Array(ctl);
const a = new Float64Array(ctl, ${CTL_HEADER_BYTES});
let fns;
try {
  const e = new WebAssembly.Instance(module, { env: { memory } }).exports;
  fns = ${JSON.stringify(KERNEL_FNS)}.map((n) => e[n]);
} catch (e) {
  Atomics.store(c, ${READY}, -1);
  Atomics.notify(c, ${READY});
  throw e;
}
Atomics.store(c, ${READY}, 1);
Atomics.notify(c, ${READY});
let seen = Atomics.load(c, ${JOB});
for (;;) {
  let spins = 0;
  let gen;
  while ((gen = Atomics.load(c, ${JOB})) === seen) {
    if (++spins > SPIN) Atomics.wait(c, ${JOB}, seen);
  }
  seen = gen;
  for (;;) {
    const v = Atomics.load(c, ${NEXT});
    const idx = v & 63;
    if ((v >>> 12) !== (gen & 0xfffff) || idx >= ((v >>> 6) & 63)) break;
    if (Atomics.compareExchange(c, ${NEXT}, v, v + 1) !== v) continue;
    try {
      const n = c[${NARGS}], at = c[${SCRATCH_AT}], sn = c[${SCRATCH_N}];
      const args = new Array(n);
      for (let i = 0; i < n; i++) args[i] = a[idx * ${MAX_ARGS} + i];
      for (let i = 0; i < sn; i++) args[at + i] = c[${WSCRATCH} + i];
      fns[c[${FN}]](...args);
    } catch (e) {
      Atomics.store(c, ${ERROR}, 1);
    }
    Atomics.add(c, ${DONE}, 1);
    Atomics.notify(c, ${DONE});
  }
}
}`;

interface Pool {
  /** The arena's instance (the pool runs only on a shared arena: the worker reads tensors in place). */
  readonly kr: Arena;
  readonly ctl: Int32Array;
  readonly args: Float64Array;
  readonly worker: HelperThread;
  gen: number;
  broken: boolean;
  /** Threaded-eligible calls left to run on one thread (contention back-off). */
  skip: number;
  /** Length of the next back-off; doubles while threading keeps losing. */
  backoff: number;
}

/**
 * Tunables of the two-thread path (see configureMatmulF32). The operands live in the
 * shared arena (arena.ts), so a threaded call copies nothing; what it costs is publishing
 * the job and waiting for the worker's last chunk (a few us while the worker spins, up to
 * ~100 us to wake an idle vCPU — it then takes no chunk at all and only the publishing is
 * lost). Measured on the 2-vCPU dev VM, RW-1 train step (ms/step, 60 steps) by minFlops:
 * one thread 42.8 · 8e6 40.5–41.5 · 4e6 38.5 · 3e6 ~37 · 2e6 36.8–36.9 · 1e6 37.5 · 5e5 38.9;
 * minFlopsPerByte 8 vs 2 vs 0 at 1–2e6: 36.9 vs 38.2 vs 37.9 (problems with little
 * arithmetic per byte, the batched attention products, do better on one thread).
 * With another process saturating one core, threaded calls were 0.8-0.9x as fast per
 * call (the back-off below limits this; overall throughput was still higher because the
 * process gets a larger share of the cores).
 */
const config = {
  threads: true,
  /** Below this many flops (2*batch*m*k*n) one thread is used. */
  minFlops: 2e6,
  /** ...and below this many flops per byte of A, B and C. */
  minFlopsPerByte: 8,
  /** Atomics.load polls the worker makes before sleeping (a few ns each). */
  workerSpin: 10000,
  /** The contention back-off (see runParallel); off only where a test needs every eligible call split. */
  backoff: true,
};

let single: Kernels | undefined;

/**
 * The single-thread instance (ordinary memory), for the other kernels of the module
 * (src/cpu/wasm/softmax.ts): its exports, its first free byte, and a view of its memory
 * at least `bytes` long (re-read after every call: the memory may have grown).
 */
export function singleKernels(bytes: number): { exports: KernelExports; heapBase: number; f32: Float32Array; f64: Float64Array } {
  const kr = (single ??= loadKernels(KERNELS_WASM_BASE64));
  ensureMemory(kr, kr.heapBase + bytes);
  if (kr.f32.buffer !== f64View?.buffer) f64View = new Float64Array(kr.f32.buffer);
  return { exports: kr.exports, heapBase: kr.heapBase, f32: kr.f32, f64: f64View };
}
let f64View: Float64Array | undefined;
/** Whether this thread may block in Atomics.wait (false on a browser's main thread). */
let canWait = true;
/** undefined: not started yet; null: unavailable (failed, or disabled by config). */
let pool: Pool | null | undefined;

function startPool(): Pool | null {
  try {
    const kr = getArena();
    if (kr === null || !kr.shared) return null;
    const sab = new SharedArrayBuffer(CTL_BYTES);
    const ctl = new Int32Array(sab);
    const worker = startHelperThread(WORKER_BODY, { module: kr.module, memory: kr.memory, ctl: ctl.buffer as SharedArrayBuffer, SPIN: config.workerSpin });
    if (worker === null) return null;
    const p: Pool = { kr, ctl, args: new Float64Array(sab, CTL_HEADER_BYTES), worker, gen: 0, broken: false, skip: 0, backoff: 0 };
    worker.onFail(() => {
      p.broken = true;
    });
    return p;
  } catch {
    return null;
  }
}

/** The pool if it is running, its worker is ready and it is not backing off. */
function readyPool(): Pool | null {
  if (pool === undefined) pool = startPool();
  if (pool === null || pool.broken) return null;
  const ready = Atomics.load(pool.ctl, READY);
  if (ready < 0) pool.broken = true;
  if (ready !== 1) return null;
  if (pool.skip > 0) {
    pool.skip--;
    return null;
  }
  return pool;
}

/**
 * Options of the cpu matmul (all optional; returns the resulting settings).
 * `threads: false` forces one thread (results are bit-identical either way).
 * `minFlops` / `minFlopsPerByte`: the problem size (2*batch*m*k*n) and arithmetic
 * intensity (flops per byte of A, B and C) from which a second thread is used.
 * `backoff: false` turns off the contention back-off (tests that need every eligible
 * call split). `threads` also governs the split of large elementwise kernels.
 */
export function configureMatmulF32(
  options: { threads?: boolean; minFlops?: number; minFlopsPerByte?: number; backoff?: boolean } = {},
): { threads: boolean; minFlops: number; minFlopsPerByte: number; backoff: boolean } {
  if (options.threads !== undefined) config.threads = options.threads;
  if (options.minFlops !== undefined) config.minFlops = options.minFlops;
  if (options.minFlopsPerByte !== undefined) config.minFlopsPerByte = options.minFlopsPerByte;
  if (options.backoff !== undefined) {
    config.backoff = options.backoff;
    if (pool) pool.skip = pool.backoff = 0;
  }
  return { threads: config.threads, minFlops: config.minFlops, minFlopsPerByte: config.minFlopsPerByte, backoff: config.backoff };
}

/** Whether a problem of this size would be split over two threads (when they are ready). */
export function matmulF32UsesThreads(batch: number, m: number, k: number, n: number,
  aElements: number, bElements: number): boolean {
  const flops = 2 * batch * m * k * n;
  const bytes = 4 * (aElements + bElements + batch * m * n);
  return config.threads && flops >= config.minFlops && flops >= config.minFlopsPerByte * bytes;
}

/**
 * Starts the worker thread now (it otherwise starts on the first large matmul, which then
 * still runs on one thread) and resolves true once it can take work, false if threads
 * are unavailable. Optional: only useful to make benchmarks and tests deterministic in
 * which path they exercise.
 */
export async function matmulF32ThreadsReady(timeoutMs = 10_000): Promise<boolean> {
  if (pool === undefined) pool = startPool();
  const p = pool;
  if (p === null) return false;
  const deadline = Date.now() + timeoutMs;
  while (!p.broken && Atomics.load(p.ctl, READY) === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return !p.broken && Atomics.load(p.ctl, READY) === 1;
}

/**
 * Output ranges [b0, b1, m0, m1, jp0, jp1] of the chunks a problem is split into (at
 * most MAX_CHUNKS, claimed dynamically by the two threads). The cut is chosen so that
 * chunks do not redo packing work: a chunk of columns packs only its own B panels but
 * re-packs A^T (when transA), a chunk of rows packs only its own A^T rows but re-packs
 * all of B (unless B is read in place).
 */
function chunkTable(e: KernelExports, batch: number, m: number, k: number, n: number,
  transA: boolean, transB: boolean): number[][] {
  const nPanels = Math.ceil(n / NR);
  const tiles = Math.ceil(m / MR);
  const split = (units: number): number[] => {
    const count = Math.min(units, MAX_CHUNKS);
    const cuts: number[] = [];
    for (let c = 0; c <= count; c++) cuts.push(Math.round((c * units) / count));
    return cuts;
  };
  const chunks: number[][] = [];
  const packsB = e.readsBDirect(k, n, transB ? 1 : 0) === 0;
  // Re-packing cost per extra chunk: columns redo m*k (A^T), rows redo k*n (B).
  const colCost = transA ? m * k : 0;
  const rowCost = packsB ? k * n : 0;
  if (batch >= 2) {
    // Whole batch entries: each chunk packs only its own matrices.
    const cuts = split(batch);
    for (let c = 0; c + 1 < cuts.length; c++) chunks.push([cuts[c], cuts[c + 1], 0, m, 0, nPanels]);
  } else if (nPanels >= 2 && (colCost <= rowCost || tiles < 2)) {
    const cuts = split(nPanels);
    for (let c = 0; c + 1 < cuts.length; c++) chunks.push([0, 1, 0, m, cuts[c], cuts[c + 1]]);
  } else {
    // Row ranges in whole micro-tiles.
    const cuts = split(tiles);
    for (let c = 0; c + 1 < cuts.length; c++) {
      chunks.push([0, 1, cuts[c] * MR, Math.min(m, cuts[c + 1] * MR), 0, nPanels]);
    }
  }
  return chunks;
}

// ---- entry point ----------------------------------------------------------------------

function checkDim(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`matmulF32: ${name} must be a non-negative integer, got ${v}`);
}

/** out[b] = op(A[b]) @ op(B[b]) for b in 0..batch-1, row-major float32.
 *  op(A[b]) is m×k: A[b] stored as m×k (transA=false) or k×m (transA=true), starting at a[b*aBatchStride].
 *  op(B[b]) is k×n: B[b] stored as k×n (transB=false) or n×k (transB=true), starting at b[b*bBatchStride].
 *  aBatchStride / bBatchStride may be 0 (broadcast a single matrix over the batch).
 *  out has batch*m*n elements, fully overwritten. Deterministic: the summation order over k is fixed and does not depend on threads or timing.
 *
 *  Precisely, every element is the sequential float32 sum `s = 0; for p in 0..k-1: s += A[i][p]*B[p][j]`
 *  (separate multiply and add), so results are bit-identical across calls, thread counts,
 *  batch layouts and transposition flags, and equal a naive float32 loop. */
export function matmulF32(a: Float32Array, b: Float32Array, out: Float32Array,
  batch: number, m: number, k: number, n: number,
  transA: boolean, transB: boolean, aBatchStride: number, bBatchStride: number): void {
  checkDim('batch', batch);
  checkDim('m', m);
  checkDim('k', k);
  checkDim('n', n);
  checkDim('aBatchStride', aBatchStride);
  checkDim('bBatchStride', bBatchStride);
  const outLen = batch * m * n;
  if (out.length < outLen) throw new RangeError(`matmulF32: out has ${out.length} elements, needs ${outLen}`);
  if (outLen === 0) return;
  if (k === 0) {
    out.fill(0, 0, outLen);
    return;
  }
  const needA = (batch - 1) * aBatchStride + m * k;
  const needB = (batch - 1) * bBatchStride + k * n;
  if (a.length < needA) throw new RangeError(`matmulF32: a has ${a.length} elements, needs ${needA}`);
  if (b.length < needB) throw new RangeError(`matmulF32: b has ${b.length} elements, needs ${needB}`);

  // A shared (broadcast) B with back-to-back row-major A matrices is one taller matmul:
  // (batch*m)×k @ k×n. Same per-element arithmetic, but B is packed once and the row
  // tiles run across batch boundaries (e.g. 512×64 activations @ 64×64 weights).
  if (batch > 1 && bBatchStride === 0 && !transA && aBatchStride === m * k) {
    m *= batch;
    batch = 1;
    aBatchStride = 0;
  }

  const tA = transA ? 1 : 0;
  const tB = transB ? 1 : 0;
  const threaded = matmulF32UsesThreads(batch, m, k, n, needA, needB);
  // Scratch for two threads (the second half is the worker's, if it takes part).
  const scratch = scratchLayout(getArena()?.exports ?? singleKernels(0).exports, n, transA);
  withArrays([exact(a, needA), exact(b, needB)], [exact(out, outLen)], 2 * scratch.bytes, (kr, [aPtr, bPtr, cPtr], base) => {
    const args = [aPtr!, bPtr!, cPtr!, m, k, n, tA, tB, aBatchStride, bBatchStride];
    if (threaded) {
      const chunks = chunkTable(kr.exports, batch, m, k, n, transA, transB).map((t) => [...args, ...t, 0, 0, 0]);
      if (parallelKernel(kr, 'matmul', chunks, { at: 16, main: scratch.ptrs(base), worker: scratch.ptrs(base + scratch.bytes) })) return;
    }
    const [pack, packA, tmp] = scratch.ptrs(base) as [number, number, number];
    kr.exports.matmul(aPtr!, bPtr!, cPtr!, m, k, n, tA, tB, aBatchStride, bBatchStride, 0, batch, 0, m, 0, Math.ceil(n / NR), pack, packA, tmp);
  });
}

/**
 * One kernel call split over the two threads: each of `chunks` is a full argument list of
 * the kernel export `fn`, except that each thread writes its own scratch pointers (`main`
 * or `worker`) at `scratchAt`. Both threads claim chunks from the atomic counter; returns
 * when every chunk is done. The chunks must write disjoint outputs.
 */
function runParallel(p: Pool, fn: ParallelKernel, chunks: readonly (readonly number[])[], scratchAt: number,
  main: readonly number[], worker: readonly number[]): void {
  const e = p.kr.exports as unknown as Record<ParallelKernel, (...args: number[]) => void>;
  const ctl = p.ctl;
  const nargs = chunks[0]!.length;
  ctl[FN] = KERNEL_FNS.indexOf(fn);
  ctl[NARGS] = nargs;
  ctl[SCRATCH_AT] = scratchAt;
  ctl[SCRATCH_N] = worker.length;
  for (let i = 0; i < worker.length; i++) ctl[WSCRATCH + i] = worker[i]!;
  for (let c = 0; c < chunks.length; c++) p.args.set(chunks[c]!, c * MAX_ARGS);
  // Publish: DONE/ERROR first, then the claim word (which makes chunks claimable),
  // then wake the worker. Atomics are sequentially consistent, so a worker that
  // claims a chunk sees all the plain writes above.
  const tStart = performance.now();
  p.gen = (p.gen + 1) & 0xfffff;
  Atomics.store(ctl, DONE, 0);
  Atomics.store(ctl, ERROR, 0);
  Atomics.store(ctl, NEXT, (p.gen << 12) | (chunks.length << 6));
  Atomics.store(ctl, JOB, p.gen);
  Atomics.notify(ctl, JOB);
  const own = (c: readonly number[]) => {
    const args = c.slice();
    for (let i = 0; i < main.length; i++) args[scratchAt + i] = main[i]!;
    e[fn](...args);
  };
  // The main thread works too, claiming chunks until none are left.
  for (;;) {
    const v = Atomics.load(ctl, NEXT);
    const idx = v & 63;
    if (idx >= chunks.length) break;
    if (Atomics.compareExchange(ctl, NEXT, v, v + 1) !== v) continue;
    own(chunks[idx]!);
    Atomics.add(ctl, DONE, 1);
  }
  // Wait for the worker's chunks: a short spin (it is usually about to finish), then sleep.
  const tMain = performance.now();
  let spins = 0;
  for (;;) {
    const done = Atomics.load(ctl, DONE);
    if (done >= chunks.length) break;
    if (++spins > 2000 && canWait) {
      // A browser's main thread may not block: there the loop keeps spinning.
      try {
        Atomics.wait(ctl, DONE, done, 1);
      } catch {
        canWait = false;
      }
    }
  }
  // Contention back-off. On an idle machine the worker finishes its last chunk about
  // when the main thread runs out of chunks (waits of at most about one chunk). When
  // the cores are busy with other processes the worker gets descheduled mid-chunk and
  // the main thread waits up to a scheduler time slice, which made two threads up to
  // 1.5-3x *slower* than one. So when the wait exceeds half of the main thread's own
  // work (and 20 us), the next 4, 8, ... 256 eligible calls run on one thread; each
  // call without such a stall halves the back-off. (A worker that wakes too late to
  // take any chunk, e.g. because an idle vCPU takes ~100 us to wake, costs little and
  // does not count.) This only decides who computes what, never the arithmetic, so
  // results are unaffected.
  const waited = performance.now() - tMain;
  if (config.backoff && waited > 0.02 && waited > 0.5 * (tMain - tStart)) {
    p.backoff = Math.min(256, Math.max(4, 2 * p.backoff));
    p.skip = p.backoff;
  } else {
    p.backoff >>= 1;
  }
  if (Atomics.load(ctl, ERROR) !== 0) {
    // Cannot happen with validated arguments; if it does, stop using the worker and
    // recompute every chunk here (same bits: chunks write disjoint outputs).
    p.broken = true;
    for (const c of chunks) own(c);
  }
}

let parallelCalls = 0;
/** How many kernel calls have been split over the two threads (for tests). */
export function parallelKernelCalls(): number {
  return parallelCalls;
}

/**
 * Runs one call of a kernel export on both threads when the worker is ready and the call
 * is on the arena (`m` is the arena: the worker can reach only the arena's memory):
 * `chunks` as in runParallel; `scratch`, if the kernel takes scratch pointers, says where
 * in the arguments they go and each thread's own (the caller reserves both). Returns false
 * (and does nothing) otherwise; the caller then makes the call itself.
 */
export function parallelKernel(m: object, fn: ParallelKernel, chunks: readonly (readonly number[])[],
  scratch?: { at: number; main: readonly number[]; worker: readonly number[] }): boolean {
  if (chunks.length < 2 || !config.threads) return false;
  const p = readyPool();
  if (p === null || m !== p.kr) return false;
  parallelCalls++;
  runParallel(p, fn, chunks, scratch?.at ?? 0, scratch?.main ?? [], scratch?.worker ?? []);
  return true;
}

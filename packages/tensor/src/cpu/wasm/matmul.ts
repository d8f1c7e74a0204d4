// Synchronous float32 batched matmul on the WebAssembly SIMD kernel in
// packages/tensor/wasm/matmul.ts (compiled into ./kernels.generated.ts).
//
// One module instance and one linear memory are created lazily on first use and kept for
// the life of the process, so a call costs: a few argument checks, copying the operands
// into linear memory, one wasm call (which loops over the batch itself) and one copy out.
//
// Linear memory layout for a call (byte offsets, each region 64-byte aligned):
//   [heapBase .. )  A | B | C | B pack scratch | A^T pack scratch (transA only) | edge tile
// The memory only ever grows (wasm memories cannot shrink); it is sized for the largest
// call seen so far.

import { KERNELS_WASM_BASE64 } from './kernels.generated.js';

/** The module's exports (see wasm/matmul.ts for the contracts). */
interface KernelExports {
  matmul(
    aPtr: number, bPtr: number, cPtr: number,
    m: number, k: number, n: number,
    transA: number, transB: number, aStride: number, bStride: number,
    b0: number, b1: number, m0: number, m1: number,
    pack: number, packA: number, tmp: number,
  ): void;
  packBytes(n: number): number;
  packABytes(): number;
  tmpBytes(): number;
  heapBase(): number;
}

/**
 * The slice of the WebAssembly JS API used here. The project's TypeScript libs (ES2022 +
 * @types/node 20) do not declare the `WebAssembly` global, and declaring it globally
 * would clash once some other lib does, so it is typed locally and read off globalThis.
 */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { readonly exports: unknown };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Kernels {
  readonly memory: WasmMemory;
  readonly exports: KernelExports;
  readonly heapBase: number;
  readonly tmpBytes: number;
  readonly packABytes: number;
  /** View of the whole memory; replaced whenever the memory grows. */
  f32: Float32Array;
}

const PAGE = 65536;
/** wasm32 address space limit (the module declares a 65536-page maximum). */
const MAX_BYTES = 65536 * PAGE;

let kernels: Kernels | undefined;

function loadKernels(): Kernels {
  const bytes = Buffer.from(KERNELS_WASM_BASE64, 'base64');
  // Synchronous compile is fine in Node (no main-thread size limit as in browsers) and the
  // module is ~4 KiB. The memory is shared so that worker threads can run the same
  // module on it; a shared memory must declare its maximum, which only reserves
  // address space.
  const module = new wasmApi.Module(bytes);
  const memory = new wasmApi.Memory({ initial: 16 });
  const instance = new wasmApi.Instance(module, { env: { memory } });
  const exports = instance.exports as unknown as KernelExports;
  return {
    memory,
    exports,
    heapBase: align64(exports.heapBase()),
    tmpBytes: exports.tmpBytes(),
    packABytes: exports.packABytes(),
    f32: new Float32Array(memory.buffer),
  };
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
 *  (separate multiply and add), so results are bit-identical across calls, batch layouts and
 *  transposition flags, and equal a naive float32 loop. */
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

  const kr = (kernels ??= loadKernels());
  const aOff = kr.heapBase;
  const bOff = align64(aOff + needA * 4);
  const cOff = align64(bOff + needB * 4);
  const packOff = align64(cOff + outLen * 4);
  const packAOff = align64(packOff + kr.exports.packBytes(n));
  const tmpOff = align64(packAOff + (transA ? kr.packABytes : 0));
  ensureMemory(kr, tmpOff + kr.tmpBytes);

  const f32 = kr.f32;
  f32.set(a.length === needA ? a : a.subarray(0, needA), aOff >>> 2);
  f32.set(b.length === needB ? b : b.subarray(0, needB), bOff >>> 2);
  kr.exports.matmul(aOff, bOff, cOff, m, k, n, transA ? 1 : 0, transB ? 1 : 0,
    aBatchStride, bBatchStride, 0, batch, 0, m, packOff, packAOff, tmpOff);
  out.set(f32.subarray(cOff >>> 2, (cOff >>> 2) + outLen));
}

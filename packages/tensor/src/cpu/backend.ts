/**
 * The cpu backend: the reference implementation of every primitive, over typed
 * arrays. Storage is the host typed array itself (Float32Array, Int32Array or
 * Uint8Array for bool), so reads are free and garbage collection reclaims memory.
 * All loops run in a fixed order, so results are bit-reproducible.
 */
import type { AttentionDims, Backend } from '../backend.js';
import { allocHost, bytesPerElement, type DType, type HostArray } from '../dtype.js';
import { TensorError } from '../errors.js';
import { binaryOutDType, broadcastStrides, coalesce, randomDType, reduceOutDType, type View } from '../layout.js';
import { philoxStream, wordToUniform } from '../philox.js';
import type { BinaryOp, ReduceOp, UnaryOp } from '../primitives.js';
import { shapesEqual, sizeOf, stridesOf, type Shape } from '../shape.js';
import { binaryKernels, forEachRow, rowColPattern, unaryKernel } from './elementwise.js';
import { matmulF32 } from './wasm/matmul.js';
import { SOFTMAX_WASM_MIN, softmaxF32 } from './wasm/softmax.js';
import { arenaAllocOrReclaim, arenaFree, getArena, inArena, setArenaReclaim } from './wasm/arena.js';
import { adamF32, binaryF32, type BroadcastMode, copyRows32, ELEMENTWISE_WASM_MIN, normalizeF32, scaleBiasF32, gtScalarF32, hasWasmBinary, reluF32, selectF32, sumF32 } from './wasm/elementwise.js';
import { isTracing } from '../trace.js';

type Arr = HostArray;

let bytes = 0;

/**
 * Freed arrays are kept by dtype and length and handed out again: a training step
 * allocates the same shapes every time, and reusing warm arrays avoids most of the
 * allocation, zeroing and garbage-collection cost. Pooled arrays hold stale data, so
 * `alloc` callers must overwrite every element (or ask for `zeroed`).
 *
 * Arrays of at least ARENA_MIN_BYTES live in the arena (wasm/arena.ts), where the wasm
 * kernels read and write them in place; the rest, and any array the arena cannot hold,
 * are plain typed arrays. Pooled arrays are capped at 256 MiB each way: past the cap a
 * plain array is left to the garbage collector, an arena array's block goes back to the
 * arena's allocator; and when the arena runs out of room every pooled arena array goes
 * back there (coalescing) before the allocation is tried again. An arena array that is
 * never released (a tensor never disposed) returns its block when the garbage collector
 * takes it.
 */
const pool = new Map<string, Arr[]>();
let pooledBytes = 0;
let pooledArenaBytes = 0;
/** Cap on pooled bytes, for plain arrays and (separately) for arena arrays. */
const POOL_LIMIT_BYTES = 256 * 1024 * 1024;
const ARENA_MIN_BYTES = 1024;
const arenaBlocks = new FinalizationRegistry<readonly [number, number]>(([offset, size]) => arenaFree(offset, size));

function newArray(dtype: DType, size: number): Arr {
  const n = size * bytesPerElement(dtype);
  if (n >= ARENA_MIN_BYTES) {
    const offset = arenaAllocOrReclaim(n);
    if (offset >= 0) {
      const buffer = getArena()!.buffer;
      const a = dtype === 'float32' ? new Float32Array(buffer, offset, size) : dtype === 'int32' ? new Int32Array(buffer, offset, size) : new Uint8Array(buffer, offset, size);
      arenaBlocks.register(a, [offset, n], a);
      return a;
    }
  }
  return allocHost(dtype, size);
}

function alloc(dtype: DType, size: number, zeroed = false): Arr {
  bytes += size * bytesPerElement(dtype);
  const list = pool.get(`${dtype}:${size}`);
  const reused = list?.pop();
  if (reused) {
    if (inArena(reused)) pooledArenaBytes -= reused.byteLength;
    else pooledBytes -= reused.byteLength;
    if (zeroed) reused.fill(0);
    return reused;
  }
  const a = newArray(dtype, size);
  // A fresh arena block may hold a freed block's bytes.
  if (zeroed && inArena(a)) a.fill(0);
  return a;
}

function release(s: Arr): void {
  bytes -= s.byteLength;
  if (s.length === 0) return;
  const arena = inArena(s);
  if (arena && pooledArenaBytes + s.byteLength > POOL_LIMIT_BYTES) {
    // Past the cap the block goes straight back to the allocator (and coalesces there).
    arenaBlocks.unregister(s);
    arenaFree(s.byteOffset, s.byteLength);
    return;
  }
  if (!arena && pooledBytes + s.byteLength > POOL_LIMIT_BYTES) return;
  const dtype = s instanceof Float32Array ? 'float32' : s instanceof Int32Array ? 'int32' : 'bool';
  const k = `${dtype}:${s.length}`;
  let list = pool.get(k);
  if (!list) pool.set(k, (list = []));
  list.push(s);
  if (arena) pooledArenaBytes += s.byteLength;
  else pooledBytes += s.byteLength;
}

setArenaReclaim(returnPooledToArena);

/** Hands every pooled arena array back to the arena's allocator; whether there was any. */
function returnPooledToArena(): boolean {
  let any = false;
  for (const list of pool.values()) {
    for (let i = list.length - 1; i >= 0; i--) {
      const a = list[i]!;
      if (!inArena(a)) continue;
      arenaBlocks.unregister(a);
      arenaFree(a.byteOffset, a.byteLength);
      pooledArenaBytes -= a.byteLength;
      list.splice(i, 1);
      any = true;
    }
  }
  return any;
}

/**
 * How a binary op's operands lie against its output of n elements: the same shape, one
 * value, one value per row or per column of the last axis (`swap`: the broadcast operand
 * is the left one), or anything else (strided). The JavaScript and the wasm kernels share it.
 */
function binaryLayout(a: Arr, aShape: Shape, b: Arr, bShape: Shape, outShape: Shape, n: number): { kind: BroadcastMode | 'strided'; swap: boolean } {
  if (a.length === n && b.length === n && shapesEqual(aShape, bShape)) return { kind: 'same', swap: false };
  if (b.length === 1 && a.length === n) return { kind: 'scalar', swap: false };
  if (a.length === 1 && b.length === n) return { kind: 'scalar', swap: true };
  const rowColB = a.length === n && shapesEqual(aShape, outShape) ? rowColPattern(bShape, outShape) : undefined;
  if (rowColB) return { kind: rowColB, swap: false };
  const rowColA = b.length === n && shapesEqual(bShape, outShape) ? rowColPattern(aShape, outShape) : undefined;
  if (rowColA) return { kind: rowColA, swap: true };
  return { kind: 'strided', swap: false };
}

function reduceKernel(op: ReduceOp, x: Arr, out: Arr, outer: number, red: number, inner: number): void {
  if (op === 'sum' && x instanceof Float32Array && outer * red * inner >= ELEMENTWISE_WASM_MIN) {
    sumF32(x, out as Float32Array, outer, red, inner);
    return;
  }
  if (op === 'sum') {
    // Accumulate in float64 (exact for int32 sums below 2^53) in increasing index order, round once.
    if (inner === 1) {
      for (let o = 0, base = 0; o < outer; o++, base += red) {
        let s = 0;
        for (let r = 0; r < red; r++) s += x[base + r]!;
        out[o] = s;
      }
      return;
    }
    const acc = new Float64Array(inner);
    for (let o = 0; o < outer; o++) {
      acc.fill(0);
      for (let r = 0, base = o * red * inner; r < red; r++, base += inner) for (let j = 0; j < inner; j++) acc[j] += x[base + j]!;
      for (let j = 0; j < inner; j++) out[o * inner + j] = acc[j]!;
    }
    return;
  }
  const isArg = op === 'argmax' || op === 'argmin';
  const sign = op === 'max' || op === 'argmax' ? 1 : -1;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const base = o * red * inner + j;
      // Compare sign·v so one loop serves max and min; strict '>' keeps the first index on ties.
      let best = sign * x[base]!;
      let bi = 0;
      if (best === best) {
        for (let r = 1, p = base + inner; r < red; r++, p += inner) {
          const v = sign * x[p]!;
          if (v > best) {
            best = v;
            bi = r;
          } else if (v !== v) {
            best = v;
            bi = r;
            break;
          }
        }
      }
      out[o * inner + j] = isArg ? bi : sign * best;
    }
  }
}

/** The int32 view of a float32 array's bits (same buffer). */
function bits(x: Arr): Int32Array {
  return new Int32Array(x.buffer, x.byteOffset, x.length);
}

/**
 * out = c ? a : b on the raw bits (a mask instead of a branch: a random bool mask
 * defeats branch prediction). Bit-exact, NaN payloads and −0 included.
 */
function selectBits(c: Arr, a: Int32Array, b: Int32Array | undefined, bScalar: number, out: Int32Array, n: number): void {
  if (b) for (let i = 0; i < n; i++) {
    const m = -(+(c[i]! !== 0)) | 0;
    out[i] = (a[i]! & m) | (b[i]! & ~m);
  }
  else for (let i = 0; i < n; i++) {
    const m = -(+(c[i]! !== 0)) | 0;
    out[i] = (a[i]! & m) | (bScalar & ~m);
  }
}

/**
 * relu as a bit mask: x < 0 → +0, anything else (−0, NaN, +∞) unchanged — without a branch.
 * x < 0 is read off the bits as unsigned 0x80000000 < w ≤ 0xff800000 (sign set, magnitude
 * non-zero and at most ∞), so the loop reads one view only (~25% faster than comparing the float).
 */
function reluBits(x: Float32Array, out: Float32Array, n: number): void {
  const xi = bits(x);
  const oi = bits(out);
  for (let i = 0; i < n; i++) {
    const w = xi[i]!;
    oi[i] = w & ~-(+((w >>> 0) > 0x80000000 && (w >>> 0) <= 0xff800000));
  }
}

/**
 * The elements of a typed array as integers of the same width: a copy through them
 * moves bits, never converting a float (NaN payloads, −0 and all).
 */
function words(x: Arr): Int32Array | Uint8Array {
  return x instanceof Float32Array ? bits(x) : x;
}

/** Whether a view reads one contiguous run of storage in order (size-1 axes aside). */
function isContiguous(v: View): boolean {
  let acc = 1;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    const n = v.shape[d]!;
    if (n === 1) continue;
    if (v.strides[d] !== acc) return false;
    acc *= n;
  }
  return true;
}

/**
 * The source offset of the next row of a row-by-row walk over `shape`: an odometer
 * over the axes above the last, `idx` holding their coordinates.
 */
function nextRow(idx: number[], shape: readonly number[], strides: readonly number[], src: number): number {
  for (let d = shape.length - 2; d >= 0; d--) {
    idx[d]!++;
    src += strides[d]!;
    if (idx[d]! < shape[d]!) return src;
    src -= strides[d]! * shape[d]!;
    idx[d] = 0;
  }
  return src;
}

/**
 * out[i] = x[base + Σ coord_d(i) · strides[d]] over `shape` (coalesced: no size-1 axes,
 * no mergeable neighbours; rank ≥ 1), row by row along the last axis with one flat
 * source offset — no per-element index arithmetic and no callback per row. Each kind of
 * row (contiguous, repeated, strided) has its own loop, so each stays tight.
 */
function copyRows(x: Int32Array | Uint8Array, out: Int32Array | Uint8Array, shape: readonly number[], strides: readonly number[], base: number): void {
  const r = shape.length;
  const len = shape[r - 1]!;
  const last = strides[r - 1]!;
  const n = out.length;
  const idx = new Array<number>(r).fill(0);
  let src = base;
  if (last === 1 && len >= 64) {
    for (let o = 0; o < n; o += len, src = nextRow(idx, shape, strides, src)) out.set(x.subarray(src, src + len), o);
  } else if (last === 1) {
    // Short rows (attention heads) copy faster by hand than through subarray + set.
    for (let o = 0; o < n; src = nextRow(idx, shape, strides, src)) for (let j = 0; j < len; j++) out[o++] = x[src + j]!;
  } else if (last === 0) {
    for (let o = 0; o < n; o += len, src = nextRow(idx, shape, strides, src)) out.fill(x[src]!, o, o + len);
  } else {
    for (let o = 0; o < n; src = nextRow(idx, shape, strides, src)) for (let j = 0, i = src; j < len; j++, i += last) out[o++] = x[i]!;
  }
}

/**
 * Softmax (or log-softmax) over rows of n values in float64 with Math.exp: the reference
 * the wasm kernel (wasm/softmax.ts) reproduces bit for bit. Exported for its tests.
 */
export function softmaxJs(x: Float32Array, out: Float32Array, rows: number, n: number, log: boolean): void {
  for (let r = 0, o = 0; r < rows; r++, o += n) {
    let m = -Infinity;
    for (let j = 0; j < n; j++) if (x[o + j]! > m) m = x[o + j]!;
    // An all −∞ row: shift by the lowest float instead (keeps log-softmax at −∞, not NaN).
    if (m === -Infinity) m = -3.4028234663852886e38;
    let s = 0;
    if (log) {
      for (let j = 0; j < n; j++) s += Math.exp(x[o + j]! - m);
      const ls = Math.log(s);
      for (let j = 0; j < n; j++) out[o + j] = x[o + j]! - m - ls;
    } else {
      // Keep each exp (rounded to float32, as the composite would) for the normalising pass.
      for (let j = 0; j < n; j++) s += out[o + j] = Math.exp(x[o + j]! - m);
      for (let j = 0; j < n; j++) out[o + j] = out[o + j]! / s;
    }
  }
}

/**
 * Softmax (or log-softmax) over rows of n values: the wasm kernel, or the JS loop for tiny
 * problems; the two give the same bits (wasm/softmax.ts).
 */
function softmaxRows(x: Float32Array, out: Float32Array, rows: number, n: number, log: boolean): void {
  if (rows * n >= SOFTMAX_WASM_MIN) softmaxF32(x, out, rows, n, log);
  else softmaxJs(x, out, rows, n, log);
}

/** [B, T, H·dh] → [B, H, T, dh] (the composite's splitHeads transpose, as a copy). */
function splitHeadsInto(x: Float32Array, out: Float32Array, b: number, t: number, h: number, dh: number): void {
  const d = h * dh;
  if (b * t * d >= ELEMENTWISE_WASM_MIN) {
    copyRows32(x, out, [b, h, t, dh], [t * d, dh, d, 1], 0);
    return;
  }
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      let o = (bi * h + hi) * t * dh;
      for (let ti = 0, src = bi * t * d + hi * dh; ti < t; ti++, src += d) for (let j = 0; j < dh; j++) out[o++] = x[src + j]!;
    }
  }
}

/** [B, H, T, dh] → [B, T, H·dh] (mergeHeads). */
function mergeHeadsInto(x: Float32Array, out: Float32Array, b: number, t: number, h: number, dh: number): void {
  const d = h * dh;
  if (b * t * d >= ELEMENTWISE_WASM_MIN) {
    copyRows32(x, out, [b, t, h, dh], [h * t * dh, dh, t * dh, 1], 0);
    return;
  }
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      let i = (bi * h + hi) * t * dh;
      for (let ti = 0, dst = bi * t * d + hi * dh; ti < t; ti++, dst += d) for (let j = 0; j < dh; j++) out[dst + j] = x[i++]!;
    }
  }
}

/**
 * Multi-head attention, forward only, with the composite's operations and bits (split
 * heads, q·kᵀ on the wasm matmul, ·scale, +bias, softmax, ·v, merge heads), but the scale
 * and the bias applied in one pass over the scores and no intermediate tensors. Declines
 * (undefined) while a tracer watches — under autodiff the composite runs as before, so
 * training's bits and its backward pass are unchanged.
 */
function attentionForward(q: Float32Array, k: Float32Array, v: Float32Array, bias: Float32Array | undefined, a: AttentionDims): Float32Array | undefined {
  if (isTracing()) return undefined;
  const { batch: b, heads: h, tq, tk, dh, scale, kvHeads } = a;
  const bh = b * h;
  const qh = alloc('float32', bh * tq * dh) as Float32Array;
  splitHeadsInto(q, qh, b, tq, h, dh);
  let kh = k;
  let vh = v;
  if (!kvHeads) {
    kh = alloc('float32', bh * tk * dh) as Float32Array;
    vh = alloc('float32', bh * tk * dh) as Float32Array;
    splitHeadsInto(k, kh, b, tk, h, dh);
    splitHeadsInto(v, vh, b, tk, h, dh);
  }
  const s = alloc('float32', bh * tq * tk) as Float32Array;
  matmulF32(qh, kh, s, bh, tq, dh, tk, false, true, tq * dh, tk * dh);
  // s·scale, then + bias, each rounded to float32 (the composite's mul and add).
  const sc = Math.fround(scale);
  if (s.length >= ELEMENTWISE_WASM_MIN) {
    if (bias) scaleBiasF32(s, [b, h, tq, tk], sc, bias, a.biasStrides!);
    else binaryF32('mul', 'scalar', false, s, new Float32Array([sc]), s, s.length / tk, tk);
  } else if (!bias) {
    for (let i = 0; i < s.length; i++) s[i] = s[i]! * sc;
  } else {
    const [s0, s1, s2, s3] = a.biasStrides!;
    let o = 0;
    for (let bi = 0; bi < b; bi++) {
      for (let hi = 0; hi < h; hi++) {
        for (let i = 0, row = bi * s0 + hi * s1; i < tq; i++, row += s2) {
          for (let j = 0, p = row; j < tk; j++, p += s3, o++) s[o] = Math.fround(s[o]! * sc) + bias[p]!;
        }
      }
    }
  }
  // In place: the wasm kernel copies the rows in and out; the JS loop reads each element before writing it.
  softmaxRows(s, s, bh * tq, tk, false);
  const oh = alloc('float32', bh * tq * dh) as Float32Array;
  matmulF32(s, vh, oh, bh, tq, tk, dh, false, false, tq * tk, tk * dh);
  const out = alloc('float32', b * tq * h * dh) as Float32Array;
  mergeHeadsInto(oh, out, b, tq, h, dh);
  release(qh);
  if (!kvHeads) {
    release(kh);
    release(vh);
  }
  release(s);
  release(oh);
  return out;
}

export function createCpuBackend(): Backend<Arr> {
  const be: Backend<Arr> = {
    name: 'cpu',
    upload(data, dtype) {
      const out = alloc(dtype, data.length);
      out.set(data);
      return out;
    },
    fill(value, size, dtype) {
      const out = alloc(dtype, size);
      out.fill(dtype === 'bool' ? (value ? 1 : 0) : value);
      return out;
    },
    async read(s) {
      return s.slice();
    },
    readSync(s) {
      return s.slice();
    },
    free: release,
    bytesInUse: () => bytes,
    async sync() {},

    unary(op: UnaryOp, x, size, dtype) {
      const out = alloc(dtype, size);
      if (op === 'relu' && dtype === 'float32' && size >= ELEMENTWISE_WASM_MIN) reluF32(x as Float32Array, out as Float32Array, size);
      else if (op === 'relu' && dtype === 'float32') reluBits(x as Float32Array, out as Float32Array, size);
      else unaryKernel(op)(x, out, size);
      return out;
    },
    binary(op: BinaryOp, a, aShape, b, bShape, outShape, dtype) {
      const n = sizeOf(outShape);
      const out = alloc(binaryOutDType(op, dtype), n);
      if (n === 0) return out;
      const { kind, swap } = binaryLayout(a, aShape, b, bShape, outShape, n);
      // The operand with the output's shape, and the other one.
      const [full, small] = swap ? [b, a] : [a, b];
      const last = outShape[outShape.length - 1]!;
      if (dtype === 'float32' && n >= ELEMENTWISE_WASM_MIN && kind !== 'strided') {
        if (hasWasmBinary(op)) {
          binaryF32(op, kind, swap, full as Float32Array, small as Float32Array, out as Float32Array, n / last, last);
          return out;
        }
        if (op === 'gt' && kind === 'scalar' && !swap) {
          gtScalarF32(a as Float32Array, b[0]!, out as Uint8Array, n);
          return out;
        }
      }
      const k = binaryKernels(op, dtype);
      if (kind === 'same') k.flat(a, b, out, n);
      else if (kind === 'scalar') (swap ? k.scalarA : k.scalarB)(full, small[0]!, out, n);
      else if (kind === 'row') (swap ? k.perRowA : k.perRowB)(full, small, out, n / last, last);
      else if (kind === 'col') (swap ? k.perColA : k.perColB)(full, small, out, n / last, last);
      else k.strided(a, b, out, outShape, broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape));
      return out;
    },
    where(c, cShape, a, aShape, b, bShape, outShape, dtype) {
      const n = sizeOf(outShape);
      const out = alloc(dtype, n);
      if (n === 0) return out;
      if (c.length === n && a.length === n && b.length === n) {
        if (dtype === 'float32' && n >= ELEMENTWISE_WASM_MIN) selectF32(c as Uint8Array, a as Float32Array, b as Float32Array, out as Float32Array, n);
        else if (dtype === 'float32') selectBits(c, bits(a), bits(b), 0, bits(out), n);
        else for (let i = 0; i < n; i++) out[i] = c[i] ? a[i]! : b[i]!;
      } else if (c.length === n && a.length === n && b.length === 1) {
        const bv = b[0]!;
        if (dtype === 'float32' && n >= ELEMENTWISE_WASM_MIN) selectF32(c as Uint8Array, a as Float32Array, b as Float32Array, out as Float32Array, n);
        else if (dtype === 'float32') selectBits(c, bits(a), undefined, bits(b)[0]!, bits(out), n);
        else for (let i = 0; i < n; i++) out[i] = c[i] ? a[i]! : bv;
      } else if (c.length === n && a.length === 1 && b.length === n) {
        const av = a[0]!;
        for (let i = 0; i < n; i++) out[i] = c[i] ? av : b[i]!;
      } else if (a.length === 1 && b.length === 1) {
        // A mask turned into values (e.g. an attention bias): c may broadcast.
        const cs = broadcastStrides(cShape, outShape);
        const [av, bv] = [a[0]!, b[0]!];
        forEachRow(outShape, cs, 0, (o, i, len, last) => {
          for (let j = 0; j < len; j++) out[o + j] = c[i + j * last] ? av : bv;
        });
      } else {
        // General broadcasting: walk rows of the output, one offset per operand.
        const r = outShape.length;
        const sc = broadcastStrides(cShape, outShape);
        const sa = broadcastStrides(aShape, outShape);
        const sb = broadcastStrides(bShape, outShape);
        const len = outShape[r - 1]!;
        const idx = new Array<number>(r).fill(0);
        let ci = 0, ai = 0, bi = 0;
        for (let o = 0; o < n; o += len) {
          for (let j = 0; j < len; j++) out[o + j] = c[ci + j * sc[r - 1]!] ? a[ai + j * sa[r - 1]!]! : b[bi + j * sb[r - 1]!]!;
          for (let d = r - 2; d >= 0; d--) {
            idx[d]!++;
            ci += sc[d]!; ai += sa[d]!; bi += sb[d]!;
            if (idx[d]! < outShape[d]!) break;
            ci -= sc[d]! * outShape[d]!; ai -= sa[d]! * outShape[d]!; bi -= sb[d]! * outShape[d]!;
            idx[d] = 0;
          }
        }
      }
      return out;
    },
    reduce(op, x, outer, red, inner, dtype) {
      const out = alloc(reduceOutDType(op, dtype), outer * inner);
      reduceKernel(op, x, out, outer, red, inner);
      return out;
    },
    matmul(a, b, batch, m, k, n, transA, transB, aStride, bStride) {
      const out = alloc('float32', batch * m * n) as Float32Array;
      matmulF32(a as Float32Array, b as Float32Array, out, batch, m, k, n, transA, transB, aStride, bStride);
      return out;
    },
    stridedCopy(x, v, dtype) {
      const n = sizeOf(v.shape);
      const out = alloc(dtype, n);
      if (n === 0) return out;
      // A contiguous run (a reshape-like slice, a broadcast adding leading 1s): one copy.
      if (isContiguous(v)) out.set(x.subarray(v.offset, v.offset + n));
      else {
        const c = coalesce(v.shape, [v.strides]);
        if (dtype !== 'bool' && n >= ELEMENTWISE_WASM_MIN) copyRows32(x as Float32Array | Int32Array, out as Float32Array | Int32Array, c.shape, c.strides[0]!, v.offset);
        else copyRows(words(x), words(out), c.shape, c.strides[0]!, v.offset);
      }
      return out;
    },
    pad(x, shape, before, outShape, value, dtype) {
      const out = alloc(dtype, sizeOf(outShape));
      out.fill(value);
      if (x.length === 0) return out;
      const outStrides = stridesOf(outShape);
      let base = 0;
      for (let d = 0; d < shape.length; d++) base += before[d]! * outStrides[d]!;
      // Walk the input rows; each lands contiguously in the output.
      forEachRow(shape, outStrides, base, (i, o, n) => out.set(x.subarray(i, i + n), o));
      return out;
    },
    concat(xs, layout, dtype) {
      const out = alloc(dtype, layout.size);
      const { outer, rowOut } = layout;
      xs.forEach((x, t) => {
        const { chunk, offset } = layout.parts[t]!;
        for (let o = 0; o < outer; o++) out.set(x.subarray(o * chunk, (o + 1) * chunk), o * rowOut + offset);
      });
      return out;
    },
    gather(x, outer, dim, inner, indices, count, dtype) {
      const idx = indices as Int32Array;
      for (let i = 0; i < count; i++) {
        const v = idx[i]!;
        if (v < 0 || v >= dim) {
          throw new TensorError('gather', `index ${v} at flat position ${i} is out of range for an axis of size ${dim}; expected 0 ≤ index < ${dim}`);
        }
      }
      const out = alloc(dtype, outer * count * inner);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < count; i++) {
          const src = (o * dim + idx[i]!) * inner;
          out.set(x.subarray(src, src + inner), (o * count + i) * inner);
        }
      }
      return out;
    },
    scatterAdd(updates, outer, dim, inner, indices, count, dtype) {
      const idx = indices as Int32Array;
      for (let i = 0; i < count; i++) {
        const v = idx[i]!;
        if (v < 0 || v >= dim) {
          throw new TensorError('scatterAdd', `index ${v} at flat position ${i} is out of range for an axis of size ${dim}; expected 0 ≤ index < ${dim}`);
        }
      }
      const out = alloc(dtype, outer * dim * inner, true);
      // Increasing i per output element: the same float32 rounding sequence as the webgpu kernel.
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < count; i++) {
          const dst = (o * dim + idx[i]!) * inner;
          const src = (o * count + i) * inner;
          for (let j = 0; j < inner; j++) out[dst + j] += updates[src + j]!;
        }
      }
      return out;
    },
    cast(x, size, from, to) {
      const out = alloc(to, size);
      if (to === 'bool') for (let i = 0; i < size; i++) out[i] = x[i] !== 0 ? 1 : 0;
      else if (to === 'int32' && from === 'float32') for (let i = 0; i < size; i++) out[i] = Math.trunc(x[i]!);
      else out.set(x);
      return out;
    },
    softmax(x, rows, n, log) {
      const out = alloc('float32', rows * n) as Float32Array;
      softmaxRows(x as Float32Array, out, rows, n, log);
      return out;
    },
    attention(q, k, v, bias, a) {
      return attentionForward(q as Float32Array, k as Float32Array, v as Float32Array, bias as Float32Array | undefined, a);
    },
    normalize(x, rows, n, eps) {
      const out = alloc('float32', rows * n);
      if (rows * n >= ELEMENTWISE_WASM_MIN) {
        normalizeF32(x as Float32Array, out as Float32Array, rows, n, eps);
        return out;
      }
      for (let r = 0, o = 0; r < rows; r++, o += n) {
        let s = 0;
        for (let j = 0; j < n; j++) s += x[o + j]!;
        const mu = s / n;
        let v = 0;
        for (let j = 0; j < n; j++) {
          const d = x[o + j]! - mu;
          v += d * d;
        }
        const rstd = 1 / Math.sqrt(v / n + eps);
        for (let j = 0; j < n; j++) out[o + j] = (x[o + j]! - mu) * rstd;
      }
      return out;
    },
    adamStep(g, m, v, p, size, c) {
      // The composite's float32 operations one by one (Math.fround after each), so the bits
      // are those of the separate ops: each is correctly rounded either way.
      const f = Math.fround;
      const m2 = alloc('float32', size), v2 = alloc('float32', size), u = alloc('float32', size);
      if (size >= ELEMENTWISE_WASM_MIN) {
        adamF32(g as Float32Array, m as Float32Array, v as Float32Array, p as Float32Array | undefined, m2 as Float32Array, v2 as Float32Array, u as Float32Array, size, c);
        return [m2, v2, u];
      }
      for (let i = 0; i < size; i++) {
        const gi = g[i]!, mi = m[i]!;
        const d = f(gi - mi);
        const mn = c.lerpFromM ? f(mi + f(d * c.lerp)) : f(gi - f(d * c.lerp));
        const vn = f(f(v[i]! * c.b2) + f(f(gi * c.oneMinusB2) * gi));
        const step = f(f(mn * c.negStepSize) / f(f(f(Math.sqrt(vn)) / c.bc2Sqrt) + c.eps));
        m2[i] = mn;
        v2[i] = vn;
        u[i] = p ? f(f(p[i]! * c.negDecay) + step) : step;
      }
      return [m2, v2, u];
    },
    random(key0, key1, size, dist) {
      const raw = alloc('int32', size) as Int32Array;
      philoxStream(key0, key1, raw);
      if (dist === 'bits') return raw;
      const out = alloc(randomDType(dist), size);
      for (let i = 0; i < size; i++) out[i] = wordToUniform(raw[i]!);
      release(raw);
      return out;
    },
  };
  return be;
}

/**
 * The webgpu backend: every primitive of `Backend` as a WGSL compute kernel,
 * run through Dawn's Node bindings.
 *
 * - Storage is a pooled GPUBuffer of 32-bit words (bool as u32 0/1), see pool.ts.
 * - Dispatches are batched into one command encoder and submitted lazily, see
 *   dispatcher.ts; `read` and `sync` submit.
 * - Kernels are generated per (op, dtype, rank) and compiled once, see kernels/.
 * - Asynchronous device failures (device lost, validation errors) are recorded
 *   and thrown as a TensorError from the next call into the backend.
 */
import type { AttentionDims, Backend } from '../backend.js';
import { allocHost, type DType, type HostArray } from '../dtype.js';
import { envVar } from '../env.js';
import { TensorError } from '../errors.js';
import { broadcastStrides, coalesce } from '../layout.js';
import type { BinaryOp, ReduceOp, UnaryOp } from '../primitives.js';
import { sizeOf } from '../shape.js';
import { openDevice, type WebGPUInfo, type WebGPUInitOptions } from './device.js';
import type { WebGPUStats } from './options.js';
import { Dispatcher, type Workgroups } from './dispatcher.js';
import { binaryKernel, castKernel, fillKernel, unaryKernel, whereKernel } from './kernels/elementwise.js';
import {
  ATTENTION_BINDINGS, attentionGradKVKernel, attentionGradQKernel, attentionGradRowsKernel, attentionLoops, attentionOutKernel, attentionRowsKernel,
} from './kernels/attention.js';
import { ROW_PASSES, adamBindings, adamKernel, normalizeGradKernel, normalizeKernel, softmaxGradKernel, softmaxKernel } from './kernels/fused.js';
import { concatKernel, gatherKernel, padKernel, scatterAddKernel, stridedCopyKernel } from './kernels/layout.js';
import { MATMUL_WG, matmulKernel, matmulVariant } from './kernels/matmul.js';
import { randomKernel } from './kernels/random.js';
import { reduceKernel } from './kernels/reduce.js';
import { BufferPool } from './pool.js';
import { checkRank } from './strides.js';
import { MAX_LOOP } from './wgsl.js';

/** A webgpu storage: a pooled buffer holding at least `size` 32-bit words. */
export interface GPUStorage {
  readonly buffer: GPUBuffer;
  freed: boolean;
}

/** The lowest float32, the shift of a row without a larger maximum (as the cpu and the composite). */
const LOWEST_F32 = -3.4028234663852886e38;

/** Fills up to this many elements are uploaded from the host instead of dispatched. */
const SMALL_FILL = 1024;
/** A reduction with fewer outputs than this and a long axis is split into chunks (two passes). */
const REDUCE_PARALLELISM = 16384;
const MIN_CHUNK = 64;

/** A function: GPUBufferUsage is one of the globals device.ts installs, absent at import time. */
const STORAGE_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** The 32-bit pattern a value has when stored as `dtype`. */
function valueBits(value: number, dtype: DType): number {
  if (dtype === 'float32') return new Uint32Array(new Float32Array([value]).buffer)[0]!;
  if (dtype === 'int32') return value >>> 0;
  return value ? 1 : 0;
}

/** Negative int32 parameters travel as their two's-complement u32 bits. */
const u32 = (xs: readonly number[]): number[] => xs.map((x) => x >>> 0);

interface Runtime {
  device: GPUDevice;
  pool: BufferPool;
  dispatcher: Dispatcher;
  /** Invocations per workgroup of the 1-D kernels. */
  wg: number;
  liveBytes: number;
  /** Set once the device is lost (other than by our own destroy). */
  lost: string | undefined;
  /** The first asynchronous GPU error not yet reported. */
  error: string | undefined;
  destroyed: boolean;
}

const runtimes = new WeakMap<Backend, Runtime>();


export type { WebGPUStats } from './options.js';

/** Counters of a webgpu backend (cumulative since it was created), for tests, benches and diagnostics. */
export function webgpuStats(b: Backend): WebGPUStats {
  const rt = runtimes.get(b);
  if (!rt) throw new TensorError('webgpuStats', `expected the webgpu backend, got '${b.name}'`, 'backend');
  const st = rt.dispatcher.stats;
  return {
    ...st,
    storageBytesWritten: st.kernelBytes + st.copyBytes + st.uploadBytes,
    buffersCreated: rt.pool.created,
    pooledBytes: rt.pool.pooledBytes + rt.dispatcher.localBytes,
    liveBytes: rt.liveBytes,
    byKernel: Object.fromEntries([...rt.dispatcher.byKernel].map(([k, v]) => [k, { ...v }])),
  };
}

export async function createWebGPUBackend(opts: WebGPUInitOptions): Promise<{ backend: Backend; info: WebGPUInfo }> {
  const { device, info } = await openDevice(opts);
  const pool = new BufferPool(device);
  const rt: Runtime = {
    device,
    pool,
    dispatcher: new Dispatcher(device, pool, device.limits.maxComputeWorkgroupsPerDimension, (msg) => (rt.error ??= msg)),
    wg: Math.min(256, device.limits.maxComputeInvocationsPerWorkgroup, device.limits.maxComputeWorkgroupSizeX),
    liveBytes: 0,
    lost: undefined,
    error: undefined,
    destroyed: false,
  };
  void device.lost.then((l) => {
    if (!rt.destroyed) rt.lost = `the GPU device was lost (${l.reason}): ${l.message}`;
  });
  device.addEventListener('uncapturederror', (ev) => {
    rt.error ??= (ev as GPUUncapturedErrorEvent).error.message;
  });
  const backend = makeBackend(rt, opts.fused ?? envVar('TANDEM_WEBGPU_FUSED') !== '0');
  runtimes.set(backend, rt);
  return { backend, info };
}

/** Destroys the device and drops every GPU object, so Node can exit. Later calls throw. */
export function destroyWebGPUBackend(b: Backend): void {
  const rt = runtimes.get(b);
  if (!rt || rt.destroyed) return;
  rt.destroyed = true;
  rt.dispatcher.dispose();
  rt.pool.clear();
  rt.device.destroy();
}

function makeBackend(rt: Runtime, fused: boolean): Backend<GPUStorage> {
  const { dispatcher } = rt;
  const wg = rt.wg;

  /** Generated WGSL, memoised by a short key so each op does not rebuild (and rehash) its source. */
  const sources = new Map<string, string>();
  const src = (key: string, gen: () => string): string => {
    let s = sources.get(key);
    if (s === undefined) sources.set(key, (s = gen()));
    return s;
  };

  function check(op: string): void {
    if (rt.destroyed) throw new TensorError(op, 'the webgpu backend was shut down (shutdownWebGPU); initialise it again with initBackend(\'webgpu\')', 'backend');
    if (rt.lost) throw new TensorError(op, `webgpu: ${rt.lost}`, 'backend');
    if (rt.error) {
      const e = rt.error;
      rt.error = undefined;
      throw new TensorError(op, `webgpu: an earlier GPU command failed, so results since then are unreliable: ${e}`, 'backend');
    }
  }

  /** New storage of `size` words; `forQueueWrite` when it will be filled by queue.writeBuffer. */
  function alloc(op: string, size: number, forQueueWrite = false): GPUStorage {
    check(op);
    const buffer = dispatcher.acquire(size * 4, STORAGE_USAGE(), forQueueWrite, op);
    rt.liveBytes += buffer.size;
    return { buffer, freed: false };
  }

  /** Records one kernel; `writes` is the number of 32-bit words it writes (for the counters). */
  function run(key: string, gen: () => string, label: string, buffers: GPUBuffer[], params: number[], groups: Workgroups, writes: number): void {
    dispatcher.dispatch(src(key, gen), label, buffers, params, groups, writes * 4);
  }
  const grid = (n: number) => dispatcher.grid1D(n, wg);

  /**
   * Reduces x [outer, red, inner] over red into `out`. With few outputs and a long
   * axis, chunks of `len` are reduced first into [outer, groups, inner] partials,
   * which are reduced again. Chunks longer than MAX_LOOP run in segments.
   */
  function reduceInto(op: ReduceOp, x: GPUStorage, outer: number, red: number, inner: number, dtype: DType, out: GPUStorage): void {
    const outputs = outer * inner;
    let groups = 1;
    if (op !== 'argmax' && op !== 'argmin' && red > 4 * MIN_CHUNK && outputs < REDUCE_PARALLELISM) {
      groups = Math.min(Math.ceil(red / MIN_CHUNK), Math.ceil(REDUCE_PARALLELISM / outputs));
    }
    const len = Math.ceil(red / groups);
    groups = Math.ceil(red / len);
    const target = groups === 1 ? out : alloc(op, outer * groups * inner);
    const n = outer * groups * inner;
    for (let seg = 0; seg < len; seg += MAX_LOOP) {
      run(`reduce:${op}:${dtype}`, () => reduceKernel(op, dtype, wg), op, [x.buffer, target.buffer],
        [n, red, inner, groups, len, seg, Math.min(len, seg + MAX_LOOP), seg === 0 ? 1 : 0], grid(n), n);
    }
    if (groups > 1) {
      reduceInto(op, target, outer, groups, inner, dtype, out);
      be.free(target);
    }
  }

  /** A float32 scalar storage (freed by the caller). */
  const scalar = (v: number) => be.fill(v, 1, 'float32');

  /** Softmax of long rows from primitive kernels: shift by max(row max, lowest), exp, sum, divide (or subtract the log). */
  function composedSoftmax(x: GPUStorage, rows: number, n: number, log: boolean): GPUStorage {
    const row = [rows, n], col = [rows, 1];
    const lo = scalar(LOWEST_F32);
    const mx = be.reduce('max', x, rows, n, 1, 'float32');
    const m = be.binary('maximum', mx, col, lo, [], col, 'float32');
    const z = be.binary('sub', x, row, m, col, row, 'float32');
    const e = be.unary('exp', z, rows * n, 'float32');
    const s = be.reduce('sum', e, rows, n, 1, 'float32');
    let out: GPUStorage;
    if (log) {
      const ls = be.unary('log', s, rows, 'float32');
      out = be.binary('sub', z, row, ls, col, row, 'float32');
      be.free(ls);
    } else out = be.binary('div', e, row, s, col, row, 'float32');
    for (const t of [lo, mx, m, z, e, s]) be.free(t);
    return out;
  }

  /** normalize of long rows from primitive kernels: the composite's mean, centring, variance and rsqrt. */
  function composedNormalize(x: GPUStorage, rows: number, n: number, eps: number): GPUStorage {
    const row = [rows, n], col = [rows, 1];
    const cnt = scalar(n), ep = scalar(eps);
    const s = be.reduce('sum', x, rows, n, 1, 'float32');
    const mu = be.binary('div', s, col, cnt, [], col, 'float32');
    const xc = be.binary('sub', x, row, mu, col, row, 'float32');
    const sq = be.binary('mul', xc, row, xc, row, row, 'float32');
    const ss = be.reduce('sum', sq, rows, n, 1, 'float32');
    const va = be.binary('div', ss, col, cnt, [], col, 'float32');
    const ve = be.binary('add', va, col, ep, [], col, 'float32');
    const r = be.unary('rsqrt', ve, rows, 'float32');
    const out = be.binary('mul', xc, row, r, col, row, 'float32');
    for (const t of [cnt, ep, s, mu, xc, sq, ss, va, ve, r]) be.free(t);
    return out;
  }

  const manyBindings = rt.device.limits.maxStorageBuffersPerShaderStage >= Math.max(ATTENTION_BINDINGS, adamBindings(true));

  /** The attention kernels' parameter words (kernels/attention.ts), with `n` invocations. */
  function attentionParams(n: number, a: AttentionDims): number[] {
    const bs = a.biasStrides ?? [0, 0, 0, 0];
    return [n, a.batch, a.heads, a.tq, a.tk, a.dh, valueBits(a.scale, 'float32'), a.biasStrides ? 1 : 0, a.kvHeads ? 1 : 0, ...bs];
  }
  /** Whether every attention loop of these sizes stays within MAX_LOOP (else the caller composes). */
  const attentionFits = (a: AttentionDims, grad: boolean) =>
    a.tk <= MAX_LOOP && a.tq <= MAX_LOOP && (grad ? attentionLoops.backwardRows(a.tk, a.dh) : attentionLoops.forwardRows(a.tk, a.dh)) <= MAX_LOOP;

  const be: Backend<GPUStorage> = {
    name: 'webgpu',

    upload(data, dtype) {
      const out = alloc('upload', data.length, true);
      if (data.length > 0) {
        // bool arrives as bytes and is stored as u32 words.
        const words = dtype === 'bool' ? Uint32Array.from(data) : data;
        rt.device.queue.writeBuffer(out.buffer, 0, words.buffer, words.byteOffset, words.byteLength);
        dispatcher.stats.uploadBytes += words.byteLength;
      }
      return out;
    },

    fill(value, size, dtype) {
      const out = alloc('fill', size, size <= SMALL_FILL);
      if (size === 0) return out;
      const bits = valueBits(value, dtype);
      // Allocated for a queue write: no pending command references this buffer, so
      // writing it from the queue (which runs before the pending encoder) is safe.
      if (size <= SMALL_FILL) {
        rt.device.queue.writeBuffer(out.buffer, 0, new Uint32Array(size).fill(bits));
        dispatcher.stats.uploadBytes += size * 4;
      } else if (bits === 0) dispatcher.clear(out.buffer, size * 4);
      else run('fill', () => fillKernel(wg), 'fill', [out.buffer], [size, bits], grid(size), size);
      return out;
    },

    async read(s, dtype, size) {
      check('read');
      if (size === 0) return allocHost(dtype, 0);
      const bytes = size * 4;
      const staging = rt.pool.acquire(bytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'read');
      dispatcher.copy(s.buffer, staging, bytes, 0, 0, true);
      dispatcher.flush();
      try {
        await staging.mapAsync(GPUMapMode.READ, 0, bytes);
      } catch (e) {
        staging.destroy();
        check('read');
        throw new TensorError('read', `webgpu: reading a result back failed: ${(e as Error).message}`, 'backend');
      }
      const mapped = staging.getMappedRange(0, bytes);
      let out: HostArray;
      if (dtype === 'float32') out = new Float32Array(mapped.slice(0));
      else if (dtype === 'int32') out = new Int32Array(mapped.slice(0));
      else out = Uint8Array.from(new Uint32Array(mapped));
      staging.unmap();
      if (rt.destroyed) staging.destroy();
      else rt.pool.release(staging);
      check('read');
      return out;
    },

    free(s) {
      if (s.freed) return;
      s.freed = true;
      if (rt.destroyed) return;
      rt.liveBytes -= s.buffer.size;
      dispatcher.release(s.buffer);
    },

    bytesInUse: () => rt.liveBytes,

    async sync() {
      check('sync');
      dispatcher.flush();
      await rt.device.queue.onSubmittedWorkDone();
      check('sync');
    },

    unary(op: UnaryOp, x, size, dtype) {
      const out = alloc(op, size);
      if (size > 0) run(`unary:${op}:${dtype}`, () => unaryKernel(op, dtype, wg), op, [x.buffer, out.buffer], [size], grid(size), size);
      return out;
    },

    binary(op: BinaryOp, a, aShape, b, bShape, outShape, dtype) {
      const n = sizeOf(outShape);
      const out = alloc(op, n);
      if (n === 0) return out;
      const c = coalesce(outShape, [broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape)]);
      const rank = c.shape.length;
      checkRank(op, rank);
      run(`binary:${op}:${dtype}:${rank}`, () => binaryKernel(op, dtype, rank, wg), op, [a.buffer, b.buffer, out.buffer],
        [n, ...c.shape, ...c.strides[0]!, ...c.strides[1]!], grid(n), n);
      return out;
    },

    where(cond, cShape, a, aShape, b, bShape, outShape, _dtype) {
      const n = sizeOf(outShape);
      const out = alloc('where', n);
      if (n === 0) return out;
      const c = coalesce(outShape, [cShape, aShape, bShape].map((s) => broadcastStrides(s, outShape)));
      const rank = c.shape.length;
      checkRank('where', rank);
      run(`where:${rank}`, () => whereKernel(rank, wg), 'where', [cond.buffer, a.buffer, b.buffer, out.buffer],
        [n, ...c.shape, ...c.strides[0]!, ...c.strides[1]!, ...c.strides[2]!], grid(n), n);
      return out;
    },

    reduce(op, x, outer, red, inner, dtype) {
      const out = alloc(op, outer * inner);
      if (outer * inner === 0) return out;
      if (red === 0) dispatcher.clear(out.buffer, outer * inner * 4); // sum of nothing (the front end rejects the others)
      else reduceInto(op, x, outer, red, inner, dtype, out);
      return out;
    },

    matmul(a, b, batch, m, k, n, transA, transB, aStride, bStride) {
      const out = alloc('matmul', batch * m * n);
      if (batch * m * n === 0) return out;
      const v = matmulVariant(m, k, n, transA, transB, aStride, bStride);
      const key = `matmul:${+v.transA}${+v.transB}${+v.vecA}${+v.vecB}${+v.vecC}`;
      const gx = Math.ceil(Math.ceil(n / 4) / MATMUL_WG[0]);
      const gy = Math.ceil(Math.ceil(m / 4) / MATMUL_WG[1]);
      const maxDim = rt.device.limits.maxComputeWorkgroupsPerDimension;
      if (gx > maxDim || gy > maxDim) throw new TensorError('matmul', `webgpu: a ${m}×${n} output exceeds the dispatch grid; split the product`, 'backend');
      // The batch runs along z, in chunks when it exceeds the grid.
      for (let first = 0; first < batch; first += maxDim) {
        const z = Math.min(maxDim, batch - first);
        // k in segments of whole vec4 steps (see MAX_LOOP); k = 0 still runs once to write zeros.
        for (let p = 0; p === 0 || p < k; p += 4 * MAX_LOOP) {
          run(key, () => matmulKernel(v), 'matmul', [a.buffer, b.buffer, out.buffer],
            [m, k, n, aStride, bStride, first, p, Math.min(k, p + 4 * MAX_LOOP)], [gx, gy, z], z * m * n);
        }
      }
      return out;
    },

    stridedCopy(x, v, _dtype) {
      const op = 'stridedCopy';
      const n = sizeOf(v.shape);
      const out = alloc(op, n);
      if (n === 0) return out;
      const c = coalesce(v.shape, [v.strides]);
      const rank = c.shape.length;
      const st = c.strides[0]!;
      if (rank === 0 || (rank === 1 && st[0] === 1)) {
        // A contiguous run: a plain buffer copy.
        dispatcher.copy(x.buffer, out.buffer, n * 4, v.offset * 4, 0);
        return out;
      }
      checkRank(op, rank);
      run(`copy:${rank}`, () => stridedCopyKernel(rank, wg), op, [x.buffer, out.buffer], [n, v.offset >>> 0, ...c.shape, ...u32(st)], grid(n), n);
      return out;
    },

    pad(x, shape, before, outShape, value, dtype) {
      const n = sizeOf(outShape);
      const out = alloc('pad', n);
      if (n === 0) return out;
      // Axes of size 1 in both x and the output are neither padded nor indexed.
      const keep = outShape.map((_, d) => d).filter((d) => outShape[d] !== 1 || shape[d] !== 1);
      const rank = keep.length;
      checkRank('pad', rank);
      run(`pad:${rank}`, () => padKernel(rank, wg), 'pad', [x.buffer, out.buffer],
        [n, valueBits(value, dtype), ...keep.map((d) => outShape[d]!), ...keep.map((d) => before[d]!), ...keep.map((d) => shape[d]!)], grid(n), n);
      return out;
    },

    concat(xs, layout, _dtype) {
      const out = alloc('concat', layout.size);
      if (layout.size === 0) return out;
      const { outer, rowOut } = layout;
      xs.forEach((x, t) => {
        const { chunk, offset } = layout.parts[t]!;
        if (chunk === 0) return;
        // One contiguous block per input when there is a single row: a buffer copy.
        if (outer === 1) dispatcher.copy(x.buffer, out.buffer, chunk * 4, 0, offset * 4);
        else run('concat', () => concatKernel(wg), 'concat', [x.buffer, out.buffer], [outer * chunk, chunk, rowOut, offset], grid(outer * chunk), outer * chunk);
      });
      return out;
    },

    gather(x, outer, dim, inner, indices, count, _dtype) {
      const n = outer * count * inner;
      const out = alloc('gather', n);
      if (n > 0) run('gather', () => gatherKernel(wg), 'gather', [x.buffer, indices.buffer, out.buffer], [n, count, inner, dim], grid(n), n);
      return out;
    },

    scatterAdd(updates, outer, dim, inner, indices, count, dtype) {
      const n = outer * dim * inner;
      const out = alloc('scatterAdd', n);
      // count in segments (see MAX_LOOP); count = 0 still runs once to write zeros.
      for (let kb = 0; n > 0 && (kb === 0 || kb < count); kb += MAX_LOOP) {
        run(`scatterAdd:${dtype}`, () => scatterAddKernel(dtype, wg), 'scatterAdd', [updates.buffer, indices.buffer, out.buffer],
          [n, dim, inner, count, kb, Math.min(count, kb + MAX_LOOP)], grid(n), n);
      }
      return out;
    },

    cast(x, size, from, to) {
      const out = alloc('cast', size);
      if (size === 0) return out;
      if (from === to) dispatcher.copy(x.buffer, out.buffer, size * 4);
      else run(`cast:${from}:${to}`, () => castKernel(from, to, wg), 'cast', [x.buffer, out.buffer], [size], grid(size), size);
      return out;
    },

    // Fused row ops: one invocation per row, a few passes over it (kernels/fused.ts). Longer
    // rows would pass llvmpipe's loop limit; the forward ops compose them from the primitive
    // kernels instead (the composite's arithmetic), the gradients decline (the rule composes).
    softmax(x, rows, n, log) {
      const op = log ? 'logSoftmax' : 'softmax';
      if (n * ROW_PASSES.softmax > MAX_LOOP) return composedSoftmax(x, rows, n, log);
      const out = alloc(op, rows * n);
      if (rows * n > 0) run(`${op}`, () => softmaxKernel(log, wg), op, [x.buffer, out.buffer], [rows, n], grid(rows), rows * n);
      return out;
    },

    normalize(x, rows, n, eps) {
      if (n * ROW_PASSES.normalize > MAX_LOOP) return composedNormalize(x, rows, n, eps);
      const out = alloc('normalize', rows * n);
      if (rows * n > 0) run('normalize', () => normalizeKernel(wg), 'normalize', [x.buffer, out.buffer], [rows, n, valueBits(eps, 'float32')], grid(rows), rows * n);
      return out;
    },

    softmaxGrad(y, ct, rows, n, log) {
      if (n * ROW_PASSES.softmaxGrad > MAX_LOOP) return undefined;
      const op = log ? 'logSoftmaxGrad' : 'softmaxGrad';
      const out = alloc(op, rows * n);
      if (rows * n > 0) run(op, () => softmaxGradKernel(log, wg), op, [y.buffer, ct.buffer, out.buffer], [rows, n], grid(rows), rows * n);
      return out;
    },

    normalizeGrad(x, ct, rows, n, eps) {
      if (n * ROW_PASSES.normalizeGrad > MAX_LOOP) return undefined;
      const out = alloc('normalizeGrad', rows * n);
      if (rows * n > 0) run('normalizeGrad', () => normalizeGradKernel(wg), 'normalizeGrad', [x.buffer, ct.buffer, out.buffer], [rows, n, valueBits(eps, 'float32')], grid(rows), rows * n);
      return out;
    },

    attention(q, k, v, bias, a) {
      if (!manyBindings || !attentionFits(a, false)) return undefined;
      const rows = a.batch * a.heads * a.tq;
      const n = a.batch * a.tq * a.heads * a.dh;
      const out = alloc('attention', n);
      if (n === 0) return out;
      const pr = alloc('attention', rows * a.tk);
      if (rows * a.tk > 0) {
        run('attention:rows', () => attentionRowsKernel(wg), 'attention', [q.buffer, k.buffer, (bias ?? q).buffer, pr.buffer],
          attentionParams(rows, a), grid(rows), rows * a.tk);
      }
      run('attention:out', () => attentionOutKernel(wg), 'attention', [pr.buffer, v.buffer, out.buffer], attentionParams(n, a), grid(n), n);
      be.free(pr);
      return out;
    },

    attentionGrad(q, k, v, bias, ct, a) {
      if (!manyBindings || !attentionFits(a, true)) return undefined;
      const rows = a.batch * a.heads * a.tq;
      const nq = a.batch * a.tq * a.heads * a.dh;
      const nk = a.batch * a.tk * a.heads * a.dh;
      const dq = alloc('attentionGrad', nq), dk = alloc('attentionGrad', nk), dv = alloc('attentionGrad', nk);
      const pr = alloc('attentionGrad', rows * a.tk), ds = alloc('attentionGrad', rows * a.tk);
      if (rows * a.tk > 0) {
        run('attention:grad-rows', () => attentionGradRowsKernel(wg), 'attentionGrad', [q.buffer, k.buffer, v.buffer, (bias ?? q).buffer, ct.buffer, pr.buffer, ds.buffer],
          attentionParams(rows, a), grid(rows), 2 * rows * a.tk);
      }
      // With Tk = 0 the sums are empty: dq is zeros (and dk, dv have no elements).
      if (nq > 0) run('attention:grad-q', () => attentionGradQKernel(wg), 'attentionGrad', [ds.buffer, k.buffer, dq.buffer], attentionParams(nq, a), grid(nq), nq);
      if (nk > 0) run('attention:grad-kv', () => attentionGradKVKernel(wg), 'attentionGrad', [ds.buffer, pr.buffer, q.buffer, ct.buffer, dk.buffer, dv.buffer], attentionParams(nk, a), grid(nk), 2 * nk);
      be.free(pr);
      be.free(ds);
      return [dq, dk, dv];
    },

    adamStep: manyBindings ? (g, m, v, p, size, c) => {
      const outs = [alloc('adamStep', size), alloc('adamStep', size), alloc('adamStep', size)] as const;
      if (size > 0) {
        const f = (x: number) => valueBits(x, 'float32');
        const ins = p ? [g, m, v, p] : [g, m, v];
        run(`adam:${+c.lerpFromM}${+!!p}`, () => adamKernel(c.lerpFromM, !!p, wg), 'adamStep', [...ins, ...outs].map((s) => s.buffer),
          [size, f(c.lerp), f(c.b2), f(c.oneMinusB2), f(c.negStepSize), f(c.bc2Sqrt), f(c.eps), f(c.negDecay)], grid(size), 3 * size);
      }
      return [...outs];
    } : undefined,

    random(key0, key1, size, dist) {
      const out = alloc('random', size);
      if (size === 0) return out;
      const blocks = Math.ceil(size / 4);
      run('random', () => randomKernel(wg), 'random', [out.buffer], [blocks, size, key0 >>> 0, key1 >>> 0, dist === 'uniform' ? 1 : 0], grid(blocks), size);
      return out;
    },
  };
  if (!fused) {
    // The unfused backend (fused: false): every composite runs as its primitives, as before
    // the fused kernels existed — the baseline the counters are compared with.
    for (const k of FUSED_OPS) delete be[k];
  }
  return be;
}

/** The optional fused ops of the webgpu backend (docs/decisions/webgpu-fusion.md). */
const FUSED_OPS = ['softmax', 'normalize', 'softmaxGrad', 'normalizeGrad', 'attention', 'attentionGrad', 'adamStep'] as const;

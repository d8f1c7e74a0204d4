/**
 * Records kernel dispatches into one command encoder and submits them lazily.
 *
 * Why batch: a submit costs far more than a dispatch (tens of µs in Dawn, more on
 * llvmpipe), and an eager training step issues hundreds of small kernels. Work is
 * submitted when a result is read, on `sync()`, when a batch fills up, and at the
 * end of the current JS task (a microtask), so the GPU never idles behind a
 * synchronous loop for long.
 *
 * Per-dispatch parameters live in one uniform "arena" buffer per batch, one
 * 256-byte slot per dispatch (256 = the largest minUniformBufferOffsetAlignment).
 * The arena is written with a single queue.writeBuffer right before its batch is
 * submitted. A single params buffer rewritten per dispatch would be wrong:
 * writeBuffer runs at queue time, before every command of the still-unsubmitted
 * encoder, so all dispatches would see the last values.
 *
 * Buffer lifetime: a storage freed while the open encoder may still reference it
 * must not be written by queue.writeBuffer (uploads, small fills) before that
 * encoder is submitted: the write would run before the pending commands that
 * still read it. Such a buffer goes to an encoder-local free list instead: later
 * commands of the same encoder may reuse it as a kernel output (commands of one
 * encoder run in order, with the hazards between dispatches synchronised by
 * WebGPU), which keeps the memory peak of a batch low; after the submit it joins
 * the pool, where queue writes may take it too.
 */
import { TensorError } from '../errors.js';
import { sizeClass, type BufferPool } from './pool.js';

/** Bytes of parameters each dispatch gets (64 u32 words); matches `Params` in wgsl.ts. */
export const PARAM_SLOT_BYTES = 256;
export const PARAM_WORDS = PARAM_SLOT_BYTES / 4;
/** Dispatches per submit at most (one arena of this many slots). */
const MAX_BATCH = 64;

interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

export type Workgroups = readonly [number, number, number];

export class Dispatcher {
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private arena: GPUBuffer | undefined;
  private readonly arenaHost = new Uint32Array((MAX_BATCH * PARAM_SLOT_BYTES) / 4);
  private slots = 0;
  /** Commands recorded in the open encoder (dispatches and copies). */
  private pendingCommands = 0;
  /** Buffers freed while the open encoder may use them, by `usage:size`: reusable only by its commands. */
  private local = new Map<string, GPUBuffer[]>();
  private readonly pipelines = new Map<string, CachedPipeline>();
  private flushScheduled = false;
  /**
   * Totals for diagnostics, tests and the benches (always on: a few additions per command).
   * What a real GPU pays for: `dispatches` (compute dispatches recorded), `copies`
   * (buffer-to-buffer copies and clears), and the bytes written to storage buffers —
   * by kernels (`kernelBytes`: the elements each dispatch writes, ×4), by copies and
   * clears (`copyBytes`), and by queue writes from the host (`uploadBytes`, counted by
   * the backend). `readbackBytes`: bytes copied into staging buffers to read results.
   */
  readonly stats = { dispatches: 0, submits: 0, pipelines: 0, copies: 0, kernelBytes: 0, copyBytes: 0, uploadBytes: 0, readbackBytes: 0 };
  /** Dispatches and kernel bytes by kernel label (where the counts above come from). */
  readonly byKernel = new Map<string, { dispatches: number; bytes: number }>();

  constructor(
    private readonly device: GPUDevice,
    private readonly pool: BufferPool,
    /** Workgroups per grid dimension (maxComputeWorkgroupsPerDimension). */
    private readonly maxGroupsPerDim: number,
    /** Called with a message when a pipeline fails to compile or validate. */
    private readonly onError: (message: string) => void,
  ) {}

  /** The pipeline for a WGSL source whose entry point is `main` (compiled once per source). */
  private pipelineFor(code: string, label: string): CachedPipeline {
    let p = this.pipelines.get(code);
    if (!p) {
      // Compile errors arrive asynchronously; attribute them to the kernel by label.
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ code, label });
      const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label });
      void this.device.popErrorScope().then((err) => {
        if (err) this.onError(`kernel '${label}' failed to build: ${err.message}`);
      }, () => {});
      p = { pipeline, layout: pipeline.getBindGroupLayout(0) };
      this.pipelines.set(code, p);
      this.stats.pipelines++;
    }
    return p;
  }

  private ensureEncoder(): GPUCommandEncoder {
    if (!this.encoder) {
      this.encoder = this.device.createCommandEncoder();
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(() => {
          this.flushScheduled = false;
          this.flush();
        });
      }
    }
    return this.encoder;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = undefined;
    }
  }

  /**
   * Records one dispatch: `buffers` bind to @binding(1..) in order, `params` (u32
   * words; pass negative ints and float bits already converted) to @binding(0).
   * `writes`: the bytes of storage the dispatch writes (for the counters).
   */
  dispatch(code: string, label: string, buffers: readonly GPUBuffer[], params: ArrayLike<number>, groups: Workgroups, writes: number): void {
    if (params.length > PARAM_WORDS) throw new TensorError(label, `internal: ${params.length} parameter words exceed the ${PARAM_WORDS} a dispatch has`, 'backend');
    if (groups[0] === 0 || groups[1] === 0 || groups[2] === 0) return;
    if (this.slots === MAX_BATCH) this.flush();
    const { pipeline, layout } = this.pipelineFor(code, label);
    const encoder = this.ensureEncoder();
    if (!this.arena) this.arena = this.pool.acquire(this.arenaHost.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'params');
    const slot = this.slots++;
    const base = slot * PARAM_WORDS;
    for (let i = 0; i < params.length; i++) this.arenaHost[base + i] = params[i]!;
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.arena, offset: slot * PARAM_SLOT_BYTES, size: PARAM_SLOT_BYTES } }];
    for (let i = 0; i < buffers.length; i++) entries.push({ binding: i + 1, resource: { buffer: buffers[i]! } });
    const bindGroup = this.device.createBindGroup({ layout, entries });
    // One compute pass holds many dispatches: each dispatch is its own
    // synchronisation scope, so a later one sees an earlier one's writes.
    if (!this.pass) this.pass = encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    this.pendingCommands++;
    this.stats.dispatches++;
    this.stats.kernelBytes += writes;
    let k = this.byKernel.get(label);
    if (!k) this.byKernel.set(label, (k = { dispatches: 0, bytes: 0 }));
    k.dispatches++;
    k.bytes += writes;
  }

  /** Workgroups covering `threads` invocations of `wgSize`, in 2-D when one dimension is not enough. */
  grid1D(threads: number, wgSize: number): Workgroups {
    const g = Math.ceil(threads / wgSize);
    if (g <= this.maxGroupsPerDim) return [g, 1, 1];
    const y = Math.ceil(g / this.maxGroupsPerDim);
    if (y > this.maxGroupsPerDim) throw new TensorError('webgpu', `${threads} elements exceed what one dispatch can cover`, 'backend');
    return [this.maxGroupsPerDim, y, 1];
  }

  /** Records a buffer copy; `readback`: into a staging buffer to read a result (counted apart). */
  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number, srcOffset = 0, dstOffset = 0, readback = false): void {
    const encoder = this.ensureEncoder();
    this.endPass();
    encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.pendingCommands++;
    if (readback) this.stats.readbackBytes += bytes;
    else {
      this.stats.copies++;
      this.stats.copyBytes += bytes;
    }
  }

  clear(dst: GPUBuffer, bytes: number): void {
    const encoder = this.ensureEncoder();
    this.endPass();
    encoder.clearBuffer(dst, 0, bytes);
    this.pendingCommands++;
    this.stats.copies++;
    this.stats.copyBytes += bytes;
  }

  /**
   * A buffer for storage. `forQueueWrite`: it will be filled by queue.writeBuffer,
   * so it must not be one that pending commands of the open encoder use.
   */
  acquire(bytes: number, usage: GPUBufferUsageFlags, forQueueWrite: boolean, label?: string): GPUBuffer {
    if (!forQueueWrite && this.local.size > 0) {
      const size = sizeClass(bytes);
      const b = this.local.get(`${usage}:${size}`)?.pop();
      if (b) return b;
    }
    return this.pool.acquire(bytes, usage, label);
  }

  /** Takes `b` back: into the pool, or the encoder-local list while the open encoder may use it. */
  release(b: GPUBuffer): void {
    if (this.pendingCommands === 0) {
      this.pool.release(b);
      return;
    }
    const key = `${b.usage}:${b.size}`;
    let list = this.local.get(key);
    if (!list) this.local.set(key, (list = []));
    list.push(b);
  }

  /** Bytes in encoder-local free lists (counted with the pool's free bytes). */
  get localBytes(): number {
    let n = 0;
    for (const list of this.local.values()) for (const b of list) n += b.size;
    return n;
  }

  /** Submits everything recorded so far (no-op when nothing is pending). */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const cb = this.encoder.finish();
    this.encoder = undefined;
    // The arena write is queued before the submit, so its commands see these values.
    if (this.arena && this.slots > 0) this.device.queue.writeBuffer(this.arena, 0, this.arenaHost, 0, this.slots * PARAM_WORDS);
    this.device.queue.submit([cb]);
    this.stats.submits++;
    if (this.arena) this.pool.release(this.arena);
    this.arena = undefined;
    this.slots = 0;
    this.pendingCommands = 0;
    for (const list of this.local.values()) for (const b of list) this.pool.release(b);
    this.local.clear();
  }

  /** Drops recorded work and cached pipelines (the device is going away). */
  dispose(): void {
    this.endPass();
    this.encoder = undefined;
    this.arena = undefined;
    for (const list of this.local.values()) for (const b of list) b.destroy();
    this.local.clear();
    this.pipelines.clear();
  }
}

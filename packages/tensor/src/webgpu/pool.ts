/**
 * A pool of GPU buffers keyed by usage and a rounded size class, so the steady
 * state of a training loop (the same shapes every step) allocates nothing.
 *
 * Size classes: multiples of 256 bytes up to 4 KiB, then 8 steps per power of
 * two (at most 12.5% slack). The pool itself is just free lists; when a freed
 * buffer may enter them is the dispatcher's business (see dispatcher.ts).
 */

/** The byte size of the class that holds `bytes` (at least 16: zero-size bindings are invalid). */
export function sizeClass(bytes: number): number {
  if (bytes <= 16) return 16;
  if (bytes <= 4096) return Math.ceil(bytes / 256) * 256;
  const step = 2 ** (Math.floor(Math.log2(bytes - 1)) - 3);
  return Math.ceil(bytes / step) * step;
}

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  /** Bytes sitting in free lists. */
  pooledBytes = 0;
  /** Buffers created over the pool's life (for tests and diagnostics). */
  created = 0;

  constructor(
    private readonly device: GPUDevice,
    /** Free buffers beyond this many bytes are destroyed instead of kept. */
    private readonly maxPooledBytes = 512 * 1024 * 1024,
  ) {}

  /** A buffer of at least `bytes` bytes (exactly its class size) with `usage`. */
  acquire(bytes: number, usage: GPUBufferUsageFlags, label?: string): GPUBuffer {
    const size = sizeClass(bytes);
    const b = this.take(usage, size);
    if (b) return b;
    this.created++;
    return this.device.createBuffer({ size, usage, label });
  }

  /** A pooled buffer of exactly this usage and class size, if one is free. */
  take(usage: GPUBufferUsageFlags, size: number): GPUBuffer | undefined {
    const b = this.free.get(`${usage}:${size}`)?.pop();
    if (b) this.pooledBytes -= size;
    return b;
  }

  /** Returns a buffer for reuse; the caller guarantees no pending command uses it. */
  release(b: GPUBuffer): void {
    if (this.pooledBytes + b.size > this.maxPooledBytes) {
      b.destroy();
      return;
    }
    const key = `${b.usage}:${b.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(b);
    this.pooledBytes += b.size;
  }

  /** Destroys every pooled buffer (device memory is returned at once). */
  clear(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooledBytes = 0;
  }
}

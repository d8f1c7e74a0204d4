/**
 * The webgpu backend's option and info types, kept apart from device.ts so that the
 * public declarations (backends.d.ts) name no GPU* type: a user who never opens the
 * webgpu backend type-checks without @webgpu/types.
 */

/** Options for initialising the webgpu backend. */
export interface WebGPUInitOptions {
  /** Accept a software adapter (llvmpipe): what tests on GPU-less machines want. Default true. */
  allowSoftware?: boolean;
  /**
   * Use the fused kernels (softmax, normalize, attention, their gradients, the Adam step);
   * default true, or false when TANDEM_WEBGPU_FUSED=0. Without them every composite runs as
   * its primitives: the unfused baseline of docs/decisions/webgpu-fusion.md.
   */
  fused?: boolean;
}

/** Information about the webgpu adapter in use, once initialised. */
export interface WebGPUInfo {
  /** Human-readable adapter description (vendor, architecture, device), noting compatibility mode. */
  description: string;
  /** Whether the adapter is a software rasteriser (e.g. llvmpipe, SwiftShader) or a fallback adapter. */
  isSoftware: boolean;
}

/**
 * Counters of the webgpu backend, cumulative since it was initialised: what a real
 * GPU pays for, independent of how fast the adapter at hand is. Take the difference
 * of two snapshots to measure a piece of work (docs/decisions/webgpu-fusion.md).
 */
export interface WebGPUStats {
  /** Compute dispatches recorded (one pipeline launch each). */
  dispatches: number;
  /** Buffer-to-buffer copies and clears recorded (not counting copies for reads). */
  copies: number;
  /** Command buffers submitted. */
  submits: number;
  /** Compute pipelines compiled. */
  pipelines: number;
  /** Bytes of storage written by kernels (the elements each dispatch writes, 4 bytes each). */
  kernelBytes: number;
  /** Bytes of storage written by copies and clears. */
  copyBytes: number;
  /** Bytes of storage written from the host by queue writes (uploads, small fills). */
  uploadBytes: number;
  /** kernelBytes + copyBytes + uploadBytes: every byte written to storage buffers. */
  storageBytesWritten: number;
  /** Bytes copied into staging buffers to read results back to the host. */
  readbackBytes: number;
  /** GPU buffers created so far (a flat count in a steady loop means the pool is reused). */
  buffersCreated: number;
  /** Bytes held by free buffers in the pool. */
  pooledBytes: number;
  /** Bytes held by live storages (= bytesInUse). */
  liveBytes: number;
  /** Dispatches and kernel bytes by kernel (the op's name: 'matmul', 'add', 'softmax', …). */
  byKernel: Record<string, { dispatches: number; bytes: number }>;
}

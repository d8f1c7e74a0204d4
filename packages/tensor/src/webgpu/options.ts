/**
 * The webgpu backend's option and info types, kept apart from device.ts so that the
 * public declarations (backends.d.ts) name no GPU* type: a user who never opens the
 * webgpu backend type-checks without @webgpu/types.
 */

/** Options for initialising the webgpu backend. */
export interface WebGPUInitOptions {
  /** Accept a software adapter (llvmpipe): what tests on GPU-less machines want. Default true. */
  allowSoftware?: boolean;
}

/** Information about the webgpu adapter in use, once initialised. */
export interface WebGPUInfo {
  /** Human-readable adapter description (vendor, architecture, device), noting compatibility mode. */
  description: string;
  /** Whether the adapter is a software rasteriser (e.g. llvmpipe, SwiftShader) or a fallback adapter. */
  isSoftware: boolean;
}

/**
 * Finding an adapter in a browser (or a Web Worker): `navigator.gpu`. A software
 * adapter (Chromium's SwiftShader fallback) is refused when the caller passes
 * `allowSoftware: false`, as under Node.
 */
import { TensorError } from '../errors.js';
import { isSoftwareAdapter, softwareRefused, type FindAdapter, type FoundAdapter } from './adapter.js';

export async function findAdapter(allowSoftware: boolean): Promise<FoundAdapter> {
  const gpu = (globalThis as unknown as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) {
    throw new TensorError('initBackend', 'webgpu: this browser exposes no navigator.gpu: WebGPU needs a secure context (https or localhost) and a browser with WebGPU enabled (headless Chromium: --enable-unsafe-webgpu)', 'backend');
  }
  let adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  // Some browsers only hand out their software adapter when asked for it.
  if (!adapter && allowSoftware) {
    adapter = await gpu.requestAdapter({ forceFallbackAdapter: true }).catch(() => null);
  }
  if (!adapter) throw new TensorError('initBackend', 'webgpu: navigator.gpu.requestAdapter() found no adapter (is WebGPU blocked for this GPU or disabled in the browser\'s settings?)', 'backend');
  if (!allowSoftware && isSoftwareAdapter(adapter)) throw new TensorError('initBackend', softwareRefused(adapter), 'backend');
  return { adapter, compat: false };
}

// Both platform variants have the same signature.
findAdapter satisfies FindAdapter;

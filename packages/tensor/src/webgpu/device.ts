/**
 * Opening a WebGPU device. The adapter comes from the platform: Dawn's Node bindings
 * (npm `webgpu`) under Node, `navigator.gpu` in a browser: device.ts imports
 * adapter.node.js, and package.json's `browser` map has bundlers that target browsers
 * (esbuild, webpack, Rollup, Vite) take adapter.browser.js instead, so a browser bundle
 * never contains Dawn. See those files for the order of preference and when a
 * software adapter is refused.
 */
import { findAdapter } from './adapter.node.js';
import { TensorError } from '../errors.js';
import { describeAdapter, isSoftwareAdapter } from './adapter.js';
import type { WebGPUInfo, WebGPUInitOptions } from './options.js';

export type { WebGPUInfo, WebGPUInitOptions } from './options.js';

export interface OpenedDevice {
  device: GPUDevice;
  info: WebGPUInfo;
}

/**
 * Limits worth raising above the defaults (compatibility mode defaults are low,
 * e.g. 128 invocations per workgroup), each capped at what the adapter offers.
 */
const WANTED_LIMITS = [
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
] as const;

export async function openDevice(opts: WebGPUInitOptions): Promise<OpenedDevice> {
  const { adapter, compat } = await findAdapter(opts.allowSoftware !== false);
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = adapter.limits[name];
    if (typeof v === 'number') requiredLimits[name] = v;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits });
  } catch (e) {
    throw new TensorError('initBackend', `webgpu: requestDevice failed on ${describeAdapter(adapter)}: ${(e as Error).message}`, 'backend');
  }
  const description = describeAdapter(adapter) + (compat ? ' (compatibility mode)' : '');
  return { device, info: { description, isSoftware: isSoftwareAdapter(adapter) } };
}

import type { Backend } from '../backend.js';
import type { WebGPUInfo, WebGPUInitOptions } from '../backends.js';
import { TensorError } from '../errors.js';

export async function createWebGPUBackend(_opts: WebGPUInitOptions): Promise<{ backend: Backend; info: WebGPUInfo }> {
  throw new TensorError('initBackend', 'webgpu backend not yet implemented');
}
export function destroyWebGPUBackend(_b: Backend): void {}

/**
 * Choosing a backend: by argument, or by `TANDEM_BACKEND=cpu|webgpu|auto`.
 * `auto` takes webgpu only when the adapter is real hardware; a software
 * adapter (Mesa llvmpipe, SwiftShader) is slower than the cpu backend.
 */
import type { Backend } from './backend.js';
import { createCpuBackend } from './cpu/backend.js';
import { envVar } from './env.js';
import { TensorError } from './errors.js';
import { getBackend, hasBackend, registerBackend, setCpuFactory, setDefaultBackend, unregisterBackend, type BackendName } from './registry.js';
import type { WebGPUInfo, WebGPUInitOptions, WebGPUStats } from './webgpu/options.js';

export type { WebGPUInfo, WebGPUInitOptions, WebGPUStats } from './webgpu/options.js';

setCpuFactory(createCpuBackend);

/** A backend name, or `'auto'`: webgpu on a hardware adapter, otherwise cpu. */
export type BackendChoice = BackendName | 'auto';

let webgpuInfo: WebGPUInfo | undefined;
let webgpuStatsOf: ((b: Backend) => WebGPUStats) | undefined;

/**
 * Initialises and registers a backend (idempotent) and returns it. For webgpu this
 * requests an adapter and device: through Dawn's Node bindings (npm `webgpu`) under
 * Node, through `navigator.gpu` in a browser (see webgpu/device.ts).
 */
export async function initBackend(name: BackendName, opts: WebGPUInitOptions = {}): Promise<Backend> {
  if (hasBackend(name)) return getBackend(name);
  if (name === 'cpu') return getBackend('cpu');
  if (name === 'webgpu') {
    const { createWebGPUBackend, webgpuStats: statsOf } = await import('./webgpu/backend.js');
    const { backend, info } = await createWebGPUBackend(opts);
    webgpuInfo = info;
    webgpuStatsOf = statsOf;
    registerBackend(backend);
    return backend;
  }
  throw new TensorError('initBackend', `unknown backend ${JSON.stringify(name)}; expected 'cpu' or 'webgpu'`);
}

/** The webgpu adapter's description, if the webgpu backend is initialised. */
export function webgpuAdapterInfo(): WebGPUInfo | undefined {
  return webgpuInfo;
}

/**
 * The webgpu backend's counters (dispatches, bytes written to storage buffers, …),
 * cumulative since it was initialised; undefined when it is not initialised. Cheap:
 * the counters are always kept. Subtract two snapshots to measure a piece of work.
 */
export function webgpuStats(): WebGPUStats | undefined {
  return hasBackend('webgpu') && webgpuStatsOf ? webgpuStatsOf(getBackend('webgpu')) : undefined;
}

/**
 * Resolves a choice (argument, else TANDEM_BACKEND, else 'auto') to an initialised
 * backend and makes it the default. `auto` uses webgpu only on a hardware adapter.
 */
export async function useBackend(choice?: BackendChoice): Promise<Backend> {
  const c = choice ?? (envVar('TANDEM_BACKEND') as BackendChoice | undefined) ?? 'auto';
  if (c !== 'cpu' && c !== 'webgpu' && c !== 'auto') {
    throw new TensorError('useBackend', `unknown backend choice ${JSON.stringify(c)} (from ${choice ? 'the argument' : 'TANDEM_BACKEND'}); expected cpu, webgpu or auto`);
  }
  let b: Backend;
  if (c === 'auto') {
    try {
      const gpu = await initBackend('webgpu', { allowSoftware: false });
      b = gpu;
    } catch {
      b = getBackend('cpu');
    }
  } else b = await initBackend(c);
  setDefaultBackend(b);
  return b;
}

/** Releases the webgpu device so the process can exit (the backend must be re-initialised to be used again). */
export async function shutdownWebGPU(): Promise<void> {
  if (!hasBackend('webgpu')) return;
  const { destroyWebGPUBackend } = await import('./webgpu/backend.js');
  destroyWebGPUBackend(getBackend('webgpu'));
  unregisterBackend('webgpu');
  webgpuInfo = undefined;
}

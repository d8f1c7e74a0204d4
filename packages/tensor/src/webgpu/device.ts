/**
 * Finding an adapter and opening a device through Dawn's Node bindings (npm `webgpu`).
 *
 * Order of preference: a hardware adapter (Vulkan on Linux, Metal/D3D12 elsewhere),
 * then Mesa's llvmpipe behind OpenGL ES in compatibility mode, which is what runs
 * the kernels on machines without a GPU (CI). A software adapter is refused when
 * the caller passes `allowSoftware: false` (the `auto` backend choice), since the
 * cpu backend is faster than a GPU emulated on the same cores.
 */
import { create, globals } from 'webgpu';
import { TensorError } from '../errors.js';
import type { WebGPUInfo, WebGPUInitOptions } from './options.js';

export type { WebGPUInfo, WebGPUInitOptions } from './options.js';


export interface OpenedDevice {
  device: GPUDevice;
  info: WebGPUInfo;
}

let globalsInstalled = false;

/** Dawn's GPU* classes (GPUBufferUsage, ...) must be globals before any WebGPU call. */
function installGlobals(): void {
  if (globalsInstalled) return;
  Object.assign(globalThis, globals);
  globalsInstalled = true;
}

const SOFTWARE_NAMES = /llvmpipe|softpipe|lavapipe|swiftshader|software|microsoft basic render/i;

function describeAdapter(a: GPUAdapter): string {
  const i = a.info;
  const parts = [i.vendor, i.architecture, i.device, i.description].filter((s) => s && s.length > 0);
  return parts.join(' / ') || 'unknown adapter';
}

function isSoftwareAdapter(a: GPUAdapter): boolean {
  const i = a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  // `isFallbackAdapter` moved from the adapter to its info in the spec; Dawn may expose either.
  const fallback = i.isFallbackAdapter === true || (a as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return fallback || SOFTWARE_NAMES.test(`${i.vendor} ${i.architecture} ${i.device} ${i.description}`);
}

/**
 * Every GPU instance ever created stays referenced for the life of the process.
 * Dawn's Node bindings schedule event processing on an instance without holding
 * it, so an instance collected by the GC while work is in flight crashes the
 * process (seen as a segfault in CallbackTaskManager::Flush). A referenced
 * instance does not keep Node alive once its devices are destroyed.
 */
const instances: GPU[] = [];

async function tryAdapter(flags: string[], options: GPURequestAdapterOptions): Promise<GPUAdapter | null> {
  try {
    const gpu = create(flags);
    instances.push(gpu);
    return await gpu.requestAdapter(options);
  } catch {
    return null;
  }
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
  installGlobals();
  const allowSoftware = opts.allowSoftware !== false;
  let adapter: GPUAdapter | null = null;
  let compat = false;
  let softwareSeen: GPUAdapter | null = null;

  // 1. Hardware (on Linux this is Vulkan; it fails quickly when there is no loader/driver).
  const hw = await tryAdapter([], { powerPreference: 'high-performance' });
  if (hw && !isSoftwareAdapter(hw)) adapter = hw;

  // 2. OpenGL ES: Mesa llvmpipe on machines without a GPU (or a vendor GL driver, which
  //    counts as hardware). EGL needs a platform that works without a display.
  if (!adapter && process.platform === 'linux') {
    process.env.EGL_PLATFORM ??= 'surfaceless';
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    const gl = await tryAdapter(['backend=opengles'], { featureLevel: 'compatibility' });
    if (gl && (allowSoftware || !isSoftwareAdapter(gl))) {
      adapter = gl;
      compat = true;
    } else if (gl && !hw) softwareSeen = gl;
  }
  // 3. A software Vulkan adapter (lavapipe, SwiftShader) as the last resort.
  if (!adapter && allowSoftware && hw) adapter = hw;

  if (!adapter) {
    const sw = hw ?? softwareSeen;
    if (!allowSoftware && sw) {
      throw new TensorError('initBackend', `webgpu: only a software adapter is available (${describeAdapter(sw)}) and allowSoftware is false: it would be slower than the cpu backend. Pass { allowSoftware: true } to use it anyway`, 'backend');
    }
    throw new TensorError('initBackend', 'webgpu: no adapter found: neither a hardware GPU (Vulkan) nor Mesa llvmpipe over OpenGL ES. With an NVIDIA GPU install the driver and the Vulkan loader (libvulkan1); without a GPU install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri and leave EGL_PLATFORM unset or \'surfaceless\' (see docs/decisions/webgpu-on-cpu.md in the tandem repository)', 'backend');
  }

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

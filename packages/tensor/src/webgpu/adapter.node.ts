/**
 * Finding an adapter through Dawn's Node bindings (npm `webgpu`).
 *
 * Order of preference: a hardware adapter (Vulkan on Linux, Metal/D3D12 elsewhere),
 * then Mesa's llvmpipe behind OpenGL ES in compatibility mode, which is what runs
 * the kernels on machines without a GPU (CI). A software adapter is refused when
 * the caller passes `allowSoftware: false` (the `auto` backend choice), since the
 * cpu backend is faster than a GPU emulated on the same cores.
 */
import { create, globals } from 'webgpu';
import { TensorError } from '../errors.js';
import { isSoftwareAdapter, softwareRefused, type FindAdapter, type FoundAdapter } from './adapter.js';
import { gpuDevicePresent, vulkanLoaderPresent } from './probe.node.js';

let globalsInstalled = false;

/** Dawn's GPU* classes (GPUBufferUsage, ...) must be globals before any WebGPU call. */
function installGlobals(): void {
  if (globalsInstalled) return;
  Object.assign(globalThis, globals);
  globalsInstalled = true;
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

export async function findAdapter(allowSoftware: boolean): Promise<FoundAdapter> {
  // Dawn prints its failed probes to stderr (native code; see probe.node.ts): a machine
  // without a GPU device, when software adapters are refused (`auto`), never starts Dawn.
  if (!allowSoftware && !gpuDevicePresent()) {
    throw new TensorError('initBackend', 'webgpu: only a software adapter is available at best (no GPU device: no /dev/dri/renderD*, /dev/nvidia0 or /dev/dxg) and allowSoftware is false: it would be slower than the cpu backend. Pass { allowSoftware: true } to use it anyway', 'backend');
  }
  installGlobals();
  let adapter: GPUAdapter | null = null;
  let compat = false;
  let softwareSeen: GPUAdapter | null = null;

  // 1. Hardware (on Linux this is Vulkan; skipped without the Vulkan loader, where Dawn would only warn).
  const hw = vulkanLoaderPresent() ? await tryAdapter([], { powerPreference: 'high-performance' }) : null;
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
    if (!allowSoftware && sw) throw new TensorError('initBackend', softwareRefused(sw), 'backend');
    throw new TensorError('initBackend', 'webgpu: no adapter found: neither a hardware GPU (Vulkan) nor Mesa llvmpipe over OpenGL ES. With an NVIDIA GPU install the driver and the Vulkan loader (libvulkan1); without a GPU install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri and leave EGL_PLATFORM unset or \'surfaceless\' (see docs/decisions/webgpu-on-cpu.md in the tandem repository)', 'backend');
  }
  return { adapter, compat };
}

// Both platform variants have the same signature.
findAdapter satisfies FindAdapter;

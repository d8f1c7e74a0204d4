/**
 * What a Linux machine offers a WebGPU adapter, read from the filesystem before Dawn is
 * started. Dawn prints its probe failures straight to stderr from native code ("Couldn't
 * load Vulkan: libvulkan.so.1 …", "maxDynamicUniformBuffersPerPipelineLayout
 * artificially reduced …"), where nothing in JavaScript can silence them; so the probes
 * that can only fail or only find a software adapter are not run at all. Node-only:
 * imported by adapter.node.ts, which browser bundles replace.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Whether a hardware adapter could exist: a DRM render node (/dev/dri/renderD*: Mesa's
 * AMD and Intel drivers, NVIDIA's open kernel driver), NVIDIA's /dev/nvidia0, or WSL's
 * /dev/dxg. Without any of them, every adapter Dawn can find is a software one
 * (llvmpipe, lavapipe, SwiftShader). True on platforms other than Linux (not checked).
 */
export function gpuDevicePresent(): boolean {
  if (process.platform !== 'linux') return true;
  try {
    if (readdirSync('/dev/dri').some((n) => n.startsWith('renderD'))) return true;
  } catch { /* no /dev/dri */ }
  return existsSync('/dev/nvidia0') || existsSync('/dev/dxg');
}

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib', '/lib/x86_64-linux-gnu', '/lib64'];

/**
 * Whether the Vulkan loader (libvulkan.so.1) can be loaded: named in the dynamic linker's
 * cache (/etc/ld.so.cache), in LD_LIBRARY_PATH or in a usual library folder. Without it
 * Dawn's Vulkan backend can only fail, with a warning. True on platforms other than Linux.
 */
export function vulkanLoaderPresent(): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS];
  if (dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')))) return true;
  try {
    return readFileSync('/etc/ld.so.cache').includes('libvulkan.so.1');
  } catch {
    return false;
  }
}

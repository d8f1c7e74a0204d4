/**
 * Finding a WebGPU adapter, as the platform provides it: adapter.node.ts (Dawn's Node
 * bindings, npm `webgpu`) or adapter.browser.ts (`navigator.gpu`), which bundlers
 * targeting browsers substitute for the former (package.json's `browser` map).
 * device.ts opens the device.
 */

/** An adapter found, and whether it runs in compatibility mode (OpenGL ES). */
export interface FoundAdapter {
  adapter: GPUAdapter;
  compat: boolean;
}

/** Resolves an adapter or rejects with a TensorError that says what to install or enable. */
export type FindAdapter = (allowSoftware: boolean) => Promise<FoundAdapter>;

const SOFTWARE_NAMES = /llvmpipe|softpipe|lavapipe|swiftshader|software|microsoft basic render/i;

export function describeAdapter(a: GPUAdapter): string {
  const i = a.info;
  const parts = [i.vendor, i.architecture, i.device, i.description].filter((s) => s && s.length > 0);
  return parts.join(' / ') || 'unknown adapter';
}

export function isSoftwareAdapter(a: GPUAdapter): boolean {
  const i = a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  // `isFallbackAdapter` moved from the adapter to its info in the spec; Dawn may expose either.
  const fallback = i.isFallbackAdapter === true || (a as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return fallback || SOFTWARE_NAMES.test(`${i.vendor} ${i.architecture} ${i.device} ${i.description}`);
}

/** The error for a software-only machine when the caller refused software adapters. */
export function softwareRefused(a: GPUAdapter): string {
  return `webgpu: only a software adapter is available (${describeAdapter(a)}) and allowSoftware is false: it would be slower than the cpu backend. Pass { allowSoftware: true } to use it anyway`;
}

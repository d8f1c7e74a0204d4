/**
 * The system Chromium, driven by playwright-core (which downloads no browser): where
 * it is, how it is started (headless, WebGPU on), and whether its WebGPU has an adapter.
 * See docs/decisions/browser-tests.md.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where to look for Chromium; TANDEM_CHROMIUM overrides. Debian's `chromium` package installs /usr/bin/chromium. */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable', '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'];

export function findChromium(): string | undefined {
  const env = process.env.TANDEM_CHROMIUM;
  if (env) return existsSync(env) ? env : undefined;
  return CANDIDATES.find((p) => existsSync(p));
}

/**
 * `--headless=new --enable-unsafe-webgpu`: Chromium's WebGPU on whatever adapter it finds,
 * which on a machine without a GPU is SwiftShader (a Vulkan implementation on the CPU).
 * Root (CI, containers) needs --no-sandbox.
 */
export function chromiumArgs(): string[] {
  const args = ['--headless=new', '--enable-unsafe-webgpu', '--disable-dev-shm-usage', '--no-first-run', '--mute-audio'];
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  // Extra flags, e.g. --use-webgpu-adapter=swiftshader, or --disable-gpu to see the tests without an adapter.
  const extra = process.env.TANDEM_CHROMIUM_ARGS?.trim();
  if (extra) args.push(...extra.split(/\s+/));
  return args;
}

export async function launchChromium(executablePath: string): Promise<Browser> {
  // headless: false here because the flag is passed explicitly (--headless=new).
  return chromium.launch({ executablePath, headless: false, args: chromiumArgs(), timeout: 60_000 });
}

/** The adapter the page's navigator.gpu hands out, or why there is none. */
export async function probeWebGPU(page: Page): Promise<{ ok: true; adapter: string; software: boolean } | { ok: false; reason: string }> {
  return page.evaluate(async () => {
    const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
    if (!gpu) return { ok: false as const, reason: 'navigator.gpu is undefined (WebGPU disabled, or not a secure context)' };
    const a = await gpu.requestAdapter();
    if (!a) return { ok: false as const, reason: 'navigator.gpu.requestAdapter() returned null (no usable adapter)' };
    const i = a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    const adapter = [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ') || 'unknown adapter';
    return { ok: true as const, adapter, software: i.isFallbackAdapter === true || /swiftshader|llvmpipe|software/i.test(adapter) };
  });
}

/**
 * check:pack's browser step (scripts/check-pack.mjs runs it with the folder where the
 * packed tarballs were installed by npm): for @tandem/tensor, autodiff and nn, bundles
 * a small example for the browser with esbuild from the INSTALLED packages (their
 * `browser` conditions and file maps, dist/ only: no tandem-source, no workspace), checks
 * that the bundle holds no `node:` module and no Dawn, and runs it in headless Chromium.
 * Each page prints `ok @tandem/<name>` when its checks pass.
 *
 * Usage: node --import tsx browser-tests/pack-browser.ts <app folder>
 * Without Chromium (or without a WebGPU adapter in it) it says so loudly and skips that
 * part; under TANDEM_REQUIRE_BROWSER=1 either is a failure (exit 1).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { bundleForBrowser, forbiddenInputs } from './lib/bundle.js';
import { findChromium, launchChromium, probeWebGPU } from './lib/chromium.js';
import { serveStatic } from './lib/serve.js';

const app = process.argv[2];
if (!app) {
  console.error('usage: pack-browser.ts <app folder with the tarballs installed>');
  process.exit(2);
}
const REQUIRE = process.env.TANDEM_REQUIRE_BROWSER === '1';

/** Shared by the examples: a tiny assert and the webgpu requirement (?gpu=require). */
const PRELUDE = `
const assert = (ok, msg) => { if (!ok) throw new Error('assertion failed: ' + msg); };
const requireGpu = new URLSearchParams(location.search).get('gpu') === 'require';
const close = (a, b, tol) => a.length === b.length && Array.from(a).every((v, i) => Math.abs(v - b[i]) <= tol * (1 + Math.abs(b[i])));
`;

const EXAMPLES: Record<string, string> = {
  tensor: `
import { tensor, matmul, key, split, uniform, randomBits, tidy, memory, initBackend, webgpuAdapterInfo, shutdownWebGPU } from '@tandem/tensor';
${PRELUDE}
const x = tensor([[1, 2], [3, 4]]);
const y = x.matmul(x).add(1).relu();
assert(JSON.stringify(await y.toArray()) === '[[8,11],[16,23]]', 'x @ x + 1 on cpu');
const [k1, k2] = split(key(42));
assert(randomBits(k1, [8]).dataSync().join() === randomBits(k1, [8]).dataSync().join(), 'same key, same bits');
assert(randomBits(k1, [8]).dataSync().join() !== randomBits(k2, [8]).dataSync().join(), 'split keys differ');
// The wasm SIMD matmul, large enough for its helper thread (a Web Worker: the page is cross-origin isolated).
const n = 256, a = uniform(key(1), [n, n]), b = uniform(key(2), [n, n]);
const c = matmul(a, b).dataSync(), ah = a.dataSync(), bh = b.dataSync();
for (const [i, j] of [[0, 0], [17, 200], [255, 255]]) {
  let s = 0;
  for (let k = 0; k < n; k++) s += ah[i * n + k] * bh[k * n + j];
  assert(Math.abs(c[i * n + j] - s) < 1e-3, 'matmul entry ' + i + ',' + j);
}
const before = memory().cpu.tensors;
const kept = tidy(() => x.mul(2).add(1).sum());
assert(memory().cpu.tensors === before + 1, 'tidy');
kept.dispose();
// WebGPU through navigator.gpu.
const gpuError = await initBackend('webgpu').then(() => undefined, (e) => e);
if (gpuError) {
  assert(!requireGpu, 'webgpu: ' + gpuError.message);
  console.log('webgpu skipped: ' + gpuError.message);
} else {
  const g = matmul(tensor(ah, { shape: [n, n], backend: 'webgpu' }), tensor(bh, { shape: [n, n], backend: 'webgpu' }));
  assert(close(await g.data(), c, 1e-5), 'webgpu matmul = cpu matmul');
  console.log('webgpu: ' + webgpuAdapterInfo().description);
  await shutdownWebGPU();
}
console.log('ok @tandem/tensor');
`,
  autodiff: `
import { tensor, sum, mul } from '@tandem/tensor';
import { grad, valueAndGrad, checkGrads } from '@tandem/autodiff';
${PRELUDE}
const g = grad((x) => sum(mul(x, x)))(tensor([1, -2, 3]));
assert(Array.from(g.dataSync()).join() === '2,-4,6', 'grad of Σx²');
const [v, dg] = valueAndGrad((p) => sum(mul(p.w, p.x)))({ w: tensor([1, 2]), x: tensor([3, 4]) });
assert((await v.item()) === 11 && Array.from(dg.w.dataSync()).join() === '3,4', 'valueAndGrad');
checkGrads((x) => x.tanh().sum(), [tensor([0.1, -0.4, 0.9])]);
console.log('ok @tandem/autodiff');
`,
  nn: `
import { key, tensor, initBackend, shutdownWebGPU, tidy, dispose } from '@tandem/tensor';
import { valueAndGrad } from '@tandem/autodiff';
import * as nn from '@tandem/nn';
${PRELUDE}
// The browser entry: everything but the file-system parts.
assert(!('saveCheckpoint' in nn) && !('writeFileAtomic' in nn), 'the browser entry leaves out checkpoint files');
const { initTransformer, logits, transformerConfig, adam, applyUpdates, crossEntropyLoss, encodeSafetensors, decodeSafetensors } = nn;
const cfg = transformerConfig({ vocab: 16, dModel: 16, heads: 2, dFf: 32, encLayers: 1, decLayers: 1, maxSrc: 6, maxTgt: 5 });
const src = tensor([[4, 5, 6, 7, 8, 9], [9, 8, 7, 6, 5, 4]], { dtype: 'int32' });
const tgt = tensor([[4, 5, 6, 2, 0], [7, 8, 2, 0, 0]], { dtype: 'int32' });
const out = logits(initTransformer(key(0), cfg), cfg, src, tgt);
assert(out.shape.join() === '2,5,16' && Array.from(out.dataSync()).every(Number.isFinite), 'logits');
const bytes = encodeSafetensors({ w: tensor([1, 2]) }, { note: 'from the browser' });
const back = decodeSafetensors(bytes);
assert(Array.from(back.tensors.w.dataSync()).join() === '1,2' && back.metadata.note === 'from the browser', 'safetensors round trip');
async function train(backend) {
  let p = initTransformer(key(0), cfg);
  const s = tensor(src.dataSync(), { shape: [2, 6], dtype: 'int32', backend });
  const t = tensor(tgt.dataSync(), { shape: [2, 5], dtype: 'int32', backend });
  const opt = adam({ lr: 1e-2 });
  let st = opt.init(p);
  const losses = [];
  for (let i = 0; i < 5; i++) {
    const [l, np, ns] = tidy(() => {
      const [v, g] = valueAndGrad((q) => crossEntropyLoss(q, cfg, s, t))(p);
      const [u, s2] = opt.update(g, st, p);
      return [v, applyUpdates(p, u), s2];
    });
    losses.push((await l.data())[0]);
    dispose([p, st, l]);
    p = np;
    st = ns;
  }
  return losses;
}
const cpuLosses = await train('cpu');
assert(cpuLosses[4] < cpuLosses[0], 'the loss falls on cpu: ' + cpuLosses.join(', '));
const gpuError = await initBackend('webgpu').then(() => undefined, (e) => e);
if (gpuError) {
  assert(!requireGpu, 'webgpu: ' + gpuError.message);
  console.log('webgpu skipped: ' + gpuError.message);
} else {
  // With webgpu the default backend, initTransformer puts the same initial weights there.
  const { useBackend } = await import('@tandem/tensor');
  await useBackend('webgpu');
  const gpuLosses = await train('webgpu');
  assert(close(gpuLosses, cpuLosses, 1e-4), 'webgpu losses ' + gpuLosses.join(', ') + ' vs cpu ' + cpuLosses.join(', '));
  await useBackend('cpu');
  await shutdownWebGPU();
}
console.log('5 training steps, loss ' + cpuLosses[0].toFixed(4) + ' → ' + cpuLosses[4].toFixed(4));
console.log('ok @tandem/nn');
`,
};

const failures: string[] = [];
const out = join(app, 'browser-dist');
mkdirSync(out, { recursive: true });

// 1. Bundle each example from the installed packages.
const entryPoints: Record<string, string> = {};
for (const [name, code] of Object.entries(EXAMPLES)) {
  const file = join(app, `browser-example-${name}.mjs`);
  writeFileSync(file, code.trimStart());
  entryPoints[name] = file;
  writeFileSync(join(out, `${name}.html`), `<!doctype html><meta charset="utf-8"><title>@tandem/${name}</title><script type="module" src="./${name}.js"></script>\n`);
}
let bundled = false;
try {
  const meta = await bundleForBrowser({ entryPoints, outdir: out, source: false });
  const bad = forbiddenInputs(meta);
  if (bad.length > 0) failures.push(`the browser bundles contain Node-only modules: ${bad.join(', ')}`);
  const fromWorkspace = Object.keys(meta.inputs).filter((f) => /(^|\/)packages\/[^/]+\/src\//.test(f.split(sep).join('/')) && !f.includes('node_modules'));
  if (fromWorkspace.length > 0) failures.push(`the bundles read workspace sources instead of the installed packages: ${fromWorkspace.slice(0, 3).join(', ')}`);
  const tandem = Object.keys(meta.inputs).filter((f) => f.includes('@tandem/'));
  const browserFiles = tandem.filter((f) => /\.browser\.js$|nn\/dist\/browser\.js$/.test(f)).map((f) => f.replace(/^.*node_modules\//, ''));
  console.log(`   bundled ${Object.keys(EXAMPLES).length} examples with esbuild from ${relative(process.cwd(), app) || app}/node_modules: ${tandem.length} @tandem files, browser variants ${browserFiles.join(', ')}`);
  for (const want of ['@tandem/tensor/dist/webgpu/adapter.browser.js', '@tandem/tensor/dist/cpu/wasm/thread.browser.js', '@tandem/nn/dist/browser.js']) {
    if (!browserFiles.includes(want)) failures.push(`the bundle does not use ${want}: the browser condition or file map was not applied`);
  }
  bundled = true;
} catch (e) {
  failures.push((e as Error).message);
}

// 2. Run them in Chromium.
const chromiumPath = findChromium();
if (bundled && !chromiumPath) {
  const why = 'no Chromium found (install it with scripts/setup.sh or `apt-get install chromium`, or set TANDEM_CHROMIUM)';
  if (REQUIRE) failures.push(`TANDEM_REQUIRE_BROWSER=1 but ${why}`);
  else console.warn(`\n*** check:pack: ${why}: the browser examples are SKIPPED (TANDEM_REQUIRE_BROWSER=1 makes this a failure) ***\n`);
} else if (bundled && chromiumPath) {
  const server = await serveStatic({ '/': out });
  const browser = await launchChromium(chromiumPath);
  try {
    const probePage = await browser.newPage();
    await probePage.goto(`${server.origin}/tensor.html?probe`);
    const probe = await probeWebGPU(probePage);
    await probePage.close();
    if (!probe.ok && REQUIRE) failures.push(`TANDEM_REQUIRE_BROWSER=1 but Chromium has no WebGPU adapter: ${probe.reason}`);
    else if (!probe.ok) console.warn(`\n*** check:pack: Chromium has no WebGPU adapter (${probe.reason}): the examples run on cpu only ***\n`);
    for (const name of Object.keys(EXAMPLES)) {
      const page = await browser.newPage();
      const lines: string[] = [];
      const errors: string[] = [];
      page.on('console', (m) => lines.push(m.text()));
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${server.origin}/${name}.html${REQUIRE ? '?gpu=require' : ''}`);
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline && errors.length === 0 && !lines.includes(`ok @tandem/${name}`)) await new Promise((r) => setTimeout(r, 100));
      await page.close();
      for (const l of lines) console.log(`   [${name}] ${l}`);
      if (!lines.includes(`ok @tandem/${name}`)) failures.push(`the browser example for @tandem/${name} failed: ${errors.join('; ') || 'no "ok" within 120 s'}`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
}

if (failures.length > 0) {
  console.error(`browser step failed:\n   - ${failures.join('\n   - ')}`);
  process.exit(1);
}
console.log('   the packed tarballs bundle for the browser and their examples pass in Chromium');

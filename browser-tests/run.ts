/**
 * `pnpm test:browser`: the packages' tests in headless Chromium.
 *
 * 1. Bundles each test file of files.ts with esbuild for the browser (the packages'
 *    browser entries, from their sources; `vitest` aliased to shim/vitest.ts), plus the
 *    example page of docs/examples/browser, into a temp folder. A bundle that builds is
 *    itself the check that the browser path imports no `node:` module and no Dawn.
 * 2. Computes the cpu fingerprints (fingerprint.ts) under Node, for tests/cpu-bits.
 * 3. Serves the folder on 127.0.0.1 (cross-origin isolated) and opens each file's page in
 *    the system Chromium (`--headless=new --enable-unsafe-webgpu`, via playwright-core),
 *    one fresh page per file; the page reports each test's result over the console.
 * 4. Opens the example page, lets it train, checks that the loss falls, and saves a
 *    screenshot to runs/screenshots/example-browser.png.
 * 5. Prints a summary ending in 'N passed, N failed, N skipped' and writes
 *    runs/browser-tests/summary.json; exits 1 on any failure.
 *
 * Without Chromium, or without a WebGPU adapter in it, the affected tests are skipped
 * with a loud message; under TANDEM_REQUIRE_BROWSER=1 (CI) either is a failure.
 *
 * Usage: pnpm test:browser [name-filter ...] [--keep]
 *   TANDEM_CHROMIUM=<path> another Chromium · TANDEM_PARITY_RUNS=<n> runs per parity property
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildExample } from '../docs/examples/browser/build.js';
import { bundleForBrowser, forbiddenInputs, ROOT } from './lib/bundle.js';
import { findChromium, launchChromium, probeWebGPU } from './lib/chromium.js';
import { serveStatic } from './lib/serve.js';
import { TEST_FILES } from './files.js';
import { knownDivergence } from './known-divergences.js';
import type { HarnessEvent } from './page/harness.js';
import type { TestResult } from './shim/vitest.js';

const REQUIRE = process.env.TANDEM_REQUIRE_BROWSER === '1';
const KEEP = process.argv.includes('--keep');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const FILE_TIMEOUT_MS = 300_000;
const EXAMPLE_STEPS = 150;

const t0 = Date.now();
const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
const results: (Omit<TestResult, 'status'> & { status: TestResult['status'] | 'known'; file: string; why?: string })[] = [];
const metrics: Record<string, unknown> = {};
const timings: Record<string, number> = {};

function finish(extra: { skippedReason?: string } = {}): never {
  const passed = results.filter((r) => r.status === 'pass').length;
  const failures = results.filter((r) => r.status === 'fail');
  const failed = failures.length;
  const known = results.filter((r) => r.status === 'known');
  const skipped = results.filter((r) => r.status === 'skip').length + known.length;
  if (known.length > 0) {
    console.log(`\nKnown divergences of Chromium's WebGPU (SwiftShader), counted with the skipped (browser-tests/known-divergences.ts):`);
    for (const k of known) console.log(`  ~ ${k.name}\n      ${(k.error ?? '').split('\n').filter((l) => !/^\s*$/.test(l)).slice(-1)[0]}\n      why: ${k.why}`);
  }
  if (failures.length > 0) {
    console.log(`\nFailures (${failures.length}):`);
    for (const f of failures) console.log(`  ✗ ${f.name}\n      ${(f.error ?? '').split('\n').slice(0, 8).join('\n      ')}`);
  }
  if (Object.keys(metrics).length > 0) {
    console.log('\nMeasured in Chromium:');
    for (const [k, v] of Object.entries(metrics)) console.log(`  ${k}: ${JSON.stringify(v)}`);
  }
  const out = join(ROOT, 'runs', 'browser-tests');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify({ date: new Date().toISOString(), passed, failed, skipped, totalMs: Date.now() - t0, timings, metrics, ...extra, results }, null, 2)}\n`);
  console.log(`\ntest:browser finished in ${secs(Date.now() - t0)} (summary: ${relative(ROOT, join(out, 'summary.json'))})`);
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed > 0 ? 1 : 0);
}

/** No browser, or no adapter: a failure under TANDEM_REQUIRE_BROWSER=1, else a loud skip. */
function missing(what: string): void {
  if (REQUIRE) {
    results.push({ file: '(setup)', name: `(setup) ${what}`, status: 'fail', ms: 0, error: `TANDEM_REQUIRE_BROWSER=1 but ${what}` });
    return;
  }
  console.warn(`\n${'*'.repeat(78)}\n*** test:browser: ${what}\n*** the tests that need it are SKIPPED (TANDEM_REQUIRE_BROWSER=1 makes this a failure)\n${'*'.repeat(78)}\n`);
}

const chromiumPath = findChromium();
if (!chromiumPath) {
  missing(`no Chromium found (${process.env.TANDEM_CHROMIUM ? `TANDEM_CHROMIUM=${process.env.TANDEM_CHROMIUM} does not exist` : 'install it with scripts/setup.sh or `apt-get install chromium`, or set TANDEM_CHROMIUM'})`);
  for (const name of Object.keys(TEST_FILES)) results.push({ file: name, name: `${name} (whole file)`, status: 'skip', ms: 0 });
  finish({ skippedReason: 'no Chromium' });
}

const selected = Object.entries(TEST_FILES).filter(([name]) => filters.length === 0 || filters.some((f) => name.includes(f)));
const withExample = filters.length === 0 || filters.some((f) => 'example'.includes(f) || f.includes('example'));
const tmp = mkdtempSync(join(tmpdir(), 'tandem-browser-tests-'));

/** esbuild `define`s for the environment variables the test files read (others stay undefined → a ReferenceError shows). */
function envDefines(): Record<string, string> {
  const val = (v: string | undefined) => (v === undefined ? 'undefined' : JSON.stringify(v));
  return {
    'process.env.TANDEM_REQUIRE_WEBGPU': val(REQUIRE || process.env.TANDEM_REQUIRE_WEBGPU === '1' ? '1' : undefined),
    'process.env.TANDEM_PARITY_RUNS': val(process.env.TANDEM_PARITY_RUNS),
    'process.env.TANDEM_DEEP': val(process.env.TANDEM_DEEP),
  };
}

let browser: Browser | undefined;
try {
  // 1. Bundle.
  let t = Date.now();
  const entryPoints: Record<string, string> = { harness: join(ROOT, 'browser-tests', 'page', 'harness.ts') };
  for (const [name, file] of selected) entryPoints[`tests/${name}`] = join(ROOT, file);
  const meta = await bundleForBrowser({
    entryPoints,
    outdir: tmp,
    source: true,
    alias: { vitest: join(ROOT, 'browser-tests', 'shim', 'vitest.ts') },
    define: envDefines(),
  });
  const bad = forbiddenInputs(meta);
  if (bad.length > 0) throw new Error(`the browser bundles contain Node-only modules: ${bad.join(', ')}`);
  writeFileSync(join(tmp, 'index.html'), '<!doctype html><meta charset="utf-8"><title>tandem browser tests</title><script type="module" src="./harness.js"></script>\n');
  writeFileSync(join(tmp, 'blank.html'), '<!doctype html><meta charset="utf-8"><title>blank</title>\n');
  if (withExample) await buildExample(join(tmp, 'example'));
  timings.bundleMs = Date.now() - t;
  console.log(`bundled ${selected.length} test files${withExample ? ' and the example page' : ''} with esbuild in ${secs(timings.bundleMs)} (${tmp})`);

  // 2. Node's fingerprints.
  let fingerprints: Record<string, string> | undefined;
  if (selected.some(([name]) => name === 'browser/cpu-bits')) {
    t = Date.now();
    const { cpuFingerprints } = await import('./fingerprint.js');
    fingerprints = await cpuFingerprints();
    timings.nodeFingerprintsMs = Date.now() - t;
    console.log(`computed ${Object.keys(fingerprints).length} cpu fingerprints under Node in ${secs(timings.nodeFingerprintsMs)}`);
  }

  // 3. Serve, launch, probe WebGPU.
  const server = await serveStatic({ '/': tmp });
  t = Date.now();
  browser = await launchChromium(chromiumPath!);
  console.log(`Chromium ${browser.version()} (${chromiumPath}) started in ${secs(Date.now() - t)}; serving ${server.origin}`);
  {
    const page = await browser.newPage();
    await page.goto(`${server.origin}/blank.html`);
    const probe = await probeWebGPU(page);
    await page.close();
    if (probe.ok) {
      console.log(`WebGPU adapter in Chromium: ${probe.adapter}${probe.software ? ' (software)' : ''}`);
      metrics['Chromium WebGPU adapter'] = probe.adapter;
    } else missing(`Chromium has no WebGPU adapter: ${probe.reason}`);
  }

  // 4. The test files, one page each.
  for (const [name] of selected) {
    const start = Date.now();
    const page = await browser.newPage();
    const mine: TestResult[] = [];
    const logs: string[] = [];
    const done = new Promise<void>((resolve) => {
      page.on('console', (msg) => {
        const text = msg.text();
        if (text.startsWith('@@tandem ')) {
          const ev = JSON.parse(text.slice(9)) as HarnessEvent;
          if (ev.type === 'result') mine.push(ev.result);
          else if (ev.type === 'metric') metrics[ev.name] = ev.value;
          else if (ev.type === 'done') resolve();
        } else logs.push(`[${msg.type()}] ${text}`);
      });
      page.on('pageerror', (e) => logs.push(`[pageerror] ${e.message}`));
      page.on('crash', () => {
        mine.push({ name: `${name} > (page crashed)`, status: 'fail', ms: 0, error: 'the page crashed' });
        resolve();
      });
    });
    if (fingerprints && name === 'browser/cpu-bits') {
      await page.addInitScript((fp) => {
        (globalThis as { __TANDEM_NODE_FINGERPRINTS__?: unknown }).__TANDEM_NODE_FINGERPRINTS__ = fp;
      }, fingerprints);
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), FILE_TIMEOUT_MS);
    });
    await page.goto(`${server.origin}/index.html?test=${encodeURIComponent(name)}`);
    if ((await Promise.race([done, timedOut])) === 'timeout') {
      mine.push({ name: `${name} > (file)`, status: 'fail', ms: FILE_TIMEOUT_MS, error: `did not finish within ${FILE_TIMEOUT_MS / 1000} s` });
    }
    clearTimeout(timer);
    await page.close();
    timings[name] = Date.now() - start;
    if (mine.length === 0) mine.push({ name: `${name} > (file)`, status: 'fail', ms: 0, error: 'the file reported no tests' });
    // Each failure is matched against the known divergences once.
    const classified = mine.map((r) => ({ r, k: r.status === 'fail' ? knownDivergence(r.name, r.error) : undefined }));
    const kn = classified.filter((c) => c.k !== undefined).length;
    const p = mine.filter((r) => r.status === 'pass').length, f = mine.filter((r) => r.status === 'fail').length - kn, s = mine.filter((r) => r.status === 'skip').length;
    console.log(`${f > 0 ? '✗' : '✓'} ${name.padEnd(24)} ${String(p).padStart(3)} passed, ${f} failed, ${s} skipped${kn ? `, ${kn} known divergence${kn > 1 ? 's' : ''}` : ''}  (${secs(timings[name])})`);
    for (const l of logs) if (!/^\[(debug|verbose)\]/.test(l)) console.log(`    ${l.split('\n')[0]}`);
    for (const { r, k } of classified) results.push(k ? { ...r, status: 'known', why: k.why, file: name } : { ...r, file: name });
  }

  // 5. The example page.
  if (withExample) {
    const start = Date.now();
    const page = await browser.newPage({ viewport: { width: 1000, height: 1100 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    const name = `example > the copy task trains in the page and its loss falls (${EXAMPLE_STEPS} steps)`;
    try {
      await page.goto(`${server.origin}/example/?steps=${EXAMPLE_STEPS}`);
      await page.waitForFunction(() => {
        const s = (window as unknown as { __example?: { done: boolean; error?: string } }).__example;
        return s !== undefined && (s.done || s.error !== undefined);
      }, undefined, { timeout: FILE_TIMEOUT_MS, polling: 500 });
      const st = await page.evaluate(() => (window as unknown as { __example: { backend: string; adapter: string; fallback?: string; losses: number[]; samples: { correct: boolean }[]; msPerStep: number; error?: string } }).__example);
      const shot = join(ROOT, 'runs', 'screenshots', 'example-browser.png');
      mkdirSync(join(ROOT, 'runs', 'screenshots'), { recursive: true });
      await page.screenshot({ path: shot, fullPage: true });
      const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const first = avg(st.losses.slice(0, 10)), last = avg(st.losses.slice(-10));
      metrics.example = { backend: st.backend, adapter: st.adapter, steps: st.losses.length, firstLoss: st.losses[0], lastLoss: st.losses[st.losses.length - 1], msPerStep: Math.round(st.msPerStep), copied: `${st.samples.filter((s) => s.correct).length}/${st.samples.length}`, screenshot: relative(ROOT, shot) };
      const problems: string[] = [];
      if (st.error) problems.push(`the page failed: ${st.error}`);
      if (errors.length > 0) problems.push(`console errors: ${errors.join('; ')}`);
      if (st.losses.length !== EXAMPLE_STEPS) problems.push(`trained ${st.losses.length} steps, expected ${EXAMPLE_STEPS}`);
      if (!(last < 0.6 * first)) problems.push(`the loss did not fall: mean of the first 10 steps ${first.toFixed(4)}, of the last 10 ${last.toFixed(4)}`);
      if (st.samples.length === 0) problems.push('no samples shown');
      if (st.backend !== 'webgpu' && !REQUIRE && st.fallback) console.warn(`    example fell back to cpu: ${st.fallback}`);
      if (st.backend !== 'webgpu' && REQUIRE) problems.push(`the example trained on ${st.backend}, not webgpu (${st.fallback ?? 'no reason given'})`);
      results.push({ file: 'example', name, status: problems.length ? 'fail' : 'pass', ms: Date.now() - start, ...(problems.length ? { error: problems.join('\n') } : {}) });
      console.log(`${problems.length ? '✗' : '✓'} example (docs/examples/browser) on ${st.backend}: loss ${first.toFixed(3)} → ${last.toFixed(3)} over ${st.losses.length} steps, ${Math.round(st.msPerStep)} ms/step, ${metrics.example && (metrics.example as { copied: string }).copied} samples copied; screenshot ${relative(ROOT, shot)}  (${secs(Date.now() - start)})`);
    } catch (e) {
      results.push({ file: 'example', name, status: 'fail', ms: Date.now() - start, error: `${(e as Error).message}${errors.length ? `\nconsole: ${errors.join('; ')}` : ''}` });
      console.log(`✗ example: ${(e as Error).message.split('\n')[0]}`);
    }
    timings.example = Date.now() - start;
    await page.close();
  }
  await server.close();
} catch (e) {
  results.push({ file: '(setup)', name: '(setup)', status: 'fail', ms: 0, error: (e as Error).stack ?? String(e) });
} finally {
  await browser?.close().catch(() => undefined);
  if (KEEP) console.log(`(kept ${tmp})`);
  else rmSync(tmp, { recursive: true, force: true });
}
finish();

#!/usr/bin/env node
// Checks that the published packages work for someone who installs them from npm:
//
//   1. builds each package to dist/ (tsc -p tsconfig.build.json, from a clean dist/);
//   2. packs each with `pnpm pack` (which rewrites `workspace:*` to real versions) and
//      checks the tarball: entry points present, no `workspace:` ranges left, no tests;
//   3. creates a fresh project OUTSIDE the workspace (under os.tmpdir()), runs
//      `npm init -y` and `npm install <tarballs…>` there (third-party dependencies come
//      from the npm registry), and
//   4. runs one small example per package against the installed copies (plain `node`,
//      no TypeScript loader, no `tandem-source` condition: what a user gets), including
//      the `tandem-experiment` bin and the wasm matmul's worker thread; and
//   5. type-checks a small strict TypeScript consumer against the published .d.ts files;
//   6. bundles a browser example for each of tensor, autodiff and nn from the installed
//      packages with esbuild (their `browser` conditions and file maps) and runs it in
//      headless Chromium (browser-tests/pack-browser.ts; WebGPU through navigator.gpu).
//      Without Chromium this step is skipped loudly, unless TANDEM_REQUIRE_BROWSER=1.
//
// Exits non-zero with a message naming the failing step; always removes its temp folder
// (pass --keep to leave it for inspection). `--reuse=<dir>` reruns only steps 4 to 6 in the
// `app` folder of a kept run (<tmp>/app), e.g. after editing an example.
//
// Usage: pnpm check:pack [--keep] [--reuse=<kept tmp>/app]

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGES = ['tensor', 'autodiff', 'nn', 'rlhf', 'experiments'];
const KEEP = process.argv.includes('--keep');
const REUSE = process.argv.find((a) => a.startsWith('--reuse='))?.slice('--reuse='.length);
const require = createRequire(join(ROOT, 'package.json'));

class CheckError extends Error {}
const fail = (msg) => {
  throw new CheckError(msg);
};

const t0 = Date.now();
const secs = (since) => `${((Date.now() - since) / 1000).toFixed(1)}s`;
function step(title) {
  const start = Date.now();
  process.stdout.write(`\n== ${title}\n`);
  return () => process.stdout.write(`   done in ${secs(start)}\n`);
}

/** Runs a command; on failure throws with its output. Returns stdout. */
function run(cmd, args, { cwd = ROOT, env = process.env, what } = {}) {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) fail(`${what ?? cmd}: could not start \`${cmd}\`: ${r.error.message}`);
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
    fail(`${what ?? `${cmd} ${args.join(' ')}`} failed (exit ${r.status}) in ${relative(ROOT, cwd) || '.'}:\n${out}`);
  }
  return r.stdout;
}

/** How to call pnpm: the one running this script (`pnpm check:pack`), else the pinned version via npx. */
function pnpmCommand() {
  const execPath = process.env.npm_execpath ?? '';
  if (/pnpm(\.c?js)?$/.test(execPath)) return execPath.endsWith('js') ? [process.execPath, [execPath]] : [execPath, []];
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).packageManager.split('@')[1];
  return ['npx', ['-y', `pnpm@${version}`]];
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// Examples run as a user would run them: no loaders or conditions inherited from this process.
const cleanEnv = { ...process.env, NODE_OPTIONS: '' };
delete cleanEnv.npm_config_conditions;

// ---------------------------------------------------------------------------------------
// The examples, one per package. Each prints lines and ends with "ok <package>".

const EXAMPLES = {
  tensor: `
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { tensor, matmul, key, split, uniform, randomBits, tidy, memory, getBackend } from '@tandem/tensor';

const entry = fileURLToPath(import.meta.resolve('@tandem/tensor'));
assert.match(entry, /node_modules[\\\\/]@tandem[\\\\/]tensor[\\\\/]dist[\\\\/]index\\.js$/, 'resolved ' + entry);

// An op on the cpu backend.
const x = tensor([[1, 2], [3, 4]]);
const y = x.matmul(x).add(1).relu();
assert.equal(y.backend.name, 'cpu');
assert.deepEqual(await y.toArray(), [[8, 11], [16, 23]]);

// Random keys: same key, same bits; split keys differ.
const [k1, k2] = split(key(42));
assert.deepEqual(Array.from(randomBits(k1, [8]).dataSync()), Array.from(randomBits(k1, [8]).dataSync()));
assert.notDeepEqual(Array.from(randomBits(k1, [8]).dataSync()), Array.from(randomBits(k2, [8]).dataSync()));

// The WebAssembly SIMD matmul, large enough for its two-thread path (the worker is spawned
// from an inline source, so it must start from dist/ as well as from src/). A missing file or
// export is a failure, not a skip: otherwise moving or renaming the module silently drops
// the check.
const threadsFile = 'dist/cpu/wasm/matmul.js';
const threadsExport = 'matmulF32ThreadsReady';
const threads = new URL('./node_modules/@tandem/tensor/' + threadsFile, import.meta.url);
assert.ok(existsSync(threads), '@tandem/tensor/' + threadsFile + ' is not in the installed package: the matmul worker-thread check cannot run (moved or renamed? update this check)');
const m = await import(threads.href);
assert.equal(typeof m[threadsExport], 'function', '@tandem/tensor/' + threadsFile + ' does not export ' + threadsExport + '() (renamed? update this check)');
assert.equal(await m[threadsExport](), true, 'the matmul worker thread did not start from dist/');
console.log('matmul worker thread: ready');
const n = 256;
const a = uniform(key(1), [n, n]);
const b = uniform(key(2), [n, n]);
const c = matmul(a, b).dataSync();
const ah = a.dataSync(), bh = b.dataSync();
for (const [i, j] of [[0, 0], [17, 200], [255, 255]]) {
  let s = 0;
  for (let k = 0; k < n; k++) s += ah[i * n + k] * bh[k * n + j];
  assert.ok(Math.abs(c[i * n + j] - s) < 1e-3, 'matmul entry ' + i + ',' + j + ': ' + c[i * n + j] + ' vs ' + s);
}

// Memory scopes: tidy frees what its result does not hold.
const before = memory().cpu.tensors;
const kept = tidy(() => x.mul(2).add(1).sum());
assert.equal(memory().cpu.tensors, before + 1);
kept.dispose();
assert.equal(getBackend('cpu').name, 'cpu');
console.log('x @ x + 1 =', JSON.stringify(await y.toArray()));
console.log('ok @tandem/tensor');
`,
  autodiff: `
import assert from 'node:assert/strict';
import { tensor, sum, mul } from '@tandem/tensor';
import { grad, valueAndGrad, checkGrads } from '@tandem/autodiff';

const f = (x) => sum(mul(x, x));                       // f(x) = Σ x², ∇f = 2x
const g = grad(f)(tensor([1, -2, 3]));
assert.deepEqual(Array.from(g.dataSync()), [2, -4, 6]);
const [v, dg] = valueAndGrad((p) => sum(mul(p.w, p.x)))({ w: tensor([1, 2]), x: tensor([3, 4]) });
assert.equal(await v.item(), 11);
assert.deepEqual(Array.from(dg.w.dataSync()), [3, 4]);
checkGrads((x) => x.tanh().sum(), [tensor([0.1, -0.4, 0.9])]);
console.log('grad of Σx² at [1,-2,3] =', Array.from(g.dataSync()));
console.log('ok @tandem/autodiff');
`,
  nn: `
import assert from 'node:assert/strict';
import { key, tensor } from '@tandem/tensor';
import { initTransformer, logits, transformerConfig, adam, applyUpdates } from '@tandem/nn';

const cfg = transformerConfig({ vocab: 16, dModel: 16, heads: 2, dFf: 32, encLayers: 1, decLayers: 1, maxSrc: 6, maxTgt: 5 });
const params = initTransformer(key(0), cfg);
const src = tensor([[4, 5, 6, 7, 8, 9], [9, 8, 7, 6, 5, 4]], { dtype: 'int32' });
const tgt = tensor([[4, 5, 6, 2, 0], [7, 8, 2, 0, 0]], { dtype: 'int32' });
const out = logits(params, cfg, src, tgt);
assert.deepEqual(out.shape, [2, 5, 16]);
assert.ok(Array.from(out.dataSync()).every(Number.isFinite), 'logits must be finite');
const again = logits(initTransformer(key(0), cfg), cfg, src, tgt);
assert.deepEqual(Array.from(again.dataSync()), Array.from(out.dataSync()), 'same key, same logits');
const opt = adam({ lr: 1e-3 });
assert.ok(opt.init(params).count === 0 && typeof applyUpdates === 'function');
console.log('logits shape', JSON.stringify(out.shape));
console.log('ok @tandem/nn');
`,
  rlhf: `
import assert from 'node:assert/strict';
import { key } from '@tandem/tensor';
import { getTask, rngFromKey, showTokens, LOSSES, MAX_UTILITY, initialDataset } from '@tandem/rlhf';

const task = getTask('summarize');
const prompt = task.samplePrompt(rngFromKey(key(7)));
const ideal = task.idealResponse(prompt);
const u = task.utility(prompt, ideal);
assert.ok(Math.abs(u - MAX_UTILITY) < 1e-9, 'the ideal response scores the maximum utility, got ' + u);
assert.ok(task.utility(prompt, [2]) < u, 'an empty response scores less');
assert.deepEqual(Object.keys(LOSSES).sort(), ['bo2', 'dpo', 'ipo', 'slic']);
const ds = initialDataset(task, { size: 4, key: key(1) });
assert.equal(ds.pairs.length, 4);
console.log('prompt:', showTokens(prompt));
console.log('ideal :', showTokens(ideal), 'utility', u);
console.log('ok @tandem/rlhf');
`,
  experiments: `
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as X from '@tandem/experiments';

assert.ok(X.PRESETS && X.PRESETS.quick && X.PRESETS.full, 'PRESETS with quick and full');
assert.equal(typeof X.decodeWith, 'function');
const ok = X.decodeWith(X.StudyConfig, X.PRESETS.quick, 'quick preset');
assert.equal(ok._tag, 'Right', 'the quick preset decodes');
const bad = X.decodeWith(X.StudyConfig, { ...X.PRESETS.quick, train: { ...X.PRESETS.quick.train, lr: -1 } }, 'config');
assert.equal(bad._tag, 'Left');
assert.match(bad.left.message, /train\\.lr/);
console.log('presets:', Object.keys(X.PRESETS).join(', '));

// The CLI, through the bin npm linked (dist/cli.js with its shebang).
const bin = fileURLToPath(new URL('./node_modules/.bin/tandem-experiment', import.meta.url));
const list = execFileSync(bin, ['list'], { encoding: 'utf8' });
assert.match(list, /^main\\s/m, 'tandem-experiment list names the main experiment');
assert.match(list, /presets: .*quick/, 'tandem-experiment list names the presets');
console.log('tandem-experiment list: ' + list.split('\\n').filter(Boolean).length + ' lines');
console.log('ok @tandem/experiments');
`,
};

/** Uses each package's main types, as a TypeScript user would. */
const CONSUMER_TS = `
import { tensor, key, tidy, type Tensor, type Key } from '@tandem/tensor';
import { grad, valueAndGrad } from '@tandem/autodiff';
import { initTransformer, transformerConfig, logits, adam, type TransformerParams } from '@tandem/nn';
import { getTask, ipo, gpo, type Loss, type Sampler, type Evaluator, type PairBatch } from '@tandem/rlhf';
import { PRESETS, decodeWith, StudyConfig, type Program } from '@tandem/experiments';

const k: Key = key(0);
const g: Tensor = grad((x: Tensor) => x.mul(x).sum())(tensor([1, 2]));
const [v, dg] = valueAndGrad((x: Tensor) => x.sum())(tensor([1]));
const cfg = transformerConfig({ vocab: 8, dModel: 8, heads: 2, dFf: 8, encLayers: 1, decLayers: 1, maxSrc: 4, maxTgt: 4 });
const params: TransformerParams = initTransformer(k, cfg);
const out: Tensor = tidy(() => logits(params, cfg, tensor([[4, 5]], { dtype: 'int32' }), tensor([[4, 2]], { dtype: 'int32' })));
const opt = adam({ lr: 1e-3 });
const losses: Loss[] = [ipo, gpo('mine', (z) => z.neg().exp())];
const none: Sampler<number> = { name: 'none', init: 0, next: async (s) => [{ pairs: [] } satisfies PairBatch, s + 1] };
const ev: Evaluator = async () => ({ x: { value: 1, se: 0 } });
const decoded = decodeWith(StudyConfig, PRESETS['quick'], 'quick');
const p: Program<number> | undefined = undefined;
export const all = [g, v, dg, out, opt, losses, none, ev, decoded, p, getTask('summarize').name];
`;

// ---------------------------------------------------------------------------------------

async function main() {
  if (REUSE) {
    for (const p of PACKAGES) {
      if (!existsSync(join(REUSE, 'node_modules', '@tandem', p, 'package.json'))) fail(`--reuse=${REUSE}: @tandem/${p} is not installed there (pass the app folder of a run kept with --keep)`);
    }
    runExamples(REUSE);
    typeCheckConsumer(REUSE);
    runBrowserExamples(REUSE);
    console.log(`\ncheck:pack (examples and types only, in ${REUSE}) passed in ${secs(t0)}.`);
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'tandem-check-pack-'));
  const tarDir = join(tmp, 'tarballs');
  const app = join(tmp, 'app');
  mkdirSync(tarDir);
  mkdirSync(app);
  try {
    // 1. Build.
    let done = step('build: tsc -p tsconfig.build.json for each package');
    const tsc = require.resolve('typescript/bin/tsc');
    for (const p of PACKAGES) {
      const dir = join(ROOT, 'packages', p);
      rmSync(join(dir, 'dist'), { recursive: true, force: true });
      run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: dir, what: `build of @tandem/${p}` });
      for (const f of ['dist/index.js', 'dist/index.d.ts']) {
        if (!existsSync(join(dir, f))) fail(`build of @tandem/${p}: ${f} is missing after tsc (is src/index.ts there?)`);
      }
      console.log(`   @tandem/${p}: dist/ built`);
    }
    done();

    // 2. Pack (already built, so the prepack build is skipped) and inspect the tarballs.
    done = step('pack: pnpm pack, then inspect each tarball');
    const [pnpm, pnpmArgs] = pnpmCommand();
    const tarballs = [];
    const versions = {};
    for (const p of PACKAGES) {
      const dir = join(ROOT, 'packages', p);
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      versions[pkg.name] = pkg.version;
      const before = new Set(readdirSync(tarDir));
      run(pnpm, [...pnpmArgs, 'pack', '--config.ignore-scripts=true', '--pack-destination', tarDir], { cwd: dir, what: `pnpm pack of ${pkg.name}` });
      const made = readdirSync(tarDir).filter((f) => !before.has(f) && f.endsWith('.tgz'));
      if (made.length !== 1) fail(`pnpm pack of ${pkg.name}: expected one new tarball in ${tarDir}, found ${made.join(', ') || 'none'}`);
      tarballs.push(join(tarDir, made[0]));
    }
    for (const [i, p] of PACKAGES.entries()) checkTarball(tarballs[i], p, versions);
    done();

    // 3. Install into a fresh project outside the workspace.
    done = step(`install: npm init -y && npm install <${tarballs.length} tarballs> in ${app}`);
    run(npm, ['init', '-y'], { cwd: app, env: cleanEnv, what: 'npm init -y' });
    run(npm, ['install', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], { cwd: app, env: cleanEnv, what: 'npm install of the tarballs' });
    for (const p of PACKAGES) {
      const installed = join(app, 'node_modules', '@tandem', p, 'package.json');
      if (!existsSync(installed)) fail(`npm install: ${installed} is missing`);
    }
    done();

    runExamples(app);
    typeCheckConsumer(app);
    runBrowserExamples(app);
    console.log(`\ncheck:pack passed in ${secs(t0)}: ${PACKAGES.length} packages built, packed, installed with npm outside the workspace, used, and type-checked; tensor, autodiff and nn bundled for the browser and run in Chromium.`);
  } finally {
    if (KEEP) console.log(`(kept ${tmp})`);
    else rmSync(tmp, { recursive: true, force: true });
  }
}

/** 4. Runs the examples in the installed project `app`. */
function runExamples(app) {
  const done = step('examples: one script per package, plain node');
  for (const p of PACKAGES) {
    const file = join(app, `example-${p}.mjs`);
    writeFileSync(file, EXAMPLES[p].trimStart());
    const r = spawnSync(process.execPath, [file], { cwd: app, env: cleanEnv, encoding: 'utf8', timeout: 120_000 });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    if (r.status !== 0 || !out.includes(`ok @tandem/${p}`)) {
      fail(`example for @tandem/${p} failed (exit ${r.status ?? r.signal}):\n${out.split('\n').slice(-30).map((l) => `     ${l}`).join('\n')}\n   script: ${KEEP || REUSE ? file : '(rerun with --keep to inspect it)'}`);
    }
    console.log(out.split('\n').map((l) => `   ${l}`).join('\n'));
  }
  done();
}

/** 5. The published types: a strict TypeScript consumer, skipLibCheck off, no @types/node. */
function typeCheckConsumer(app) {
  const done = step('types: tsc --noEmit on a consumer module (strict, NodeNext, skipLibCheck: false)');
  const tsc = require.resolve('typescript/bin/tsc');
  writeFileSync(join(app, 'consumer.mts'), CONSUMER_TS.trimStart());
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: [] },
    files: ['consumer.mts'],
  }, null, 2));
  run(process.execPath, [tsc, '-p', join(app, 'tsconfig.json')], { cwd: app, env: cleanEnv, what: 'type-checking a consumer of the published .d.ts files' });
  console.log('   the packages\' .d.ts files type-check in a strict consumer');
  done();
}

/** 6. The browser: bundle tensor/autodiff/nn examples from the installed packages, run them in Chromium. */
function runBrowserExamples(app) {
  const done = step('browser: esbuild bundles of the tensor, autodiff and nn examples from the installed packages, run in headless Chromium');
  // Run from the workspace (esbuild, playwright-core and tsx are its devDependencies), without
  // the tandem-source condition: the bundles must come from the installed dist/ files.
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'browser-tests', 'pack-browser.ts'), app], {
    cwd: ROOT, env: cleanEnv, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 * 1024 * 1024,
  });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (out) console.log(out.split('\n').map((l) => (l.startsWith('   ') ? l : `   ${l}`)).join('\n'));
  if (r.status !== 0) fail(`the browser step failed (exit ${r.status ?? r.signal}); see above`);
  done();
}

/** Reads the file list and package.json of a tarball and checks what a user will get. */
function checkTarball(tgz, p, versions) {
  const name = `@tandem/${p}`;
  const files = run('tar', ['-tzf', tgz], { what: `listing ${tgz}` }).split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  const manifest = JSON.parse(run('tar', ['-xzOf', tgz, 'package/package.json'], { what: `reading package.json of ${tgz}` }));
  const problems = [];
  const has = (f) => files.includes(f.replace(/^\.\//, ''));
  for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']) if (!has(f)) problems.push(`${f} is not in the tarball`);
  // Every path the manifest points at must be shipped.
  const targets = [];
  const collect = (v) => {
    if (typeof v === 'string') targets.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(collect);
  };
  collect(manifest.exports);
  collect(manifest.bin);
  // The browser file map: both the replaced and the replacing files (dist/ ones; src/ keys are for workspace bundling).
  for (const [from, to] of Object.entries(manifest.browser && typeof manifest.browser === 'object' ? manifest.browser : {})) {
    if (from.startsWith('./dist/')) targets.push(from, to);
  }
  for (const k of ['main', 'types']) if (manifest[k]) targets.push(manifest[k]);
  for (const t of new Set(targets)) if (!has(t)) problems.push(`package.json points at ${t}, which is not in the tarball`);
  const firstCondition = Object.keys(manifest.exports?.['.'] ?? {})[0];
  if (firstCondition !== 'tandem-source') problems.push(`exports["."] must list the 'tandem-source' condition first, got '${firstCondition}'`);
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (String(range).startsWith('workspace:')) problems.push(`${field}.${dep} is still '${range}'`);
      if (dep in versions && range !== versions[dep]) problems.push(`${field}.${dep} is '${range}', expected the workspace version ${versions[dep]}`);
    }
  }
  const stray = files.filter((f) => /(^|\/)(test|tests|bench|scratch)\//.test(f) || /\.test\.[cm]?[jt]s$/.test(f));
  if (stray.length) problems.push(`tests or scratch files are packed: ${stray.slice(0, 5).join(', ')}`);
  if (manifest.license !== 'MIT') problems.push(`license is ${manifest.license}, expected MIT`);
  if (problems.length) fail(`tarball of ${name} (${tgz}):\n   - ${problems.join('\n   - ')}`);
  const kib = (readFileSync(tgz).length / 1024).toFixed(0);
  const deps = Object.entries(manifest.dependencies ?? {}).filter(([d]) => d in versions).map(([d, v]) => `${d}@${v}`);
  console.log(`   ${name}@${manifest.version}: ${files.length} files, ${kib} KiB${deps.length ? `; depends on ${deps.join(', ')}` : ''}`);
}

main().catch((e) => {
  if (e instanceof CheckError) {
    console.error(`\ncheck:pack FAILED after ${secs(t0)}: ${e.message}`);
  } else {
    console.error(`\ncheck:pack FAILED after ${secs(t0)} with an unexpected error:`, e);
  }
  process.exit(1);
});

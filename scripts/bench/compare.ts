/**
 * `pnpm bench:compare [--quick] [--baseline DIR] [--anchors torch,jax-js,tfjs]`: tandem's
 * cpu cases (`pnpm bench nn --backend cpu`, the matmul cases of `pnpm bench tensor
 * --backend cpu`), then, right after in the same sitting, every anchor that is installed:
 *
 * - PyTorch: scripts/anchors/pytorch_rw.py under /usr/bin/python3 (Debian's python3-torch;
 *   `apt-get install -y python3-torch`), 2 threads (ANCHOR_THREADS overrides).
 * - jax-js, TF.js: optional; skipped with a message when their packages are not installed.
 *
 * Prints tandem's and the anchors' own lines, then one ratio line per case:
 * `{"bench":"compare","case","anchor","tandem_ms","anchor_ms","ratio"}` (ratio = tandem / anchor
 * time; for matmul also both GFLOP/s and `gflops_ratio` = tandem / anchor). Check losses of
 * both are printed side by side (they must agree to ~1e-5 relative).
 *
 * `--baseline DIR`: first runs the same tandem cases in another checkout (e.g. an older
 * commit extracted with `git archive`, its node_modules linked to this one's), and prints
 * its ratio lines too (`"tandem":"baseline"`), so before and after are measured in one sitting.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { report as line } from './harness.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const ai = argv.indexOf('--anchors');
const anchors = ai >= 0 ? argv[ai + 1]!.split(',') : ['torch', 'jax-js', 'tfjs'];
const bli = argv.indexOf('--baseline');
const baselineRoot = bli >= 0 ? argv[bli + 1]! : undefined;

/** Runs a tandem bench and returns its JSON lines (also echoed). */
function tandemBench(pkg: string, extra: string[], dir = root): Record<string, unknown>[] {
  const r = spawnSync(process.execPath, ['--conditions=tandem-source', '--import', 'tsx', join(dir, 'scripts', 'bench.ts'), pkg, '--backend', 'cpu', ...extra], {
    cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`pnpm bench ${pkg} failed (${r.status})`);
  const out: Record<string, unknown>[] = [];
  for (const l of r.stdout.split('\n')) {
    if (!l.startsWith('{')) continue;
    console.log(l);
    out.push({ ...(JSON.parse(l) as Record<string, unknown>), ...(dir === root ? {} : { tandem: 'baseline' }) });
  }
  return out;
}

/** tandem case name → PyTorch result key. */
const CASES: [string, string][] = [
  ['rw1_train_step', 'RW-1 (a) train step'],
  ['rw1_ipo_step', 'RW-1 (b) IPO step'],
  ['rw1_sample_no_cache', 'RW-1 (c) sample, no cache'],
  ['rw1_sample_kv_cache', 'RW-1 (c) sample, KV cache'],
  ['rw2_train_step', 'RW-2 (a) train step'],
];

function pythonWithTorch(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch, numpy'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}

interface TorchOut {
  version: string;
  threads: number;
  blas: string[];
  results: Record<string, { median_ms: number }>;
  check: Record<string, number>;
  matmul?: Record<string, { gflops: number; median_ms: number }>;
}

function runTorch(): TorchOut | undefined {
  const py = pythonWithTorch();
  if (!py) {
    line({ bench: 'compare', anchor: 'torch', skipped: 'PyTorch is not installed (apt-get install -y python3-torch)' });
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tandem-compare-'));
  try {
    const json = join(dir, 'torch.json');
    // OpenBLAS with OpenMP when Debian has it (the figures in docs/benchmarks.md used it).
    const omp = '/usr/lib/x86_64-linux-gnu/openblas-openmp';
    const env = { ...process.env, ANCHOR_THREADS: process.env.ANCHOR_THREADS ?? '2', ...(existsSync(omp) && !process.env.LD_LIBRARY_PATH ? { LD_LIBRARY_PATH: omp } : {}) };
    const r = spawnSync(py, [join(root, 'scripts', 'anchors', 'pytorch_rw.py'), '--json', json, ...(quick ? ['--quick'] : [])], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0 || !existsSync(json)) {
      line({ bench: 'compare', anchor: 'torch', skipped: `pytorch_rw.py failed (${r.status})` });
      return undefined;
    }
    return JSON.parse(readFileSync(json, 'utf8')) as TorchOut;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function installed(pkg: string): boolean {
  try {
    createRequire(join(root, 'package.json')).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

function main(): void {
  const t0 = new Date();
  const load = () => (existsSync('/proc/loadavg') ? readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') : null);
  line({ bench: 'compare', started: t0.toISOString(), loadavg: load() });
  const q = quick ? ['--quick'] : [];
  const runs: { label: string; nn: Record<string, unknown>[]; tensor: Record<string, unknown>[] }[] = [];
  if (baselineRoot) runs.push({ label: 'baseline', nn: tandemBench('nn', q, baselineRoot), tensor: tandemBench('tensor', q, baselineRoot) });
  runs.push({ label: 'this', nn: tandemBench('nn', q), tensor: tandemBench('tensor', q) });
  const torch = anchors.includes('torch') ? runTorch() : undefined;
  for (const [name, pkg] of [['jax-js', '@jax-js/jax'], ['tfjs', '@tensorflow/tfjs']] as const) {
    if (!anchors.includes(name)) continue;
    if (!installed(pkg)) line({ bench: 'compare', anchor: name, skipped: `${pkg} is not installed (optional; add it as a dev dependency to compare)` });
    else line({ bench: 'compare', anchor: name, skipped: 'installed, but no runner for it is written yet' });
  }
  if (!torch) return;
  const tag = { anchor: `torch ${torch.version}`, threads: torch.threads };
  for (const { label, nn, tensor } of runs) {
    const who = { tandem: label };
    for (const [tc, key] of CASES) {
      const t = nn.find((x) => x.bench === tc && x.backend === 'cpu');
      const a = torch.results[key];
      if (!t || !a) continue;
      line({ bench: 'compare', case: key, ...who, ...tag, tandem_ms: t.ms as number, anchor_ms: a.median_ms, ratio: (t.ms as number) / a.median_ms });
    }
    for (const [n, a] of Object.entries(torch.matmul ?? {})) {
      const t = tensor.find((x) => x.bench === 'matmul' && x.backend === 'cpu' && String(x.n) === n);
      if (!t) continue;
      line({ bench: 'compare', case: `matmul n = ${n}`, ...who, ...tag, tandem_ms: t.ms as number, anchor_ms: a.median_ms, ratio: (t.ms as number) / a.median_ms, tandem_gflops: t.gflops as number, anchor_gflops: a.gflops, gflops_ratio: (t.gflops as number) / a.gflops });
    }
    const tl = nn.find((x) => x.bench === 'rw1_train_step');
    const ti = nn.find((x) => x.bench === 'rw1_ipo_step');
    line({
      bench: 'compare', case: 'check losses', ...who, tandem_rw1_train_step0: tl?.loss_step0, torch_rw1_train_step0: torch.check['RW-1 train loss step0'],
      tandem_rw1_ipo_step0: ti?.loss_step0, torch_rw1_ipo_step0: torch.check['RW-1 IPO loss step0'],
    });
  }
  line({ bench: 'compare', finished: new Date().toISOString(), seconds: (Date.now() - t0.getTime()) / 1000, loadavg: load() });
}

main();

// Benchmark of the cpu backend's WebAssembly SIMD matmul (src/cpu/wasm/matmul.ts).
//
//   node --import tsx packages/tensor/bench/matmul-wasm.ts           # full (~10 s)
//   node --import tsx packages/tensor/bench/matmul-wasm.ts --quick   # ~1 s
//   ... --single                                                      # force one thread
//
// Prints one JSON line per case. Square cases use
//   {"bench":"matmul","backend":"cpu","n":256,"ms":...,"gflops":...,"threads":2}
// and the transformer-shaped / tiny cases add "case", "batch", "m", "k", "n", "transA",
// "transB". `ms` is the median time of one call over 7 samples (3 with --quick), each
// sample timing enough back-to-back calls to last ~50 ms (~5 ms with --quick).
// gflops = 2*batch*m*k*n / time; per-call overhead shows up in the tiny cases' ms.
// `threads` is 2 when the wrapper splits that size over its worker thread (it may still
// fall back to one thread per call if the other core is busy; see matmul.ts).

import { configureMatmulF32, matmulF32, matmulF32ThreadsReady, matmulF32UsesThreads } from '../src/cpu/wasm/matmul.js';

interface Case {
  name?: string;
  batch: number;
  m: number;
  k: number;
  n: number;
  transA?: boolean;
  transB?: boolean;
  /** Broadcast B over the batch (weights shared by all batch entries). */
  shareB?: boolean;
}

const quick = process.argv.includes('--quick');
const singleThread = process.argv.includes('--single');
const SAMPLE_MS = quick ? 5 : 50;
const SAMPLES = quick ? 3 : 7;

// Transformer workload: d_model 64, 4 heads of 16, seq 16-24, batch 32 (768 tokens).
const cases: Case[] = [
  { batch: 1, m: 64, k: 64, n: 64 },
  { batch: 1, m: 256, k: 256, n: 256 },
  { batch: 1, m: 1024, k: 1024, n: 1024 },
  { name: 'linear 512x64@64x64', batch: 1, m: 512, k: 64, n: 64 },
  { name: 'qkv 768x64@64x192', batch: 1, m: 768, k: 64, n: 192 },
  { name: 'ffn-up 768x64@64x256', batch: 1, m: 768, k: 64, n: 256 },
  { name: 'ffn-down 768x256@256x64', batch: 1, m: 768, k: 256, n: 64 },
  { name: 'grad-W X^T@dY 64x768@768x64', batch: 1, m: 64, k: 768, n: 64, transA: true },
  { name: 'grad-X dY@W^T 768x64@64x64', batch: 1, m: 768, k: 64, n: 64, transB: true },
  { name: 'attn 128x(16x16@16x24)', batch: 128, m: 16, k: 16, n: 24 },
  { name: 'attn-scores 128x(24x16@(24x16)^T)', batch: 128, m: 24, k: 16, n: 24, transB: true },
  { name: 'attn-values 128x(24x24@24x16)', batch: 128, m: 24, k: 24, n: 16 },
  { name: 'batched-linear 32x(24x64@64x64) shared W', batch: 32, m: 24, k: 64, n: 64, shareB: true },
  { name: 'tiny 1x1x1', batch: 1, m: 1, k: 1, n: 1 },
  { name: 'tiny 4x4x4', batch: 1, m: 4, k: 4, n: 4 },
  { name: 'tiny 16x16x16', batch: 1, m: 16, k: 16, n: 16 },
];

function random(len: number): Float32Array {
  const x = new Float32Array(len);
  for (let i = 0; i < len; i++) x[i] = Math.random() * 2 - 1;
  return x;
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  return s[s.length >> 1];
}

function run(c: Case): Record<string, unknown> {
  const transA = c.transA ?? false;
  const transB = c.transB ?? false;
  const aStride = c.m * c.k;
  const bStride = c.shareB ? 0 : c.k * c.n;
  const a = random(c.batch * aStride);
  const b = random(c.shareB ? c.k * c.n : c.batch * bStride);
  const out = new Float32Array(c.batch * c.m * c.n);
  const call = (): void => matmulF32(a, b, out, c.batch, c.m, c.k, c.n, transA, transB, aStride, bStride);

  // Warm up (tier-up of the wasm and JS code, memory growth), then calibrate.
  let iters = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) call();
    const dt = performance.now() - t0;
    if (dt >= SAMPLE_MS / 4) {
      iters = Math.max(1, Math.round((iters * SAMPLE_MS) / dt));
      break;
    }
    iters *= 2;
  }
  const perCall: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) call();
    perCall.push((performance.now() - t0) / iters);
  }
  const ms = median(perCall);
  const gflops = (2 * c.batch * c.m * c.k * c.n) / (ms * 1e6);
  const threads = threadsReady && matmulF32UsesThreads(c.batch, c.m, c.k, c.n, a.length, b.length) ? 2 : 1;
  const base = { bench: 'matmul', backend: 'cpu' };
  const stats = { ms: Number(ms.toPrecision(4)), gflops: Number(gflops.toPrecision(4)), threads };
  if (c.name === undefined) return { ...base, n: c.n, ...stats };
  return { ...base, case: c.name, batch: c.batch, m: c.m, k: c.k, n: c.n, transA, transB, ...stats };
}

let threadsReady = false;
if (singleThread) configureMatmulF32({ threads: false });
else threadsReady = await matmulF32ThreadsReady();
for (const c of cases) console.log(JSON.stringify(run(c)));

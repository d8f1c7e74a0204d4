/**
 * `pnpm bench tensor [--quick] [--backend cpu,webgpu]`: throughput of @tandem/tensor's
 * primitives through the public API, one JSON line per case:
 *
 *   {"bench":"matmul","backend":"cpu","n":256,"ms":…,"gflops":…}              square n×n @ n×n, GFLOP/s = 2n³/time
 *   {"bench":"elementwise","op":"add","backend":…,"n":1048576,"ms":…,"gelems_per_s":…}
 *   {"bench":"reduce","op":"sum","axis":-1,"shape":[1024,1024],…,"gelems_per_s":…}   (input elements / time)
 *   {"bench":"softmax","axis":-1,"shape":[512,64],…}
 *   {"bench":"op_overhead","op":"add","shape":[4],…,"us_per_op":…}           a tiny op: fixed cost per op
 *   {"bench":"op_roundtrip","op":"add","backend":"webgpu",…}                 one tiny op plus a read back (webgpu only)
 *
 * Every timed call includes the output's disposal; on webgpu it also waits for the
 * device (`await out.data()` for matmul, as a user reading the product would; the
 * backend's `sync()` elsewhere), so GPU work is inside the timing. A backend that
 * cannot be initialised prints a `skipped` line; an initialised webgpu backend first
 * prints `{"bench":"backend","backend":"webgpu","adapter":…,"software":…}`. `ms` is the
 * median of 7 samples of calibrated repetitions (~50 ms each; `--quick`: 3 of ~20 ms);
 * a call slower than 50 ms (n=1024 on a software webgpu adapter takes ~150-300 ms) is
 * timed as 5 samples of one call (`--quick`: a single one).
 *
 * The cpu matmul is the WebAssembly SIMD kernel (src/cpu/wasm); ./matmul-wasm.ts
 * benchmarks it directly, below the tensor API, including transformer-shaped cases.
 */
import * as T from '@tandem/tensor';
import { matmulF32ThreadsReady } from '../src/cpu/wasm/matmul.js';
import { initBackends, measure, measureAdaptive, parseBenchArgs, report } from '../../../scripts/bench/harness.js';

const opts = parseBenchArgs(process.argv.slice(2));
const quick = opts.quick;

const time = (fn: () => unknown) => measureAdaptive(fn, quick);

async function benchBackend(backend: T.Backend): Promise<void> {
  const name = backend.name;
  const gpu = name === 'webgpu';
  if (gpu) {
    const info = T.webgpuAdapterInfo();
    report({ bench: 'backend', backend: name, adapter: info?.description, software: info?.isSoftware });
  }
  const sync = gpu ? () => backend.sync() : undefined;
  let key = T.key(42);
  const rand = (shape: number[]): T.Tensor => {
    const [k1, k2] = T.split(key) as [T.Key, T.Key];
    key = k1;
    return T.tidy(() => T.uniform(k2, shape, { backend, minval: -1, maxval: 1 }));
  };

  // --- matmul -------------------------------------------------------------------------
  for (const n of [64, 256, 1024]) {
    const a = rand([n, n]);
    const b = rand([n, n]);
    const fn = gpu
      ? async () => {
        const c = T.matmul(a, b);
        await c.data();
        c.dispose();
      }
      : () => T.matmul(a, b).dispose();
    const r = await time(fn);
    report({ bench: 'matmul', backend: name, n, ms: r.ms, gflops: (2 * n ** 3) / (r.ms * 1e6), samples: r.samples });
    T.dispose([a, b]);
  }

  // --- elementwise, reductions, softmax --------------------------------------------------
  /** Times `op()` (output disposed; device synced on webgpu) and reports input elements per second. */
  const run = async (fields: Record<string, unknown>, elems: number, op: () => T.Tensor): Promise<void> => {
    const fn = sync
      ? async () => {
        const y = op();
        await sync();
        y.dispose();
      }
      : () => op().dispose();
    const r = await time(fn);
    report({ ...fields, backend: name, ms: r.ms, gelems_per_s: elems / (r.ms * 1e6), samples: r.samples });
  };
  const N = 1 << 20;
  const x = rand([1024, 1024]);
  const y = rand([1024, 1024]);
  const row = rand([1024]);
  await run({ bench: 'elementwise', op: 'add', n: N }, N, () => T.add(x, y));
  await run({ bench: 'elementwise', op: 'mul_broadcast_row', shapes: [[1024, 1024], [1024]], n: N }, N, () => T.mul(x, row));
  await run({ bench: 'elementwise', op: 'exp', n: N }, N, () => T.exp(x));
  await run({ bench: 'elementwise', op: 'relu', n: N }, N, () => T.relu(x));
  await run({ bench: 'reduce', op: 'sum', axis: -1, shape: [1024, 1024] }, N, () => T.sum(x, -1));
  await run({ bench: 'reduce', op: 'sum', axis: 0, shape: [1024, 1024] }, N, () => T.sum(x, 0));
  await run({ bench: 'reduce', op: 'max', axis: -1, shape: [1024, 1024] }, N, () => T.max(x, -1));
  T.dispose([x, y, row]);
  const s = rand([512, 64]);
  // softmax is a composite (max, sub, exp, sum, div): tidy frees its intermediates.
  await run({ bench: 'softmax', axis: -1, shape: [512, 64] }, s.size, () => T.tidy(() => T.softmax(s, -1)));
  s.dispose();

  // --- per-op overhead ---------------------------------------------------------------------
  // A batch of tiny adds, each output disposed; on webgpu one sync per batch, so this is
  // the amortised cost of issuing one op (validation, allocation, encoding a dispatch).
  const p = rand([4]);
  const q = rand([4]);
  const OPS = 100;
  // `issue_us_per_op`: the time spent before the final sync, per op. It includes the
  // dispatcher's automatic submits (every 64 dispatches), and on Dawn's OpenGL backend a
  // submit runs the work on the calling thread, so on llvmpipe it is mostly execution.
  let issueMs = 0;
  let calls = 0;
  const issue = (): void => {
    const t = performance.now();
    for (let i = 0; i < OPS; i++) T.add(p, q).dispose();
    issueMs += performance.now() - t;
    calls++;
  };
  const overheadFn = sync ? async () => {
    issue();
    await sync();
  } : issue;
  // The JS of the op path needs a few thousand ops to reach its optimised tier.
  const end = performance.now() + (quick ? 50 : 200);
  do await overheadFn(); while (performance.now() < end);
  issueMs = 0;
  calls = 0;
  const overhead = await measure(overheadFn, { quick });
  report({
    bench: 'op_overhead', op: 'add', shape: [4], backend: name, ops_per_call: OPS, ms: overhead.ms, us_per_op: (overhead.ms * 1000) / OPS,
    ...(gpu ? { issue_us_per_op: (issueMs * 1000) / (calls * OPS) } : {}), samples: overhead.samples,
  });
  if (gpu) {
    // One tiny op and a read back: the latency of a round trip through the device.
    const rt = await measure(async () => {
      const z = T.add(p, q);
      await z.data();
      z.dispose();
    }, { quick });
    report({ bench: 'op_roundtrip', op: 'add', shape: [4], backend: name, ms: rt.ms, us: rt.ms * 1000, samples: rt.samples });
  }
  T.dispose([p, q]);
}

async function main(): Promise<void> {
  const backends = await initBackends(opts.backends, (n) => T.initBackend(n as T.BackendName), ['matmul']);
  // Start the cpu matmul's second thread up front, so that the timed calls do not
  // include its start-up (it otherwise starts on the first large matmul).
  if (backends.some((b) => b.name === 'cpu')) await matmulF32ThreadsReady();
  for (const b of backends) await benchBackend(b);
  await T.shutdownWebGPU();
}

await main();

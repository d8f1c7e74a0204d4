/**
 * `pnpm bench autodiff [--quick] [--backend cpu,webgpu]`: the cost of reverse mode
 * through `valueAndGrad`, one JSON line per case and backend:
 *
 *   {"bench":"mlp_step","backend":"cpu","batch":256,"in":512,"hidden":512,"out":10,"ms":…,"gflops":…}
 *       forward plus backward of x → relu(x@W1+b1) → @W2+b2 → mean softmax cross-entropy,
 *       the loss read back to the host; gflops counts the matmuls a gradient needs (2 forward;
 *       dW1, dW2 and dh backward: x gets no gradient), ~0.27 GFLOP per step.
 *   {"bench":"op_chain","mode":"forward_backward","ops":1000,…,"ms":…,"us_per_op":…}
 *       1,000 small elementwise ops on a [16] tensor, forward plus backward (us_per_op is per
 *       forward op: the backward pass adds about two primitives per op);
 *   {"bench":"op_chain","mode":"forward_traced",…}    the same forward under vjp's tape, no backward;
 *   {"bench":"op_chain","mode":"forward_untraced",…,"tracing_overhead_us_per_op":…}
 *       the same forward with no tape: the overhead is (traced − untraced) / ops.
 *
 * Each timed step runs inside `tidy` and disposes what it returns, so memory stays
 * flat; on webgpu reading the loss (or the result) to the host waits for the device.
 * A backend that cannot be initialised prints a `skipped` line. `ms` is the median of
 * 7 samples of calibrated repetitions (~50 ms each; `--quick`: 3 of ~20 ms); a step
 * slower than 50 ms (webgpu on a software adapter) is timed as 5 samples of one call
 * (`--quick`: a single one). The op-chain modes are warmed up for 400 ms each (the JIT
 * needs it), then measured in 3 interleaved rounds (`--quick`: 1), reporting the best
 * round's median.
 */
import * as T from '@tandem/tensor';
import { valueAndGrad, vjp } from '../src/index.js';
import { initBackends, measure, measureAdaptive, parseBenchArgs, report } from '../../../scripts/bench/harness.js';

const opts = parseBenchArgs(process.argv.slice(2));
const quick = opts.quick;

const time = (fn: () => unknown) => measureAdaptive(fn, quick);

/** Live tensors on a backend, to check that a benchmark leaves memory flat. */
const liveTensors = (name: string): number => T.memory()[name]?.tensors ?? 0;

// ---------------------------------------------------------------------------- MLP

interface Mlp { w1: T.Tensor; b1: T.Tensor; w2: T.Tensor; b2: T.Tensor }
const BATCH = 256, IN = 512, HIDDEN = 512, OUT = 10;

async function mlpStep(backend: T.Backend): Promise<void> {
  const name = backend.name;
  const before = liveTensors(name);
  const [kx, k1, k2] = T.split(T.key(1), 3) as [T.Key, T.Key, T.Key];
  const init = (k: T.Key, shape: number[], scale: number) => T.tidy(() => T.mul(T.uniform(k, shape, { backend, minval: -1, maxval: 1 }), scale));
  const params: Mlp = {
    w1: init(k1, [IN, HIDDEN], 1 / Math.sqrt(IN)),
    b1: T.zeros([HIDDEN], { backend }),
    w2: init(k2, [HIDDEN, OUT], 1 / Math.sqrt(HIDDEN)),
    b2: T.zeros([OUT], { backend }),
  };
  const x = init(kx, [BATCH, IN], 1);
  const labels = T.tensor(Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % OUT), { shape: [BATCH], dtype: 'int32', backend });
  const targets = T.tidy(() => T.oneHot(labels, OUT));
  const loss = (p: Mlp): T.Tensor => {
    const h = T.relu(T.add(T.matmul(x, p.w1), p.b1));
    const logits = T.add(T.matmul(h, p.w2), p.b2);
    return T.neg(T.mean(T.sum(T.mul(targets, T.logSoftmax(logits, -1)), -1)));
  };
  const vg = valueAndGrad(loss);
  const step = async (): Promise<number> => {
    const [l, g] = T.tidy(() => vg(params));
    const v = await l.item();
    T.dispose([l, g]);
    return v;
  };
  const first = await step();
  const end = performance.now() + (quick ? 100 : 300);
  do await step(); while (performance.now() < end);
  const r = await time(step);
  // Matmul flops of a step: forward x@W1 and h@W2; backward dW1 (x gets no gradient), dW2 and dh.
  const flops = 2 * BATCH * IN * HIDDEN * 2 + 2 * BATCH * HIDDEN * OUT * 3;
  T.dispose([params, x, labels, targets]);
  report({
    bench: 'mlp_step', backend: name, batch: BATCH, in: IN, hidden: HIDDEN, out: OUT,
    ms: r.ms, gflops: flops / (r.ms * 1e6), loss: first, samples: r.samples, leaked_tensors: liveTensors(name) - before,
  });
}

// ---------------------------------------------------------------------------- op chain

const OPS = 1000;

async function opChain(backend: T.Backend): Promise<void> {
  const name = backend.name;
  const before = liveTensors(name);
  const x0 = T.tidy(() => T.add(T.mul(T.uniform(T.key(2), [16], { backend }), 0.5), 0.5));
  // Constants made once, so that each op of the chain is exactly one primitive.
  const c = [1.0001, 0.0001, 0.9999, 0.00005].map((v) => T.full([16], v, { backend }));
  /** 1,000 elementwise primitives cycling through mul, add, mul, sub; then a sum to a scalar. */
  const chain = (x: T.Tensor): T.Tensor => {
    for (let i = 0; i < OPS; i++) {
      switch (i & 3) {
        case 0: x = T.mul(x, c[0]!); break;
        case 1: x = T.add(x, c[1]!); break;
        case 2: x = T.mul(x, c[2]!); break;
        default: x = T.sub(x, c[3]!);
      }
    }
    return T.sum(x);
  };
  const vg = valueAndGrad(chain);
  const modes: [string, () => T.Tensor[]][] = [
    ['forward_backward', () => {
      const [v, g] = vg(x0);
      return [v, g as T.Tensor];
    }],
    ['forward_traced', () => {
      const [v, pb] = vjp(chain, x0);
      pb.dispose();
      return [v];
    }],
    ['forward_untraced', () => [chain(x0)]],
  ];
  const fns = modes.map(([mode, f]) => [mode, async () => {
    const out = T.tidy(f);
    await out[0]!.data();
    T.dispose(out);
  }] as const);
  // The JS of tensor ops, the tape and the rules needs a few hundred chains to reach its
  // optimised tier (the first ones run ~3x slower): warm every mode up before timing.
  for (const [, fn] of fns) {
    const end = performance.now() + (quick ? 100 : 400);
    do await fn(); while (performance.now() < end);
  }
  // Rounds interleave the modes so that load from other processes hits them alike; each
  // mode reports the best of its per-round medians.
  const best = new Map<string, { ms: number; samples: number }>();
  for (let round = 0; round < (quick ? 1 : 3); round++) {
    for (const [mode, fn] of fns) {
      const r = await time(fn);
      if (r.ms < (best.get(mode)?.ms ?? Infinity)) best.set(mode, r);
    }
  }
  const traced = best.get('forward_traced')!.ms;
  for (const [mode] of fns) {
    const r = best.get(mode)!;
    const extra = mode === 'forward_untraced' ? { tracing_overhead_us_per_op: ((traced - r.ms) * 1000) / OPS } : {};
    report({ bench: 'op_chain', mode, backend: name, ops: OPS, shape: [16], ms: r.ms, us_per_op: (r.ms * 1000) / OPS, ...extra, samples: r.samples });
  }
  T.dispose([x0, c]);
  const leaked = liveTensors(name) - before;
  if (leaked !== 0) report({ bench: 'op_chain', backend: name, leaked_tensors: leaked });
}

async function main(): Promise<void> {
  const backends = await initBackends(opts.backends, (n) => T.initBackend(n as T.BackendName), ['mlp_step', 'op_chain']);
  for (const b of backends) {
    await mlpStep(b);
    await opChain(b);
  }
  await T.shutdownWebGPU();
}

await main();

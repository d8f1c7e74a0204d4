/**
 * `pnpm bench nn [--quick] [--backend cpu,webgpu]`: the reference workloads of
 * docs/benchmarks.md — RW-1 (a) train step, (b) IPO step, (c) sampling with
 * and without a KV cache, and RW-2 (a) — one JSON line per case. Each timed step
 * reads the loss (or the tokens) back to the host, as the anchors do.
 *
 * On webgpu each line also carries what one call costs a GPU, counted by the
 * backend (independent of the adapter's speed): `dispatches` (compute passes
 * launched), `copies` (buffer copies and clears), `submits`, and the bytes written
 * to storage buffers (`storage_bytes` = `kernel_bytes` + `copy_bytes` + `upload_bytes`);
 * see docs/decisions/webgpu-fusion.md.
 */
import * as T from '@tandem/tensor';
import { generate } from '../src/index.js';
import { OFFSETS, RW1, RW2, referenceIpoTrainer, referenceParams, referenceTokens, referenceTrainer } from './reference-workloads.js';
import { initBackends, measure, parseBenchArgs, report } from '../../../scripts/bench/harness.js';

const opts = parseBenchArgs(process.argv.slice(2));

/** The webgpu counters of one call of `fn` (after a warm-up), as report fields; none on cpu. */
async function counts(backend: T.Backend, fn: () => Promise<unknown>): Promise<Record<string, number>> {
  if (backend.name !== 'webgpu') return {};
  await backend.sync();
  const a = T.webgpuStats()!;
  await fn();
  await backend.sync();
  const b = T.webgpuStats()!;
  return {
    dispatches: b.dispatches - a.dispatches,
    copies: b.copies - a.copies,
    submits: b.submits - a.submits,
    storage_bytes: b.storageBytesWritten - a.storageBytesWritten,
    kernel_bytes: b.kernelBytes - a.kernelBytes,
    copy_bytes: b.copyBytes - a.copyBytes,
    upload_bytes: b.uploadBytes - a.uploadBytes,
  };
}

async function main(): Promise<void> {
  const backends = await initBackends(opts.backends, (n) => T.initBackend(n as T.BackendName), ['nn']);
  for (const backend of backends) {
    const name = backend.name;
    const sw = backend.name === 'webgpu' && T.webgpuAdapterInfo()?.isSoftware;
    // On a software adapter every dispatch costs ~100 µs: measure one step only.
    const fixed = sw ? { samples: 1, fixedReps: 1, warmup: 1 } : {};
    for (const [label, make, w] of [
      ['rw1_train_step', referenceTrainer, RW1],
      ['rw1_ipo_step', referenceIpoTrainer, RW1],
    ] as const) {
      const tr = make(w, backend);
      const first = await tr.step();
      const r = await measure(() => tr.step(), { quick: opts.quick, targetMs: 1, ...fixed, samples: fixed.samples ?? (opts.quick ? 5 : 20) });
      report({ bench: label, backend: name, ms: r.ms, samples: r.samples, loss_step0: first, ...await counts(backend, () => tr.step()) });
      tr.dispose();
    }
    const params = referenceParams(RW1, backend);
    const prompts = referenceTokens(OFFSETS.samplePrompt, [32, 24], 64, backend);
    for (const cache of [false, true]) {
      let k = T.key(0);
      const sample = async () => {
        const [k1, k2] = T.split(k) as [T.Key, T.Key];
        k = k1;
        const tokens = T.tidy(() => generate(params, RW1.config, prompts, { maxLen: 16, key: k2, cache }).tokens);
        await tokens.data();
        tokens.dispose();
      };
      const r = await measure(sample, { quick: opts.quick, targetMs: 1, ...fixed, samples: fixed.samples ?? (opts.quick ? 3 : 10) });
      report({ bench: cache ? 'rw1_sample_kv_cache' : 'rw1_sample_no_cache', backend: name, ms: r.ms, samples: r.samples, ...await counts(backend, sample) });
    }
    T.dispose([params, prompts]);
    if (!opts.quick || !sw) {
      const tr = referenceTrainer(RW2, backend);
      await tr.step();
      const r = await measure(() => tr.step(), { quick: opts.quick, targetMs: 1, ...fixed, samples: fixed.samples ?? (opts.quick ? 2 : 10) });
      report({ bench: 'rw2_train_step', backend: name, ms: r.ms, samples: r.samples, ...await counts(backend, () => tr.step()) });
      tr.dispose();
    }
  }
  await T.shutdownWebGPU();
}

await main();

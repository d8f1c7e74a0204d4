/**
 * `pnpm bench nn [--quick] [--backend cpu,webgpu]`: the reference workloads of
 * ../../shared/WORKLOADS.md — RW-1 (a) train step, (b) IPO step, (c) sampling with
 * and without a KV cache, and RW-2 (a) — one JSON line per case. Each timed step
 * reads the loss (or the tokens) back to the host, as the anchors do.
 */
import * as T from '@tandem/tensor';
import { valueAndGrad } from '@tandem/autodiff';
import {
  OFFSETS, RW1, RW2, adam, applyUpdates, crossEntropyLoss, generate, pairedSequenceLogProbs, referenceParams, referenceTokens,
  type ReferenceWorkload, type TransformerParams,
} from '../src/index.js';
import { measure, parseBenchArgs, report } from '../../../scripts/bench/harness.js';

const opts = parseBenchArgs(process.argv.slice(2));

interface Trainer { step(): Promise<number>; dispose(): void }

function trainStep(w: ReferenceWorkload, backend: T.Backend): Trainer {
  const cfg = w.config;
  let params = referenceParams(w, backend);
  const src = referenceTokens(OFFSETS.src, [w.batch, w.srcLen], cfg.vocab, backend);
  const tgt = referenceTokens(OFFSETS.tgt, [w.batch, w.tgtLen], cfg.vocab, backend);
  const opt = adam({ lr: 1e-3 });
  let state = opt.init(params);
  const vg = valueAndGrad((p: TransformerParams) => crossEntropyLoss(p, cfg, src, tgt));
  return {
    async step() {
      const [loss, next, nextState] = T.tidy(() => {
        const [l, g] = vg(params);
        const [u, s] = opt.update(g, state, params);
        return [l, applyUpdates(params, u), s] as const;
      });
      T.dispose([params, state]);
      params = next as TransformerParams;
      state = nextState;
      const v = await loss.item();
      loss.dispose();
      return v;
    },
    dispose: () => T.dispose([params, state, src, tgt]),
  };
}

function ipoStep(w: ReferenceWorkload, backend: T.Backend): Trainer {
  const cfg = w.config;
  let params = referenceParams(w, backend);
  const ref = referenceParams(w, backend);
  const b = w.batch;
  const prompt = referenceTokens(OFFSETS.prompt, [b, w.srcLen], cfg.vocab, backend);
  const yw = referenceTokens(OFFSETS.yw, [b, w.tgtLen], cfg.vocab, backend);
  const yl = referenceTokens(OFFSETS.yl, [b, w.tgtLen], cfg.vocab, backend);
  const opt = adam({ lr: 1e-3 });
  let state = opt.init(params);
  const loss = (p: TransformerParams, refW: T.Tensor, refL: T.Tensor) => {
    const [lw, ll] = pairedSequenceLogProbs(p, cfg, prompt, yw, yl);
    const h = T.sub(T.sub(lw, refW), T.sub(ll, refL));
    return T.mean(T.square(T.sub(T.mul(h, 0.1), 0.5)));
  };
  const vg = valueAndGrad(loss);
  return {
    async step() {
      const [l, next, nextState] = T.tidy(() => {
        const [refW, refL] = pairedSequenceLogProbs(ref, cfg, prompt, yw, yl);
        const [v, g] = vg(params, refW, refL);
        const [u, s] = opt.update(g, state, params);
        return [v, applyUpdates(params, u), s] as const;
      });
      T.dispose([params, state]);
      params = next as TransformerParams;
      state = nextState;
      const v = await l.item();
      l.dispose();
      return v;
    },
    dispose: () => T.dispose([params, ref, state, prompt, yw, yl]),
  };
}

async function main(): Promise<void> {
  const backends: T.Backend[] = [];
  for (const name of opts.backends) {
    try {
      backends.push(await T.initBackend(name as T.BackendName));
    } catch (e) {
      report({ bench: 'nn', backend: name, skipped: String((e as Error).message) });
    }
  }
  for (const backend of backends) {
    const name = backend.name;
    const sw = backend.name === 'webgpu' && T.webgpuAdapterInfo()?.isSoftware;
    // On a software adapter every dispatch costs ~100 µs: measure one step only.
    const fixed = sw ? { samples: 1, fixedReps: 1, warmup: 1 } : {};
    for (const [label, make, w] of [
      ['rw1_train_step', trainStep, RW1],
      ['rw1_ipo_step', ipoStep, RW1],
    ] as const) {
      const tr = make(w, backend);
      const first = await tr.step();
      const r = await measure(() => tr.step(), { quick: opts.quick, targetMs: 1, ...fixed, samples: fixed.samples ?? (opts.quick ? 5 : 20) });
      report({ bench: label, backend: name, ms: r.ms, samples: r.samples, loss_step0: first });
      tr.dispose();
    }
    const params = referenceParams(RW1, backend);
    const prompts = referenceTokens(OFFSETS.samplePrompt, [32, 24], 64, backend);
    for (const cache of [false, true]) {
      let k = T.key(0);
      const r = await measure(async () => {
        const [k1, k2] = T.split(k) as [T.Key, T.Key];
        k = k1;
        const tokens = T.tidy(() => generate(params, RW1.config, prompts, { maxLen: 16, key: k2, cache }).tokens);
        await tokens.data();
        tokens.dispose();
      }, { quick: opts.quick, targetMs: 1, ...fixed, samples: fixed.samples ?? (opts.quick ? 3 : 10) });
      report({ bench: cache ? 'rw1_sample_kv_cache' : 'rw1_sample_no_cache', backend: name, ms: r.ms, samples: r.samples });
    }
    T.dispose([params, prompts]);
    if (!opts.quick || !sw) {
      const tr = trainStep(RW2, backend);
      await tr.step();
      const r = await measure(() => tr.step(), { quick: opts.quick, targetMs: 1, ...fixed, samples: fixed.samples ?? (opts.quick ? 2 : 10) });
      report({ bench: 'rw2_train_step', backend: name, ms: r.ms, samples: r.samples });
      tr.dispose();
    }
  }
  await T.shutdownWebGPU();
}

await main();

/**
 * The deterministic reference workloads RW-1 and RW-2 specified in
 * docs/benchmarks.md ("Reference workloads"): weights and token data from the
 * integer hash mix32, bit-identical to the PyTorch anchor
 * (scripts/anchors/pytorch_rw.py), so its check losses can be reproduced exactly.
 *
 * A benchmark and test fixture, not part of @tandem/nn's API: `pnpm bench nn`
 * times these workloads and packages/nn/test checks their losses.
 */
import { valueAndGrad } from '@tandem/autodiff';
import { dispose, mean, mul, square, sub, tensor, tidy, withoutTracing, type Backend, type BackendName, type Tensor } from '@tandem/tensor';
import {
  adam, applyUpdates, crossEntropyLoss, pairedSequenceLogProbs, transformerConfig, type TransformerConfig, type TransformerParams,
} from '../src/index.js';

/** murmur3's fmix32 of i·0x9E3779B1, on uint32. */
export function mix32(i: number): number {
  let h = Math.imul(i >>> 0, 0x9e3779b1) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** A reference workload: its model config and the data sizes its steps use. */
export interface ReferenceWorkload {
  /** Workload name, as in docs/benchmarks.md. */
  name: 'RW-1' | 'RW-2';
  /** The model (vocab 64, maxSrc 24, maxTgt 16, BOS 1, ReLU, LayerNorm). */
  config: TransformerConfig;
  /** Batch size B (32). */
  batch: number;
  /** Source length S (24). */
  srcLen: number;
  /** Target length T (16). */
  tgtLen: number;
}

const make = (name: 'RW-1' | 'RW-2', d: number, heads: number, dFf: number, layers: number): ReferenceWorkload => ({
  name,
  config: transformerConfig({ vocab: 64, dModel: d, heads, dFf, encLayers: layers, decLayers: layers, maxSrc: 24, maxTgt: 16, bos: 1 }),
  batch: 32,
  srcLen: 24,
  tgtLen: 16,
});

/** RW-1: d_model 64, 4 heads, d_ff 256, 2 encoder + 2 decoder layers (245,760 parameters). */
export const RW1 = make('RW-1', 64, 4, 256, 2);
/** RW-2: the same model, bigger — d_model 256, 8 heads, d_ff 1024, 4 + 4 layers (7,410,688 parameters). */
export const RW2 = make('RW-2', 256, 8, 1024, 4);

/**
 * Token-stream offsets of the spec: `src`/`tgt` for the train step (a), `prompt`,
 * `yw`, `yl` for the IPO step (b), and `samplePrompt` for the sampling prompts (c).
 */
export const OFFSETS = { src: 0x10000000, tgt: 0x20000000, prompt: 0x30000000, yw: 0x40000000, yl: 0x50000000, samplePrompt: 0x60000000 } as const;

/** The RW parameters in the spec's canonical order, each from the running offset. */
export function referenceParams(w: ReferenceWorkload, backend?: Backend | BackendName): TransformerParams {
  const c = w.config;
  const d = c.dModel;
  let off = 0;
  const det = (shape: number[], kind: 'emb' | 'lin' | 'g' | 'b'): Tensor => {
    const n = shape.reduce((p, x) => p * x, 1);
    const data = new Float32Array(n);
    const scale = kind === 'emb' ? 0.1 : 1 / Math.sqrt(shape[0]!);
    for (let k = 0; k < n; k++) {
      if (kind === 'g') data[k] = 1;
      else if (kind === 'b') data[k] = 0;
      else data[k] = ((mix32(off + k) / 4294967296) * 2 - 1) * scale;
    }
    off += n;
    return tensor(data, { shape, backend });
  };
  const ln = () => ({ g: det([d], 'g'), b: det([d], 'b') });
  const att = () => ({ wq: det([d, d], 'lin'), wk: det([d, d], 'lin'), wv: det([d, d], 'lin'), wo: det([d, d], 'lin') });
  const ff = () => ({ w1: det([d, c.dFf], 'lin'), w2: det([c.dFf, d], 'lin') });
  const srcEmb = det([c.vocab, d], 'emb');
  const tgtEmb = det([c.vocab, d], 'emb');
  const srcPos = det([c.maxSrc, d], 'emb');
  const tgtPos = det([c.maxTgt, d], 'emb');
  const enc = Array.from({ length: c.encLayers }, () => {
    const ln1 = ln();
    const a = att();
    const ln2 = ln();
    return { ln1, att: a, ln2, ff: ff() };
  });
  const encLnf = ln();
  const dec = Array.from({ length: c.decLayers }, () => {
    const ln1 = ln();
    const self = att();
    const ln2 = ln();
    const cross = att();
    const ln3 = ln();
    return { ln1, self, ln2, cross, ln3, ff: ff() };
  });
  const decLnf = ln();
  return { srcEmb, tgtEmb, srcPos, tgtPos, enc, encLnf, dec, decLnf, out: { w: det([d, c.vocab], 'lin') } };
}

/** int32 tokens `mix32(offset + k) mod V`, row-major, of `shape`. */
export function referenceTokens(offset: number, shape: readonly number[], vocab = 64, backend?: Backend | BackendName): Tensor {
  const n = shape.reduce((p, x) => p * x, 1);
  const data = new Int32Array(n);
  for (let k = 0; k < n; k++) data[k] = mix32(offset + k) % vocab;
  return tensor(data, { shape, backend });
}

/** One optimisation step of a reference workload, returning the loss computed before the update. */
export interface ReferenceTrainer {
  /** Runs one step and resolves to the loss before the update. */
  step(): Promise<number>;
  /** Frees the trainer's params, optimiser state and data. */
  dispose(): void;
}

/**
 * RW (a): teacher-forced mean token cross-entropy, backward, Adam (lr 1e-3). Each step
 * reads the loss back to the host, as the anchors do.
 */
export function referenceTrainer(w: ReferenceWorkload, backend?: Backend | BackendName): ReferenceTrainer {
  const cfg = w.config;
  const src = referenceTokens(OFFSETS.src, [w.batch, w.srcLen], cfg.vocab, backend);
  const tgt = referenceTokens(OFFSETS.tgt, [w.batch, w.tgtLen], cfg.vocab, backend);
  return adamTrainer(referenceParams(w, backend), (p) => crossEntropyLoss(p, cfg, src, tgt), [src, tgt]);
}

/**
 * RW-1 (b): the IPO step. Summed log-probs of y_w and y_l under the policy (with gradient)
 * and a frozen reference (recomputed every step, no gradient), encoder once per model,
 * decoder once on [y_w; y_l]; loss mean((0.1·h − 0.5)²); Adam.
 */
export function referenceIpoTrainer(w: ReferenceWorkload, backend?: Backend | BackendName): ReferenceTrainer {
  const cfg = w.config;
  const ref = referenceParams(w, backend);
  const prompt = referenceTokens(OFFSETS.prompt, [w.batch, w.srcLen], cfg.vocab, backend);
  const yw = referenceTokens(OFFSETS.yw, [w.batch, w.tgtLen], cfg.vocab, backend);
  const yl = referenceTokens(OFFSETS.yl, [w.batch, w.tgtLen], cfg.vocab, backend);
  return adamTrainer(referenceParams(w, backend), (p) => {
    const [rw, rl] = withoutTracing(() => pairedSequenceLogProbs(ref, cfg, prompt, yw, yl));
    const [lw, ll] = pairedSequenceLogProbs(p, cfg, prompt, yw, yl);
    const h = sub(sub(lw, rw), sub(ll, rl));
    return mean(square(sub(mul(h, 0.1), 0.5)));
  }, [ref, prompt, yw, yl]);
}

function adamTrainer(init: TransformerParams, loss: (p: TransformerParams) => Tensor, owned: unknown[]): ReferenceTrainer {
  const opt = adam({ lr: 1e-3 });
  let params = init;
  let state = opt.init(params);
  const vg = valueAndGrad(loss);
  return {
    async step() {
      const [l, next, nextState] = tidy(() => {
        const [v, g] = vg(params);
        const [u, s] = opt.update(g, state, params);
        return [v, applyUpdates(params, u), s] as const;
      });
      dispose([params, state]);
      params = next;
      state = nextState;
      const v = await l.item();
      l.dispose();
      return v;
    },
    dispose: () => dispose([params, state, owned]),
  };
}

/** The check losses of steps 0..steps of a fresh trainer (`make` is referenceTrainer or referenceIpoTrainer). */
export async function referenceLosses(
  make: (w: ReferenceWorkload, backend?: Backend | BackendName) => ReferenceTrainer,
  w: ReferenceWorkload,
  backend: Backend | BackendName,
  steps: number,
): Promise<number[]> {
  const tr = make(w, backend);
  const out: number[] = [];
  for (let s = 0; s <= steps; s++) out.push(await tr.step());
  tr.dispose();
  return out;
}

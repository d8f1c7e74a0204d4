/**
 * Backend parity: one full IPO training step (`trainStep`: reference log-probs, loss, gradients
 * through the whole encoder–decoder, optimiser, update) on cpu and on webgpu, from identical
 * params and batch, agrees within stated tolerances:
 *
 * - loss: |ℓ_gpu − ℓ_cpu| ≤ 1e-5·|ℓ_cpu| + 2β·√ℓ·δh. The IPO loss ℓ = mean (β·h_i − ½)² is computed
 *   from the margin h = (log π(y_w) − log π_ref(y_w)) − (log π(y_l) − log π_ref(y_l)), a difference of
 *   sums of log-probs that cancels; each side's float32 rounding differs, so h carries an error of a
 *   few ulps of those sums: δh = 4·2⁻²⁴·max_i Σ|log-probs of pair i|, and |∂ℓ/∂h| summed over the
 *   batch is ≤ 2β·√ℓ (Cauchy–Schwarz). A plain relative 1e-5 is not enough (seen: 1.25e-5 at β = 2);
 * - params: for every element, |p′_gpu − p′_cpu| ≤ (1e-4 + ε_h)·max|Δ_cpu| + ulp(p′_cpu), where
 *   Δ_cpu = p′_cpu − p is the cpu update and ε_h = β·δh/√ℓ: the updates agree to 1e-4 of the
 *   update's size, the final float32 addition p + Δ may round differently by one ulp, and every
 *   gradient is scaled by ∂ℓ/∂h_i = 2β(β·h_i − ½)/B, whose relative uncertainty from the margin's
 *   rounding is β·δh/|β·h − ½| — large near the IPO optimum β·h = ½ (seen: β·h − ½ = −0.033 with
 *   δh ≈ 1e-5 gives a common relative error of 1.45e-4 on every leaf; typical cases stay < 2e-5);
 * - the optimiser state (SGD momentum = the gradient after one step) to the same relative bound.
 *
 * The optimiser is SGD with momentum, whose update is linear in the gradient. (Adam's first
 * step is ≈ −lr·sign(g) elementwise, so a coordinate with a gradient near 0 may flip between
 * backends by 2·lr under any tolerance on the gradient; that is Adam, not the backend.)
 *
 * Without a usable adapter the suite is skipped with the reason printed, unless
 * TANDEM_REQUIRE_WEBGPU=1, where that is a failure.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sgd, type TransformerParams } from '@tandem/nn';
import { initPolicy, initTrainState, ipo, pairLogProbs, pairTensors, trainStep, type Pair, type PolicySpec, type TrainState } from '@tandem/rlhf';
import * as T from '@tandem/tensor';
import {
  PROPERTY_TIMEOUT, TASK, assertWebGPU, batchArb, disposeState, fcParams, probeWebGPU, seedArb, skipWebGPU, tinySpec,
  treeToBackend,
} from './helpers.js';

const cpu = T.getBackend('cpu');
const gpu = await probeWebGPU('parity.test.ts');

/** The spacing of float32 numbers at |x|. */
function ulp32(x: number): number {
  const f = Math.fround(Math.abs(x));
  if (f === 0) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(f)) - 23);
}

async function leaves(tree: unknown): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const t of T.treeLeaves(tree)) out.push((await t.data()) as Float32Array);
  return out;
}

/** max over pairs of |log π(y_w)| + |log π_ref(y_w)| + |log π(y_l)| + |log π_ref(y_l)| (cpu). */
async function logProbMass(p: TransformerParams, ref: TransformerParams, spec: PolicySpec, pairs: readonly Pair[]): Promise<number> {
  const rows = T.tidy(() => {
    const b = pairTensors(pairs, spec.widths, cpu);
    const [lw, ll] = pairLogProbs(p, spec, b.prompt, b.winner, b.loser);
    const [rw, rl] = pairLogProbs(ref, spec, b.prompt, b.winner, b.loser);
    return T.add(T.add(T.abs(lw), T.abs(ll)), T.add(T.abs(rw), T.abs(rl)));
  });
  const m = Math.max(...(await rows.data()));
  rows.dispose();
  return m;
}

const arb = fc.record({
  dModel: fc.constantFrom(8, 12, 16),
  heads: fc.constantFrom(1, 2),
  response: fc.integer({ min: 2, max: 8 }),
  beta: fc.constantFrom(0.1, 0.5, 1, 2),
  lr: fc.constantFrom(0.1, 0.01, 1),
  seed: seedArb,
  /** The reference is the initial policy itself (h = 0 at the start, as in the paper) or another init. */
  refIsInit: fc.boolean(),
  // Pairs of identical responses have h ≡ 0 and a zero IPO gradient in exact arithmetic; in float32
  // both backends return rounding noise there (~1e-8), which no relative tolerance can compare.
}).chain((c) => fc.record({ c: fc.constant(c), pairs: batchArb(c.response, 4, true) }));

describe.skipIf(skipWebGPU(gpu))('backend parity of a full IPO training step', () => {
  afterAll(async () => {
    await T.shutdownWebGPU();
  });

  it(`cpu vs webgpu (${gpu.description ?? 'no adapter'})`, async () => {
    // Without an adapter this only runs under TANDEM_REQUIRE_WEBGPU=1, and fails here.
    const backend = assertWebGPU(gpu);
    await fc.assert(fc.asyncProperty(arb, async ({ c, pairs }) => {
      const spec = tinySpec(c.dModel, c.heads, { prompt: TASK.maxPrompt, response: c.response });
      const p0 = initPolicy(T.key(c.seed), spec);
      const ref0 = c.refIsInit ? p0 : initPolicy(T.key(c.seed + 1), spec);
      const optimizer = sgd({ lr: c.lr, momentum: 0.9 });
      const step = async (b: T.Backend): Promise<[TrainState, number, TransformerParams]> => {
        const params = await treeToBackend(p0, b);
        const ref = c.refIsInit ? params : await treeToBackend(ref0, b);
        const setup = { spec, loss: ipo, beta: c.beta, optimizer, ref, backend: b };
        const s0 = initTrainState(setup, params);
        const [s1, l] = trainStep(setup, s0, { pairs });
        const loss = await l.item();
        T.dispose([l, s0.opt]);
        if (ref !== params) T.dispose(ref);
        return [s1, loss, params];
      };
      const [sc, lc, pc] = await step(cpu);
      const [sg, lg, pg] = await step(backend);
      try {
        const deltaH = 4 * 2 ** -24 * (await logProbMass(p0, ref0, spec, pairs));
        const lossBound = 1e-5 * Math.abs(lc) + 2 * c.beta * Math.sqrt(Math.abs(lc)) * deltaH;
        expect(Math.abs(lg - lc), `loss: webgpu ${lg} vs cpu ${lc} (δh ${deltaH})`).toBeLessThanOrEqual(lossBound);
        const [before, afterC, afterG] = [await leaves(p0), await leaves(sc.params), await leaves(sg.params)];
        const rel = 1e-4 + (c.beta * deltaH) / Math.sqrt(Math.abs(lc));
        let maxUpdate = 0;
        afterC.forEach((a, i) => a.forEach((v, j) => (maxUpdate = Math.max(maxUpdate, Math.abs(v - before[i]![j]!)))));
        afterC.forEach((a, i) => a.forEach((v, j) => {
          const bound = rel * maxUpdate + ulp32(v);
          const err = Math.abs(afterG[i]![j]! - v);
          if (!(err <= bound)) throw new Error(`param leaf ${i} element ${j}: webgpu ${afterG[i]![j]} vs cpu ${v} (update ${v - before[i]![j]!}; |diff| ${err} > bound ${bound}, max update ${maxUpdate})`);
        }));
        const [traceC, traceG] = [await leaves(sc.opt), await leaves(sg.opt)];
        let maxTrace = 0;
        traceC.forEach((a) => a.forEach((v) => (maxTrace = Math.max(maxTrace, Math.abs(v)))));
        traceC.forEach((a, i) => a.forEach((v, j) => {
          const err = Math.abs(traceG[i]![j]! - v);
          if (!(err <= rel * maxTrace)) throw new Error(`momentum leaf ${i} element ${j}: webgpu ${traceG[i]![j]} vs cpu ${v} (max ${maxTrace})`);
        }));
        expect((sg.opt as { count: number }).count).toBe(1);
      } finally {
        disposeState(sc);
        disposeState(sg);
        T.dispose([pc, pg, p0]);
        if (!c.refIsInit) T.dispose(ref0);
      }
    }), fcParams(25));
  }, PROPERTY_TIMEOUT);
});

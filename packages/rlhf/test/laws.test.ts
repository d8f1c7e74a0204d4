/** The laws of losses, classifiers, judges and samplers (issue: rlhf §9), over random inputs. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@tandem/tensor';
import { grad, valueAndGrad } from '@tandem/autodiff';
import { EOS, initTransformer, type TransformerParams } from '@tandem/nn';
import { padTokens, pairTensors, type PairTensors } from '../src/batch.js';
import { bo2, dpo, ipo, margin, slic, type Loss, type LossContext } from '../src/losses.js';
import { pairLogProbs, policyConfig, sampleResponses, type PolicySpec } from '../src/policy.js';
import { initPreferenceModel, predictPreferences, preferenceModelSpec } from '../src/preference-model.js';
import { classifierMargin, klEvaluator, winRateEvaluator } from '../src/evaluators.js';
import { modelJudge } from '../src/labellers.js';
import { offlineSampler, replaySampler, shuffleStream } from '../src/samplers.js';
import type { Pair } from '../src/types.js';
import { float64Margins, float64SequenceLogProb, mean64, ordered, sigmoid64 } from './reference.js';

const runs = (n: number) => (process.env.TANDEM_DEEP ? n * 10 : n);
const backend = T.getBackend('cpu');
const widths = { prompt: 6, response: 4 };
const VOCAB = 12;
const spec: PolicySpec = { cfg: policyConfig({ dModel: 8, heads: 2, dFf: 16, layers: 1 }, VOCAB, widths), widths };
const policy = (seed: number): TransformerParams => initTransformer(T.key(seed), spec.cfg);
const hex = (t: T.Tensor) => Buffer.from(t.dataSync().buffer).toString('hex');

const tokens = (min: number, max: number) => fc.array(fc.integer({ min: 4, max: VOCAB - 1 }), { minLength: min, maxLength: max });
const response = tokens(0, widths.response - 1).map((t) => [...t, EOS]);
const pairArb = fc.record({ prompt: tokens(1, widths.prompt), y1: response, y2: response, preference: fc.constantFrom(0 as const, 1 as const) })
  .map((p): Pair => ({ ...p, provenance: { task: 'test', source: 'arb', labeller: 'arb' } }));
const batchArb = fc.array(pairArb, { minLength: 1, maxLength: 4 });

function ctxFor(params: TransformerParams, ref: TransformerParams, pairs: readonly Pair[], beta: number): [LossContext, PairTensors] {
  return ctxForBatch(params, ref, pairTensors(pairs, widths, backend), beta);
}

function ctxForBatch(params: TransformerParams, ref: TransformerParams, b: PairTensors, beta: number): [LossContext, PairTensors] {
  const [rw, rl] = pairLogProbs(ref, spec, b.prompt, b.winner, b.loser);
  return [{ params, spec, beta, ref: { winner: rw, loser: rl } }, b];
}

/** A batch padded here from the test's own reading of the labels (not through pairTensors/winnerLoser). */
function handBatch(pairs: readonly Pair[]): PairTensors {
  const o = pairs.map(ordered);
  return {
    prompt: padTokens(pairs.map((p) => p.prompt), widths.prompt, backend),
    winner: padTokens(o.map((x) => x.w), widths.response, backend),
    loser: padTokens(o.map((x) => x.l), widths.response, backend),
  };
}

describe('losses', () => {
  const losses: Loss[] = [ipo, dpo, slic, bo2];
  it('swapping y1/y2 together with the label gives the loss of a batch built by hand from the original winners and losers (bit for bit)', () => {
    // Not the same tensors twice: one side goes through pairTensors (winnerLoser) on the swapped
    // pairs, the other is padded here from the test's own reading of the ORIGINAL labels.
    fc.assert(fc.property(batchArb, fc.integer({ min: 1, max: 1e6 }), fc.double({ min: 0.05, max: 3, noNaN: true }), (pairs, seed, beta) => {
      const swapped = pairs.map((p) => ({ ...p, y1: p.y2, y2: p.y1, preference: (1 - p.preference) as 0 | 1 }));
      const pol = policy(seed);
      const ref = policy(seed + 1);
      for (const loss of losses) {
        const a = T.tidy(() => { const [c, b] = ctxFor(pol, ref, swapped, beta); return loss(c, b); });
        const b = T.tidy(() => { const [c, bb] = ctxForBatch(pol, ref, handBatch(pairs), beta); return loss(c, bb); });
        expect(hex(a), loss.lossName).toBe(hex(b));
      }
    }), { numRuns: runs(15) });
  });
  it('swapping y1/y2 WITHOUT the label negates h: DPO rises by β·mean(h), IPO by 2β·mean(h)', () => {
    // softplus(z) − softplus(−z) = z and (−z − ½)² − (z − ½)² = 2z, with z = β·h. A loss that
    // ignores the orientation, or a pairTensors that ignores the label, fails this.
    fc.assert(fc.property(batchArb, fc.integer({ min: 1, max: 1e6 }), fc.double({ min: 0.05, max: 3, noNaN: true }), (pairs, seed, beta) => {
      const flippedOnly = pairs.map((p) => ({ ...p, y1: p.y2, y2: p.y1 }));
      const pol = policy(seed);
      const ref = policy(seed + 1);
      const h = float64Margins(pol, ref, spec.cfg, pairs);
      const value = (loss: Loss, ps: readonly Pair[]) => T.tidy(() => { const [c, b] = ctxFor(pol, ref, ps, beta); return loss(c, b); }).dataSync()[0]!;
      const dh = 1e-5 * (1 + mean64(h.map(Math.abs)));
      const dpoDiff = value(dpo, flippedOnly) - value(dpo, pairs);
      const ipoDiff = value(ipo, flippedOnly) - value(ipo, pairs);
      expect(Math.abs(dpoDiff - beta * mean64(h))).toBeLessThan(2 * beta * dh + 1e-5);
      expect(Math.abs(ipoDiff - 2 * beta * mean64(h))).toBeLessThan(4 * beta * (beta * mean64(h.map(Math.abs)) + 1) * dh + 1e-5);
    }), { numRuns: runs(15) });
  });
  it('contrastive losses are 0-margin at π = π_ref: IPO = ¼, DPO = log 2, SLiC = 1', () => {
    fc.assert(fc.property(batchArb, fc.integer({ min: 1, max: 1e6 }), fc.double({ min: 0.01, max: 2, noNaN: true }), (pairs, seed, beta) => {
      const pol = policy(seed);
      const v = (loss: Loss) => T.tidy(() => { const [c, b] = ctxFor(pol, pol, pairs, beta); return loss(c, b); }).dataSync()[0]!;
      expect(v(ipo)).toBeCloseTo(0.25, 6);
      expect(v(dpo)).toBeCloseTo(Math.LN2, 6);
      expect(v(slic)).toBeCloseTo(1, 6);
    }), { numRuns: runs(10) });
  });
  it('the IPO gradient vanishes at β·h = ½', () => {
    // With the reference shifted so that h = 1/(2β) exactly, the gradient of IPO w.r.t. the policy is 0.
    fc.assert(fc.property(batchArb, fc.integer({ min: 1, max: 1e6 }), fc.constantFrom(0.1, 0.5, 1, 2), (pairs, seed, beta) => {
      const pol = policy(seed);
      const [c, b] = ctxFor(pol, policy(seed + 1), pairs, beta);
      const [lw, ll] = pairLogProbs(pol, spec, b.prompt, b.winner, b.loser);
      // ref_w − ref_l = (lw − ll) − 1/(2β)  ⇒  h = 1/(2β)
      const ref = { winner: T.sub(lw, T.sub(ll, c.ref!.loser)).sub(1 / (2 * beta)), loser: c.ref!.loser };
      const norm = (g: unknown) => Math.sqrt(T.treeLeaves(g).reduce((acc, t) => acc + (T.sum(T.square(t)).dataSync()[0] as number), 0));
      const atHalf = norm(grad((params: TransformerParams) => ipo({ ...c, params, ref }, b))(pol));
      // The same policy with h shifted away from 1/(2β): a generic, non-stationary point.
      const away = { winner: T.sub(ref.winner, 1 / beta), loser: ref.loser };
      const atOther = norm(grad((params: TransformerParams) => ipo({ ...c, params, ref: away }, b))(pol));
      // Exactly 0 in real arithmetic; in float32 only the rounding of β·h − ½ remains.
      expect(atHalf).toBeLessThan(1e-4 * atOther + 1e-6);
    }), { numRuns: runs(8) });
  });
  it('one small gradient step of each contrastive loss moves h the way −f′(β·h) says: DPO raises it; IPO raises it below β·h = ½ and lowers it above; SLiC raises it below β·h = 1 and is flat above', () => {
    // One pair, distinct responses, one gradient-descent step p − lr·g sized so that, to first
    // order, |Δh| = δ = 1e-3 (see below). h is measured in float64 per row (reference.ts).
    const arb = fc.record({
      pair: pairArb.filter((p) => p.y1.length !== p.y2.length || p.y1.some((t, i) => t !== p.y2[i])),
      seed: fc.integer({ min: 1, max: 1e6 }),
      beta: fc.double({ min: 0.05, max: 3, noNaN: true }),
      refIsPolicy: fc.boolean(),
      loss: fc.constantFrom(ipo, dpo, slic),
    });
    fc.assert(fc.property(arb, ({ pair, seed, beta, refIsPolicy, loss }) => {
      const pol = policy(seed);
      const ref = refIsPolicy ? pol : policy(seed + 1);
      const [h0] = float64Margins(pol, ref, spec.cfg, [pair]) as [number];
      const z = beta * h0;
      // Away from the kinks/stationary points, where the sign of f′ is decided by rounding.
      fc.pre(loss !== ipo || Math.abs(z - 0.5) > 1e-3);
      fc.pre(loss !== slic || Math.abs(z - 1) > 1e-3);
      const g = T.tidy(() => { const [c, b] = ctxFor(pol, ref, [pair], beta); return grad((params: TransformerParams) => loss({ ...c, params }, b))(pol); });
      const gNorm = Math.sqrt(T.treeLeaves(g).reduce((acc, t) => acc + Array.from(t.dataSync()).reduce((a, v) => a + v * v, 0), 0));
      if (loss === slic && z > 1) {
        expect(gNorm).toBe(0); // the hinge is flat: no step at all
        return;
      }
      // g = β·f′(β·h)·∇h (B = 1), so |∇h| = |g| / (β·|f′|), with f′ in float64 from the measured h.
      const fPrime = loss === ipo ? 2 * (z - 0.5) : loss === dpo ? -sigmoid64(-z) : -1;
      const gradH = gNorm / (beta * Math.abs(fPrime));
      // A plain gradient step p − lr·g with lr = δ / (|g|·|∇h|): to first order Δh = −sign(f′)·δ.
      const delta = 1e-3;
      const lr = delta / (gNorm * gradH);
      const gLeaves = T.treeLeaves(g);
      const stepped = T.treeMap<TransformerParams>((p, k) => T.sub(p, T.mul(gLeaves[k]!, lr)), pol);
      const [h1] = float64Margins(stepped, ref, spec.cfg, [pair]) as [number];
      const expected = -Math.sign(fPrime) * delta;
      // The float64 measurement of h is good to ~1e-5; the second-order term is O(δ²) relative.
      expect(Math.sign(h1 - h0), `${loss.lossName}: β·h ${z}, h ${h0} → ${h1}`).toBe(Math.sign(expected));
      expect(Math.abs(h1 - h0 - expected), `${loss.lossName}: Δh ${h1 - h0}, first-order ${expected}`).toBeLessThan(0.25 * delta);
    }), { numRuns: runs(20) });
  });
  it('IPO (code form E[(β·h − ½)²]): ∂L/∂h_i = 2β(β·h_i − ½)/B — exactly 0 at β·h = ½, with the sign of β·h − ½ elsewhere', () => {
    // h enters the loss through the reference log-probs: ∂L/∂h_i = −∂L/∂ref.winner_i. The
    // reference is set so that h_i is EXACTLY 1/(2β) in float32 (β a power of two, so β·h = ½
    // exactly too); then the gradient w.r.t. h and w.r.t. every parameter is exactly 0.
    const arb = fc.record({ pairs: batchArb, seed: fc.integer({ min: 1, max: 1e6 }), beta: fc.constantFrom(0.125, 0.25, 0.5, 1, 2, 4), shifts: fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 4, maxLength: 4 }) });
    fc.assert(fc.property(arb, ({ pairs, seed, beta, shifts }) => {
      const pol = policy(seed);
      const b = pairTensors(pairs, widths, backend);
      const [tw, tl] = pairLogProbs(pol, spec, b.prompt, b.winner, b.loser);
      const lw = Array.from(tw.dataSync());
      const ll = Array.from(tl.dataSync());
      const target = 1 / (2 * beta);
      const f32 = Math.fround;
      // (rw, rl) with fround(fround(lw − rw) − fround(ll − rl)) === target exactly.
      const exactRef = lw.map((w, i) => {
        const l = ll[i]!;
        for (const [rw, rl] of [[f32(w - target), l], [w, f32(l + target)], [f32(w - target / 2), f32(l + target / 2)]] as const) {
          if (f32(f32(w - rw) - f32(l - rl)) === target) return [rw, rl] as const;
        }
        return undefined;
      });
      fc.pre(exactRef.every((r) => r !== undefined));
      const B = pairs.length;
      const gradAt = (rw: number[], rl: number[]) => {
        const rwT = T.tensor(Float32Array.from(rw), { backend });
        const rlT = T.tensor(Float32Array.from(rl), { backend });
        const h = Array.from(margin({ params: pol, spec, beta, ref: { winner: rwT, loser: rlT } }, b).dataSync());
        const [, [gw, gp]] = valueAndGrad((r: T.Tensor, params: TransformerParams) => ipo({ params, spec, beta, ref: { winner: r, loser: rlT } }, b), { argnums: [0, 1] })(rwT, pol) as [T.Tensor, [T.Tensor, TransformerParams]];
        const dLdh = Array.from(gw.dataSync()).map((v) => -v);
        const maxParamGrad = Math.max(...T.treeLeaves(gp).map((t) => Math.max(0, ...Array.from(t.dataSync()).map(Math.abs))));
        return { h, dLdh, maxParamGrad };
      };
      // At β·h = ½ exactly.
      const at = gradAt(exactRef.map((r) => r![0]), exactRef.map((r) => r![1]));
      at.h.forEach((v) => expect(v).toBe(target));
      at.dLdh.forEach((v) => expect(Math.abs(v)).toBe(0));
      expect(at.maxParamGrad).toBe(0);
      // Elsewhere: shift each pair's h (through its reference loser log-prob) by a random amount.
      const away = gradAt(exactRef.map((r) => r![0]), exactRef.map((r, i) => f32(r![1] + shifts[i]!)));
      away.h.forEach((h, i) => {
        const expected = (2 * beta * (beta * h - 0.5)) / B;
        const d = away.dLdh[i]!;
        expect(Math.abs(d - expected), `pair ${i}: β·h = ${beta * h}`).toBeLessThanOrEqual(1e-5 * Math.abs(expected) + 1e-7);
        if (Math.abs(beta * h - 0.5) > 1e-5) expect(Math.sign(d), `pair ${i}: β·h = ${beta * h}`).toBe(Math.sign(beta * h - 0.5));
      });
    }), { numRuns: runs(15) });
  });
  it('DPO: B·∂L/∂h_i = −β·σ(−β·h_i) per pair, by central differences of the scalar loss in h_i (and by autodiff)', () => {
    const arb = fc.record({ pairs: batchArb, seed: fc.integer({ min: 1, max: 1e6 }), beta: fc.double({ min: 0.05, max: 4, noNaN: true }), i: fc.nat(3) });
    fc.assert(fc.property(arb, ({ pairs, seed, beta, i: iRaw }) => {
      const pol = policy(seed);
      const [c, b] = ctxFor(pol, policy(seed + 1), pairs, beta);
      const B = pairs.length;
      const i = iRaw % B;
      const rw = Array.from(c.ref!.winner.dataSync());
      // h_i is moved through the reference winner log-prob: h_i = … − ref.winner_i.
      const at = (delta: number) => {
        const r = rw.slice();
        r[i] = Math.fround(r[i]! - delta);
        const ctx = { ...c, ref: { winner: T.tensor(Float32Array.from(r), { backend }), loser: c.ref!.loser } };
        return { L: dpo(ctx, b).dataSync()[0]!, h: margin(ctx, b).dataSync()[i]! };
      };
      const eps = 1e-2;
      const center = at(0);
      const plus = at(eps);
      const minus = at(-eps);
      const fd = (B * (plus.L - minus.L)) / (plus.h - minus.h);
      const expected = -beta * sigmoid64(-beta * center.h);
      // Central-difference error ≈ ε²·β³/6·max|σ″| plus float32 rounding of L (~1e-7·|L|) over 2ε.
      const tol = (eps * eps * beta ** 3) / 20 + (B * 4e-7 * (1 + Math.abs(center.L))) / eps + 1e-6;
      expect(Math.abs(fd - expected), `FD ${fd} vs −β·σ(−β·h) ${expected} (β ${beta}, h ${center.h})`).toBeLessThanOrEqual(tol);
      const g = grad((r: T.Tensor) => dpo({ ...c, ref: { winner: r, loser: c.ref!.loser } }, b))(c.ref!.winner).dataSync();
      expect(Math.abs(-B * g[i]! - expected)).toBeLessThanOrEqual(1e-5 * Math.abs(expected) + 1e-7);
    }), { numRuns: runs(20) });
  });
  it('Bo2 ignores the losers, β and the reference: −mean log π(y_w|x) whatever they are (bit for bit)', () => {
    fc.assert(fc.property(batchArb, fc.array(response, { minLength: 4, maxLength: 4 }), fc.integer({ min: 1, max: 1e6 }), (pairs, others, seed) => {
      const pol = policy(seed);
      const [c, b] = ctxFor(pol, policy(seed + 1), pairs, 0.1);
      // The losers replaced by other responses, keeping the winners and the labels.
      const otherLosers = pairs.map((p, i) => (p.preference === 1 ? { ...p, y2: others[i]! } : { ...p, y1: others[i]! }));
      const [c2, b2] = ctxFor(pol, pol, otherLosers, 7);
      expect(hex(bo2(c2, b2))).toBe(hex(bo2(c, b)));
      expect(hex(bo2({ params: pol, spec, beta: 3 }, b))).toBe(hex(bo2(c, b)));
      // …and its value is the float64 mean NLL of the winners (reference.ts), not of anything else.
      const nll = -mean64(pairs.map((p) => float64SequenceLogProb(pol, spec.cfg, p.prompt, ordered(p).w)));
      expect(Math.abs(bo2(c, b).dataSync()[0]! - nll)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(nll)));
    }), { numRuns: runs(10) });
  });
});

describe('classifiers, judges and metrics', () => {
  it('the policy classifier is antisymmetric: f(x, y1, y2) = −f(x, y2, y1)', () => {
    fc.assert(fc.property(batchArb, fc.integer({ min: 1, max: 1e6 }), (pairs, seed) => {
      const ctx = { spec, sft: policy(seed + 1), backend };
      const f = classifierMargin(policy(seed), ctx, pairs).dataSync();
      const g = classifierMargin(policy(seed), ctx, pairs.map((p) => ({ ...p, y1: p.y2, y2: p.y1 }))).dataSync();
      expect(f.length).toBe(pairs.length);
      f.forEach((v, i) => expect(v).toBe(-g[i]! + 0));
    }), { numRuns: runs(10) });
  });
  it('the debiased preference is antisymmetric, and exactly ½ on identical responses', async () => {
    const ps = preferenceModelSpec({ dModel: 8, heads: 2, dFf: 16, layers: 1 }, VOCAB, widths);
    await fc.assert(fc.asyncProperty(batchArb, fc.integer({ min: 1, max: 1e6 }), async (pairs, seed) => {
      const params = initPreferenceModel(T.key(seed), ps);
      const a = await predictPreferences(params, ps, pairs, backend);
      const b = await predictPreferences(params, ps, pairs.map((p) => ({ ...p, y1: p.y2, y2: p.y1 })), backend);
      expect(a.length).toBe(pairs.length);
      a.forEach((v, i) => expect(v).toBe(1 - b[i]!));
      const same = await predictPreferences(params, ps, pairs.map((p) => ({ ...p, y2: p.y1 })), backend);
      expect(same).toEqual(pairs.map(() => 0.5));
    }), { numRuns: runs(10) });
  });
  it('KL(π, π) = 0 exactly and KL(π, π_sft) ≥ 0', async () => {
    const prompts = [[4, 5, 6], [7, 8], [9, 10, 11, 4], [5]];
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 1e6 }), async (seed) => {
      const pol = policy(seed);
      const self = await klEvaluator(prompts)(pol, { spec, sft: pol, backend, key: T.key(seed) });
      expect(self.kl?.value).toBe(0);
      const other = await klEvaluator(prompts)(pol, { spec, sft: policy(seed + 1), backend, key: T.key(seed) });
      expect(other.kl?.value).toBeGreaterThan(0);
    }), { numRuns: runs(6) });
  });
  it('a policy judged against itself: identical samples tie exactly (½); independent samples ≈ ½ within a few standard errors', async () => {
    const ps = preferenceModelSpec({ dModel: 8, heads: 2, dFf: 16, layers: 1 }, VOCAB, widths);
    const judge = modelJudge(initPreferenceModel(T.key(3), ps), ps, backend);
    const pol = policy(5);
    const prompts = Array.from({ length: 200 }, (_, i) => [4 + (i % 8), 4 + ((i * 7) % 8), 5]);
    // Identical responses on both sides: every comparison is an exact tie.
    const ys = await sampleResponses(pol, spec, prompts, T.key(1), backend);
    const allTies = await judge(prompts.map((prompt, i) => ({ prompt, y1: ys[i]!, y2: ys[i]! })));
    expect(allTies.every((v) => v === 0.5)).toBe(true);
    const ind = await winRateEvaluator(prompts, pol, judge)(pol, { spec, sft: pol, backend, key: T.key(12) });
    expect(Math.abs(ind.winRate!.value - 0.5)).toBeLessThanOrEqual(4 * ind.winRate!.se! + 1e-9);
  });
});

describe('samplers', () => {
  const batches = (n: number) => Array.from({ length: n }, (_, i) => ({ pairs: [{ prompt: [4 + (i % 7)], y1: [EOS], y2: [5, EOS], preference: 1 as const, provenance: { task: 't', source: String(i), labeller: 'l' } }] }));
  it('shuffled(stream, 1) is the stream itself, and every level is a permutation', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 1e6 }), (n, w, seed) => {
      const s = batches(n);
      expect(shuffleStream(s, 1, T.key(seed))).toEqual(s);
      const sh = shuffleStream(s, w, T.key(seed));
      expect(sh.length).toBe(n);
      expect(new Set(sh)).toEqual(new Set(s));
      // Batches never leave their window.
      sh.forEach((b, i) => expect(Math.floor(s.indexOf(b) / w)).toBe(Math.floor(i / w)));
    }), { numRuns: runs(50) });
  });
  it('a uniform shuffle of a long stream reorders it', () => {
    const s = batches(30);
    expect(shuffleStream(s, 30, T.key(1))).not.toEqual(s);
  });
  it('replay yields the recorded batches in order and fails clearly past the end', async () => {
    const s = batches(3);
    const r = replaySampler(s);
    let st = r.init;
    const ctx = { step: 0, params: policy(1), key: T.key(0), backend };
    for (const b of s) {
      const [got, next] = await r.next(st, ctx);
      expect(got).toBe(b);
      st = next;
    }
    await expect(r.next(st, ctx)).rejects.toThrow(/has 3 batches; batch 3 was asked for/);
  });
  it('offline visits every pair once per epoch, in key-determined order', async () => {
    const pairs = batches(10).map((b) => b.pairs[0]!);
    const ds = { name: 'd', pairs };
    const sample = async (seed: number) => {
      const s = offlineSampler(ds, { batchSize: 5, key: T.key(seed) });
      let st = s.init;
      const seen: Pair[] = [];
      for (let i = 0; i < 2; i++) {
        const [b, n] = await s.next(st, { step: i, params: policy(1), key: T.key(0), backend });
        seen.push(...b.pairs);
        st = n;
      }
      return seen;
    };
    const a = await sample(1);
    expect(new Set(a).size).toBe(10);
    expect(await sample(1)).toEqual(a);
    expect(await sample(2)).not.toEqual(a);
  });
});

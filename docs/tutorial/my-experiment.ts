/**
 * The tutorial's experiment (docs/tutorial.md walks through it): a new loss, a new
 * sampler, the shared training loop, and a property test of the loss.
 *
 *   node --conditions=tandem-source --import tsx docs/tutorial/my-experiment.ts          # train and evaluate
 *   node --conditions=tandem-source --import tsx docs/tutorial/my-experiment.ts --check  # property-test the loss too
 *
 * Tiny sizes: the whole run takes well under a minute on two CPU cores.
 */
import fc from 'fast-check';
import { dispose, foldIn, getBackend, key, maximum, split, square, sub, tidy, type Key } from '@tandem/tensor';
import { adam } from '@tandem/nn';
import {
  EOS, MAX_PROMPT, MAX_RESPONSE, MODEL_SIZES, VOCAB_SIZE, gpo, getTask, initTrainState, initialDataset, initPolicy,
  offlineSampler, onlineSampler, pairLogProbs, pairTensors, policyConfig, rngFromKey, runTraining, sampleResponses,
  sampledEvaluator, trainSft, utilityJudge, utilityLabeller, slic,
  type Loss, type Pair, type PolicySpec, type Sampler,
} from '@tandem/rlhf';

// ---------------------------------------------------------------------------------------
// 1. A new loss: SLiC with a squared hinge.
//
// Every contrastive loss in @tandem/rlhf is an instance of the generalised form
// L = E[f(β·h)] with h the log-ratio margin (GPO). `gpo(name, f)` turns a convex f
// into a Loss value; SLiC is f(z) = max(0, 1 − z). Squaring the hinge makes the loss
// smooth at z = 1 and penalises large violations more.

/** Squared-hinge SLiC: E[max(0, 1 − β·h)²]. */
export const slicSquared: Loss = gpo('slic-squared', (z) => square(maximum(sub(1, z), 0)));

// ---------------------------------------------------------------------------------------
// 2. A new sampler: online and offline batches, with the share of online batches
//    growing linearly from `from` to `to` over `steps` steps (a curriculum).
//
// A Sampler is a value: a name, an initial state, and a pure `next(state, ctx)`.
// All randomness comes from the step's key in `ctx`, so the run stays a function of
// its config and can be resumed from a checkpoint of (params, optimiser, sampler state).
// @tandem/rlhf's `mixtureSampler(a, b, pA)` is the constant-probability version.

/** Takes each step's batch from `online` with probability rising linearly from `from` to `to`, else from `offline`. */
export function annealedMixture<A, B>(online: Sampler<A>, offline: Sampler<B>, o: { from: number; to: number; steps: number }): Sampler<[A, B]> {
  return {
    name: `annealed(${online.name},${offline.name},${o.from}→${o.to})`,
    init: [online.init, offline.init],
    async next([sa, sb], ctx) {
      // Split the step's key: one part for the coin, one for the chosen sampler, so the
      // coin never reuses the bits the sampler draws from.
      const [kCoin, kNext] = split(ctx.key) as [Key, Key];
      const t = Math.min(1, ctx.step / Math.max(1, o.steps));
      const pOnline = o.from + (o.to - o.from) * t;
      const sub = { ...ctx, key: kNext };
      if (rngFromKey(kCoin).next() < pOnline) {
        const [batch, na] = await online.next(sa, sub);
        return [batch, [na, sb]];
      }
      const [batch, nb] = await offline.next(sb, sub);
      return [batch, [sa, nb]];
    },
  };
}

// ---------------------------------------------------------------------------------------
// 3. The experiment: SFT, then preference optimisation with the new loss and sampler
//    through the shared `runTraining`, evaluated against the SFT policy.

const backend = getBackend('cpu');
const task = getTask('summarize');
const widths = { prompt: MAX_PROMPT, response: MAX_RESPONSE };
const spec: PolicySpec = { cfg: policyConfig(MODEL_SIZES.tiny!, VOCAB_SIZE, widths), widths };

async function experiment(): Promise<void> {
  const [kData, kSft, kRun, kEval] = split(key(2024), 4);

  // D_initial, labelled by the task's noisy raters (the offline data).
  const data = initialDataset(task, { size: 256, key: kData });
  const prompts = data.pairs.map((p) => p.prompt);

  // π_sft: maximum likelihood on both responses of every pair. Also the frozen reference.
  console.log('SFT…');
  const sft = await trainSft(spec, [data], { steps: 300, batchSize: 32, lr: 3e-3, warmup: 10, key: kSft, backend });

  // The labeller of online pairs. The study uses a learned proxy model; here the task's
  // own noisy rater keeps the example small.
  const labeller = utilityLabeller('rater', task.utility, task.raterTemperature);
  const sampler = annealedMixture(
    onlineSampler({ spec, prompts, batchSize: 16, labeller, task: task.name }),
    offlineSampler(data, { batchSize: 16, key: foldIn(kRun, 1) }),
    { from: 0, to: 1, steps: 40 },
  );

  const setup = { spec, loss: slicSquared, beta: 0.5, optimizer: adam({ lr: 1e-3 }), ref: sft, backend };
  // The policy starts at π_sft. States are values: runTraining never changes `start`
  // (nor `sft`); it disposes only the intermediate states it made itself.
  const start = initTrainState(setup, sft);
  let online = 0;
  console.log(`training with ${slicSquared.lossName}, sampler ${sampler.name}…`);
  const { state } = await runTraining({
    setup, sampler, state: start, until: 60, key: kRun,
    onStep: ({ step, loss, batch }) => {
      if (batch.pairs[0]?.provenance.source === 'policy:online') online++;
      if (step % 10 === 0) console.log(`  step ${step}: loss ${loss.toFixed(4)}, online batches so far ${online}`);
    },
  });

  // Evaluate in one sampling pass: exact KL to π_sft along the first 32 responses, and the win
  // rate against π_sft judged by the true utility. π_sft's responses are sampled ONCE: every
  // evaluation (and every run compared with this one) meets the same baseline responses.
  const evalPrompts = prompts.slice(0, 64);
  const [kBaseline, kPolicy] = split(kEval) as [Key, Key];
  const baseline = await sampleResponses(sft, spec, evalPrompts, kBaseline, backend);
  const evaluate = sampledEvaluator({ prompts: evalPrompts, klPrompts: 32, judge: utilityJudge(task.utility), baseline });
  const m = await evaluate(state.params, { spec, sft, backend, key: kPolicy });
  console.log(`KL(π‖π_sft) = ${m.kl!.value.toFixed(3)} ± ${m.kl!.se!.toFixed(3)}, win rate vs π_sft = ${m.winRate!.value.toFixed(3)} ± ${m.winRate!.se!.toFixed(3)}`);
  dispose([state.params, state.opt, start.opt, sft]);
}

// ---------------------------------------------------------------------------------------
// 4. A property test of the loss with fast-check: swapping y1 and y2 together with the
//    label leaves the loss unchanged (bit for bit), and at π = π_ref (h = 0) it is f(0) = 1.

async function check(): Promise<void> {
  const tiny: PolicySpec = { cfg: policyConfig({ dModel: 8, heads: 2, dFf: 16, layers: 1 }, VOCAB_SIZE, { prompt: 6, response: 4 }), widths: { prompt: 6, response: 4 } };
  const token = fc.integer({ min: 4, max: VOCAB_SIZE - 1 });
  const response = fc.array(token, { minLength: 0, maxLength: 3 }).map((t) => [...t, EOS]);
  const pair = fc.record({ prompt: fc.array(token, { minLength: 1, maxLength: 6 }), y1: response, y2: response, preference: fc.constantFrom(0 as const, 1 as const) })
    .map((p): Pair => ({ ...p, provenance: { task: 'test', source: 'fast-check', labeller: 'fast-check' } }));
  const lossOf = (loss: Loss, pairs: Pair[], seed: number, refSeed: number, beta: number) => tidy(() => {
    const params = initPolicy(key(seed), tiny);
    const ref = initPolicy(key(refSeed), tiny);
    const b = pairTensors(pairs, tiny.widths, backend);
    const [rw, rl] = pairLogProbs(ref, tiny, b.prompt, b.winner, b.loser);
    return loss({ params, spec: tiny, beta, ref: { winner: rw, loser: rl } }, b);
  });
  const bits = (t: { dataSync(): ArrayLike<number>; dispose(): void }) => { const v = Array.from(t.dataSync()); t.dispose(); return v; };

  fc.assert(fc.property(fc.array(pair, { minLength: 1, maxLength: 4 }), fc.nat(1e6), fc.double({ min: 0.05, max: 2, noNaN: true }), (pairs, seed, beta) => {
    const swapped = pairs.map((p) => ({ ...p, y1: p.y2, y2: p.y1, preference: (1 - p.preference) as 0 | 1 }));
    const a = bits(lossOf(slicSquared, pairs, seed, seed + 1, beta));
    const b = bits(lossOf(slicSquared, swapped, seed, seed + 1, beta));
    if (a[0] !== b[0]) throw new Error(`swap changed the loss: ${a[0]} vs ${b[0]}`);
  }), { numRuns: 20 });
  console.log('property: swapping y1/y2 with the label leaves slic-squared unchanged — ok');

  fc.assert(fc.property(fc.array(pair, { minLength: 1, maxLength: 4 }), fc.nat(1e6), (pairs, seed) => {
    const [v] = bits(lossOf(slicSquared, pairs, seed, seed, 0.3));
    if (Math.abs(v! - 1) > 1e-6) throw new Error(`at π = π_ref the loss is f(0) = 1, got ${v}`);
    const [s] = bits(lossOf(slic, pairs, seed, seed, 0.3));
    if (Math.abs(s! - 1) > 1e-6) throw new Error(`slic at π = π_ref should be 1 too, got ${s}`);
  }), { numRuns: 10 });
  console.log('property: at π = π_ref the loss is f(0) = 1 — ok');
}

const t0 = Date.now();
if (process.argv.includes('--check')) await check();
await experiment();
console.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

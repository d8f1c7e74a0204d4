/**
 * Determinism: the same program, run twice in one process (with an unrelated program in
 * between, to shake out hidden global state such as buffer pools or caches), gives identical
 * parameter bytes at every stage, an identical recorded online stream and identical metrics.
 *
 * The program is the paper's pipeline in miniature (§3): D_initial from the summarize task →
 * golden preference model (trainPreferenceModel, to a held-out plateau when the program says so)
 * → D_golden (relabelled by it) → SFT policy (trainSft on both responses) → a few online
 * IPO/DPO/… steps labelled by the golden model → evaluators (exact KL, win rate vs SFT,
 * classifier accuracy, winner log-probs, and the one-pass sampledEvaluator against fixed
 * baseline responses).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  classifierEvaluator, combine, initTrainState, initialDataset, klEvaluator, modelJudge, modelLabeller, onlineSampler,
  preferenceModelSpec, relabel, sampleResponses, sampledEvaluator, trainPreferenceModel, trainSft, winRateEvaluator,
  winnerLogProbEvaluator, type Metrics,
} from '@tandem/rlhf';
import { LOSSES } from '@tandem/rlhf';
import { dispose, foldIn, getBackend, key } from '@tandem/tensor';
import {
  PROPERTY_TIMEOUT, TASK, disposeState, fcParams, makeOptimizer, record, seedArb, taskPrompts, tinySpec, treeHash, type LossName,
} from './helpers.js';

const cpu = getBackend('cpu');

interface Program {
  seed: number;
  dModel: number;
  heads: number;
  /** D_initial size. */
  pairs: number;
  pmSteps: number;
  /** Train the golden model to a plateau on D_initial itself: evaluate every `every` steps, stop after `patience` without improvement. */
  validation: { every: number; patience: number } | null;
  sftSteps: number;
  onlineSteps: number;
  batchSize: number;
  loss: LossName;
  beta: number;
}

const programArb: fc.Arbitrary<Program> = fc.record({
  seed: seedArb,
  dModel: fc.constantFrom(8, 16),
  heads: fc.constantFrom(1, 2),
  pairs: fc.integer({ min: 4, max: 12 }),
  pmSteps: fc.integer({ min: 1, max: 4 }),
  validation: fc.option(fc.record({ every: fc.integer({ min: 1, max: 2 }), patience: fc.integer({ min: 1, max: 2 }) }), { nil: null }),
  sftSteps: fc.integer({ min: 1, max: 4 }),
  onlineSteps: fc.integer({ min: 1, max: 4 }),
  batchSize: fc.integer({ min: 1, max: 4 }),
  loss: fc.constantFrom<LossName>('ipo', 'dpo', 'slic', 'bo2'),
  beta: fc.constantFrom(0.1, 0.5, 1),
});

/** Everything observable about one run of a program. */
interface Trace {
  golden: string;
  /** The fit's report: steps taken, best step and accuracy, the validation curve. */
  goldenFit: string;
  dGolden: string;
  sft: string;
  stream: string;
  hashes: string[];
  losses: number[];
  final: string;
  metrics: Metrics;
  sampledMetrics: Metrics;
}

async function runProgram(p: Program): Promise<Trace> {
  const root = key(p.seed);
  // Widths of the full task: D_initial's responses go up to 12 tokens.
  const widths = { prompt: TASK.maxPrompt, response: TASK.maxResponse };
  const spec = tinySpec(p.dModel, p.heads, widths);
  const dInitial = initialDataset(TASK, { size: p.pairs, key: foldIn(root, 0) });
  const fitBase = { batchSize: p.batchSize, lr: 3e-3, warmup: 1, backend: cpu };

  const ps = preferenceModelSpec({ dModel: p.dModel, heads: p.heads, dFf: 2 * p.dModel, layers: 1 }, TASK.vocabSize, widths);
  const validation = p.validation && { ...p.validation, pairs: dInitial.pairs };
  const fit = await trainPreferenceModel(ps, dInitial, { ...fitBase, steps: p.pmSteps, key: foldIn(root, 1), ...(validation ? { validation } : {}) });
  const golden = fit.params;
  const goldenLabeller = modelLabeller('golden', golden, ps, cpu);
  const dGolden = await relabel(dInitial, goldenLabeller, foldIn(root, 2), 'summarize/golden');
  const sft = await trainSft(spec, [dGolden], { ...fitBase, steps: p.sftSteps, key: foldIn(root, 3) });

  const prompts = taskPrompts(foldIn(root, 4), Math.max(p.batchSize, 6));
  const setup = { spec, loss: LOSSES[p.loss]!, beta: p.beta, optimizer: makeOptimizer({ opt: 'adam', lr: 1e-2, clip: true }), ref: sft, backend: cpu };
  const state = initTrainState(setup, sft);
  const sampler = onlineSampler({ spec, prompts, batchSize: p.batchSize, labeller: goldenLabeller, task: TASK.name });
  const rec = await record({ setup, sampler, state, until: p.onlineSteps, key: foldIn(root, 5) });

  const evaluator = combine(
    klEvaluator(prompts),
    winRateEvaluator(prompts, sft, modelJudge(golden, ps, cpu)),
    classifierEvaluator(dGolden.pairs, 'goldenAccuracy'),
    winnerLogProbEvaluator(dGolden.pairs),
  );
  // The one-pass evaluator against π_sft's responses, sampled once.
  const baseline = await sampleResponses(sft, spec, prompts, foldIn(root, 7), cpu);
  const sampled = sampledEvaluator({ prompts, klPrompts: Math.min(3, prompts.length), judge: modelJudge(golden, ps, cpu), baseline });
  const metrics = await evaluator(rec.final.params, { spec, sft, backend: cpu, key: foldIn(root, 6) });
  const sampledMetrics = await sampled(rec.final.params, { spec, sft, backend: cpu, key: foldIn(root, 8) });
  const trace: Trace = {
    golden: await treeHash(golden),
    goldenFit: JSON.stringify({ ...fit, params: undefined }),
    dGolden: JSON.stringify(dGolden),
    sft: await treeHash(sft),
    stream: JSON.stringify(rec.batches),
    hashes: rec.hashes,
    losses: rec.losses,
    final: await treeHash({ params: rec.final.params, opt: rec.final.opt }),
    metrics,
    sampledMetrics,
  };
  disposeState(rec.final);
  dispose([golden, sft, state.opt]);
  return trace;
}

/** Metrics equal as numbers (values and standard errors), NaN included (a standard error of one sample is NaN). */
function sameMetrics(a: Metrics, b: Metrics): boolean {
  const ka = Object.keys(a).sort();
  return ka.join() === Object.keys(b).sort().join() && ka.every((k) => Object.is(a[k]?.value, b[k]?.value) && Object.is(a[k]?.se, b[k]?.se));
}

describe('determinism', () => {
  it('the same pipeline program run twice (another program in between) is identical: params, stream, metrics', async () => {
    await fc.assert(fc.asyncProperty(programArb, programArb, async (p, other) => {
      const a = await runProgram(p);
      await runProgram(other);
      const b = await runProgram(p);
      expect(b.golden, 'golden preference model params').toBe(a.golden);
      expect(b.goldenFit, 'golden fit report').toBe(a.goldenFit);
      expect(b.dGolden, 'D_golden').toBe(a.dGolden);
      expect(b.sft, 'SFT params').toBe(a.sft);
      expect(b.stream, 'recorded online stream').toBe(a.stream);
      expect(b.hashes, 'params/opt hashes after every online step').toEqual(a.hashes);
      expect(b.losses).toEqual(a.losses);
      expect(b.final).toBe(a.final);
      expect(sameMetrics(a.metrics, b.metrics), `metrics differ: ${JSON.stringify(a.metrics)} vs ${JSON.stringify(b.metrics)}`).toBe(true);
      expect(sameMetrics(a.sampledMetrics, b.sampledMetrics), `sampledEvaluator metrics differ: ${JSON.stringify(a.sampledMetrics)} vs ${JSON.stringify(b.sampledMetrics)}`).toBe(true);
      expect(Object.keys(a.sampledMetrics).sort()).toEqual(['identical', 'kl', 'selfAccuracy', 'selfAccuracyPairs', 'winRate']);
      expect(Object.keys(a.metrics)).toEqual(expect.arrayContaining(['kl', 'winRate', 'goldenAccuracy', 'winnerLogProb']));
    }), fcParams(8));
  }, PROPERTY_TIMEOUT);
});

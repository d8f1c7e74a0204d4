/**
 * `pnpm bench study [--quick] [--backend cpu] [--no-real]`: the study's own throughput on a
 * fixed workload — one online IPO run (proxy-labelled) and one offline IPO run (D_golden) of
 * 150 steps (`--quick`: 50) at the tiny size, evaluating every 25 steps with 512 win-rate
 * prompts, 128 KL prompts and 128 classifier pairs (the quick preset's protocol otherwise) —
 * as JSON lines:
 *
 * - `{"bench":"study","case":"real",...}`: the workload run by the experiments programs
 *   themselves (`ensureRun` of `onlineOf` / `offlineOf`, a filesystem store in a temp
 *   directory): wall seconds and steps/s, evaluation included.
 * - `{"bench":"study","case":"phases",...}`: the same two runs replayed by an instrumented
 *   copy of packages/experiments/src/runs/train.ts's `trainRun` (cachedRun → openRun →
 *   fromSft → rlhf's `runTraining` with afterStep's keep/checkpoint/evaluate → finish), built
 *   from the same pieces with the same calls and sizes, timing every phase. It prints steps/s
 *   with and without evaluation, the evaluation's share of the wall time, and per phase its
 *   share, its ms and the evaluation's part of them (`eval_ms`), `other_ms` (time in no phase:
 *   loop bookkeeping, `combine`, building records), and the last evaluation's metric values.
 *
 * What each phase holds (an inner timed call is taken out of the outer one's time):
 * - train: rlhf's training step (IPO loss, gradients, Adam, the loss read back) and the
 *   optimiser's initial state.
 * - sampling: the online sampler's one generate call of 2·batchSize rows per step (its time
 *   less the proxy labeller's) or the offline sampler's batch assembly; in evaluation, the
 *   ONE sampling pass of `sampledEvaluator` per evaluation (the 512 win-rate prompts plus the
 *   first 128 again) and the golden baseline's responses, sampled ONCE per run (fixed key).
 * - judging: the proxy labeller on each online batch; in evaluation, the ONE golden-judge
 *   call of `sampledEvaluator` (the win-rate comparisons against the baseline's responses
 *   plus the policy's own distinct pairs; identical pairs are never judged) and, for the
 *   online run, the one memoised golden judging of the recent stream's distinct pairs shared
 *   by proxyAccuracy and accStream (proxyAccuracy's scoring of the labels included).
 * - kl: the exact KL(π‖π_sft) along the first 128 samples of the sampling pass.
 * - classifier: the policy as a classifier — selfAccuracy (own pairs), accGolden (D_golden),
 *   winnerLogProb, and online accStream and the identicalStream count.
 * - io: everything the run reads and writes — cachedRun's result check, lock, config.json and
 *   sealed result.json (file hashes); loading the setup (π_sft, proxy), golden model, data and
 *   π_sft again; the baseline's final.ckpt (evaluation); the checkpoints (stream.bin segments,
 *   ckpt.bin with the metrics' hash), kept params, metrics.jsonl appends (evaluation),
 *   final.ckpt and the result's params/optimiser/stream hashes.
 *
 * Built from the experiments' and rlhf's own functions wherever they are exported: the
 * samplers, `runTraining`, `combine`, classifierEvaluator, winnerLogProbEvaluator,
 * proxyAccuracyEvaluator, streamClassifierEvaluator, `memoJudge`, the loaders and writers.
 * The judge and labellers are wrapped (timed), and so is the sampler's `next`. Re-implemented,
 * because they are private to train.ts / cache.ts or cannot be split by wrapping:
 * - rlhf's `sampledEvaluator`: its sampling, KL and self-classification run inside one
 *   function that takes no sampling function, so it is a step-by-step copy (the same
 *   sampleResponses call and key, one judge call, rlhf's `klAlong`,
 *   rlhf's classifierAccuracy). At each run's last evaluation the real `sampledEvaluator` is
 *   run on the same policy and key, untimed and left out of the wall time, and the bench
 *   fails unless its metrics, judge calls and judged pairs are identical to the copy's.
 * - train.ts's private run loop (openRun, buildSampler, baselineResponses, fromSft,
 *   afterStep, checkpoint, evaluate, identicalPairsEvaluator, finish) and cachedRun's steps.
 * Not reproduced: ensureRun's verification of the prerequisite runs' stored results (part of
 * the real case's wall time), resuming from a checkpoint (the runs start fresh), and the
 * interruption checks and progress rendering of a terminal (the env is quiet).
 *
 * The prerequisites (data, golden model, SFT, proxy, golden baseline) are built first with
 * shortened fits (their sizes are the quick preset's; their quality does not change the
 * cost of the workload) and are not timed. Reads packages/experiments, never changes it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adam, nextTokenLogProbs, type TransformerParams } from '@tandem/nn';
import {
  LOSSES, accuracyMetrics, classifierAccuracy, classifierEvaluator, combine, distinctPairs, estimate, getTask, identicalResponses, initTrainState, klAlong,
  meanSe, memoJudge, offlineSampler, onlineSampler, padTokens, proxyAccuracyEvaluator, runTraining, sampleResponses, sampledEvaluator,
  streamClassifierEvaluator, winnerLogProbEvaluator,
  type Comparison, type EvalContext, type Evaluator, type Judge, type Labeller, type Metrics, type PairBatch, type PolicySpec, type Sampler, type Tokens,
  type TrainSetup, type TrainState,
} from '@tandem/rlhf';
import { dispose, exp, type BackendName, foldIn, getBackend, key, maximum, mul, sub, sum, tidy, where, type Key } from '@tandem/tensor';
import { QUICK } from '../../packages/experiments/src/presets.js';
import type { StudyConfig } from '../../packages/experiments/src/config.js';
import { nodeEnv } from '../../packages/experiments/src/env.js';
import { sha256 } from '../../packages/experiments/src/hash.js';
import { runOrThrow, type Env } from '../../packages/experiments/src/program.js';
import { ensureRun, offlineOf, onlineOf } from '../../packages/experiments/src/study.js';
import { jobGraph, runJobsInOrder } from '../../packages/experiments/src/jobs.js';
import { idOf, manifestOf, readResult, sealResult } from '../../packages/experiments/src/runs/cache.js';
import { loadDataDatasets, loadGolden, loadSetup, loadSft, policySpecOf } from '../../packages/experiments/src/runs/setup.js';
import { STREAM_FILE, encodeStreamSegments, loadParams, saveCheckpointBlob, saveParams } from '../../packages/experiments/src/runs/artifacts.js';
import { METRICS_FILE, appendMetricRecords, metricValue, scanMetrics, type MetricRecord } from '../../packages/experiments/src/runs/metrics.js';
import {
  TrainResultCodec, describeRun, trainingPrompts, treeHash, type TrainResult, type TrainRunConfig, type TrainRunState,
} from '../../packages/experiments/src/runs/train.js';
import { report } from './harness.js';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const bi = argv.indexOf('--backend');
const backendName = (bi >= 0 ? argv[bi + 1]! : 'cpu') as BackendName;
const real = !argv.includes('--no-real');

/** The quick preset's protocol; prerequisites shortened (untimed), the timed runs as specified. */
const STEPS = quick ? 50 : 150;
const S: StudyConfig = {
  ...QUICK,
  data: { ...QUICK.data, golden: { mode: 'model', size: 'base', fit: { steps: 20, batchSize: 32, lr: 1e-3, warmup: 2, validateEvery: 20, patience: 1 } } },
  setup: { ...QUICK.setup, proxy: { ...QUICK.setup.proxy, steps: 10, warmup: 2 }, sft: { ...QUICK.setup.sft, steps: 20, warmup: 2 } },
  baseline: { ...QUICK.baseline, steps: 4, checkpointEvery: 4 },
  train: { ...QUICK.train, steps: STEPS },
  eval: { ...QUICK.eval, every: 25, winRatePrompts: 512, klPrompts: 128 },
};

type Phase = 'train' | 'sampling' | 'judging' | 'kl' | 'classifier' | 'io';
const PHASES: Phase[] = ['train', 'sampling', 'judging', 'kl', 'classifier', 'io'];
const zero = (): Record<Phase, number> => ({ train: 0, sampling: 0, judging: 0, kl: 0, classifier: 0, io: 0 });

/**
 * Exclusive phase times: a timed call nested in another (the labeller inside the sampler,
 * the judge inside an evaluator) counts for its own phase only. Everything here runs one
 * call after another (no concurrent timed calls), so a stack of open calls suffices.
 */
class Clock {
  readonly ms = zero();
  /** Evaluation's part of each phase (the rest is the run's: online sampling and labelling, steps, checkpoints, loading, the result). */
  readonly evalMs = zero();
  inEval = false;
  private readonly open: number[] = [];
  add(p: Phase, d: number): void {
    this.ms[p] += d;
    if (this.inEval) this.evalMs[p] += d;
    if (this.open.length) this.open[this.open.length - 1]! += d;
  }
  async time<A>(p: Phase, f: () => Promise<A> | A): Promise<A> {
    const t = performance.now();
    this.open.push(0);
    try {
      return await f();
    } finally {
      const d = performance.now() - t;
      const inner = this.open.pop()!;
      this.add(p, d - inner);
      if (this.open.length) this.open[this.open.length - 1]! += inner;
    }
  }
}

const timedJudge = (c: Clock, j: Judge): Judge => (items) => c.time('judging', () => j(items));
const timedLabeller = (c: Clock, l: Labeller): Labeller => ({ name: l.name, label: (items, k) => c.time('judging', () => l.label(items, k)) });
const timedEvaluator = (c: Clock, p: Phase, ev: Evaluator): Evaluator => (policy, ctx) => c.time(p, () => ev(policy, ctx));

interface SampledOptions {
  prompts: readonly Tokens[];
  klPrompts: number;
  /** The (timed) golden judge. */
  judge: Judge;
  baseline?: readonly Tokens[];
}

/** What the copy of sampledEvaluator did at its last call: to compare with the real one. */
interface SampledTrace {
  ctx: EvalContext;
  metrics: Metrics;
  judgeCalls: number;
  judged: number;
}

/**
 * rlhf's sampledEvaluator step by step (same calls, same order, same key), with sampling, KL
 * and the self-classifier timed apart; the judge given is already timed.
 */
function timedSampledEvaluator(c: Clock, o: SampledOptions): { evaluator: Evaluator; last: () => SampledTrace | undefined } {
  const { prompts, klPrompts, judge, baseline } = o;
  let last: SampledTrace | undefined;
  const evaluator: Evaluator = async (policy, ctx) => {
    // sampleOnce: ONE call on [...prompts, ...prompts.slice(0, klPrompts)] with ctx.key.
    const all = await c.time('sampling', () => sampleResponses(policy, ctx.spec, [...prompts, ...prompts.slice(0, klPrompts)], ctx.key, ctx.backend));
    const ys = all.slice(0, prompts.length);
    const own: Comparison[] = prompts.slice(0, klPrompts).map((prompt, i) => ({ prompt, y1: ys[i]!, y2: all[prompts.length + i]! }));
    const wins: Comparison[] = baseline ? prompts.map((prompt, i) => ({ prompt, y1: ys[i]!, y2: baseline[i]! })) : [];
    const distinctOwn = distinctPairs(own);
    // judgeOnce: one judge call for the win-rate comparisons and the distinct own pairs.
    const items = [...wins, ...distinctOwn];
    const verdicts = items.length === 0 ? [] : await judge(items);
    const winVerdicts = verdicts.slice(0, wins.length);
    const ownVerdicts = verdicts.slice(wins.length);
    const kl = await c.time('kl', () => klAlong(policy, ctx, prompts.slice(0, klPrompts), ys.slice(0, klPrompts)));
    const self = await c.time('classifier', () => classifierAccuracy(policy, ctx, distinctOwn, ownVerdicts));
    const metrics: Metrics = {
      kl: estimate(meanSe(kl)),
      ...(baseline ? { winRate: estimate(meanSe(winVerdicts)) } : {}),
      ...accuracyMetrics('selfAccuracy', self),
      identical: estimate(meanSe(own.map((x) => (identicalResponses(x) ? 1 : 0)))),
    };
    last = { ctx, metrics, judgeCalls: items.length === 0 ? 0 : 1, judged: items.length };
    return metrics;
  };
  return { evaluator, last: () => last };
}

/** Runs the real sampledEvaluator on the copy's last policy and key; throws unless both agree exactly. */
async function checkSampledCopy(policy: TransformerParams, trace: SampledTrace, o: SampledOptions & { rawJudge: Judge }): Promise<void> {
  let judgeCalls = 0;
  let judged = 0;
  const judge: Judge = (items) => {
    judgeCalls++;
    judged += items.length;
    return o.rawJudge(items);
  };
  const want = await sampledEvaluator({ prompts: o.prompts, klPrompts: o.klPrompts, judge, ...(o.baseline ? { baseline: o.baseline } : {}) })(policy, trace.ctx);
  const same = (a: number | undefined, b: number | undefined) => Object.is(a, b);
  const names = new Set([...Object.keys(want), ...Object.keys(trace.metrics)]);
  const bad = [...names].filter((n) => !same(want[n]?.value, trace.metrics[n]?.value) || !same(want[n]?.se, trace.metrics[n]?.se));
  if (bad.length || judgeCalls !== trace.judgeCalls || judged !== trace.judged) {
    throw new Error(`bench study: the timed copy of sampledEvaluator no longer matches rlhf's (metrics ${bad.join(', ') || 'equal'}; judge calls ${trace.judgeCalls} vs ${judgeCalls}, judged ${trace.judged} vs ${judged}): update scripts/bench/study.ts`);
  }
}

/** train.ts's private identicalPairsEvaluator: the fraction of the batches' pairs with identical responses. */
function identicalPairsEvaluator(batches: readonly PairBatch[]): Evaluator {
  return async () => ({ identicalStream: estimate(meanSe(batches.flatMap((b) => b.pairs.map((p) => (identicalResponses(p) ? 1 : 0))))) });
}

/** train.ts's private buildSampler, for the methods the workload uses, with the labellers timed. */
function samplerOf(cfg: TrainRunConfig, d: { proxy: Labeller; golden: Labeller; prompts: number[][]; data: Awaited<ReturnType<typeof loadDataDatasets>>; taskName: string; spec: PolicySpec }): Sampler<unknown> {
  const m = cfg.method;
  if (m.kind === 'online') {
    return onlineSampler({ spec: d.spec, prompts: d.prompts, batchSize: cfg.hyper.batchSize, labeller: m.labeller === 'proxy' ? d.proxy : d.golden, task: d.taskName }) as Sampler<unknown>;
  }
  if (m.kind === 'offline' && m.dataset.kind === 'golden') {
    return offlineSampler(d.data.golden, { batchSize: cfg.hyper.batchSize, key: foldIn(key(cfg.seed), 1) }) as Sampler<unknown>;
  }
  throw new Error(`bench study: method ${m.kind} is not part of the workload`);
}

/** The instrumented copy of trainRun (see the header): the whole run timed by phase. */
async function phases(env: Env, cfg: TrainRunConfig, label: string): Promise<void> {
  const c = new Clock();
  const id = `bench-study-${label}`;
  const online = cfg.method.kind === 'online';
  const due = (every: number, step: number) => step % every === 0 || step === cfg.hyper.steps;
  let excludedMs = 0;
  let evaluations = 0;
  const t0 = performance.now();

  // cachedRun: no stored result, take the lock, write the config.
  await c.time('io', () => readResult(env, id, TrainResultCodec));
  const unlock = await c.time('io', () => env.store.lock(id, { log: env.log, interruption: env.interruption }));
  await c.time('io', () => env.store.writeConfig(id, { kind: 'train', codeVersion: env.codeVersion, config: cfg }));

  // openRun
  const task = getTask(cfg.setup.data.task);
  const spec = policySpecOf(task, cfg.setup.setup.size);
  const runKey = key(cfg.seed);
  const evalKey = foldIn(runKey, 0x7fffffff);
  const setup = await c.time('io', () => loadSetup(env, cfg.setup));
  const golden = await c.time('io', () => loadGolden(env, cfg.setup.data));
  const data = await c.time('io', () => loadDataDatasets(env, cfg.setup.data));
  const prompts = trainingPrompts(data.initial);
  const sampler = samplerOf(cfg, { proxy: timedLabeller(c, setup.proxy), golden: timedLabeller(c, golden.labeller), prompts, data, taskName: task.name, spec });
  const winPrompts = prompts.slice(0, cfg.eval.winRatePrompts);
  // baselineResponses: the golden baseline's responses on the win-rate prompts, once per run, from its own key.
  let baseline: Tokens[] | undefined;
  if (cfg.eval.baseline) {
    const b = cfg.eval.baseline;
    c.inEval = true;
    const params = await c.time('io', () => loadParams<TransformerParams>(env, idOf(env, 'train', b), 'final.ckpt'));
    baseline = await c.time('sampling', () => sampleResponses(params, spec, winPrompts, foldIn(key(b.seed), 0xba5e), env.backend));
    dispose(params);
    c.inEval = false;
  }
  const tsetup: TrainSetup = { spec, loss: LOSSES[cfg.loss]!, beta: cfg.hyper.beta, optimizer: adam({ lr: cfg.hyper.lr }), ref: setup.sft, backend: env.backend };
  // buildEvaluators, with the golden judge timed.
  const judge = timedJudge(c, golden.judge);
  const pairs = data.golden.pairs.slice(0, cfg.eval.classifierPairs);
  const sampledOpts: SampledOptions = { prompts: winPrompts, klPrompts: Math.min(cfg.eval.klPrompts, winPrompts.length), judge, ...(baseline ? { baseline } : {}) };
  const sampled = timedSampledEvaluator(c, sampledOpts);
  const evaluators: Evaluator[] = [sampled.evaluator, timedEvaluator(c, 'classifier', classifierEvaluator(pairs, 'accGolden')), timedEvaluator(c, 'classifier', winnerLogProbEvaluator(pairs))];

  // Progress (train.ts's Progress, as mutable locals).
  const stream: PairBatch[] = [];
  let streamSaved = 0;
  let streamBytes = 0;
  let lossSum = 0;
  let lossCount = 0;
  let samplerState: unknown = sampler.init;
  const metricsLines: string[] = [];
  let last: MetricRecord | undefined;

  /** train.ts's evaluate: the run's evaluators and the stream's, combined (so each gets its key), then the record appended. */
  const evaluate = async (params: TransformerParams, step: number) => {
    c.inEval = true;
    const m = cfg.method;
    const streamEvs: Evaluator[] = [];
    if (m.kind === 'online' && stream.length > 0) {
      const recent = stream.slice(Math.max(0, stream.length - cfg.eval.every));
      const memo = memoJudge(judge);
      if (m.labeller === 'proxy') streamEvs.push(timedEvaluator(c, 'judging', proxyAccuracyEvaluator(recent, memo)));
      streamEvs.push(timedEvaluator(c, 'classifier', streamClassifierEvaluator(recent, memo)), timedEvaluator(c, 'classifier', identicalPairsEvaluator(recent)));
    }
    const metrics = await combine(...evaluators, ...streamEvs)(params, { spec, sft: setup.sft, backend: env.backend, key: foldIn(evalKey, step) });
    const record: MetricRecord = { step, loss: lossCount ? lossSum / lossCount : null, metrics };
    metricsLines.push(...(await c.time('io', () => appendMetricRecords(env, id, [record]))));
    lossSum = 0;
    lossCount = 0;
    last = record;
    evaluations++;
    c.inEval = false;
  };

  /** train.ts's checkpoint: stream segments since the last one, then ckpt.bin with the run state. */
  const checkpoint = (st: TrainState) => c.time('io', async () => {
    if (online && stream.length > streamSaved) {
      const seg = encodeStreamSegments(stream.slice(streamSaved), streamSaved, streamBytes === 0);
      await env.store.appendBlob(id, STREAM_FILE, seg);
      streamBytes += seg.length;
    }
    const metricsText = Buffer.from(metricsLines.join(''), 'utf8');
    const runState: TrainRunState = {
      samplerState, lossSum, lossCount, metricsCount: metricsLines.length, metricsBytes: metricsText.length, metricsSha256: sha256(metricsText),
      streamBatches: online ? stream.length : 0, streamBytes,
    };
    await saveCheckpointBlob(env, id, 'ckpt.bin', { params: st.params, optState: st.opt, step: st.step, key: runKey, config: null, runState });
    streamSaved = stream.length;
  });

  // resume: no ckpt.bin, so fromSft (stale files removed, π_sft loaded), evaluated at step 0.
  await c.time('io', async () => {
    await env.store.readBlob(id, 'ckpt.bin');
    await env.store.removeFile(id, METRICS_FILE);
    await env.store.removeFile(id, STREAM_FILE);
  });
  const params0 = await c.time('io', () => loadSft(env, cfg.setup));
  const start = await c.time('train', () => initTrainState(tsetup, params0));
  await evaluate(start.params, 0);

  // train: rlhf's runTraining; afterStep = keep? → checkpoint? → evaluate? (checkpoints before evaluations, as train.ts).
  const bar = env.progress(describeRun(cfg), cfg.hyper.steps);
  let lastNextMs = 0;
  const timedSampler: Sampler<unknown> = {
    ...sampler,
    next: async (s, ctx) => {
      const t = performance.now();
      try {
        return await c.time('sampling', () => sampler.next(s, ctx));
      } finally {
        lastNextMs = performance.now() - t;
      }
    },
  };
  let stepStart = performance.now();
  const { state: final } = await runTraining({
    setup: tsetup, sampler: timedSampler, state: start, samplerState: sampler.init, until: cfg.hyper.steps, key: runKey,
    onStep: async (info, ss) => {
      // The step's own time: since the end of the previous onStep, less the sampler's.
      c.add('train', performance.now() - stepStart - lastNextMs);
      const step = info.state.step;
      lossSum += info.loss;
      lossCount++;
      samplerState = ss;
      if (online) stream.push(info.batch);
      if (cfg.keepSteps.includes(step)) await c.time('io', () => saveParams(env, id, `params@${step}.ckpt`, info.state.params));
      if (due(cfg.hyper.checkpointEvery, step)) await checkpoint(info.state);
      if (due(cfg.eval.every, step)) await evaluate(info.state.params, step);
      bar.update(step, { kl: metricValue(last, 'kl').toFixed(3), win: metricValue(last, 'winRate').toFixed(3), loss: info.loss.toFixed(4) });
      stepStart = performance.now();
    },
  });
  bar.stop();

  // Not part of the run: the copy of sampledEvaluator against the real one at the last evaluation.
  const tc = performance.now();
  const trace = sampled.last();
  if (trace) await checkSampledCopy(final.params, trace, { ...sampledOpts, rawJudge: golden.judge });
  excludedMs += performance.now() - tc;

  // finish: final.ckpt, the records and stream checked against what was written, the result's hashes; then cachedRun seals it.
  await c.time('io', async () => {
    if (final !== start) dispose([start.params, start.opt]);
    await saveParams(env, id, 'final.ckpt', final.params);
    const mbytes = (await env.store.readBlob(id, METRICS_FILE)) ?? new Uint8Array();
    if (!Buffer.from(metricsLines.join(''), 'utf8').equals(mbytes)) throw new Error(`bench study: ${METRICS_FILE} is not what the run wrote`);
    const rec = scanMetrics(mbytes).records.at(-1)!;
    if (online) {
      const sbytes = (await env.store.readBlob(id, STREAM_FILE)) ?? new Uint8Array();
      if (streamSaved !== stream.length || !Buffer.from(encodeStreamSegments(stream, 0, true)).equals(sbytes)) throw new Error(`bench study: ${STREAM_FILE} is not what the run wrote`);
    }
    const result: TrainResult = {
      steps: final.step,
      paramsHash: await treeHash(final.params),
      optHash: await treeHash(final.opt),
      streamHash: online ? sha256(JSON.stringify(stream.map((b) => b.pairs.map((x) => [x.prompt, x.y1, x.y2, x.preference])))) : null,
      identicalPairs: online ? meanSe(stream.flatMap((b) => b.pairs.map((x) => (identicalResponses(x) ? 1 : 0))))[0] : null,
      final: rec,
    };
    dispose([final.params, final.opt]);
    setup.release();
    golden.release();
    await env.store.writeResult(id, sealResult(result, await manifestOf(env, id)));
    await unlock();
  });

  const wall = performance.now() - t0 - excludedMs;
  const evalMs = PHASES.reduce((a, p) => a + c.evalMs[p], 0);
  report({
    bench: 'study', case: 'phases', run: label, backend: env.backend.name, steps: cfg.hyper.steps, evaluations,
    wall_s: wall / 1000, steps_per_s: cfg.hyper.steps / (wall / 1000), steps_per_s_no_eval: cfg.hyper.steps / ((wall - evalMs) / 1000),
    eval_share: evalMs / wall,
    share: Object.fromEntries(PHASES.map((p) => [p, Number((c.ms[p] / wall).toFixed(3))])),
    ms: Object.fromEntries(PHASES.map((p) => [p, Math.round(c.ms[p])])),
    eval_ms: Object.fromEntries(PHASES.map((p) => [p, Math.round(c.evalMs[p])])),
    other_ms: Math.round(wall - PHASES.reduce((a, p) => a + c.ms[p], 0)),
    final: Object.fromEntries(Object.entries(last?.metrics ?? {}).map(([k, v]) => [k, Number(v.value.toFixed(4))])),
  });
}

async function main(): Promise<void> {
  const backend = getBackend(backendName);
  const root = mkdtempSync(join(tmpdir(), 'tandem-bench-study-'));
  const env = nodeEnv({ root, backend, quiet: true });
  try {
    const on = onlineOf(S);
    const off = offlineOf(S);
    const t = performance.now();
    // Everything the two runs depend on (data, SFT, proxy, baseline), without the runs themselves.
    const g = jobGraph([on, off]);
    await runOrThrow(runJobsInOrder({ jobs: g.jobs.filter((j) => j.config !== on && j.config !== off), deps: [] }), env);
    report({ bench: 'study', case: 'prerequisites', backend: backend.name, wall_s: (performance.now() - t) / 1000, note: 'data, golden, SFT, proxy, baseline with shortened fits; not part of the workload' });
    let realTotal = 0;
    if (real) {
      for (const [label, cfg] of [['online', on], ['offline', off]] as const) {
        const t1 = performance.now();
        await runOrThrow(ensureRun(cfg), env);
        const s = (performance.now() - t1) / 1000;
        realTotal += s;
        report({ bench: 'study', case: 'real', run: label, backend: backend.name, steps: cfg.hyper.steps, wall_s: s, steps_per_s: cfg.hyper.steps / s });
      }
      report({ bench: 'study', case: 'real', run: 'workload', backend: backend.name, steps: 2 * STEPS, wall_s: realTotal, steps_per_s: (2 * STEPS) / realTotal });
    }
    await phases(env, on, 'online');
    await phases(env, off, 'offline');
  } finally {
    env.dispose();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();

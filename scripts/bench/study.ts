/**
 * `pnpm bench study [--quick] [--backend cpu] [--no-real]`: the study's own throughput on a
 * fixed workload — one online IPO run and one offline IPO run (D_golden) of 150 steps at
 * the tiny size, evaluating every 25 steps with 512 win-rate prompts and 128 KL prompts
 * (the quick preset's protocol) — as JSON lines:
 *
 * - `{"bench":"study","case":"real",...}`: the workload run by the experiments programs
 *   themselves (`ensureRun` of `onlineOf` / `offlineOf`, a filesystem store in a temp
 *   directory): wall seconds and steps/s, evaluation included.
 * - `{"bench":"study","case":"phases",...}`: the same runs replayed by an instrumented
 *   copy of the run loop (rlhf's `runTraining`, the same sampler, evaluators decomposed
 *   into the calls `packages/rlhf/src/evaluators.ts` makes), timing every phase: train
 *   step, sampling, judging (golden judge and proxy labeller), KL, classifier, I/O
 *   (checkpoint + metrics). Prints steps/s with and without evaluation and each phase's share.
 *
 * The prerequisites (data, golden model, proxy, SFT, golden baseline) are built first with
 * shortened fits (their sizes are the quick preset's; their quality does not change the
 * cost of the workload) and are not timed. Reads packages/experiments, never changes it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adam, nextTokenLogProbs, type TransformerParams } from '@tandem/nn';
import {
  classifierMargin, getTask, logProbs, offlineSampler, onlineSampler, padTokens, runTraining, sampleResponses, initTrainState,
  LOSSES, type Comparison, type Judge, type Pair, type Labeller, type PairBatch, type Sampler, type TrainSetup,
} from '@tandem/rlhf';
import { dispose, exp, type BackendName, foldIn, getBackend, key, maximum, mul, split, sub, sum, tidy, where, type Backend, type Key } from '@tandem/tensor';
import { QUICK } from '../../packages/experiments/src/presets.js';
import type { StudyConfig } from '../../packages/experiments/src/config.js';
import { nodeEnv } from '../../packages/experiments/src/env.js';
import { runOrThrow, type Env } from '../../packages/experiments/src/program.js';
import { ensureRun, offlineOf, onlineOf } from '../../packages/experiments/src/study.js';
import { jobGraph, runJobsInOrder } from '../../packages/experiments/src/jobs.js';
import { idOf } from '../../packages/experiments/src/runs/cache.js';
import { loadDataDatasets, loadGolden, loadSetup, policySpecOf } from '../../packages/experiments/src/runs/setup.js';
import { loadParams, saveCheckpointBlob } from '../../packages/experiments/src/runs/artifacts.js';
import { appendMetricRecords } from '../../packages/experiments/src/runs/metrics.js';
import { trainingPrompts, type TrainRunConfig } from '../../packages/experiments/src/runs/train.js';
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

class Clock {
  ms: Record<Phase, number> = { train: 0, sampling: 0, judging: 0, kl: 0, classifier: 0, io: 0 };
  /** Evaluation's part of each phase (the rest is the training loop's: online sampling and labelling, steps, checkpoints). */
  evalMs: Record<Phase, number> = { train: 0, sampling: 0, judging: 0, kl: 0, classifier: 0, io: 0 };
  inEval = false;
  async time<A>(p: Phase, f: () => Promise<A> | A): Promise<A> {
    const t = performance.now();
    try {
      return await f();
    } finally {
      const d = performance.now() - t;
      this.ms[p] += d;
      if (this.inEval) this.evalMs[p] += d;
    }
  }
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/**
 * One evaluation, decomposed: the calls of buildEvaluators (KL, accGolden, winnerLogProb,
 * selfAccuracy, winRate) and, online, the stream's (proxyAccuracy, accStream), in that order.
 */
async function evaluate(c: Clock, policy: TransformerParams, o: {
  spec: ReturnType<typeof policySpecOf>; sft: TransformerParams; backend: Backend; key: Key; judge: Judge; baseline: TransformerParams;
  klPrompts: number[][]; winPrompts: number[][]; pairs: readonly Pair[]; recent: readonly PairBatch[] | null;
}): Promise<Record<string, number>> {
  const ctx = { spec: o.spec, sft: o.sft, backend: o.backend };
  const keys = split(o.key, o.recent ? 7 : 5);
  const out: Record<string, number> = {};
  const accuracy = async (items: readonly Comparison[], labels: readonly number[]) => {
    if (items.length === 0) return NaN;
    const f = tidy(() => classifierMargin(policy, ctx, items));
    const v = await f.data();
    f.dispose();
    return mean(Array.from(v, (x, i) => (x === 0 ? 0.5 : (x > 0 ? 1 : 0) === labels[i] ? 1 : 0)));
  };
  // KL
  const ys = await c.time('sampling', () => sampleResponses(policy, o.spec, o.klPrompts, keys[0]!, o.backend));
  out.kl = await c.time('kl', async () => {
    const perPrompt = tidy(() => {
      const x = padTokens(o.klPrompts, o.spec.widths.prompt, o.backend, 'prompt');
      const y = padTokens(ys, o.spec.widths.response, o.backend, 'response');
      const lp = nextTokenLogProbs(policy, o.spec.cfg, x.ids, y.ids, { srcMask: x.mask });
      const lq = nextTokenLogProbs(o.sft, o.spec.cfg, x.ids, y.ids, { srcMask: x.mask });
      return sum(where(y.mask, maximum(sum(mul(exp(lp), sub(lp, lq)), -1), 0), 0), -1);
    });
    const v = Array.from(await perPrompt.data());
    perPrompt.dispose();
    return mean(v);
  });
  // accGolden, winnerLogProb
  out.accGolden = await c.time('classifier', () => accuracy(o.pairs, o.pairs.map((p) => p.preference)));
  out.winnerLogProb = await c.time('classifier', async () => {
    const lp = tidy(() => logProbs(policy, o.spec, o.pairs.map((p) => p.prompt), o.pairs.map((p) => (p.preference === 1 ? p.y1 : p.y2)), o.backend));
    const v = mean(Array.from(await lp.data()));
    lp.dispose();
    return v;
  });
  // selfAccuracy
  const ys2 = await c.time('sampling', () => sampleResponses(policy, o.spec, [...o.klPrompts, ...o.klPrompts], keys[3]!, o.backend));
  const items = o.klPrompts.map((prompt, i) => ({ prompt, y1: ys2[i]!, y2: ys2[i + o.klPrompts.length]! }));
  const j = await c.time('judging', () => o.judge(items));
  const keep = items.flatMap((it, i) => (j[i] === 0.5 ? [] : [[it, j[i]!] as const]));
  out.selfAccuracy = await c.time('classifier', () => accuracy(keep.map((x) => x[0]), keep.map((x) => x[1])));
  // winRate
  const [k1, k2] = split(keys[4]!) as [Key, Key];
  const wy = await c.time('sampling', () => sampleResponses(policy, o.spec, o.winPrompts, k1, o.backend));
  const by = await c.time('sampling', () => sampleResponses(o.baseline, o.spec, o.winPrompts, k2, o.backend));
  out.winRate = mean(await c.time('judging', () => o.judge(o.winPrompts.map((prompt, i) => ({ prompt, y1: wy[i]!, y2: by[i]! })))));
  if (o.recent) {
    const pairs = o.recent.flatMap((b) => b.pairs);
    const jp = await c.time('judging', () => o.judge(pairs));
    out.proxyAccuracy = mean(pairs.map((p, i) => (jp[i] === 0.5 ? 0.5 : jp[i] === p.preference ? 1 : 0)));
    const js = await c.time('judging', () => o.judge(pairs));
    const lab = pairs.flatMap((p, i) => (js[i] === 0.5 ? [] : [{ ...p, preference: js[i] as 0 | 1 }]));
    out.accStream = await c.time('classifier', () => accuracy(lab, lab.map((p) => p.preference)));
  }
  return out;
}

/** The instrumented run: rlhf's runTraining with the run's sampler, checkpoints and evaluations every 25 steps. */
async function phases(env: Env, cfg: TrainRunConfig, label: string): Promise<void> {
  const c = new Clock();
  const task = getTask(cfg.setup.data.task);
  const spec = policySpecOf(task, cfg.setup.setup.size);
  const setup = await loadSetup(env, cfg.setup);
  const golden = await loadGolden(env, cfg.setup.data);
  const data = await loadDataDatasets(env, cfg.setup.data);
  const prompts = trainingPrompts(data.initial);
  const baseline = await loadParams<TransformerParams>(env, idOf(env, 'train', cfg.eval.baseline!), 'final.ckpt');
  const online = cfg.method.kind === 'online';
  let sampler: Sampler<unknown>;
  if (online) {
    const proxy: Labeller = { name: setup.proxy.name, label: (items, k) => c.time('judging', () => setup.proxy.label(items, k)) };
    sampler = onlineSampler({ spec, prompts, batchSize: cfg.hyper.batchSize, labeller: proxy, task: task.name }) as Sampler<unknown>;
  } else {
    sampler = offlineSampler(data.golden, { batchSize: cfg.hyper.batchSize, key: foldIn(key(cfg.seed), 1) }) as Sampler<unknown>;
  }
  let lastNextMs = 0;
  // Sampling time of the online sampler = its time minus the labeller's.
  const timedSampler: Sampler<unknown> = {
    ...sampler,
    next: async (s, ctx) => {
      const j0 = c.ms.judging;
      const t = performance.now();
      const r = await sampler.next(s, ctx);
      lastNextMs = performance.now() - t;
      c.ms.sampling += lastNextMs - (c.ms.judging - j0);
      return r;
    },
  };
  const tsetup: TrainSetup = { spec, loss: LOSSES[cfg.loss]!, beta: cfg.hyper.beta, optimizer: adam({ lr: cfg.hyper.lr }), ref: setup.sft, backend: env.backend };
  const runKey = key(cfg.seed);
  const evalKey = foldIn(runKey, 0x7fffffff);
  const klPrompts = prompts.slice(0, cfg.eval.klPrompts);
  const winPrompts = prompts.slice(0, cfg.eval.winRatePrompts);
  const pairs = data.golden.pairs.slice(0, cfg.eval.classifierPairs);
  const stream: PairBatch[] = [];
  const runId = `bench-study-${label}`;
  const params0 = await loadParams<TransformerParams>(env, idOf(env, 'setup', cfg.setup), 'sft.ckpt');
  const state0 = initTrainState(tsetup, params0);
  let last: Record<string, number> = {};
  const evalAt = async (params: TransformerParams, step: number, loss: number | null) => {
    c.inEval = true;
    last = await evaluate(c, params, {
      spec, sft: setup.sft, backend: env.backend, key: foldIn(evalKey, step), judge: golden.judge, baseline, klPrompts, winPrompts, pairs,
      recent: online && stream.length > 0 ? stream.slice(Math.max(0, stream.length - cfg.eval.every)) : null,
    });
    await c.time('io', () => appendMetricRecords(env, runId, [{ step, loss, metrics: Object.fromEntries(Object.entries(last).map(([k, v]) => [k, { value: v, se: 0 }])) }]));
    c.inEval = false;
  };
  const t0 = performance.now();
  await evalAt(state0.params, 0, null);
  let lossSum = 0;
  let lossCount = 0;
  let stepStart = performance.now();
  await runTraining({
    setup: tsetup, sampler: timedSampler, state: state0, until: cfg.hyper.steps, key: runKey,
    onStep: async (info) => {
      // The step's own time: from the end of the previous onStep to now, less the sampler's (timed above).
      const now = performance.now();
      c.ms.train += now - stepStart - lastNextMs;
      lossSum += info.loss;
      lossCount++;
      if (online) stream.push(info.batch);
      const step = info.state.step;
      const due = (every: number) => step % every === 0 || step === cfg.hyper.steps;
      if (due(cfg.hyper.checkpointEvery)) {
        await c.time('io', () => saveCheckpointBlob(env, runId, 'ckpt.bin', { params: info.state.params, optState: info.state.opt, step, key: runKey, config: null, runState: { lossSum, lossCount } }));
      }
      if (due(cfg.eval.every)) {
        await evalAt(info.state.params, step, lossSum / lossCount);
        lossSum = 0;
        lossCount = 0;
      }
      if (step === cfg.hyper.steps) dispose([info.state.params, info.state.opt]);
      stepStart = performance.now();
    },
  });
  const wall = performance.now() - t0;
  const evalMs = PHASES.reduce((a, p) => a + c.evalMs[p], 0);
  const trainLoopMs = wall - evalMs;
  report({
    bench: 'study', case: 'phases', run: label, backend: env.backend.name, steps: cfg.hyper.steps, evaluations: Math.floor(cfg.hyper.steps / cfg.eval.every) + 1,
    wall_s: wall / 1000, steps_per_s: cfg.hyper.steps / (wall / 1000), steps_per_s_no_eval: cfg.hyper.steps / (trainLoopMs / 1000),
    eval_share: evalMs / wall,
    share: Object.fromEntries(PHASES.map((p) => [p, Number((c.ms[p] / wall).toFixed(3))])),
    ms: Object.fromEntries(PHASES.map((p) => [p, Math.round(c.ms[p])])),
    eval_ms: Object.fromEntries(PHASES.map((p) => [p, Math.round(c.evalMs[p])])),
    other_ms: Math.round(wall - PHASES.reduce((a, p) => a + c.ms[p], 0)),
    final: Object.fromEntries(Object.entries(last).map(([k, v]) => [k, Number(v.toFixed(4))])),
  });
  dispose([baseline, params0]);
  setup.release();
  golden.release();
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
    report({ bench: 'study', case: 'prerequisites', backend: backend.name, wall_s: (performance.now() - t) / 1000, note: 'data, golden, proxy, SFT, baseline with shortened fits; not part of the workload' });
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

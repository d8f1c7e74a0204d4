/**
 * A preference-optimisation run (online, offline, or a replay of a recorded
 * stream) as a cached, checkpointed, resumable program. Everything that affects
 * the numbers is in its config; step t's randomness is foldIn(runKey, t), so a run
 * resumed from its last checkpoint ends bit-identical to an uninterrupted one.
 */
import { createHash } from 'node:crypto';
import { adam, type TransformerParams } from '@tandem/nn';
import {
  LOSSES, classifierEvaluator, combine, getTask, initTrainState, klEvaluator, labelAccuracy, offlineSampler, onlineSampler,
  replaySampler, runTraining, selfClassificationEvaluator, shuffleStream, winRateEvaluator, winnerLogProbEvaluator,
  type Evaluator, type Labeller, type Metrics, type PairBatch, type PairDataset, type Sampler, type TrainState,
} from '@tandem/rlhf';
import { dispose, foldIn, key, treeLeaves, type Key } from '@tandem/tensor';
import type { EvalConfig, LossName, ShuffleWindow, TrainConfig } from '../config.js';
import { interrupted, type Env, type Program } from '../program.js';
import { loadCheckpointBlob, loadDataset, loadParams, loadStream, saveParams, saveStream } from './artifacts.js';
import { cachedRun, idOf, type RunOutcome } from './cache.js';
import { loadDataDatasets, loadGolden, loadSetup, policySpecOf, type SetupRunConfig } from './setup.js';

/** Which policy a versus-dataset side samples from. */
export type PolicyRef = { kind: 'sft' } | { kind: 'checkpoint'; run: TrainRunConfig; step: number };

/** An offline dataset: D_golden, or D_{a vs b} built from two policies and relabelled by the golden model. */
export type DatasetRef = { kind: 'golden' } | { kind: 'versus'; name: string; a: PolicyRef; b: PolicyRef; pairs: number };

/** How a run gets its batches: `online` (samples from the current policy, labelled by the `proxy` or the `golden` model), `offline` (epochs over a fixed `dataset`), or `replay` (the stream recorded by the online run `source`, shuffled within windows of `window` batches with `shuffleSeed`; 1 keeps the recorded order). */
export type Method =
  | { kind: 'online'; labeller: 'proxy' | 'golden' }
  | { kind: 'offline'; dataset: DatasetRef }
  | { kind: 'replay'; source: TrainRunConfig; window: ShuffleWindow; shuffleSeed: number };

/** The config of a training run; everything that affects its numbers, so it also names the run (its id is a hash of it). */
export interface TrainRunConfig {
  /** The setup run providing the SFT policy (start and reference), the proxy and the golden model. */
  setup: SetupRunConfig;
  /** Where the batches come from. */
  method: Method;
  /** The preference loss. */
  loss: LossName;
  /** Optimisation hyper-parameters (steps, batch size, learning rate, β, checkpoint interval). */
  hyper: TrainConfig;
  /** Seed of the run's key, from which every draw of the run derives (sampling, batch order, evaluation). */
  seed: number;
  /** What to evaluate, how often, and against which baseline. */
  eval: EvalConfig & {
    /** The golden policy baseline to judge win rates against (absent for the baseline itself). */
    baseline?: TrainRunConfig;
  };
  /** Steps whose params are kept (to build D_{a vs b} from this run's policies). */
  keepSteps: number[];
}

/** The result of a training run. */
export interface TrainResult {
  /** Steps taken (the config's `hyper.steps`). */
  steps: number;
  /** SHA-256 of the final params' bytes (leaves in pytree order): equal hashes ⇔ bit-identical policies. */
  paramsHash: string;
  /** SHA-256 of the final optimiser state's bytes (leaves in pytree order). */
  optHash: string;
  /** SHA-256 of the recorded stream (online runs). */
  streamHash: string | null;
  /** The metrics of the last evaluation. */
  final: Metrics;
}

/** SHA-256 over the raw bytes of every tensor leaf of a pytree. */
export async function treeHash(tree: unknown): Promise<string> {
  const h = createHash('sha256');
  for (const t of treeLeaves(tree)) {
    const d = await t.data();
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex');
}

/** A short, readable label for progress bars and logs. */
export function describeRun(c: TrainRunConfig): string {
  const m = c.method;
  const what = m.kind === 'online' ? `online/${m.labeller}` : m.kind === 'offline' ? `offline/${m.dataset.kind === 'golden' ? 'D_golden' : m.dataset.name}` : `replay/w=${m.window}`;
  return `${what} ${c.loss} lr=${c.hyper.lr} β=${c.hyper.beta} ${c.setup.setup.size}`;
}

/** Prompts of D_initial in first-appearance order, de-duplicated: the training prompts. */
export function trainingPrompts(ds: PairDataset): number[][] {
  const seen = new Set<string>();
  const out: number[][] = [];
  for (const p of ds.pairs) {
    const k = p.prompt.join(',');
    if (!seen.has(k)) {
      seen.add(k);
      out.push([...p.prompt]);
    }
  }
  return out;
}

interface CheckpointMeta {
  samplerState: unknown;
  lossSum: number;
  lossCount: number;
}

/** Runs (or resumes, or returns the cached result of) a training run. */
export function trainRun(cfg: TrainRunConfig): Program<RunOutcome<TrainResult>> {
  return cachedRun('train', cfg, async (ctx) => {
    const env = ctx.env;
    const task = getTask(cfg.setup.data.task);
    const spec = policySpecOf(task, cfg.setup.setup.size);
    const runKey = key(cfg.seed);
    const setup = await loadSetup(env, cfg.setup);
    const golden = await loadGolden(env, cfg.setup.data);
    const data = await loadDataDatasets(env, cfg.setup.data);
    const prompts = trainingPrompts(data.initial);
    const releases: (() => void)[] = [setup.release, golden.release];
    try {
      const sampler = await buildSampler(env, cfg, { proxy: setup.proxy, golden: golden.labeller, prompts, dGolden: data.golden, taskName: task.name, spec });
      const setupT = { spec, loss: LOSSES[cfg.loss]!, beta: cfg.hyper.beta, optimizer: adam({ lr: cfg.hyper.lr }), ref: setup.sft, backend: env.backend };
      const evaluator = buildEvaluator(cfg, { judge: golden.judge, prompts, dGolden: data.golden, baseline: cfg.eval.baseline ? await loadParams<TransformerParams>(env, idOf(env, 'train', cfg.eval.baseline), 'final.ckpt') : undefined });
      if (evaluator.release) releases.push(evaluator.release);

      // Resume from the last checkpoint, or start from π_sft.
      let state: TrainState;
      let samplerState: unknown;
      let meta: CheckpointMeta = { samplerState: sampler.init, lossSum: 0, lossCount: 0 };
      let stream: PairBatch[] = [];
      const ckpt = (await env.store.readBlob(ctx.id, 'ckpt.bin')) ? await loadCheckpointBlob<TransformerParams>(env, ctx.id, 'ckpt.bin') : undefined;
      if (ckpt) {
        meta = ckpt.config as CheckpointMeta;
        state = { params: ckpt.params, opt: ckpt.opt, step: ckpt.step };
        samplerState = meta.samplerState;
        stream = (await loadStream(env, ctx.id, cfg.hyper.batchSize)).slice(0, cfg.method.kind === 'online' ? ckpt.step : 0);
        const metrics = await env.store.readMetrics(ctx.id);
        await env.store.truncateMetrics(ctx.id, metrics.filter((m) => (m.step as number) <= ckpt.step).length);
        env.log(`resuming ${describeRun(cfg)} from step ${ckpt.step}`);
      } else {
        const params = await loadParams<TransformerParams>(env, idOf(env, 'setup', cfg.setup), 'sft.ckpt');
        state = initTrainState(setupT, params);
        samplerState = sampler.init;
      }
      const checkpoint = async (s: TrainState, ss: unknown) => {
        if (cfg.method.kind === 'online') await saveStream(env, ctx.id, stream);
        await saveParams(env, ctx.id, 'ckpt.bin', s.params, { opt: s.opt, step: s.step, key: runKey, config: { ...meta, samplerState: ss } });
      };
      const evalKey = foldIn(runKey, 0x7fffffff);
      const evaluate = async (s: TrainState) => {
        const m = await evaluator.run(s.params, { spec, sft: setup.sft, backend: env.backend, key: foldIn(evalKey, s.step) });
        if (cfg.method.kind === 'online' && cfg.method.labeller === 'proxy' && stream.length > 0) {
          // Proxy accuracy on the latest online pairs, judged by the golden model (Fig. 6).
          const recent = stream.slice(Math.max(0, stream.length - cfg.eval.every));
          const [acc, se] = await labelAccuracy(recent, golden.judge);
          m.proxyAccuracy = acc;
          m.proxyAccuracy_se = se;
        }
        if (cfg.method.kind === 'online' && stream.length > 0) {
          // The policy as a classifier of its own recent online pairs, against golden labels
          // (App. E: pairs near each checkpoint); pairs the golden model calls a tie are skipped.
          const recent = stream.slice(Math.max(0, stream.length - cfg.eval.every)).flatMap((b) => b.pairs);
          const verdicts = await golden.judge(recent);
          const labelled = recent.flatMap((p, i) => (verdicts[i] === 0.5 ? [] : [{ ...p, preference: verdicts[i] as 0 | 1 }]));
          Object.assign(m, await classifierEvaluator(labelled, 'accStream')(s.params, { spec, sft: setup.sft, backend: env.backend, key: foldIn(evalKey, s.step) }));
        }
        const record = { step: s.step, loss: meta.lossCount ? meta.lossSum / meta.lossCount : null, ...m };
        meta = { ...meta, lossSum: 0, lossCount: 0 };
        await env.store.appendMetrics(ctx.id, [record]);
        return record;
      };
      if (state.step === 0) await evaluate(state);
      const bar = env.progress(describeRun(cfg), cfg.hyper.steps);
      bar.update(state.step);
      let last: Metrics = {};
      const result = await runTraining({
        setup: setupT, sampler: sampler as Sampler<unknown>, state, samplerState, until: cfg.hyper.steps, key: runKey,
        onStep: async (info, ss) => {
          meta = { ...meta, lossSum: meta.lossSum + info.loss, lossCount: meta.lossCount + 1 };
          if (cfg.method.kind === 'online') stream.push(info.batch);
          const s = info.state;
          if (s.step % cfg.eval.every === 0 || s.step === cfg.hyper.steps) {
            last = await evaluate(s) as Metrics;
          }
          if (cfg.keepSteps.includes(s.step)) await saveParams(env, ctx.id, `params@${s.step}.ckpt`, s.params);
          const stop = env.interruption.requested;
          if (s.step % cfg.hyper.checkpointEvery === 0 || s.step === cfg.hyper.steps || stop) await checkpoint(s, ss);
          bar.update(s.step, { kl: fmt(last.kl), win: fmt(last.winRate), loss: info.loss.toFixed(4) });
          if (stop) throw interrupted(`stopped at step ${s.step}; rerun the same command to resume from this checkpoint`);
        },
      });
      bar.stop();
      const final = result.state;
      if (final !== state) dispose([state.params, state.opt]);
      await saveParams(env, ctx.id, 'final.ckpt', final.params);
      const out: TrainResult = {
        steps: final.step,
        paramsHash: await treeHash(final.params),
        optHash: await treeHash(final.opt),
        streamHash: cfg.method.kind === 'online' ? createHash('sha256').update(JSON.stringify(stream.map((b) => b.pairs.map((p) => [p.prompt, p.y1, p.y2, p.preference])))).digest('hex') : null,
        // The stored metrics, not `last`: a run resumed from its final checkpoint evaluates nothing anew.
        final: ((await env.store.readMetrics(ctx.id)).at(-1) ?? last) as Metrics,
      };
      dispose([final.params, final.opt]);
      return out;
    } finally {
      for (const r of releases) r();
    }
  });
}

const fmt = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(3));

interface SamplerDeps {
  proxy: Labeller;
  golden: Labeller;
  prompts: number[][];
  dGolden: PairDataset;
  taskName: string;
  spec: ReturnType<typeof policySpecOf>;
}

async function buildSampler(env: Env, cfg: TrainRunConfig, d: SamplerDeps): Promise<Sampler<unknown>> {
  const m = cfg.method;
  const k = foldIn(key(cfg.seed), 1);
  if (m.kind === 'online') {
    return onlineSampler({ spec: d.spec, prompts: d.prompts, batchSize: cfg.hyper.batchSize, labeller: m.labeller === 'proxy' ? d.proxy : d.golden, task: d.taskName }) as Sampler<unknown>;
  }
  if (m.kind === 'offline') {
    const ds = m.dataset.kind === 'golden' ? d.dGolden : await loadDataset(env, idOf(env, 'dataset', m.dataset), 'dataset.bin');
    return offlineSampler(ds, { batchSize: cfg.hyper.batchSize, key: k }) as Sampler<unknown>;
  }
  const stream = await loadStream(env, idOf(env, 'train', m.source), m.source.hyper.batchSize);
  const w = m.window === 'all' ? Math.max(1, stream.length) : m.window;
  return replaySampler(w === 1 ? stream : shuffleStream(stream, w, key(m.shuffleSeed)), `replay:${m.window}`) as Sampler<unknown>;
}

interface EvalDeps {
  judge: Parameters<typeof winRateEvaluator>[2];
  prompts: number[][];
  dGolden: PairDataset;
  baseline: TransformerParams | undefined;
}

function buildEvaluator(cfg: TrainRunConfig, d: EvalDeps): { run: Evaluator; release?: () => void } {
  const e = cfg.eval;
  const klPrompts = d.prompts.slice(0, e.klPrompts);
  const winPrompts = d.prompts.slice(0, e.winRatePrompts);
  const pairs = d.dGolden.pairs.slice(0, e.classifierPairs);
  const evs: Evaluator[] = [klEvaluator(klPrompts), classifierEvaluator(pairs, 'accGolden'), winnerLogProbEvaluator(pairs), selfClassificationEvaluator(klPrompts, d.judge)];
  if (d.baseline) evs.push(winRateEvaluator(winPrompts, d.baseline, d.judge));
  return { run: combine(...evs), release: d.baseline ? () => dispose(d.baseline) : undefined };
}

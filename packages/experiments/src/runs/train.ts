/**
 * A preference-optimisation run (online, offline, or a replay of a recorded
 * stream) as a cached, checkpointed, resumable program. Everything that affects
 * the numbers is in its config; step t's randomness is foldIn(runKey, t), so a run
 * resumed from its last checkpoint ends bit-identical to an uninterrupted one.
 *
 * The run is small programs composed with fp-ts over immutable values:
 *
 * ```text
 * trainRun = cachedRun(bracket(openRun,                      the run's fixed parts (released at the end)
 *              run => resume(run)                           from ckpt.bin, or π_sft evaluated at step 0
 *                     → train(run)                          rlhf's runTraining; after each step:
 *                         afterStep = keep? → checkpoint? → stop? → evaluate?
 *                     → finish(run)))                       final.ckpt and the TrainResult
 * ```
 *
 * A {@link Progress} value carries what changes from step to step; a checkpoint
 * stores its resumable part as {@link TrainRunState} in `Checkpoint.runState`.
 */
import { createHash } from 'node:crypto';
import * as t from 'io-ts';
import * as E from 'fp-ts/lib/Either.js';
import * as RTE from 'fp-ts/lib/ReaderTaskEither.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { adam, decodeCheckpoint, type Checkpoint, type TransformerParams } from '@tandem/nn';
import {
  LOSSES, classifierEvaluator, combine, estimate, getTask, identicalResponses, initTrainState, meanSe, memoJudge, offlineSampler, onlineSampler, proxyAccuracyEvaluator,
  replaySampler, runTraining, sampleResponses, sampledEvaluator, shuffleStream, streamClassifierEvaluator, winnerLogProbEvaluator,
  type Evaluator, type Judge, type Labeller, type PairBatch, type PairDataset, type Sampler, type StepInfo, type Tokens, type TrainSetup, type TrainState,
} from '@tandem/rlhf';
import { dispose, foldIn, key, treeLeaves, type Key } from '@tandem/tensor';
import { NonNegInt, formatErrors, type EvalConfig, type LossName, type ShuffleWindow, type TrainConfig } from '../config.js';
import { fromAsync, interrupted, pipe, runOrThrow, storeError, toExperimentError, type Env, type ProgressBar, type Program } from '../program.js';
import { REPAIR_UNFINISHED as REPAIR, STREAM_FILE, encodeStreamSegments, loadDataset, loadParams, loadStream, saveCheckpointBlob, saveParams, scanStream } from './artifacts.js';
import { cachedRun, idOf, type RunHandle, type RunOutcome } from './cache.js';
import { METRICS_FILE, MetricRecordCodec, appendMetricRecords, metricValue, scanMetrics, type MetricRecord, type MetricsScan } from './metrics.js';
import { sha256 } from '../hash.js';
import { loadDataDatasets, loadGolden, loadSetup, loadSft, policySpecOf, type SetupRunConfig } from './setup.js';

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

/** The result of a training run (its result.json). */
export interface TrainResult {
  /** Steps taken (the config's `hyper.steps`). */
  steps: number;
  /** SHA-256 of the final params' bytes (leaves in pytree order): equal hashes ⇔ bit-identical policies. */
  paramsHash: string;
  /** SHA-256 of the final optimiser state's bytes (leaves in pytree order). */
  optHash: string;
  /** SHA-256 of the recorded stream (online runs). */
  streamHash: string | null;
  /** Online runs: the fraction of D_online's pairs whose two responses are identical (no preference, zero gradient); null otherwise. */
  identicalPairs: number | null;
  /** The last evaluation, as stored in metrics.jsonl. */
  final: MetricRecord;
}

/** Codec of a stored {@link TrainResult}. */
export const TrainResultCodec: t.Decoder<unknown, TrainResult> = t.exact(t.type({
  steps: NonNegInt, paramsHash: t.string, optHash: t.string, streamHash: t.union([t.string, t.null]), identicalPairs: t.union([t.number, t.null]), final: MetricRecordCodec,
}), 'TrainResult');

/**
 * What a training run's checkpoint carries besides params, optimiser state, step and
 * key (`Checkpoint.runState`): what resuming needs to continue exactly.
 */
export interface TrainRunState {
  /** The sampler's state after the checkpoint's step (JSON; e.g. an offline cursor). */
  samplerState: unknown;
  /** Sum of the training losses since the last evaluation. */
  lossSum: number;
  /** Number of steps since the last evaluation. */
  lossCount: number;
  /** Records (lines) of metrics.jsonl the checkpoint covers; later lines are a tail that resuming cuts and recomputes. */
  metricsCount: number;
  /** Bytes those records take. */
  metricsBytes: number;
  /** SHA-256 of those bytes: a record changed or torn before the checkpoint is detected, not read. */
  metricsSha256: string;
  /** Online runs: batches (segments) of stream.bin the checkpoint covers — one per step taken; 0 otherwise. */
  streamBatches: number;
  /** Bytes of stream.bin those batches take (header included); later bytes are a tail that resuming cuts. */
  streamBytes: number;
}

/** Codec of a {@link TrainRunState}. */
export const TrainRunStateCodec: t.Decoder<unknown, TrainRunState> = t.exact(t.type({
  samplerState: t.unknown, lossSum: t.number, lossCount: NonNegInt,
  metricsCount: NonNegInt, metricsBytes: NonNegInt, metricsSha256: t.string, streamBatches: NonNegInt, streamBytes: NonNegInt,
}), 'TrainRunState');

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

/** A training run's fixed parts, loaded once by {@link openRun}. */
interface OpenRun {
  readonly cfg: TrainRunConfig;
  readonly handle: RunHandle;
  /** The training step's fixed parts (policy spec, loss, β, optimiser, π_sft, backend). */
  readonly setup: TrainSetup;
  readonly sampler: Sampler<unknown>;
  /** The run's key: step t uses foldIn(key, t). */
  readonly key: Key;
  /** The evaluation at step t uses foldIn(evalKey, t). */
  readonly evalKey: Key;
  /** The golden model as judge (win rates, and the online stream's evaluators). */
  readonly judge: Judge;
  /** The evaluators every evaluation runs (the stream's are added per evaluation). */
  readonly evaluators: readonly Evaluator[];
  /** Frees the loaded models. */
  readonly release: () => void;
}

/** What changes from step to step: an immutable value threaded through the programs. */
interface Progress {
  readonly state: TrainState;
  readonly samplerState: unknown;
  /** Online runs: every batch trained on so far (D_online); empty otherwise. */
  readonly stream: readonly PairBatch[];
  /** Batches of `stream` already appended to stream.bin, and the bytes the file then holds. */
  readonly streamSaved: number;
  readonly streamBytes: number;
  /** Sum and count of the training losses since the last evaluation. */
  readonly lossSum: number;
  readonly lossCount: number;
  /** The lines of metrics.jsonl so far, as written (each with its `\n`). */
  readonly metrics: readonly string[];
  /** The last evaluation (for the progress bar). */
  readonly last: MetricRecord | undefined;
}

/** Runs (or resumes, or returns the cached result of) a training run. */
export function trainRun(cfg: TrainRunConfig): Program<RunOutcome<TrainResult>> {
  return cachedRun('train', cfg, (handle) => RTE.bracket(
    openRun(cfg, handle),
    (run) => pipe(resume(run), RTE.chain((start) => pipe(train(run, start), RTE.chain(finish(run, start))))),
    (run) => RTE.fromIO(run.release),
  ), TrainResultCodec);
}

/** Loads the run's fixed parts: setup models, golden judge, data, sampler and evaluators. */
function openRun(cfg: TrainRunConfig, handle: RunHandle): Program<OpenRun> {
  return fromAsync(async (env) => {
    const releases: (() => void)[] = [];
    const release = () => releases.splice(0).forEach((r) => r());
    try {
      const task = getTask(cfg.setup.data.task);
      const spec = policySpecOf(task, cfg.setup.setup.size);
      const runKey = key(cfg.seed);
      const setup = await loadSetup(env, cfg.setup);
      releases.push(setup.release);
      const golden = await loadGolden(env, cfg.setup.data);
      releases.push(golden.release);
      const data = await loadDataDatasets(env, cfg.setup.data);
      const prompts = trainingPrompts(data.initial);
      const sampler = await buildSampler(env, cfg, { proxy: setup.proxy, golden: golden.labeller, prompts, dGolden: data.golden, taskName: task.name, spec });
      const winPrompts = prompts.slice(0, cfg.eval.winRatePrompts);
      const baseline = cfg.eval.baseline ? await baselineResponses(env, cfg.eval.baseline, spec, winPrompts) : undefined;
      return {
        cfg, handle, sampler, key: runKey, evalKey: foldIn(runKey, 0x7fffffff), judge: golden.judge, release,
        setup: { spec, loss: LOSSES[cfg.loss]!, beta: cfg.hyper.beta, optimizer: adam({ lr: cfg.hyper.lr }), ref: setup.sft, backend: env.backend },
        evaluators: buildEvaluators(cfg.eval, { judge: golden.judge, prompts: winPrompts, dGolden: data.golden, baseline }),
      };
    } catch (e) {
      release();
      throw e;
    }
  });
}

/** Whether step `step` of the run is due for an action done every `every` steps (and always at the last step). */
const dueAt = (run: OpenRun, every: number, step: number) => step % every === 0 || step === run.cfg.hyper.steps;

/**
 * Resumes from the run's checkpoint — evaluating the checkpoint's step when due, since
 * its record is appended after the checkpoint — or starts from π_sft (evaluated at step 0).
 */
function resume(run: OpenRun): Program<Progress> {
  return pipe(
    fromAsync((env) => env.store.readBlob(run.handle.id, 'ckpt.bin')),
    RTE.chain((bytes) => (bytes
      ? pipe(fromCheckpoint(run), RTE.chain((p) => (dueAt(run, run.cfg.eval.every, p.state.step) ? evaluate(run)(p) : RTE.right(p))))
      : pipe(fromSft(run), RTE.chain(evaluate(run))))),
  );
}

/** `run X: <location>/<file>`, the start of every message about a stored file. */
const fileOf = (run: OpenRun, file: string) => `run ${run.handle.id}: ${run.handle.location}/${file}`;

/** A training run's resume state, checked by {@link inspectCheckpoint}: what resuming continues from. */
export interface ResumeState {
  ckpt: Checkpoint<TransformerParams, unknown, unknown, unknown>;
  runState: TrainRunState;
  /** The metrics.jsonl lines and records the checkpoint covers. */
  metrics: MetricsScan;
  /** Online runs: the batches of stream.bin the checkpoint covers; empty otherwise. */
  stream: PairBatch[];
  /** Bytes of metrics.jsonl and stream.bin after the checkpoint's (a torn or uncheckpointed tail, cut on resume). */
  tails: { file: string; bytes: number }[];
}

/** Why a resume state cannot be trusted: the file at fault and what is wrong with it (without the remedy). */
export interface ResumeProblem {
  file: string;
  why: string;
}

/**
 * Checks everything resuming from a training run's ckpt.bin relies on: the checkpoint
 * itself (its SHA-256, and a run state of this version), the first `metricsBytes` bytes of
 * metrics.jsonl (whole lines that decode and hash to what the checkpoint recorded), the
 * first `streamBytes` of stream.bin (`streamBatches` verified segments, one per step), and
 * the kept params files the checkpoint has passed (resuming will not write them again).
 * The caller disposes the checkpoint's tensors (`ckpt.params`, `ckpt.optState`) on success.
 */
export async function inspectCheckpoint(env: Env, id: string, cfg: TrainRunConfig): Promise<{ ok: true; state: ResumeState } | { ok: false; problem: ResumeProblem }> {
  const bad = (file: string, why: string) => ({ ok: false as const, problem: { file, why } });
  /** A checkpoint blob decoded (its SHA-256 verified), or why not. */
  const decodeBlob = async (name: string): Promise<ResumeState['ckpt'] | string> => {
    const bytes = await env.store.readBlob(id, name);
    if (!bytes) return 'is missing';
    try {
      return decodeCheckpoint<TransformerParams>(bytes, { backend: env.backend });
    } catch (e) {
      return `is damaged: ${(e as Error).message.replace(/^loadCheckpoint: /, '')}`;
    }
  };
  const got = await decodeBlob('ckpt.bin');
  if (typeof got === 'string') return bad('ckpt.bin', got);
  const ckpt = got;
  const release = () => dispose([ckpt.params, ckpt.optState]);
  const fail = (file: string, why: string) => {
    release();
    return bad(file, why);
  };
  const decoded = TrainRunStateCodec.decode(ckpt.runState);
  if (E.isLeft(decoded)) return fail('ckpt.bin', `has no training run state of this results version (${formatErrors(decoded.left).join('; ')}); it was written by another version of the code`);
  const rs = decoded.right;
  const at = `the checkpoint at step ${ckpt.step}`;
  const tails: ResumeState['tails'] = [];

  const mbytes = (await env.store.readBlob(id, METRICS_FILE)) ?? new Uint8Array();
  const metrics = scanMetrics(mbytes, rs.metricsBytes);
  const torn = metrics.problem ? `line ${metrics.problem.line} is ${metrics.problem.why}` : undefined;
  if (mbytes.length < rs.metricsBytes) return fail(METRICS_FILE, `is ${mbytes.length} bytes, shorter than the ${rs.metricsBytes} bytes (${rs.metricsCount} records) ${at} covers${torn ? `; ${torn}` : ''}`);
  if (torn) return fail(METRICS_FILE, `${torn} (before ${at}, which covers ${rs.metricsCount} records)`);
  if (metrics.lines.length !== rs.metricsCount || sha256(mbytes.subarray(0, rs.metricsBytes)) !== rs.metricsSha256) {
    return fail(METRICS_FILE, `holds records before ${at} other than those it recorded (${rs.metricsCount} records, SHA-256 ${rs.metricsSha256.slice(0, 12)}…): edited or corrupted`);
  }
  if (mbytes.length > rs.metricsBytes) tails.push({ file: METRICS_FILE, bytes: mbytes.length - rs.metricsBytes });

  let stream: PairBatch[] = [];
  if (cfg.method.kind === 'online') {
    const sbytes = await env.store.readBlob(id, STREAM_FILE);
    if (!sbytes) return fail(STREAM_FILE, `is missing, but ${at} covers ${rs.streamBatches} recorded batches`);
    const ss = scanStream(sbytes, { limit: rs.streamBytes, batchSize: cfg.hyper.batchSize });
    if (ss.problem) return fail(STREAM_FILE, `does not hold the ${rs.streamBatches} batches (${rs.streamBytes} bytes) ${at} covers: ${ss.problem}`);
    if (ss.batches.length !== rs.streamBatches || rs.streamBatches !== ckpt.step) return fail(STREAM_FILE, `holds ${ss.batches.length} batches where ${at} covers ${rs.streamBatches} (one per step)`);
    if (sbytes.length > rs.streamBytes) tails.push({ file: STREAM_FILE, bytes: sbytes.length - rs.streamBytes });
    stream = ss.batches;
  }

  for (const k of cfg.keepSteps.filter((k) => k <= ckpt.step)) {
    const kept = await decodeBlob(`params@${k}.ckpt`);
    if (typeof kept === 'string') return fail(`params@${k}.ckpt`, `${kept} (kept at step ${k}, before the checkpoint at step ${ckpt.step})`);
    dispose([kept.params, kept.optState]);
  }
  return { ok: true, state: { ckpt, runState: rs, metrics, stream, tails } };
}

/**
 * The progress stored in the run's ckpt.bin, once {@link inspectCheckpoint} has checked
 * everything it relies on; anything missing, short or changed is a StoreError naming the
 * file and the fix. Bytes after the checkpoint's (a torn or uncheckpointed tail of
 * metrics.jsonl or stream.bin) are cut: training recomputes them.
 */
function fromCheckpoint(run: OpenRun): Program<Progress> {
  return fromAsync(async (env) => {
    const { id } = run.handle;
    const r = await inspectCheckpoint(env, id, run.cfg);
    if (!r.ok) throw storeError(`${fileOf(run, r.problem.file)} ${r.problem.why}; ${REPAIR}`);
    const { ckpt, runState: rs, metrics, stream, tails } = r.state;
    try {
      for (const t of tails) {
        await env.store.truncateBlob(id, t.file, t.file === METRICS_FILE ? rs.metricsBytes : rs.streamBytes);
        env.log(`${fileOf(run, t.file)}: cut ${t.bytes} bytes written after the checkpoint at step ${ckpt.step} (recomputed now)`);
      }
    } catch (e) {
      dispose([ckpt.params, ckpt.optState]);
      throw e;
    }
    env.log(`resuming ${describeRun(run.cfg)} from step ${ckpt.step}`);
    return {
      state: { params: ckpt.params, opt: ckpt.optState, step: ckpt.step }, samplerState: rs.samplerState, stream,
      streamSaved: rs.streamBatches, streamBytes: rs.streamBytes,
      lossSum: rs.lossSum, lossCount: rs.lossCount, metrics: metrics.lines, last: metrics.records.at(-1),
    };
  });
}

/** Step 0: the SFT policy and a fresh optimiser and sampler; metrics and stream written before any checkpoint (by a run killed early) are discarded. */
function fromSft(run: OpenRun): Program<Progress> {
  return fromAsync(async (env) => {
    const { id } = run.handle;
    await env.store.removeFile(id, METRICS_FILE);
    await env.store.removeFile(id, STREAM_FILE);
    const params = await loadSft(env, run.cfg.setup);
    return {
      state: initTrainState(run.setup, params), samplerState: run.sampler.init, stream: [], streamSaved: 0, streamBytes: 0,
      lossSum: 0, lossCount: 0, metrics: [], last: undefined,
    };
  });
}

/** The online stream's evaluators at this point: the proxy's accuracy (proxy-labelled runs) and the policy as a classifier of the recent pairs. */
function streamEvaluators(run: OpenRun, stream: readonly PairBatch[]): Evaluator[] {
  const m = run.cfg.method;
  if (m.kind !== 'online' || stream.length === 0) return [];
  // The pairs since the previous evaluation (App. E / Fig. 6: pairs near each checkpoint).
  const recent = stream.slice(Math.max(0, stream.length - run.cfg.eval.every));
  // Both evaluators judge the same recent pairs with the golden model: one judging pass serves both.
  const judge = memoJudge(run.judge);
  return [...(m.labeller === 'proxy' ? [proxyAccuracyEvaluator(recent, judge)] : []), streamClassifierEvaluator(recent, judge), identicalPairsEvaluator(recent)];
}

/** Two responses equal token for token. */

/** The fraction of the batches' pairs whose two responses are identical (`identicalStream`): on-policy pairs that carry no preference. */
function identicalPairsEvaluator(batches: readonly PairBatch[]): Evaluator {
  return async () => ({ identicalStream: estimate(meanSe(batches.flatMap((b) => b.pairs.map((p) => (identicalResponses(p) ? 1 : 0))))) });
}

/**
 * The golden policy baseline's responses on the win-rate prompts, sampled once from the
 * baseline's own key: every evaluation of every run against this baseline is judged against
 * the same responses (a paired comparison, and half the sampling).
 */
async function baselineResponses(env: Env, baseline: TrainRunConfig, spec: ReturnType<typeof policySpecOf>, prompts: readonly Tokens[]): Promise<Tokens[]> {
  const params = await loadParams<TransformerParams>(env, idOf(env, 'train', baseline), 'final.ckpt');
  try {
    return await sampleResponses(params, spec, prompts, foldIn(key(baseline.seed), 0xba5e), env.backend);
  } finally {
    dispose(params);
  }
}

/** Evaluates the current policy and appends the record to metrics.jsonl; the loss average restarts. */
function evaluate(run: OpenRun): (p: Progress) => Program<Progress> {
  return (p) => fromAsync(async (env) => {
    const s = p.state;
    // combine gives the i-th evaluator split(key)[i] whatever their number, so the stream's evaluators leave the others' keys as they are.
    const evaluator = combine(...run.evaluators, ...streamEvaluators(run, p.stream));
    const metrics = await evaluator(s.params, { spec: run.setup.spec, sft: run.setup.ref, backend: env.backend, key: foldIn(run.evalKey, s.step) });
    const record: MetricRecord = { step: s.step, loss: p.lossCount ? p.lossSum / p.lossCount : null, metrics };
    const lines = await appendMetricRecords(env, run.handle.id, [record]);
    return { ...p, lossSum: 0, lossCount: 0, metrics: [...p.metrics, ...lines], last: record };
  });
}

/**
 * Writes the run's checkpoint, in an order that keeps every crash recoverable: first the
 * online batches since the last checkpoint are appended to stream.bin (and fsynced), then
 * ckpt.bin replaces the previous checkpoint atomically, recording how much of stream.bin
 * and metrics.jsonl it covers (counts, sizes, a hash). A crash before the rename leaves the
 * previous checkpoint, whose recorded sizes make the new bytes a tail that resuming cuts.
 */
function checkpoint(run: OpenRun, p: Progress): Program<Progress> {
  return fromAsync(async (env) => {
    const { id } = run.handle;
    let streamBytes = p.streamBytes;
    if (run.cfg.method.kind === 'online' && p.stream.length > p.streamSaved) {
      const seg = encodeStreamSegments(p.stream.slice(p.streamSaved), p.streamSaved, p.streamBytes === 0);
      await env.store.appendBlob(id, STREAM_FILE, seg);
      streamBytes += seg.length;
    }
    const metricsText = Buffer.from(p.metrics.join(''), 'utf8');
    const runState: TrainRunState = {
      samplerState: p.samplerState, lossSum: p.lossSum, lossCount: p.lossCount,
      metricsCount: p.metrics.length, metricsBytes: metricsText.length, metricsSha256: sha256(metricsText),
      streamBatches: run.cfg.method.kind === 'online' ? p.stream.length : 0, streamBytes,
    };
    await saveCheckpointBlob(env, id, 'ckpt.bin', { params: p.state.params, optState: p.state.opt, step: p.state.step, key: run.key, config: null, runState });
    return { ...p, streamSaved: p.stream.length, streamBytes };
  });
}

const skip: Program<void> = RTE.right(undefined);

/**
 * After each step: keep the params when asked, checkpoint when due or stopping, stop when
 * asked, evaluate when due. The checkpoint comes before the evaluation so that the
 * evaluation's record is always after it: a record torn by a crash is a tail that
 * resuming recomputes, never a hole before the checkpoint.
 */
function afterStep(run: OpenRun, bar: ProgressBar): (p: Progress, info: StepInfo, samplerState: unknown) => Program<Progress> {
  const { eval: ev, hyper, keepSteps, method } = run.cfg;
  return (p, info, samplerState) => {
    const step = info.state.step;
    const due = (every: number) => dueAt(run, every, step);
    const stepped: Progress = {
      ...p, state: info.state, samplerState, lossSum: p.lossSum + info.loss, lossCount: p.lossCount + 1,
      stream: method.kind === 'online' ? [...p.stream, info.batch] : p.stream,
    };
    return pipe(
      keepSteps.includes(step) ? fromAsync((env) => saveParams(env, run.handle.id, `params@${step}.ckpt`, stepped.state.params)) : skip,
      RTE.chain(() => RTE.asks((env: Env) => env.interruption.requested)),
      // A stop asked for by the time a checkpoint is written is honoured right after it.
      RTE.chain((stop) => (stop || due(hyper.checkpointEvery)
        ? pipe(checkpoint(run, stepped), RTE.chain((q) => RTE.asks((env: Env) => ({ q, stop: env.interruption.requested }))))
        : RTE.right({ q: stepped, stop: false }))),
      RTE.chain(({ q, stop }) => (stop ? RTE.left(interrupted(`stopped at step ${step}; rerun the same command to resume from this checkpoint`)) : RTE.right(q))),
      RTE.chain((q) => (due(ev.every) ? evaluate(run)(q) : RTE.right(q))),
      RTE.chainFirstIOK((q) => () => bar.update(step, { kl: fmt(metricValue(q.last, 'kl')), win: fmt(metricValue(q.last, 'winRate')), loss: info.loss.toFixed(4) })),
    );
  };
}

/** Trains from `start` to the configured number of steps with rlhf's training loop, running {@link afterStep} after every step. */
function train(run: OpenRun, start: Progress): Program<Progress> {
  return (env) => TE.tryCatch(async () => {
    const bar = env.progress(describeRun(run.cfg), run.cfg.hyper.steps);
    bar.update(start.state.step);
    const next = afterStep(run, bar);
    let p = start;
    await runTraining({
      setup: run.setup, sampler: run.sampler, state: start.state, samplerState: start.samplerState, until: run.cfg.hyper.steps, key: run.key,
      onStep: async (info, ss) => {
        p = await runOrThrow(next(p, info, ss), env);
      },
    });
    bar.stop();
    return p;
  }, toExperimentError);
}

/**
 * Saves final.ckpt and builds the result from the final state and the run's records,
 * after checking that metrics.jsonl and stream.bin hold exactly what the run wrote (so
 * the sizes and hashes result.json seals are those of the right bytes).
 */
function finish(run: OpenRun, start: Progress): (p: Progress) => Program<TrainResult> {
  return (p) => fromAsync(async (env) => {
    const { id } = run.handle;
    const final = p.state;
    if (final !== start.state) dispose([start.state.params, start.state.opt]);
    await saveParams(env, id, 'final.ckpt', final.params);
    const mbytes = (await env.store.readBlob(id, METRICS_FILE)) ?? new Uint8Array();
    if (!Buffer.from(p.metrics.join(''), 'utf8').equals(mbytes)) {
      throw storeError(`${fileOf(run, METRICS_FILE)} is not the ${p.metrics.length} records this run wrote (changed while it ran); ${REPAIR}`);
    }
    const last = scanMetrics(mbytes).records.at(-1);
    if (!last) throw storeError(`${fileOf(run, METRICS_FILE)} is empty after training; ${REPAIR}`);
    if (run.cfg.method.kind === 'online') {
      const sbytes = (await env.store.readBlob(id, STREAM_FILE)) ?? new Uint8Array();
      if (p.streamSaved !== p.stream.length || !Buffer.from(encodeStreamSegments(p.stream, 0, true)).equals(sbytes)) {
        throw storeError(`${fileOf(run, STREAM_FILE)} is not the ${p.stream.length} batches this run recorded (changed while it ran); ${REPAIR}`);
      }
    }
    const out: TrainResult = {
      steps: final.step,
      paramsHash: await treeHash(final.params),
      optHash: await treeHash(final.opt),
      streamHash: run.cfg.method.kind === 'online' ? sha256(JSON.stringify(p.stream.map((b) => b.pairs.map((x) => [x.prompt, x.y1, x.y2, x.preference])))) : null,
      identicalPairs: run.cfg.method.kind === 'online' ? meanSe(p.stream.flatMap((b) => b.pairs.map((x) => (identicalResponses(x) ? 1 : 0))))[0] : null,
      final: last,
    };
    dispose([final.params, final.opt]);
    return out;
  });
}

const fmt = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(3));

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
  const stream = await loadStream(env, idOf(env, 'train', m.source), m.source.hyper.steps, m.source.hyper.batchSize);
  const w = m.window === 'all' ? Math.max(1, stream.length) : m.window;
  return replaySampler(w === 1 ? stream : shuffleStream(stream, w, key(m.shuffleSeed)), `replay:${m.window}`) as Sampler<unknown>;
}

interface EvalDeps {
  judge: Judge;
  /** The win-rate prompts (KL and self-classification use the first `klPrompts` of them). */
  prompts: readonly Tokens[];
  dGolden: PairDataset;
  /** The baseline's fixed responses on `prompts` (absent for the baseline run itself). */
  baseline: readonly Tokens[] | undefined;
}

/**
 * One sampling pass for KL, self-classification, the identical-sample rate and (with a
 * baseline) the win rate; and accuracy on D_golden and the winners' log-probs.
 */
function buildEvaluators(e: EvalConfig, d: EvalDeps): Evaluator[] {
  const pairs = d.dGolden.pairs.slice(0, e.classifierPairs);
  return [
    sampledEvaluator({ prompts: d.prompts, klPrompts: Math.min(e.klPrompts, d.prompts.length), judge: d.judge, ...(d.baseline ? { baseline: d.baseline } : {}) }),
    classifierEvaluator(pairs, 'accGolden'), winnerLogProbEvaluator(pairs),
  ];
}

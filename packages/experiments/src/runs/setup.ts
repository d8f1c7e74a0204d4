/**
 * The controlled setup (docs/paper.md §3) as three cached runs:
 *  - `data`: D_initial, the golden labeller (a model trained on D_initial to a plateau of
 *    held-out accuracy, or the task's rater used directly), and D_golden = D_initial
 *    relabelled by it;
 *  - `sft`: the SFT policy, trained on both responses of every pair of all four tasks'
 *    D_initial pooled (App. C) — one policy shared by every task of a replicate;
 *  - `setup`: the proxy preference model (policy-sized, trained on D_golden to a plateau).
 *
 * The held-out pairs are split in two halves: `validation` decides when a preference
 * model has plateaued, `test` gives the accuracy reported (never used for stopping).
 * Everything downstream of D_initial derives from the replicate's key, so replicate r
 * re-draws the golden model, D_golden's labels, the proxy and the SFT policy.
 */
import {
  MODEL_SIZES, POOLED_TASKS, datasetStats, getTask, modelJudge, modelLabeller, policyConfig, preferenceAccuracy,
  preferenceModelSpec, relabel, splitDataset, trainPreferenceModel, trainSft, utilityJudge, utilityLabeller,
  type Judge, type Labeller, type PairDataset, type PolicySpec, type PreferenceModelParams, type PreferenceModelSpec, type Task,
} from '@tandem/rlhf';
import type { TransformerParams } from '@tandem/nn';
import { dispose, foldIn, key, type Key } from '@tandem/tensor';
import { initialSplit } from '../capacity.js';
import type { DataConfig, Fit, PrefFit, SetupConfig } from '../config.js';
import { fromAsync, interrupted, type Env, type Program } from '../program.js';
import { cachedRun, idOf, type RunOutcome } from './cache.js';
import { loadDataset, loadParams, saveDataset, saveParams } from './artifacts.js';

/** Prompt and response widths every task shares (vocab ≤ 64, prompts ≤ 24, responses ≤ 12). */
export function widthsOf(task: Task) {
  return { prompt: task.maxPrompt, response: task.maxResponse };
}

/** The policy spec for a task at a named model size (see MODEL_SIZES). */
export function policySpecOf(task: Task, size: keyof typeof MODEL_SIZES): PolicySpec {
  const widths = widthsOf(task);
  return { cfg: policyConfig(MODEL_SIZES[size]!, task.vocabSize, widths), widths };
}

/** The preference-model spec for a task at a named model size (see MODEL_SIZES). */
export function prefSpecOf(task: Task, size: keyof typeof MODEL_SIZES): PreferenceModelSpec {
  return preferenceModelSpec(MODEL_SIZES[size]!, task.vocabSize, widthsOf(task));
}

/** How a preference model's fit went (App. A.3): steps taken, the step of the kept params, and held-out accuracies. */
export interface PrefFitReport {
  /** Steps taken before the plateau rule stopped the fit (at most the fit's `steps`). */
  stepsTaken: number;
  /** The step whose params were kept (best validation accuracy). */
  bestStep: number;
  /** Validation accuracy of the kept params (the stopping criterion). */
  validationAccuracy: number | null;
  /** Accuracy of the kept params on the test half of the held-out pairs (not used for stopping): the number to report. */
  testAccuracy: number;
  /** Validation accuracy at every check. */
  curve: { step: number; accuracy: number }[];
}

/** The result of a {@link dataRun}. */
export interface DataResult {
  /** Statistics of D_initial (the training part of the initial pairs). */
  initial: ReturnType<typeof datasetStats>;
  /** Number of initial pairs held out from training (validation + test halves). */
  heldOutPairs: number;
  /** The golden model's fit against the raters' labels (null in rater mode). */
  golden: PrefFitReport | null;
  /** Agreement of D_golden's labels with the raters' labels on D_initial. */
  goldenAgreement: number;
}

function progressFit(env: Env, label: string, fit: Fit) {
  const bar = env.progress(label, fit.steps);
  return {
    onStep: (step: number, loss: number) => {
      bar.update(step, { loss: loss.toFixed(4) });
      if (env.interruption.requested) throw interrupted(`${label} interrupted (setup runs restart from scratch; they are short)`);
    },
    done: () => bar.stop(),
  };
}

/** The key of everything downstream of D_initial in replicate `cfg.replicate`. */
export function replicateKey(cfg: DataConfig): Key {
  return foldIn(foldIn(key(cfg.seed), 1000), cfg.replicate);
}

/** D_initial's held-out pairs split into the validation half (plateau checks) and the test half (reported accuracies); fixed across replicates. */
function heldOutHalves(cfg: DataConfig, heldOut: PairDataset): [validation: PairDataset, test: PairDataset] {
  return splitDataset(heldOut, 0.5, foldIn(key(cfg.seed), 5));
}

/** Fits a preference model to a plateau of validation accuracy and reports its test accuracy. */
async function fitPreferenceModel(env: Env, label: string, spec: PreferenceModelSpec, train: PairDataset, fit: PrefFit, k: Key, validation: PairDataset, test: PairDataset): Promise<{ params: PreferenceModelParams; report: PrefFitReport }> {
  const p = progressFit(env, label, fit);
  const r = await trainPreferenceModel(spec, train, {
    steps: fit.steps, batchSize: fit.batchSize, lr: fit.lr, warmup: fit.warmup, key: k, backend: env.backend, onStep: p.onStep,
    validation: { pairs: validation.pairs, every: fit.validateEvery, patience: fit.patience },
  });
  p.done();
  const testAccuracy = await preferenceAccuracy(r.params, spec, test.pairs, env.backend);
  return { params: r.params, report: { stepsTaken: r.stepsTaken, bestStep: r.bestStep, validationAccuracy: r.bestAccuracy, testAccuracy, curve: [...r.curve] } };
}

/** D_initial, the golden labeller and D_golden. */
export function dataRun(cfg: DataConfig): Program<RunOutcome<DataResult>> {
  return cachedRun('data', cfg, (run) => fromAsync(async (env) => {
    const task = getTask(cfg.task);
    const k = replicateKey(cfg);
    const [train, heldOut] = initialSplit(cfg);
    let golden: Labeller;
    let report: PrefFitReport | null = null;
    if (cfg.golden.mode === 'model') {
      const spec = prefSpecOf(task, cfg.golden.size);
      const [validation, test] = heldOutHalves(cfg, heldOut);
      const fitted = await fitPreferenceModel(env, 'golden model', spec, train, cfg.golden.fit, foldIn(k, 3), validation, test);
      report = fitted.report;
      await saveParams(env, run.id, 'golden.ckpt', fitted.params);
      golden = modelLabeller('golden', fitted.params, spec, env.backend);
    } else {
      golden = utilityLabeller('golden', task.utility, 0);
    }
    const dGolden = await relabel(train, golden, foldIn(k, 4), 'D_golden');
    await saveDataset(env, run.id, 'd_initial.bin', train);
    await saveDataset(env, run.id, 'd_golden.bin', dGolden);
    await saveDataset(env, run.id, 'd_heldout.bin', heldOut);
    const agree = dGolden.pairs.filter((p, i) => p.preference === train.pairs[i]!.preference).length / train.pairs.length;
    env.log(`data: golden test accuracy ${report ? report.testAccuracy.toFixed(3) : 'n/a (rater mode)'} after ${report?.stepsTaken ?? 0} steps; D_golden agrees with raters on ${(agree * 100).toFixed(1)}%`);
    return { initial: datasetStats(train, task), heldOutPairs: heldOut.pairs.length, golden: report, goldenAgreement: agree };
  }));
}

/** The golden judge (debiased sign rule, ties ½) and labeller of a data run; call `release` to free the golden model's params. */
export async function loadGolden(env: Env, cfg: DataConfig): Promise<{ judge: Judge; labeller: Labeller; release: () => void }> {
  const task = getTask(cfg.task);
  if (cfg.golden.mode === 'rater') {
    return { judge: utilityJudge(task.utility), labeller: utilityLabeller('golden', task.utility, 0), release: () => undefined };
  }
  const spec = prefSpecOf(task, cfg.golden.size);
  const params = await loadParams<PreferenceModelParams>(env, idOf(env, 'data', cfg), 'golden.ckpt');
  return {
    judge: modelJudge(params, spec, env.backend),
    labeller: modelLabeller('golden', params, spec, env.backend),
    release: () => dispose(params),
  };
}

/** Loads the datasets a finished data run stored: D_initial (training part), D_golden, and the held-out pairs. */
export async function loadDataDatasets(env: Env, cfg: DataConfig): Promise<{ initial: PairDataset; golden: PairDataset; heldOut: PairDataset }> {
  const id = idOf(env, 'data', cfg);
  return {
    initial: await loadDataset(env, id, 'd_initial.bin'),
    golden: await loadDataset(env, id, 'd_golden.bin'),
    heldOut: await loadDataset(env, id, 'd_heldout.bin'),
  };
}

/** Config of a {@link setupRun}: the data run it builds on and the setup's sizes and fits. */
export interface SetupRunConfig {
  /** The data run whose D_initial and D_golden it trains on. */
  data: DataConfig;
  /** The policy/proxy size and the proxy and SFT fits. */
  setup: SetupConfig;
}

/** Config of an {@link sftRun}: what the pooled SFT policy depends on — D_initial of every task (not the task or its golden model), the replicate, the size and the fit. */
export interface SftRunConfig {
  seed: number;
  initialPairs: number;
  heldOutFraction: number;
  coverage: DataConfig['coverage'];
  replicate: number;
  size: SetupConfig['size'];
  fit: Fit;
}

/** The SFT run a setup uses (shared by every task of the same D_initial sizes, coverage and replicate). */
export function sftOf(cfg: SetupRunConfig): SftRunConfig {
  const d = cfg.data;
  return { seed: d.seed, initialPairs: d.initialPairs, heldOutFraction: d.heldOutFraction, coverage: d.coverage, replicate: d.replicate, size: cfg.setup.size, fit: cfg.setup.sft };
}

/**
 * The SFT policy (App. C): maximum likelihood of both responses of every training pair
 * of all four tasks' D_initial pooled (rlhf's POOLED_TASKS), so one policy writes every
 * task; it is the start and the reference of every run of the replicate.
 */
export function sftRun(cfg: SftRunConfig): Program<RunOutcome<{ pooledPairs: number; tasks: string[] }>> {
  return cachedRun('sft', cfg, (run) => fromAsync(async (env) => {
    const data = POOLED_TASKS.map((t) => initialSplit({ task: t, seed: cfg.seed, initialPairs: cfg.initialPairs, heldOutFraction: cfg.heldOutFraction, coverage: cfg.coverage })[0]);
    // Every task shares the vocabulary and the widths, so any task's spec is the pooled policy's.
    const spec = policySpecOf(getTask(POOLED_TASKS[0]!), cfg.size);
    const p = progressFit(env, `SFT policy (${cfg.size}, ${POOLED_TASKS.length} tasks pooled)`, cfg.fit);
    const k = foldIn(foldIn(foldIn(key(cfg.seed), 1000), cfg.replicate), 11);
    const sft = await trainSft(spec, data, { ...cfg.fit, key: k, backend: env.backend, onStep: p.onStep });
    p.done();
    await saveParams(env, run.id, 'sft.ckpt', sft);
    dispose(sft);
    return { pooledPairs: data.reduce((n, d) => n + d.pairs.length, 0), tasks: [...POOLED_TASKS] };
  }));
}

/** The result of a {@link setupRun}. */
export interface SetupResult {
  /** The proxy model's fit against golden labels (validation half for stopping, test half reported). */
  proxy: PrefFitReport;
}

/** The proxy preference model for one policy size, fitted to D_golden to a plateau. */
export function setupRun(cfg: SetupRunConfig): Program<RunOutcome<SetupResult>> {
  return cachedRun('setup', cfg, (run) => fromAsync(async (env) => {
    const task = getTask(cfg.data.task);
    const k = foldIn(replicateKey(cfg.data), 10);
    const ds = await loadDataDatasets(env, cfg.data);
    const golden = await loadGolden(env, cfg.data);
    const [validation, test] = await Promise.all(heldOutHalves(cfg.data, ds.heldOut).map((h, i) => relabel(h, golden.labeller, foldIn(k, 2 + i), `heldout-golden-${i}`)));
    golden.release();
    const pspec = prefSpecOf(task, cfg.setup.size);
    const fitted = await fitPreferenceModel(env, `proxy model (${cfg.setup.size})`, pspec, ds.golden, cfg.setup.proxy, foldIn(k, 1), validation!, test!);
    await saveParams(env, run.id, 'proxy.ckpt', fitted.params);
    dispose(fitted.params);
    env.log(`setup (${cfg.setup.size}): proxy test accuracy ${fitted.report.testAccuracy.toFixed(3)} after ${fitted.report.stepsTaken} steps`);
    return { proxy: fitted.report };
  }));
}

/** Loads the pooled SFT policy of a setup (the sft run must have finished). */
export function loadSft(env: Env, cfg: SetupRunConfig): Promise<TransformerParams> {
  return loadParams<TransformerParams>(env, idOf(env, 'sft', sftOf(cfg)), 'sft.ckpt');
}

/** Loads a finished setup's SFT policy and its proxy model (as a labeller); call `release` to free their params. */
export async function loadSetup(env: Env, cfg: SetupRunConfig): Promise<{ sft: TransformerParams; proxy: Labeller; release: () => void }> {
  const task = getTask(cfg.data.task);
  const sft = await loadSft(env, cfg);
  const proxyParams = await loadParams<PreferenceModelParams>(env, idOf(env, 'setup', cfg), 'proxy.ckpt');
  return {
    sft,
    proxy: modelLabeller('proxy', proxyParams, prefSpecOf(task, cfg.setup.size), env.backend),
    release: () => dispose([sft, proxyParams]),
  };
}

/**
 * The controlled setup (docs/paper.md §3) as two cached runs:
 *  - `data`: D_initial, the golden labeller (a model trained on D_initial, or the task's
 *    rater used directly), and D_golden = D_initial relabelled by it;
 *  - `setup`: the proxy preference model (policy-sized, trained on D_golden) and the
 *    SFT policy (both responses of every pair).
 */
import {
  MODEL_SIZES, datasetStats, getTask, initialDataset, modelJudge, modelLabeller, policyConfig, preferenceAccuracy,
  preferenceModelSpec, relabel, splitDataset, trainPreferenceModel, trainSft, utilityJudge, utilityLabeller,
  type Judge, type Labeller, type PairDataset, type PolicySpec, type PreferenceModelParams, type PreferenceModelSpec, type Task,
} from '@tandem/rlhf';
import type { TransformerParams } from '@tandem/nn';
import { dispose, foldIn, key } from '@tandem/tensor';
import type { DataConfig, Fit, SetupConfig } from '../config.js';
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

/** The result of a {@link dataRun}. */
export interface DataResult {
  /** Statistics of D_initial (the training part of the initial pairs). */
  initial: ReturnType<typeof datasetStats>;
  /** Number of initial pairs held out from training. */
  heldOutPairs: number;
  /** Held-out accuracy of the golden model against the raters' labels (null in rater mode). */
  goldenHeldOutAccuracy: number | null;
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

/** D_initial, the golden labeller and D_golden. */
export function dataRun(cfg: DataConfig): Program<RunOutcome<DataResult>> {
  return cachedRun('data', cfg, (run) => fromAsync(async (env) => {
    const task = getTask(cfg.task);
    const k = key(cfg.seed);
    const all = initialDataset(task, { size: cfg.initialPairs, key: foldIn(k, 1) });
    const [train, heldOut] = splitDataset(all, 1 - cfg.heldOutFraction, foldIn(k, 2));
    let golden: Labeller;
    let goldenHeldOutAccuracy: number | null = null;
    if (cfg.golden.mode === 'model') {
      const spec = prefSpecOf(task, cfg.golden.size);
      const p = progressFit(env, 'golden model', cfg.golden.fit);
      const params = await trainPreferenceModel(spec, train, { ...cfg.golden.fit, key: foldIn(k, 3), backend: env.backend, onStep: p.onStep });
      p.done();
      goldenHeldOutAccuracy = await preferenceAccuracy(params, spec, heldOut.pairs, env.backend);
      await saveParams(env, run.id, 'golden.ckpt', params);
      golden = modelLabeller('golden', params, spec, env.backend);
    } else {
      golden = utilityLabeller('golden', task.utility, 0);
    }
    const dGolden = await relabel(train, golden, foldIn(k, 4), 'D_golden');
    await saveDataset(env, run.id, 'd_initial.bin', train);
    await saveDataset(env, run.id, 'd_golden.bin', dGolden);
    await saveDataset(env, run.id, 'd_heldout.bin', heldOut);
    const agree = dGolden.pairs.filter((p, i) => p.preference === train.pairs[i]!.preference).length / train.pairs.length;
    env.log(`data: golden held-out accuracy ${goldenHeldOutAccuracy ?? 'n/a (rater mode)'}; D_golden agrees with raters on ${(agree * 100).toFixed(1)}%`);
    return { initial: datasetStats(train, task), heldOutPairs: heldOut.pairs.length, goldenHeldOutAccuracy, goldenAgreement: agree };
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

/** The result of a {@link setupRun}. */
export interface SetupResult {
  /** Accuracy of the proxy preference model against golden labels of the held-out pairs. */
  proxyHeldOutAccuracy: number;
}

/** The proxy preference model and the SFT policy for one policy size. */
export function setupRun(cfg: SetupRunConfig): Program<RunOutcome<SetupResult>> {
  return cachedRun('setup', cfg, (run) => fromAsync(async (env) => {
    const task = getTask(cfg.data.task);
    const k = foldIn(key(cfg.data.seed), 10);
    const ds = await loadDataDatasets(env, cfg.data);
    const pspec = prefSpecOf(task, cfg.setup.size);
    const p1 = progressFit(env, `proxy model (${cfg.setup.size})`, cfg.setup.proxy);
    const proxy = await trainPreferenceModel(pspec, ds.golden, { ...cfg.setup.proxy, key: foldIn(k, 1), backend: env.backend, onStep: p1.onStep });
    p1.done();
    // Held-out accuracy against golden labels of the held-out pairs.
    const golden = await loadGolden(env, cfg.data);
    const heldOutGolden = await relabel(ds.heldOut, golden.labeller, foldIn(k, 2), 'heldout-golden');
    golden.release();
    const proxyHeldOutAccuracy = await preferenceAccuracy(proxy, pspec, heldOutGolden.pairs, env.backend);
    await saveParams(env, run.id, 'proxy.ckpt', proxy);
    dispose(proxy);
    const spec = policySpecOf(task, cfg.setup.size);
    const p2 = progressFit(env, `SFT policy (${cfg.setup.size})`, cfg.setup.sft);
    const sft = await trainSft(spec, [ds.initial], { ...cfg.setup.sft, key: foldIn(k, 3), backend: env.backend, onStep: p2.onStep });
    p2.done();
    await saveParams(env, run.id, 'sft.ckpt', sft);
    dispose(sft);
    env.log(`setup (${cfg.setup.size}): proxy held-out accuracy ${proxyHeldOutAccuracy.toFixed(3)}`);
    return { proxyHeldOutAccuracy };
  }));
}

/** Loads a finished setup run's SFT policy and its proxy model (as a labeller); call `release` to free their params. */
export async function loadSetup(env: Env, cfg: SetupRunConfig): Promise<{ sft: TransformerParams; proxy: Labeller; release: () => void }> {
  const task = getTask(cfg.data.task);
  const id = idOf(env, 'setup', cfg);
  const sft = await loadParams<TransformerParams>(env, id, 'sft.ckpt');
  const proxyParams = await loadParams<PreferenceModelParams>(env, id, 'proxy.ckpt');
  return {
    sft,
    proxy: modelLabeller('proxy', proxyParams, prefSpecOf(task, cfg.setup.size), env.backend),
    release: () => dispose([sft, proxyParams]),
  };
}

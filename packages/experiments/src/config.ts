/**
 * Study configs as io-ts codecs. A config is decoded completely before any work
 * starts, and a bad one is rejected with every failing path listed: wrong types and
 * unknown keys, and also the rules that tie fields together (checkpoints within the
 * steps, batches no larger than the prompts that fill them, a split that leaves pairs
 * on both sides, non-empty grids) and upper bounds ({@link LIMITS}) that keep every
 * run within one machine's memory. Numbers are printed as the config file wrote them.
 */
import * as t from 'io-ts';
import * as E from 'fp-ts/lib/Either.js';
import { MODEL_SIZES } from '@tandem/rlhf';
import { dataCapacity, type DataCapacity } from './capacity.js';
import { configError, type ExperimentError } from './program.js';

const refine = <C extends t.Any>(codec: C, pred: (a: t.TypeOf<C>) => boolean, name: string) =>
  t.refinement(codec, pred, name) as unknown as t.Type<t.TypeOf<C>, t.OutputOf<C>, unknown>;

/** Codec of a positive integer (a safe one: at most 2^53 − 1). */
export const PosInt = refine(t.number, (n) => Number.isSafeInteger(n) && n > 0, 'a positive integer');
/** Codec of a non-negative integer (a safe one: at most 2^53 − 1; seeds must be). */
export const NonNegInt = refine(t.number, (n) => Number.isSafeInteger(n) && n >= 0, 'a non-negative integer');
/** Codec of a finite positive number. */
export const PosNum = refine(t.number, (n) => Number.isFinite(n) && n > 0, 'a positive number');
/** Codec of a number strictly between 0 and 1. */
export const Fraction = refine(t.number, (n) => n > 0 && n < 1, 'a number strictly between 0 and 1');

/** Codec of a model size name: 'tiny', 'small', 'base' or 'large' (see MODEL_SIZES). */
export const SizeName = t.keyof({ tiny: null, small: null, base: null, large: null }, "a model size ('tiny' | 'small' | 'base' | 'large')");
/** Codec of a task name: 'summarize', 'helpful', 'harmless' or 'arena'. */
export const TaskName = t.keyof({ summarize: null, helpful: null, harmless: null, arena: null }, "a task ('summarize' | 'helpful' | 'harmless' | 'arena')");
/** Codec of a preference loss name: 'ipo', 'dpo', 'slic' or 'bo2'. */
export const LossName = t.keyof({ ipo: null, dpo: null, slic: null, bo2: null }, "a loss ('ipo' | 'dpo' | 'slic' | 'bo2')");

/** Adam fitting of a supervised model (the SFT policy): `steps` of `batchSize` items, peak learning rate `lr` after `warmup` steps of linear warm-up. */
export const Fit = t.exact(t.type({ steps: PosInt, batchSize: PosInt, lr: PosNum, warmup: NonNegInt }), 'Fit');

/**
 * Adam fitting of a preference model to a plateau (App. A.3): at most `steps` steps; every
 * `validateEvery` steps the held-out validation accuracy is measured, the best params are
 * kept, and the fit stops after `patience` evaluations without a strict improvement.
 */
export const PrefFit = t.exact(t.type({ steps: PosInt, batchSize: PosInt, lr: PosNum, warmup: NonNegInt, validateEvery: PosInt, patience: PosInt }), 'PrefFit');

/**
 * Which behaviour policies write D_initial: 'suboptimal' (the paper's regime: only
 * behaviours that rarely emit the ideal response, so D_initial does not cover the optimum)
 * or 'covered' (the "optimum covered" ablation: near-ideal behaviours mixed in).
 */
export const Coverage = t.keyof({ suboptimal: null, covered: null }, "a coverage ('suboptimal' | 'covered')");

/** D_initial and the golden labeller. */
export const DataConfig = t.exact(t.type({
  /** The synthetic task. */
  task: TaskName,
  /** Seed from which D_initial and its held-out split derive. */
  seed: NonNegInt,
  /** The behaviour mixture that writes D_initial. */
  coverage: Coverage,
  /** Replicate: re-draws everything downstream of D_initial (golden model, D_golden's labels, proxy, SFT, baseline, runs) while D_initial stays fixed. */
  replicate: NonNegInt,
  /** Number of pairs drawn for D_initial (before the held-out split). */
  initialPairs: PosInt,
  /** Fraction of the initial pairs held out from training, for accuracies. */
  heldOutFraction: Fraction,
  /** The golden labeller: the task's noise-free rater used directly, or a preference model of `size` fitted to D_initial. */
  golden: t.union([
    t.exact(t.type({ mode: t.literal('rater') })),
    t.exact(t.type({ mode: t.literal('model'), size: SizeName, fit: PrefFit })),
  ], "golden: { mode: 'rater' } or { mode: 'model', size, fit }"),
}), 'DataConfig');

/** Proxy model and SFT policy, both of the policy's size; the SFT policy learns from all four tasks' D_initial pooled (App. C). */
export const SetupConfig = t.exact(t.type({ size: SizeName, proxy: PrefFit, sft: Fit }), 'SetupConfig');

/** Preference optimisation hyper-parameters: `steps` of `batchSize` pairs, Adam learning rate `lr`, regularisation strength `beta`, and a checkpoint every `checkpointEvery` steps. */
export const TrainConfig = t.exact(t.type({
  steps: PosInt, batchSize: PosInt, lr: PosNum, beta: PosNum, checkpointEvery: PosInt,
}), 'TrainConfig');

/** Evaluation during training: every `every` steps, KL on `klPrompts` training prompts, win rate against the golden baseline on `winRatePrompts` prompts, and classifier accuracy on `classifierPairs` pairs of D_golden. */
export const EvalConfig = t.exact(t.type({
  every: PosInt, klPrompts: PosInt, winRatePrompts: PosInt, classifierPairs: PosInt,
}), 'EvalConfig');

/** Codec of a replay shuffle window: a number of consecutive batches shuffled together (1 keeps the recorded order), or 'all' for a uniform shuffle. */
export const ShuffleWindow = t.union([PosInt, t.literal('all')], "a window of batches (a positive integer) or 'all'");

/** The fields of a {@link StudyConfig}, before the rules that tie them together. */
export const StudyConfigFields = t.exact(t.type({
  /** D_initial and the golden labeller. */
  data: DataConfig,
  /** Policy/proxy size and the proxy and SFT fits. */
  setup: SetupConfig,
  /** The golden policy baseline: online IPO with the golden labeller. */
  baseline: TrainConfig,
  /** Preference optimisation runs (online and offline). */
  train: TrainConfig,
  /** Evaluation during training. */
  eval: EvalConfig,
  /** The offline grid of Fig. 1: every combination of learning rate, β and step count. */
  offlineSweep: t.exact(t.type({
    lrs: t.array(PosNum), betas: t.array(PosNum), steps: t.array(PosInt),
    /** The β values run at the longer lengths (every entry of `steps` after the first); the first length runs every β. The paper runs every β at every length; CPU presets may run fewer at 5× to fit the budget. */
    longBetas: t.array(PosNum),
  })),
  /** Shuffle windows of the replay runs of Fig. 13. */
  shuffleWindows: t.array(ShuffleWindow),
  /** Online-run steps whose policies build D_{a vs b} (the paper's 800 and 4k). */
  datasetCheckpoints: t.exact(t.type({ early: PosInt, late: PosInt })),
  /** Policy sizes of the scaling study (Fig. 10). */
  sizes: t.array(SizeName),
  /** Replicates of the headline comparisons (fig1, fig4, fig13 and the coverage ablation) on the default task: replicate r re-draws everything downstream of D_initial. */
  seeds: PosInt,
  /** Tasks of Fig. 1 (the paper shows all four); the default task is `data.task`. */
  tasks: t.array(TaskName),
}), 'StudyConfig');

export type Fit = t.TypeOf<typeof Fit>;
export type PrefFit = t.TypeOf<typeof PrefFit>;
export type Coverage = t.TypeOf<typeof Coverage>;
export type TaskName = t.TypeOf<typeof TaskName>;
export type DataConfig = t.TypeOf<typeof DataConfig>;
export type SetupConfig = t.TypeOf<typeof SetupConfig>;
export type TrainConfig = t.TypeOf<typeof TrainConfig>;
export type EvalConfig = t.TypeOf<typeof EvalConfig>;
export type StudyConfig = t.TypeOf<typeof StudyConfigFields>;
export type LossName = t.TypeOf<typeof LossName>;
export type SizeName = t.TypeOf<typeof SizeName>;
export type ShuffleWindow = t.TypeOf<typeof ShuffleWindow>;

/**
 * Upper bounds that keep one run within one machine's memory (and a run's stored
 * files within reason). A config beyond one is rejected before any work, naming the
 * field and the limit.
 */
export const LIMITS = {
  /** Optimiser steps of any run or fit, and of every offline-sweep entry. */
  steps: 100_000,
  /** Items per batch of any run or fit. */
  batchSize: 4096,
  /** Pairs of D_initial (and of a D_{a vs b}); D_initial, D_golden and the held-out pairs are held in memory. */
  initialPairs: 100_000,
  /** Pairs an online run keeps in memory (and in stream.bin) as its stream: its steps × batchSize. */
  streamPairs: 1_000_000,
  /** Nesting depth of a config or a queued job's data (real ones nest about 12 levels). */
  depth: 64,
} as const;

/**
 * A broken rule that ties fields together: the field's `path` and what is wrong with
 * it. `%v` in `message` stands for the field's value, printed as the config wrote it.
 */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * A codec that, besides `base`, checks cross-field `rules` and {@link LIMITS}.depth.
 * The rules run on the raw input even when `base` fails, reading only fields that are
 * individually valid, so every problem of a config is reported at once.
 */
export class CheckedType<A, O = A> extends t.Type<A, O, unknown> {
  readonly _tag = 'CheckedType' as const;
  constructor(readonly base: t.Type<A, O, unknown>, readonly rules: (u: unknown) => readonly ConfigIssue[], name: string = base.name) {
    super(name, base.is, (u, c) => {
      if (nestedDeeperThan(u, LIMITS.depth)) return t.failure(u, c, `is nested more than ${LIMITS.depth} levels deep (LIMITS.depth); not a config`);
      const r = base.validate(u, c);
      const issues = rules(u);
      if (issues.length === 0) return r;
      const extra: t.ValidationError[] = issues.map((i) => ({
        value: at(u, i.path),
        message: i.message,
        context: [...c, ...i.path.split('.').map((key) => ({ key, type: t.unknown as t.Decoder<unknown, unknown>, actual: undefined }))],
      }));
      return t.failures([...(E.isLeft(r) ? r.left : []), ...extra]);
    }, base.encode);
  }
}

/** `base` checked by `rules` as well (see {@link CheckedType}). */
export function checked<A, O>(base: t.Type<A, O, unknown>, rules: (u: unknown) => readonly ConfigIssue[]): CheckedType<A, O> {
  return new CheckedType(base, rules);
}

/** True when `v` nests arrays/objects more than `limit` deep; iterative, so any depth is safe to ask about. */
export function nestedDeeperThan(v: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d >= limit) return true;
    for (const c of Array.isArray(x) ? x : Object.values(x as object)) stack.push([c, d + 1]);
  }
  return false;
}

/** The value at a dotted path of own properties, or undefined. */
function at(u: unknown, path: string): unknown {
  let x = u;
  for (const k of path.split('.')) {
    if (x === null || typeof x !== 'object' || !Object.prototype.hasOwnProperty.call(x, k)) return undefined;
    x = (x as Record<string, unknown>)[k];
  }
  return x;
}

const posInt = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined);
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const limitText = (n: number, what: string, key: keyof typeof LIMITS) => `the limit of ${n} ${what} (LIMITS.${key}), which keeps a run within one machine's memory`;

/** An upper bound: its value, what it is, and optionally a hint appended after "expected ≤ n". */
type Bound = [number, string] | [number, string, string];
const STEPS_BOUND: Bound = [LIMITS.steps, limitText(LIMITS.steps, 'steps', 'steps')];
const PAIRS_BOUND: Bound = [LIMITS.initialPairs, limitText(LIMITS.initialPairs, 'pairs', 'initialPairs')];

/** Collects the issues of one config value `u`. */
class Rules {
  readonly issues: ConfigIssue[] = [];
  constructor(private readonly u: unknown) {}

  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  get(path: string): unknown {
    return at(this.u, path);
  }

  int(path: string): number | undefined {
    return posInt(this.get(path));
  }

  /** The tightest of `bounds` ([bound, what it is]) that the integer at `path` exceeds, as an issue. */
  within(path: string, ...bounds: (Bound | undefined)[]): void {
    const v = this.int(path);
    if (v === undefined) return;
    const broken = bounds.filter((b): b is Bound => b !== undefined && v > b[0]).sort((a, b) => a[0] - b[0])[0];
    if (broken) this.add(path, `%v exceeds ${broken[1]}; expected ≤ ${broken[0]}${broken[2] ?? ''}`);
  }

  /** The capacity of the data config at `path`, or undefined while any of its fields is invalid. */
  capacity(path: string): DataCapacity | undefined {
    const task = this.get(`${path}.task`);
    const seed = this.get(`${path}.seed`);
    const n = this.int(`${path}.initialPairs`);
    const f = this.get(`${path}.heldOutFraction`);
    const coverage = this.get(`${path}.coverage`);
    if (!TaskName.is(task) || !NonNegInt.is(seed) || n === undefined || n > LIMITS.initialPairs || !Fraction.is(f) || !Coverage.is(coverage)) return undefined;
    return dataCapacity({ task, seed, initialPairs: n, heldOutFraction: f, coverage });
  }

  /** A model size name that the codec accepts but rlhf's MODEL_SIZES lacks (the two lists must agree). */
  size(path: string): void {
    const s = this.get(path);
    if (typeof s === 'string' && SizeName.is(s) && !Object.prototype.hasOwnProperty.call(MODEL_SIZES, s)) {
      this.add(path, `%v is not one of the model sizes @tandem/rlhf defines (${Object.keys(MODEL_SIZES).join(', ')})`);
    }
  }

  /** A non-empty array without repeated entries. */
  list(path: string, what: string): void {
    const a = this.get(path);
    if (!Array.isArray(a)) return;
    if (a.length === 0) this.add(path, `%v is empty; expected at least one ${what}`);
    const seen = new Map<string, number>();
    a.forEach((x, i) => {
      const k = JSON.stringify(x);
      if (seen.has(k)) this.add(`${path}.${i}`, `%v repeats entry ${seen.get(k)}; each ${what} once`);
      else seen.set(k, i);
    });
  }

  /** D_initial: its size within the limit, and a split that leaves pairs on both sides. */
  data(path: string, cap: DataCapacity | undefined): void {
    this.within(`${path}.initialPairs`, PAIRS_BOUND);
    const f = this.get(`${path}.heldOutFraction`) as number;
    if (cap && (cap.trainPairs < 1 || cap.heldOutPairs < 1)) {
      let min = 2;
      while (Math.round((1 - f) * min) < 1 || min - Math.round((1 - f) * min) < 1) min++;
      this.add(`${path}.initialPairs`, `%v ${cap.trainPairs + cap.heldOutPairs === 1 ? 'pair splits' : 'pairs split'} at heldOutFraction ${f} into ${cap.trainPairs} for training and ${cap.heldOutPairs} held out; ` +
        `training and the held-out accuracies need at least one pair each; expected ≥ ${min}`);
    }
    if (this.get(`${path}.golden.mode`) === 'model') {
      this.size(`${path}.golden.size`);
      this.fit(`${path}.golden.fit`, cap && [cap.trainPairs, `the ${plural(cap.trainPairs, 'training pair')} the golden model fits`]);
    }
  }

  /** An Adam fit: steps and batch within the limits and the data, warm-up within the steps. */
  fit(path: string, items: Bound | undefined): void {
    this.within(`${path}.steps`, STEPS_BOUND);
    this.within(`${path}.batchSize`, [LIMITS.batchSize, limitText(LIMITS.batchSize, 'items per batch', 'batchSize')], items);
    const steps = this.int(`${path}.steps`);
    const warmup = this.get(`${path}.warmup`);
    if (steps !== undefined && NonNegInt.is(warmup) && warmup > steps) this.add(`${path}.warmup`, `%v warm-up steps exceed the fit's ${steps} steps (the peak learning rate is never reached); expected ≤ ${steps}`);
    const every = this.int(`${path}.validateEvery`);
    if (steps !== undefined && every !== undefined && every > steps) this.add(`${path}.validateEvery`, `%v exceeds the fit's ${steps} steps (the plateau is never checked); expected ≤ ${steps}`);
  }

  /** The proxy and SFT fits of a setup on the data's training pairs. */
  setup(path: string, cap: DataCapacity | undefined): void {
    this.size(`${path}.size`);
    this.fit(`${path}.proxy`, cap && [cap.trainPairs, `the ${plural(cap.trainPairs, 'training pair')} of D_golden`]);
    this.fit(`${path}.sft`, cap && [2 * cap.trainPairs, `the ${2 * cap.trainPairs} training responses (two per training pair)`]);
  }

  /** Preference-optimisation hyper-parameters; `batchItems` bounds the batch (the prompts for online runs); `online` runs keep their stream in memory. */
  hyper(path: string, batchItems: Bound | undefined, online: boolean): void {
    this.within(`${path}.steps`, STEPS_BOUND);
    this.within(`${path}.batchSize`, [LIMITS.batchSize, limitText(LIMITS.batchSize, 'pairs per batch', 'batchSize')], batchItems);
    const steps = this.int(`${path}.steps`);
    const batch = this.int(`${path}.batchSize`);
    if (online && steps !== undefined && batch !== undefined && steps <= LIMITS.steps && batch <= LIMITS.batchSize && steps * batch > LIMITS.streamPairs) {
      this.add(`${path}.steps`, `%v steps × ${batch} pairs per batch = ${steps * batch} pairs of online stream exceed ${limitText(LIMITS.streamPairs, 'stream pairs', 'streamPairs')}; ` +
        `expected ≤ ${Math.floor(LIMITS.streamPairs / batch)} steps at this batch size`);
    }
  }

  /** Evaluation sizes within the prompts and pairs the data provides. */
  eval(path: string, cap: DataCapacity | undefined): void {
    if (!cap) return;
    const prompts = promptsBound(cap);
    this.within(`${path}.klPrompts`, prompts);
    this.within(`${path}.winRatePrompts`, prompts);
    this.within(`${path}.classifierPairs`, goldenPairsBound(cap));
    const kl = this.int(`${path}.klPrompts`);
    const win = this.int(`${path}.winRatePrompts`);
    if (kl !== undefined && win !== undefined && kl > win) this.add(`${path}.klPrompts`, `%v exceeds eval.winRatePrompts (${win}): KL and self-classification use the first klPrompts of the win-rate prompts' samples; expected ≤ ${win}`);
  }
}

const promptsBound = (cap: DataCapacity | undefined): Bound | undefined => cap && [cap.prompts, `the ${plural(cap.prompts, 'training prompt')}`];
const goldenPairsBound = (cap: DataCapacity | undefined): Bound | undefined => cap && [cap.trainPairs, `the ${plural(cap.trainPairs, 'pair')} of D_golden`];

/**
 * The rules a study config must keep beyond each field's type: data, fits, runs and
 * evaluations within {@link LIMITS} and within the pairs and prompts D_initial
 * provides; non-empty grids without repeats; dataset checkpoints inside the online
 * run; shuffle windows within its stream; every size one rlhf defines.
 */
export function studyIssues(u: unknown): ConfigIssue[] {
  const r = new Rules(u);
  const cap = r.capacity('data');
  r.data('data', cap);
  r.setup('setup', cap);
  // Online runs (and the golden baseline, itself online) sample a batch of distinct prompts per step.
  r.hyper('baseline', promptsBound(cap), true);
  r.hyper('train', promptsBound(cap), true);
  r.eval('eval', cap);
  r.list('offlineSweep.lrs', 'learning rate');
  r.list('offlineSweep.betas', 'β');
  r.list('offlineSweep.steps', 'step count');
  r.list('offlineSweep.longBetas', 'β');
  const betas = r.get('offlineSweep.betas');
  const longBetas = r.get('offlineSweep.longBetas');
  if (Array.isArray(betas) && Array.isArray(longBetas)) longBetas.forEach((b, i) => (betas.includes(b) ? undefined : r.add(`offlineSweep.longBetas.${i}`, `%v is not one of offlineSweep.betas (${JSON.stringify(betas)}); the longer runs use a subset of the grid's β values`)));
  const sweepSteps = r.get('offlineSweep.steps');
  if (Array.isArray(sweepSteps)) sweepSteps.forEach((_, i) => r.within(`offlineSweep.steps.${i}`, STEPS_BOUND));
  const steps = r.int('train.steps');
  r.list('shuffleWindows', 'shuffle window');
  const windows = r.get('shuffleWindows');
  if (Array.isArray(windows) && steps !== undefined) {
    windows.forEach((_, i) => r.within(`shuffleWindows.${i}`, [steps, `the ${plural(steps, 'batch', 'batches')} of the online stream (train.steps)`, ", or 'all' for a uniform shuffle"]));
  }
  const early = r.int('datasetCheckpoints.early');
  const late = r.int('datasetCheckpoints.late');
  if (early !== undefined && late !== undefined && early >= late) r.add('datasetCheckpoints.early', `%v is not before datasetCheckpoints.late (${late}); expected < ${late}`);
  if (steps !== undefined) {
    for (const k of ['early', 'late']) r.within(`datasetCheckpoints.${k}`, [steps, `train.steps (${steps}): the online run never reaches that step`]);
  }
  r.list('sizes', 'model size');
  const sizes = r.get('sizes');
  if (Array.isArray(sizes)) sizes.forEach((_, i) => r.size(`sizes.${i}`));
  r.list('tasks', 'task');
  const tasks = r.get('tasks');
  const task = r.get('data.task');
  if (Array.isArray(tasks) && TaskName.is(task) && !tasks.includes(task)) r.add('tasks', `%v does not include the default task data.task (${JSON.stringify(task)}); Fig. 1 shows it first`);
  return r.issues;
}

/**
 * The rules a training run's config must keep (see runs/train.ts `TrainRunConfig`): its
 * data, setup, hyper-parameters and evaluation within {@link LIMITS} and the data; kept
 * steps within its steps; a replay of an online run, with its batch size and at most its
 * steps; dataset sides at steps their run keeps. Nested run configs (baseline, replay
 * source, dataset sides) are checked by their own codec.
 */
export function runIssues(u: unknown): ConfigIssue[] {
  const r = new Rules(u);
  const cap = r.capacity('setup.data');
  r.data('setup.data', cap);
  r.setup('setup.setup', cap);
  const kind = r.get('method.kind');
  const steps = r.int('hyper.steps');
  if (kind === 'online') r.hyper('hyper', promptsBound(cap), true);
  else if (kind === 'offline') {
    const ds = r.get('method.dataset.kind');
    if (ds === 'golden') r.hyper('hyper', goldenPairsBound(cap), false);
    if (ds === 'versus') {
      const pairs = r.int('method.dataset.pairs');
      r.within('method.dataset.pairs', PAIRS_BOUND);
      r.hyper('hyper', pairs === undefined ? undefined : [pairs, `the ${plural(pairs, 'pair')} of the dataset (method.dataset.pairs)`], false);
      for (const side of ['a', 'b']) {
        const p = `method.dataset.${side}`;
        if (r.get(`${p}.kind`) !== 'checkpoint') continue;
        if (r.get(`${p}.run.method.kind`) !== undefined && r.get(`${p}.run.method.kind`) !== 'online') r.add(`${p}.run.method.kind`, `%v: a dataset side samples from a checkpoint of an online run; expected "online"`);
        const step = r.int(`${p}.step`);
        const keep = r.get(`${p}.run.keepSteps`);
        if (step !== undefined && Array.isArray(keep) && !keep.includes(step)) r.add(`${p}.step`, `%v is not one of the steps its run keeps (${p}.run.keepSteps: ${JSON.stringify(keep)})`);
      }
    }
  } else if (kind === 'replay') {
    r.hyper('hyper', undefined, false);
    const src = 'method.source';
    if (r.get(`${src}.method.kind`) !== undefined && r.get(`${src}.method.kind`) !== 'online') r.add(`${src}.method.kind`, '%v: a replay replays the stream of an online run; expected "online"');
    const srcSteps = r.int(`${src}.hyper.steps`);
    const srcBatch = r.int(`${src}.hyper.batchSize`);
    if (srcSteps !== undefined) r.within('hyper.steps', [srcSteps, `the ${plural(srcSteps, 'batch', 'batches')} the source run recorded (${src}.hyper.steps)`]);
    const batch = r.int('hyper.batchSize');
    if (srcBatch !== undefined && batch !== undefined && batch !== srcBatch) r.add('hyper.batchSize', `%v differs from the source run's batch size (${srcBatch}); a replay trains on the recorded batches`);
    if (srcSteps !== undefined) r.within('method.window', [srcSteps, `the ${plural(srcSteps, 'batch', 'batches')} of the source stream`, ", or 'all' for a uniform shuffle"]);
  }
  r.eval('eval', cap);
  const keep = r.get('keepSteps');
  if (Array.isArray(keep)) {
    keep.forEach((_, i) => {
      if (steps !== undefined) r.within(`keepSteps.${i}`, [steps, `hyper.steps (${steps}): the run never reaches that step`]);
    });
    const seen = new Set<unknown>();
    keep.forEach((k, i) => (seen.has(k) ? r.add(`keepSteps.${i}`, '%v is listed twice') : seen.add(k)));
  }
  return r.issues;
}

/** The path of a validation error's context: its keys, without the member indices unions and intersections add. */
function pathOf(context: t.Context): string {
  const keys: string[] = [];
  const combines = (x: t.Decoder<unknown, unknown> | undefined): boolean => {
    if (x instanceof t.ExactType || x instanceof t.RefinementType || x instanceof t.RecursiveType) return combines(x.type as t.Mixed);
    if (x instanceof CheckedType) return combines(x.base);
    return x instanceof t.UnionType || x instanceof t.IntersectionType;
  };
  context.forEach((c, i) => {
    if (c.key === '' || combines(context[i - 1]?.type)) return;
    keys.push(c.key);
  });
  return keys.join('.');
}

/** A value for a message: as the config file wrote it when known (`literal`), never `null` for a number JSON cannot hold. */
export function showValue(v: unknown, literal?: string): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return `not finite (${literal ? `${literal} in the config` : String(v)})`;
    return literal ?? String(v);
  }
  if (v === undefined) return 'missing';
  try {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return '(a value too deeply nested to print)';
  }
}

/**
 * "path: expected …, got …" (or the rule broken) for every failure of an io-ts decode.
 * `literals` maps paths to the number literals the config file wrote (see
 * {@link parseConfigJson}), so `1e999` prints as written, not as JSON's `null`.
 */
export function formatErrors(errors: t.Errors, literals?: ReadonlyMap<string, string>): string[] {
  const lines = errors.map((e) => {
    const path = pathOf(e.context);
    const shown = showValue(e.value, literals?.get(path));
    if (e.message !== undefined) return `${path || '(root)'}: ${e.message.includes('%v') ? e.message.replace('%v', shown) : e.message}`;
    const expected = e.context[e.context.length - 1]?.type.name ?? 'a valid value';
    if ((typeof e.value === 'number' && !Number.isFinite(e.value)) || e.value === undefined) return `${path || '(root)'}: ${shown}; expected ${expected}`;
    return `${path || '(root)'}: expected ${expected}, got ${shown}`;
  });
  return [...new Set(lines)];
}

/** Decodes a value with a codec, or an ExperimentError listing every failing path (`literals`: number literals as written, by path; see {@link parseConfigJson}). */
export function decodeWith<A>(codec: t.Type<A, unknown, unknown>, value: unknown, what: string, literals?: ReadonlyMap<string, string>): E.Either<ExperimentError, A> {
  if (nestedDeeperThan(value, LIMITS.depth)) {
    const line = `(root): nested more than ${LIMITS.depth} levels deep (LIMITS.depth); not a config`;
    return E.left(configError(`invalid ${what}:\n  ${line}`, [line]));
  }
  const r = codec.decode(value);
  // io-ts's exact types strip unknown keys; a typo must not be silently ignored.
  const paths = [...(E.isRight(r) ? [] : formatErrors(r.left, literals)), ...unknownKeys(codec, value, '')];
  if (E.isRight(r) && paths.length === 0) return E.right(r.right);
  return E.left(configError(`invalid ${what}:\n  ${paths.join('\n  ')}`, paths));
}

/**
 * Parses the text of a config file: JSON holding an object. Returns the value and the
 * number literals as written, by path (`train.lr` → `1e999`), for messages; or a
 * ConfigError naming `source`, with the line and column of a syntax error.
 */
export function parseConfigJson(text: string, source: string): E.Either<ExperimentError, { value: Record<string, unknown>; literals: Map<string, string> }> {
  const bad = (m: string) => E.left(configError(`${source}: ${m}`, [`(root): ${m}`]));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    if (!pos) return bad(`not valid JSON (${msg})`);
    const before = text.slice(0, Number(pos[1]));
    const line = before.split('\n').length;
    return bad(`not valid JSON (${msg}; line ${line}, column ${before.length - before.lastIndexOf('\n')})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return bad(`holds ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}, not an object of config fields (e.g. {"train": {"steps": 100}})`);
  }
  if (nestedDeeperThan(value, LIMITS.depth)) return bad(`nested more than ${LIMITS.depth} levels deep (LIMITS.depth); not a config`);
  return E.right({ value: value as Record<string, unknown>, literals: numberLiterals(text) });
}

/** The number literals of a JSON text (already known to parse), by dotted path. */
export function numberLiterals(text: string): Map<string, string> {
  const out = new Map<string, string>();
  type Frame = { path: string; key: string | number; obj: boolean };
  const stack: Frame[] = [];
  let expectKey = false;
  const here = () => {
    const f = stack[stack.length - 1];
    if (!f) return '';
    return f.path ? `${f.path}.${f.key}` : String(f.key);
  };
  const num = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
  for (let i = 0; i < text.length;) {
    const ch = text[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (expectKey) stack[stack.length - 1]!.key = JSON.parse(text.slice(i, j + 1)) as string;
      i = j + 1;
    } else if (ch === '{' || ch === '[') {
      stack.push({ path: here(), key: ch === '[' ? 0 : '', obj: ch === '{' });
      expectKey = ch === '{';
      i++;
    } else if (ch === '}' || ch === ']') {
      stack.pop();
      i++;
    } else if (ch === ':') {
      expectKey = false;
      i++;
    } else if (ch === ',') {
      const f = stack[stack.length - 1];
      if (f && !f.obj) f.key = (f.key as number) + 1;
      expectKey = f?.obj ?? false;
      i++;
    } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
      num.lastIndex = i;
      const m = num.exec(text);
      const lit = m ? m[0] : ch;
      out.set(here(), lit);
      i += lit.length;
    } else i++;
  }
  return out;
}

/** Deep merge of plain objects (arrays and scalars replace), for `--config` overrides of a preset. Keys are own properties: a key named `__proto__` stays a key (and is then reported as unknown), never a prototype. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (base && over && typeof base === 'object' && typeof over === 'object' && !Array.isArray(base) && !Array.isArray(over)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
      Object.defineProperty(out, k, { value: deepMerge(Object.hasOwn(out, k) ? out[k] : undefined, v), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return over;
}

/** The props an object codec knows (through exact, refinement, checked, recursive and intersection wrappers), or undefined for a codec of something else. */
function propsOf(codec: t.Mixed): Record<string, t.Mixed> | undefined {
  if (codec instanceof CheckedType) return propsOf(codec.base);
  if (codec instanceof t.ExactType || codec instanceof t.RefinementType || codec instanceof t.RecursiveType) return propsOf(codec.type);
  if (codec instanceof t.InterfaceType || codec instanceof t.PartialType) return codec.props as Record<string, t.Mixed>;
  if (codec instanceof t.IntersectionType) {
    const ps = (codec.types as t.Mixed[]).map(propsOf);
    return ps.every((p) => p !== undefined) ? Object.assign({}, ...ps) : undefined;
  }
  return undefined;
}

/** Keys of `value` that the codec does not know (exact types would silently drop them), as error lines. */
export function unknownKeys(codec: t.Mixed, value: unknown, path: string): string[] {
  const at = (k: string | number) => (path ? `${path}.${k}` : String(k));
  if (codec instanceof CheckedType) return unknownKeys(codec.base, value, path);
  if (codec instanceof t.ArrayType) return Array.isArray(value) ? value.flatMap((v, i) => unknownKeys(codec.type, v, at(i))) : [];
  if (codec instanceof t.UnionType) {
    // The member with the fewest complaints is the one the user meant.
    const options = (codec.types as t.Mixed[]).map((m) => unknownKeys(m, value, path));
    return options.reduce((a, b) => (b.length < a.length ? b : a), options[0] ?? []);
  }
  const props = propsOf(codec);
  if (props && value && typeof value === 'object' && !Array.isArray(value)) {
    // Own keys only: `toString`, `constructor` or `__proto__` are not config fields.
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
      Object.prototype.hasOwnProperty.call(props, k) ? unknownKeys(props[k]!, v, at(k)) : [`${at(k)}: unknown key (not part of the config)`]);
  }
  if (codec instanceof t.ExactType || codec instanceof t.RefinementType || codec instanceof t.RecursiveType) return unknownKeys(codec.type, value, path);
  return [];
}

/** Everything the study's figures share, checked field by field and by {@link studyIssues}. Presets are values of this type. */
export const StudyConfig = checked(StudyConfigFields, studyIssues);

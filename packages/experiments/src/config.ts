/**
 * Study configs as io-ts codecs. A config is decoded completely before any work
 * starts, and a bad one is rejected with every failing path listed.
 */
import * as t from 'io-ts';
import * as E from 'fp-ts/lib/Either.js';
import { configError, type ExperimentError } from './program.js';

const refine = <C extends t.Any>(codec: C, pred: (a: t.TypeOf<C>) => boolean, name: string) =>
  t.refinement(codec, pred, name) as unknown as t.Type<t.TypeOf<C>, t.OutputOf<C>, unknown>;

/** Codec of a positive integer. */
export const PosInt = refine(t.number, (n) => Number.isInteger(n) && n > 0, 'a positive integer');
/** Codec of a non-negative integer. */
export const NonNegInt = refine(t.number, (n) => Number.isInteger(n) && n >= 0, 'a non-negative integer');
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

/** Adam fitting of a supervised model (preference models, SFT): `steps` of `batchSize` items, peak learning rate `lr` after `warmup` steps of linear warm-up. */
export const Fit = t.exact(t.type({ steps: PosInt, batchSize: PosInt, lr: PosNum, warmup: NonNegInt }), 'Fit');

/** D_initial and the golden labeller. */
export const DataConfig = t.exact(t.type({
  /** The synthetic task. */
  task: TaskName,
  /** Seed from which D_initial, its split, the golden model and the setup runs built on it derive. */
  seed: NonNegInt,
  /** Number of pairs drawn for D_initial (before the held-out split). */
  initialPairs: PosInt,
  /** Fraction of the initial pairs held out from training, for accuracies. */
  heldOutFraction: Fraction,
  /** The golden labeller: the task's noise-free rater used directly, or a preference model of `size` fitted to D_initial. */
  golden: t.union([
    t.exact(t.type({ mode: t.literal('rater') })),
    t.exact(t.type({ mode: t.literal('model'), size: SizeName, fit: Fit })),
  ], "golden: { mode: 'rater' } or { mode: 'model', size, fit }"),
}), 'DataConfig');

/** Proxy model and SFT policy, both of the policy's size. */
export const SetupConfig = t.exact(t.type({ size: SizeName, proxy: Fit, sft: Fit }), 'SetupConfig');

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

/** Everything the study's figures share. Presets are values of this type. */
export const StudyConfig = t.exact(t.type({
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
  offlineSweep: t.exact(t.type({ lrs: t.array(PosNum), betas: t.array(PosNum), steps: t.array(PosInt) })),
  /** Shuffle windows of the replay runs of Fig. 13. */
  shuffleWindows: t.array(ShuffleWindow),
  /** Online-run steps whose policies build D_{a vs b} (the paper's 800 and 4k). */
  datasetCheckpoints: t.exact(t.type({ early: PosInt, late: PosInt })),
  /** Policy sizes of the scaling study (Fig. 10). */
  sizes: t.array(SizeName),
}), 'StudyConfig');

export type Fit = t.TypeOf<typeof Fit>;
export type DataConfig = t.TypeOf<typeof DataConfig>;
export type SetupConfig = t.TypeOf<typeof SetupConfig>;
export type TrainConfig = t.TypeOf<typeof TrainConfig>;
export type EvalConfig = t.TypeOf<typeof EvalConfig>;
export type StudyConfig = t.TypeOf<typeof StudyConfig>;
export type LossName = t.TypeOf<typeof LossName>;
export type SizeName = t.TypeOf<typeof SizeName>;
export type ShuffleWindow = t.TypeOf<typeof ShuffleWindow>;

/** "path: expected …, got …" for every failure of an io-ts decode. */
export function formatErrors(errors: t.Errors): string[] {
  const lines = errors.map((e) => {
    const path = e.context.map((c) => c.key).filter((k) => k !== '').join('.');
    const expected = e.context[e.context.length - 1]?.type.name ?? 'a valid value';
    return `${path || '(root)'}: expected ${expected}, got ${JSON.stringify(e.value)}`;
  });
  return [...new Set(lines)];
}

/** Decodes a value with a codec, or an ExperimentError listing every failing path. */
export function decodeWith<A>(codec: t.Type<A, unknown, unknown>, value: unknown, what: string): E.Either<ExperimentError, A> {
  const r = codec.decode(value);
  // io-ts's exact types strip unknown keys; a typo must not be silently ignored.
  const paths = [...(E.isRight(r) ? [] : formatErrors(r.left)), ...unknownKeys(codec, value, '')];
  if (E.isRight(r) && paths.length === 0) return E.right(r.right);
  return E.left(configError(`invalid ${what}:\n  ${paths.join('\n  ')}`, paths));
}

/** Deep merge of plain objects (arrays and scalars replace), for `--config` overrides of a preset. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (base && over && typeof base === 'object' && typeof over === 'object' && !Array.isArray(base) && !Array.isArray(over)) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(over as Record<string, unknown>)) out[k] = deepMerge(out[k], v);
    return out;
  }
  return over;
}

/** Keys of `value` that the codec does not know (exact types would silently drop them), as error lines. */
export function unknownKeys(codec: t.Mixed, value: unknown, path: string): string[] {
  const at = (k: string | number) => (path ? `${path}.${k}` : String(k));
  if (codec instanceof t.ExactType || codec instanceof t.RefinementType) return unknownKeys(codec.type, value, path);
  if (codec instanceof t.ArrayType) return Array.isArray(value) ? value.flatMap((v, i) => unknownKeys(codec.type, v, at(i))) : [];
  if (codec instanceof t.UnionType) {
    // The member with the fewest complaints is the one the user meant.
    const options = (codec.types as t.Mixed[]).map((m) => unknownKeys(m, value, path));
    return options.reduce((a, b) => (b.length < a.length ? b : a), options[0] ?? []);
  }
  if (codec instanceof t.InterfaceType && value && typeof value === 'object' && !Array.isArray(value)) {
    const props = codec.props as Record<string, t.Mixed>;
    return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
      k in props ? unknownKeys(props[k]!, v, at(k)) : [`${at(k)}: unknown key (not part of the config)`]);
  }
  return [];
}

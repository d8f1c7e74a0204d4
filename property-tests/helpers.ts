/**
 * Shared pieces of the property tests: run counts, fast-check parameters (with a
 * replay hook), tiny policy configurations and their arbitraries, prompt
 * generation from the summarize task, byte-exact hashing of params and optimiser
 * state, recording training runs, and "webgpu or skip".
 *
 * Everything a test builds from a `TinyRun` is a pure function of that plain JSON
 * value, so the resume child process can rebuild the identical run from it.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  EOS, adam, adamw, chain, clipByGlobalNorm, sgd, type GradientTransformation, type TransformerConfig, type TransformerParams,
} from '@tandem/nn';
import {
  LOSSES, getTask, initPolicy, initialDataset, mixtureSampler, offlineSampler, type OfflineState, initPreferenceModel, initTrainState, modelLabeller, onlineSampler, policyConfig,
  preferenceModelSpec, rngFromKey, runTraining, utilityLabeller, type Labeller, type PairBatch, type PolicySpec,
  type Pair, type RunOptions, type Sampler, type Tokens, type TrainSetup, type TrainState,
} from '@tandem/rlhf';
import {
  dispose, foldIn, getBackend, initBackend, key, tensor, tidy, toBackend, treeFlatten, treeUnflatten, webgpuAdapterInfo,
  type Backend, type Key, type Tensor,
} from '@tandem/tensor';

// ----------------------------------------------------------------------------- run counts and fast-check parameters

/** True under `TANDEM_DEEP=1` (`pnpm test:deep`). */
export const DEEP = !!process.env.TANDEM_DEEP && process.env.TANDEM_DEEP !== '0';

/** `n` runs for CI, ten times as many under TANDEM_DEEP. */
export const runs = (n: number): number => (DEEP ? n * 10 : n);

/** Vitest timeout for one property: generous, so that shrinking a failure can finish and print its seed. */
export const PROPERTY_TIMEOUT = DEEP ? 3_600_000 : 900_000;

/**
 * fast-check parameters for a property with `n` CI runs (see `runs`). Replaying a failure:
 * fast-check prints `{ seed: S, path: "P" }`; set TANDEM_FC_SEED=S and TANDEM_FC_PATH=P (for the
 * file that failed) to rerun exactly that counterexample. TANDEM_FC_RUNS overrides the count.
 */
export function fcParams<T>(n: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  const p: fc.Parameters<T> = { numRuns: process.env.TANDEM_FC_RUNS ? Number(process.env.TANDEM_FC_RUNS) : runs(n), ...extra };
  if (process.env.TANDEM_FC_SEED !== undefined && process.env.TANDEM_FC_SEED !== '') {
    p.seed = Number(process.env.TANDEM_FC_SEED);
    if (process.env.TANDEM_FC_PATH) p.path = process.env.TANDEM_FC_PATH;
  }
  return p;
}

/** Seeds for keys: small non-negative integers, shrinking towards 0. */
export const seedArb = fc.integer({ min: 0, max: 1_000_000 });

// ----------------------------------------------------------------------------- tiny runs

/** The task every run samples prompts from (the paper's headline task, TL;DR). */
export const TASK = getTask('summarize');

export type LossName = 'ipo' | 'dpo' | 'slic' | 'bo2';
export type OptName = 'adam' | 'adamw' | 'sgd';

/** Everything a tiny preference-optimisation run depends on: plain JSON. */
export interface TinyRun {
  /** Drives the policy init, the prompts, the labeller's model and the run key. */
  seed: number;
  dModel: number;
  heads: number;
  /** Response width (generation length); the prompt width is the task's 24. */
  response: number;
  /** Training prompts to draw batches from. */
  prompts: number;
  batchSize: number;
  steps: number;
  loss: LossName;
  beta: number;
  opt: OptName;
  lr: number;
  /** Clip gradients to global norm 1 before the optimiser. */
  clip: boolean;
  /** Who labels online pairs: the task's noisy rater (key-driven) or a random preference model. */
  labeller: 'rater' | 'model';
}

const LOSS_NAMES: readonly LossName[] = ['ipo', 'dpo', 'slic', 'bo2'];

/** A TinyRun arbitrary; every field shrinks towards the smallest/first choice. */
export function tinyRunArb(o: {
  steps?: { min: number; max: number };
  batch?: { min: number; max: number };
  response?: { min: number; max: number };
  losses?: readonly LossName[];
} = {}): fc.Arbitrary<TinyRun> {
  return fc.record({
    seed: seedArb,
    dModel: fc.constantFrom(8, 12, 16),
    heads: fc.constantFrom(1, 2),
    response: fc.integer(o.response ?? { min: 3, max: 8 }),
    prompts: fc.integer({ min: 4, max: 10 }),
    batchSize: fc.integer(o.batch ?? { min: 1, max: 4 }),
    steps: fc.integer(o.steps ?? { min: 1, max: 30 }),
    loss: fc.constantFrom(...(o.losses ?? LOSS_NAMES)),
    beta: fc.constantFrom(0.1, 0.5, 1, 0.05, 2),
    opt: fc.constantFrom<OptName>('adam', 'sgd', 'adamw'),
    lr: fc.constantFrom(1e-2, 3e-3, 1e-3, 3e-2),
    clip: fc.boolean(),
    labeller: fc.constantFrom<'rater' | 'model'>('rater', 'model'),
  }).filter((r) => r.prompts >= r.batchSize);
}

/** A tiny policy spec: one layer, dFf = 2·dModel, the shared 64-token vocabulary. */
export function tinySpec(dModel: number, heads: number, widths: { prompt: number; response: number }, vocab = TASK.vocabSize): PolicySpec {
  return { cfg: policyConfig({ dModel, heads, dFf: 2 * dModel, layers: 1 }, vocab, widths), widths };
}

/** `n` prompts from the summarize task's distribution, a pure function of the key. */
export function taskPrompts(k: Key, n: number): Tokens[] {
  const rng = rngFromKey(k);
  return Array.from({ length: n }, () => TASK.samplePrompt(rng));
}

export function makeOptimizer(r: Pick<TinyRun, 'opt' | 'lr' | 'clip'>): GradientTransformation<unknown> {
  const base = r.opt === 'adam' ? adam({ lr: r.lr }) : r.opt === 'adamw' ? adamw({ lr: r.lr, weightDecay: 0.01 }) : sgd({ lr: r.lr, momentum: 0.9 });
  return r.clip ? chain(clipByGlobalNorm(1), base) : base;
}

/** A tiny run's fixed pieces, on one backend. `dispose` frees the tensors it made. */
export interface TinyWorld {
  spec: PolicySpec;
  prompts: Tokens[];
  labeller: Labeller;
  setup: TrainSetup;
  /** Initial policy params (also the frozen reference π_sft, as in the paper: training starts at SFT). */
  params0: TransformerParams;
  /** The run key: step t uses foldIn(key, t). */
  key: Key;
  /** The online sampler of this run. */
  online: Sampler<null>;
  dispose(): void;
}

/** Copies every tensor of a pytree to `backend` (always new tensors, even on the same backend; the input is untouched). */
export async function treeToBackend<T>(tree: T, backend: Backend): Promise<T> {
  const [leaves, def] = treeFlatten(tree);
  const moved: Tensor[] = [];
  for (const t of leaves) moved.push(await toBackend(t, backend));
  return treeUnflatten<T>(def, moved);
}

/** Builds the pieces of a TinyRun on `backend` (params are made on cpu, then moved, so they are identical on every backend). */
export async function tinyWorld(r: TinyRun, backend: Backend = getBackend('cpu')): Promise<TinyWorld> {
  const root = key(r.seed);
  const widths = { prompt: TASK.maxPrompt, response: r.response };
  const spec = tinySpec(r.dModel, r.heads, widths);
  const owned: unknown[] = [];
  const cpuParams = initPolicy(foldIn(root, 0), spec);
  const params0 = await treeToBackend(cpuParams, backend);
  owned.push(params0);
  dispose(cpuParams);
  const prompts = taskPrompts(foldIn(root, 1), r.prompts);
  let labeller: Labeller;
  if (r.labeller === 'rater') {
    labeller = utilityLabeller('rater', TASK.utility, 0.5);
  } else {
    const ps = preferenceModelSpec({ dModel: 8, heads: 2, dFf: 16, layers: 1 }, TASK.vocabSize, widths);
    const pmCpu = initPreferenceModel(foldIn(root, 2), ps);
    const pm = await treeToBackend(pmCpu, backend);
    dispose(pmCpu);
    owned.push(pm);
    labeller = modelLabeller('proxy', pm, ps, backend);
  }
  const setup: TrainSetup = { spec, loss: LOSSES[r.loss]!, beta: r.beta, optimizer: makeOptimizer(r), ref: params0, backend };
  const online = onlineSampler({ spec, prompts, batchSize: r.batchSize, labeller, task: TASK.name });
  return { spec, prompts, labeller, setup, params0, key: foldIn(root, 3), online, dispose: () => dispose(owned) };
}

/** The state of `resumableSampler`: the online part keeps none, the offline part its cursor. */
export type MixState = [null, OfflineState];

/**
 * A sampler with non-trivial state, for resume tests: each step takes an online batch with
 * probability `pA` (by the step's key), else the next batch of a small D_initial (epoch
 * orders from a key). Needs `r.response` ≥ the task's longest response (12).
 */
export function resumableSampler(w: TinyWorld, r: TinyRun, pA: number) {
  const root = key(r.seed);
  const ds = initialDataset(TASK, { size: 2 * r.batchSize + 3, key: foldIn(root, 4) });
  return mixtureSampler(w.online, offlineSampler(ds, { batchSize: r.batchSize, key: foldIn(root, 5) }), pA);
}

// ----------------------------------------------------------------------------- hand-made pairs

/** A response of at most `width` tokens: random non-special tokens, ending with EOS. */
export const responseArb = (width: number): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: 4, max: TASK.vocabSize - 1 }), { maxLength: width - 1 }).map((t) => [...t, EOS]);

const sameTokens = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((t, i) => t === b[i]);

/**
 * A batch of 1–`max` labelled pairs: prompts from the task's distribution (by a seed), random
 * responses; with `distinct`, never two identical responses in a pair (such a pair has h ≡ 0).
 */
export const batchArb = (width: number, max = 4, distinct = false): fc.Arbitrary<Pair[]> => fc.record({
  promptSeed: seedArb,
  rows: fc.array(
    fc.record({ y1: responseArb(width), y2: responseArb(width), preference: fc.constantFrom<0 | 1>(1, 0) }).filter((r) => !distinct || !sameTokens(r.y1, r.y2)),
    { minLength: 1, maxLength: max },
  ),
}).map(({ promptSeed, rows }): Pair[] => {
  const prompts = taskPrompts(key(promptSeed), rows.length);
  return rows.map((r, i) => ({ prompt: prompts[i]!, ...r, provenance: { task: TASK.name, source: 'arb', labeller: 'arb' } }));
});

/** The pairs with y1/y2 swapped together with the label. */
export const swapPairs = (pairs: readonly Pair[]): Pair[] => pairs.map((p) => ({ ...p, y1: p.y2, y2: p.y1, preference: (1 - p.preference) as 0 | 1 }));

// ----------------------------------------------------------------------------- hashing

/** SHA-256 of a pytree: its structure (non-tensor leaves such as step counts included) and every tensor's dtype, shape and raw bytes. */
export async function treeHash(tree: unknown): Promise<string> {
  const [leaves, def] = treeFlatten(tree);
  const h = createHash('sha256');
  h.update(JSON.stringify(def));
  for (const t of leaves) {
    const d = await t.data();
    h.update(`|${t.dtype}[${t.shape.join(',')}]|`);
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest('hex');
}

/** Hash of params AND optimiser state (and the step). */
export const stateHash = (s: Pick<TrainState, 'params' | 'opt' | 'step'>): Promise<string> => treeHash({ params: s.params, opt: s.opt, step: s.step });

// ----------------------------------------------------------------------------- recording runs

export interface Recording<S> {
  /** Every batch the sampler emitted, in order. */
  batches: PairBatch[];
  /** stateHash after every step. */
  hashes: string[];
  losses: number[];
  /** Sampler state after every step. */
  samplerStates: S[];
  final: TrainState;
  samplerState: S;
}

/**
 * Runs `runTraining` and records every batch, loss, sampler state and the hash of params+opt
 * after every step, then calls `o.onStep` if given. The caller owns `final` (dispose it with `disposeState` unless it is the start state).
 */
export async function record<S>(o: RunOptions<S>): Promise<Recording<S>> {
  const batches: PairBatch[] = [];
  const hashes: string[] = [];
  const losses: number[] = [];
  const samplerStates: S[] = [];
  const { state, samplerState } = await runTraining({
    ...o,
    onStep: async (info, ss) => {
      batches.push(info.batch);
      losses.push(info.loss);
      samplerStates.push(ss);
      hashes.push(await stateHash(info.state));
      await o.onStep?.(info, ss);
    },
  });
  return { batches, hashes, losses, samplerStates, final: state, samplerState };
}

/** Frees a state's tensors. */
export const disposeState = (s: TrainState): void => dispose([s.params, s.opt]);

/** The online run of a world from its initial params; returns the recording. */
export async function recordOnline(w: TinyWorld, steps: number): Promise<Recording<null>> {
  const state = initTrainState(w.setup, w.params0);
  const rec = await record({ setup: w.setup, sampler: w.online, state, until: steps, key: w.key });
  dispose(state.opt);
  return rec;
}

/** A replay of recorded batches through the same setup from the same initial params. */
export async function recordReplay<S>(w: TinyWorld, sampler: Sampler<S>, steps: number): Promise<Recording<S>> {
  const state = initTrainState(w.setup, w.params0);
  const rec = await record({ setup: w.setup, sampler, state, until: steps, key: w.key });
  dispose(state.opt);
  return rec;
}

/** The index of the first differing element of two arrays, or -1. */
export function firstDifference<T>(a: readonly T[], b: readonly T[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

// ----------------------------------------------------------------------------- webgpu or skip

/** TANDEM_REQUIRE_WEBGPU=1: a missing adapter is a failure, not a skip. */
export const REQUIRE_WEBGPU = process.env.TANDEM_REQUIRE_WEBGPU === '1';

export interface WebGPUProbe {
  /** The webgpu backend, when an adapter and device could be created. */
  backend?: Backend;
  /** Why not, otherwise. */
  reason?: string;
  description?: string;
}

/**
 * Tries to initialise the webgpu backend once per test file. Without an adapter it prints the
 * reason (a skip) unless TANDEM_REQUIRE_WEBGPU=1, where the caller must fail (see `requireOrSkip`).
 */
export async function probeWebGPU(what: string): Promise<WebGPUProbe> {
  try {
    const backend = await initBackend('webgpu');
    return { backend, description: webgpuAdapterInfo()?.description };
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    if (!REQUIRE_WEBGPU) console.warn(`${what}: skipped on webgpu (no usable adapter: ${reason})`);
    return { reason };
  }
}

/** The webgpu backend, or a throw (failing the test) when webgpu is required but missing. */
export function assertWebGPU(p: WebGPUProbe): Backend {
  if (!p.backend) throw new Error(`TANDEM_REQUIRE_WEBGPU=1 but the webgpu backend cannot be created: ${p.reason}`);
  return p.backend;
}

/** Whether a webgpu suite should be skipped (no adapter and not required). */
export const skipWebGPU = (p: WebGPUProbe): boolean => !p.backend && !REQUIRE_WEBGPU;

// ----------------------------------------------------------------------------- independent references

/**
 * log π(y|x) of ONE unpadded row in float64 (float32 logits, then a plain-JS log-softmax and
 * sum), the test's own reading of a label, and per-pair float64 margins (reference.ts, shared
 * with the rlhf loss tests). Independent of the padding, masking, fused log-softmax and gather code
 * the losses go through.
 */
export { float64Margins, float64SequenceLogProb, ordered as orderedPair } from './reference.js';

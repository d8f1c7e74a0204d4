/**
 * Immutable pair datasets: D_initial from a task's behaviour policies and noisy raters,
 * relabelling (D_golden), datasets of sampled responses (D_{a vs b}), and the plumbing
 * (concatenation, prefixes, splits, statistics). Every constructor is a pure function of
 * its arguments and keys, and every dataset is deeply frozen, so a dataset can be shared,
 * recorded and replayed without defensive copies.
 */
import { foldIn, type Key } from '@tandem/tensor';
import { RlhfError } from './errors.js';
import type { Labeller } from './labellers.js';
import { rngFromKey, rngs } from './rng.js';
import { behavioursFor, getTask, judge, rate, type BehaviourPolicy, type Coverage, type Task } from './tasks/index.js';
import { sameTokens, type Comparison, type Pair, type PairDataset, type Provenance, type Tokens } from './types.js';

const freezeTokens = (ts: Tokens): Tokens => (Object.isFrozen(ts) ? ts : Object.freeze([...ts]));

function freezeProvenance(p: Provenance): Provenance {
  if (Object.isFrozen(p)) return p;
  const out: { -readonly [K in keyof Provenance]: Provenance[K] } = { task: p.task, source: p.source, labeller: p.labeller };
  if (p.step !== undefined) out.step = p.step;
  return Object.freeze(out);
}

/** A frozen copy of a pair (token lists and provenance frozen too; already-frozen parts are shared). */
export function freezePair(p: Pair): Pair {
  if (Object.isFrozen(p) && Object.isFrozen(p.prompt) && Object.isFrozen(p.y1) && Object.isFrozen(p.y2) && Object.isFrozen(p.provenance)) return p;
  return Object.freeze({
    prompt: freezeTokens(p.prompt),
    y1: freezeTokens(p.y1),
    y2: freezeTokens(p.y2),
    preference: p.preference,
    provenance: freezeProvenance(p.provenance),
  });
}

/** A deeply frozen dataset from a name and pairs (pairs are frozen, not validated; see codecs for validation). */
export function makeDataset(name: string, pairs: readonly Pair[]): PairDataset {
  return Object.freeze({ name, pairs: Object.freeze(pairs.map(freezePair)) });
}

/** Options of `initialDataset`. */
export interface InitialDatasetOptions {
  /** Number of pairs. */
  readonly size: number;
  /** The key every draw derives from. */
  readonly key: Key;
  /** Dataset name; default `<task>/initial`. */
  readonly name?: string;
  /**
   * Which behaviour policies write the responses (see `behavioursFor`); default 'suboptimal'
   * (the paper's regime: only policies that emit the exact ideal on < 5% of prompts). 'covered'
   * adds the near-ideal ones (noisy-0.1, noisy-0.3, ...), so the optimum is in the data.
   */
  readonly coverage?: Coverage;
}

/** Options of `pooledInitialDataset`. */
export interface PooledInitialDatasetOptions {
  /** Number of pairs of each task. */
  readonly sizePerTask: number;
  /** The key every task's part derives from. */
  readonly key: Key;
  /** Dataset name; default `<task1>+<task2>+…/initial`. */
  readonly name?: string;
  /** The behaviour mixture of every task's part; default 'suboptimal' (see `InitialDatasetOptions.coverage`). */
  readonly coverage?: Coverage;
}

/** How many times `initialDataset` redraws a pair whose two responses are identical. */
export const MAX_REDRAWS = 8;

/**
 * One D_initial pair from the behaviour mixture `bps`: pair i uses its own key foldIn(key, i),
 * split into one stream per purpose (prompt, policies, y1, y2, rater), so pair i does not depend
 * on the size or on other pairs.
 */
function initialPair(task: Task, bps: readonly BehaviourPolicy[], k: Key): Pair {
  const r = rngs(k, ['prompt', 'policies', 'y1', 'y2', 'rater']);
  const prompt = task.samplePrompt(r.prompt!);
  // Identical responses carry no preference (the label would be a coin flip), and real
  // comparison data is collected on distinct responses: redraw the WHOLE pair (both policies,
  // both responses) when they coincide. Redrawing only one side would bias that side towards
  // worse responses (coincidences are mostly two ideal responses), i.e. teach a position bias;
  // rejecting whole pairs keeps (y1, y2) exchangeable. After MAX_REDRAWS the last pair is kept,
  // so a prompt whose policies can only agree cannot loop forever.
  let a = r.policies!.pick(bps);
  let b = r.policies!.pick(bps);
  let y1 = a.sample(r.y1!, prompt, task);
  let y2 = b.sample(r.y2!, prompt, task);
  for (let i = 0; i < MAX_REDRAWS && sameTokens(y1, y2); i++) {
    a = r.policies!.pick(bps);
    b = r.policies!.pick(bps);
    y1 = a.sample(r.y1!, prompt, task);
    y2 = b.sample(r.y2!, prompt, task);
  }
  return {
    prompt,
    y1,
    y2,
    preference: rate(task, r.rater!, prompt, y1, y2),
    provenance: { task: task.name, source: `behaviour:${a.name}|${b.name}`, labeller: 'rater' },
  };
}

/**
 * D_initial: `size` prompts from the task's prompt distribution, each with two responses from
 * two behaviour policies drawn uniformly from the mixture `behavioursFor(task, coverage)`
 * (possibly the same policy; a pair of identical responses is redrawn as a whole), labelled by
 * the task's noisy Bradley–Terry rater. The coverage defaults to 'suboptimal' (the paper's
 * regime: no behaviour policy emits the exact ideal on 5% of prompts or more). A pure function
 * of (task, size, key, coverage); prefix-stable: `take(initialDataset(t, {size: n, key}), m)`
 * has the pairs of size m.
 */
export function initialDataset(task: Task, o: InitialDatasetOptions): PairDataset {
  checkSize('initialDataset', o.size);
  const bps = behavioursFor(task, o.coverage ?? 'suboptimal');
  const pairs: Pair[] = [];
  for (let i = 0; i < o.size; i++) pairs.push(initialPair(task, bps, foldIn(o.key, i)));
  return makeDataset(o.name ?? `${task.name}/initial`, pairs);
}

/** A 32-bit FNV-1a hash of a string: a stable per-task key derivation that ignores task order. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * D_initial of several tasks pooled (the paper's SFT and preference models see all tasks):
 * each task's part is `initialDataset(task, {size: sizePerTask, key: foldIn(key, fnv1a(name)), coverage})`,
 * so adding or reordering tasks never changes another task's pairs. Parts are concatenated
 * in the given order. The coverage defaults to 'suboptimal', as for `initialDataset`.
 */
export function pooledInitialDataset(tasks: readonly Task[], o: PooledInitialDatasetOptions): PairDataset {
  const parts = tasks.map((t) =>
    initialDataset(t, { size: o.sizePerTask, key: foldIn(o.key, fnv1a(t.name)), coverage: o.coverage ?? 'suboptimal' }),
  );
  return concatDatasets(o.name ?? `${tasks.map((t) => t.name).join('+')}/initial`, parts);
}

/**
 * The same pairs with new labels from `labeller` (e.g. D_golden = D_initial relabelled by the
 * golden model), all labelled by one call `labeller.label(dataset.pairs, k)`, so a noisy labeller
 * draws pair i's noise i-th from its key's stream. Provenance keeps task, source and step and
 * records `labeller.name` as the labeller.
 */
export async function relabel(dataset: PairDataset, labeller: Labeller, k: Key, name: string): Promise<PairDataset> {
  const labels = await labelAll('relabel', labeller, dataset.pairs, k);
  return makeDataset(
    name,
    dataset.pairs.map((p, i) => relabelled(p, checkLabel(labels[i], p, 'relabel'), labeller.name)),
  );
}

function relabelled(p: Pair, preference: 0 | 1, labeller: string): Pair {
  return { ...p, preference, provenance: { ...p.provenance, labeller } };
}

/** `labeller.label(items, k)`, checked to return one label per item. */
async function labelAll(op: string, labeller: Labeller, items: readonly Comparison[], k: Key): Promise<readonly unknown[]> {
  const labels = await labeller.label(items, k);
  if (labels.length !== items.length) {
    throw new RlhfError('shape', `${op}: the labeller returned ${labels.length} labels for ${items.length} pairs`);
  }
  return labels;
}

function checkLabel(l: unknown, p: Comparison, op: string): 0 | 1 {
  if (l !== 0 && l !== 1) throw new RlhfError('bad-label', `${op}: a label must be 0 or 1, got ${JSON.stringify(l)} for prompt [${p.prompt.join(' ')}]`);
  return l;
}

/** The provenance shared by every pair of a dataset of sampled responses; the labeller is the Labeller's name. */
export type PairProvenance = Omit<Provenance, 'labeller'>;

/**
 * D_{a vs b}: pairs (prompts[i], responses1[i], responses2[i]) labelled by one call
 * `labeller.label(pairs, k)`, all with the given provenance and `labeller.name` as the labeller.
 * The sampling is done elsewhere (by the policies); this only assembles.
 */
export async function pairDataset(
  name: string,
  prompts: readonly Tokens[],
  responses1: readonly Tokens[],
  responses2: readonly Tokens[],
  labeller: Labeller,
  k: Key,
  provenance: PairProvenance,
): Promise<PairDataset> {
  if (responses1.length !== prompts.length || responses2.length !== prompts.length) {
    throw new RlhfError('shape', `pairDataset: ${prompts.length} prompts but ${responses1.length} first and ${responses2.length} second responses`);
  }
  const prov = freezeProvenance({ ...provenance, labeller: labeller.name });
  const items: Comparison[] = prompts.map((prompt, i) => ({ prompt, y1: responses1[i]!, y2: responses2[i]! }));
  const labels = await labelAll('pairDataset', labeller, items, k);
  return makeDataset(
    name,
    items.map((c, i) => ({ ...c, preference: checkLabel(labels[i], c, 'pairDataset'), provenance: prov })),
  );
}

/** All pairs of `datasets` in order, under a new name. */
export function concatDatasets(name: string, datasets: readonly PairDataset[]): PairDataset {
  return makeDataset(
    name,
    datasets.flatMap((d) => d.pairs),
  );
}

/** The first `n` pairs (all of them when n ≥ size); name `<name>[:n]` unless given. */
export function take(ds: PairDataset, n: number, name?: string): PairDataset {
  checkSize('take', n);
  return makeDataset(name ?? `${ds.name}[:${n}]`, ds.pairs.slice(0, n));
}

/**
 * A random split into [train, heldOut] with round(fraction·n) pairs in train; the held-out
 * pairs are a uniformly random subset chosen by `key`, and both parts keep the original order.
 */
export function splitDataset(ds: PairDataset, fraction: number, k: Key): [PairDataset, PairDataset] {
  if (!(fraction >= 0 && fraction <= 1)) throw new RlhfError('bad-input', `splitDataset: fraction must be in [0, 1], got ${fraction}`);
  const n = ds.pairs.length;
  const nTrain = Math.round(fraction * n);
  const perm = rngFromKey(k).shuffle(Array.from({ length: n }, (_, i) => i));
  const inTrain = new Uint8Array(n);
  for (const i of perm.slice(0, nTrain)) inTrain[i] = 1;
  return [
    makeDataset(`${ds.name}/train`, ds.pairs.filter((_, i) => inTrain[i] === 1)),
    makeDataset(`${ds.name}/heldout`, ds.pairs.filter((_, i) => inTrain[i] === 0)),
  ];
}

/** Summary statistics of a dataset under the tasks' hidden utilities. */
export interface DatasetStats {
  /** Number of pairs. */
  readonly size: number;
  /** Mean utility of the first / second / both responses. */
  readonly meanUtilityY1: number;
  /** Mean utility of the second responses. */
  readonly meanUtilityY2: number;
  /** Mean utility of all responses, first and second. */
  readonly meanUtility: number;
  /** Mean utility of the labelled winners and losers (their gap shows label quality). */
  readonly meanUtilityWinner: number;
  /** Mean utility of the labelled losers. */
  readonly meanUtilityLoser: number;
  /** Mean utility of the ideal responses of the dataset's prompts (the ceiling). */
  readonly meanIdealUtility: number;
  /** Fraction of pairs labelled y1 ≻ y2. */
  readonly labelBalance: number;
  /** Fraction of labels agreeing with the noise-free judgement, among pairs whose utilities differ. */
  readonly judgeAgreement: number;
  /** Fraction of pairs whose two responses have equal utility (judge = 0.5), identical responses included. */
  readonly ties: number;
  /** Mean token counts (EOS included). */
  readonly meanPromptLength: number;
  /** Mean token count of the first responses (EOS included). */
  readonly meanLengthY1: number;
  /** Mean token count of the second responses (EOS included). */
  readonly meanLengthY2: number;
}

/**
 * Statistics of `ds` under a task's utility. With no task, each pair's `provenance.task` is
 * looked up in the TASKS registry (so pooled datasets work). An empty dataset gives NaN means.
 */
export function datasetStats(ds: PairDataset, task?: Task): DatasetStats {
  const n = ds.pairs.length;
  let u1 = 0, u2 = 0, uw = 0, ul = 0, ui = 0, bal = 0, agree = 0, decided = 0, ties = 0, lp = 0, l1 = 0, l2 = 0;
  for (const p of ds.pairs) {
    const t = task ?? getTask(p.provenance.task);
    const a = t.utility(p.prompt, p.y1);
    const b = t.utility(p.prompt, p.y2);
    u1 += a;
    u2 += b;
    uw += p.preference === 1 ? a : b;
    ul += p.preference === 1 ? b : a;
    ui += t.utility(p.prompt, t.idealResponse(p.prompt));
    bal += p.preference;
    const j = judge(t, p.prompt, p.y1, p.y2);
    if (j === 0.5) ties++;
    else {
      decided++;
      if (j === p.preference) agree++;
    }
    lp += p.prompt.length;
    l1 += p.y1.length;
    l2 += p.y2.length;
  }
  return Object.freeze({
    size: n,
    meanUtilityY1: u1 / n,
    meanUtilityY2: u2 / n,
    meanUtility: (u1 + u2) / (2 * n),
    meanUtilityWinner: uw / n,
    meanUtilityLoser: ul / n,
    meanIdealUtility: ui / n,
    labelBalance: bal / n,
    judgeAgreement: agree / decided,
    ties: ties / n,
    meanPromptLength: lp / n,
    meanLengthY1: l1 / n,
    meanLengthY2: l2 / n,
  });
}

function checkSize(op: string, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32) throw new RlhfError('bad-input', `${op}: size must be a non-negative integer below 2^32, got ${n}`);
}

/**
 * Samplers decide which pairs the training step sees next — the ONLY thing that
 * differs between online and offline training. Every sampler is a pure
 * `next(state, ctx)`: its randomness comes from the step's key, so a run is a
 * function of its config, and the online stream can be recorded and replayed.
 */
import type { TransformerParams } from '@tandem/nn';
import { foldIn, split, type Backend, type Key } from '@tandem/tensor';
import { RlhfError } from './errors.js';
import type { Labeller } from './labellers.js';
import { sampleResponses, type PolicySpec } from './policy.js';
import { rngFromKey } from './rng.js';
import type { Pair, PairBatch, PairDataset, Tokens } from './types.js';

/** What a sampler may use at step `step`: the current policy and this step's key. */
export interface StepContext {
  /** The training step the batch is for (also recorded in online pairs' provenance). */
  readonly step: number;
  /** The current policy params (online samplers draw responses from them). */
  readonly params: TransformerParams;
  /** This step's key; the sampler's only source of randomness. */
  readonly key: Key;
  /** Where sampling runs. */
  readonly backend: Backend;
}

/** A source of training batches, with serialisable state (so runs can resume). */
export interface Sampler<S> {
  /** A name describing the sampler, e.g. 'online', 'offline:<dataset>', 'replay'. */
  readonly name: string;
  /** The state before the first step. */
  readonly init: S;
  /** The next batch and the state after it; pure given `state` and `ctx` (randomness from `ctx.key`). */
  next(state: S, ctx: StepContext): Promise<[PairBatch, S]>;
}

/** Options for {@link onlineSampler}. */
export interface OnlineOptions {
  /** The policy architecture and padding widths. */
  spec: PolicySpec;
  /** The prompts to draw from (training prompts). */
  prompts: readonly Tokens[];
  /** Prompts per step (each gives one pair). */
  batchSize: number;
  /** Labels the policy's two samples (the proxy model, or the golden model for the golden baseline). */
  labeller: Labeller;
  /** Task name recorded in each pair's provenance. */
  task: string;
  /** Sampling temperature (default 1). */
  temperature?: number;
}

/**
 * Online: each step draws `batchSize` prompts, samples two responses per prompt from the
 * CURRENT policy and labels them. The emitted batches, in order, are D_online.
 */
export function onlineSampler(o: OnlineOptions): Sampler<null> {
  if (o.prompts.length < o.batchSize) throw new RlhfError('empty-dataset', `onlineSampler: ${o.prompts.length} prompts cannot fill a batch of ${o.batchSize}`);
  return {
    name: 'online',
    init: null,
    async next(_s, ctx) {
      const [kp, ks, kl] = split(ctx.key, 3) as [Key, Key, Key];
      const idx = rngFromKey(kp).shuffle(o.prompts.map((_, i) => i)).slice(0, o.batchSize);
      const prompts = idx.map((i) => o.prompts[i]!);
      // Both samples of every prompt in one generate call of 2B rows.
      const ys = await sampleResponses(ctx.params, o.spec, [...prompts, ...prompts], ks, ctx.backend, o.temperature ?? 1);
      const items = prompts.map((prompt, i) => ({ prompt, y1: ys[i]!, y2: ys[i + prompts.length]! }));
      const labels = await o.labeller.label(items, kl);
      const pairs: Pair[] = items.map((c, i) => ({
        ...c,
        preference: labels[i]!,
        provenance: { task: o.task, source: 'policy:online', labeller: o.labeller.name, step: ctx.step },
      }));
      return [{ pairs }, null];
    },
  };
}

/** Offline state: how many pairs of the epoch stream have been consumed. */
export interface OfflineState {
  /** Position in the concatenated epoch stream: the number of pairs consumed so far. */
  readonly cursor: number;
}

/**
 * Offline: batches of a fixed dataset, in epoch orders drawn from `key` (epoch e
 * uses the permutation of foldIn(key, e)); batches run across epoch boundaries.
 */
export function offlineSampler(ds: PairDataset, o: { batchSize: number; key: Key }): Sampler<OfflineState> {
  const n = ds.pairs.length;
  if (n === 0) throw new RlhfError('empty-dataset', `offlineSampler: dataset '${ds.name}' is empty`);
  const perms = new Map<number, number[]>();
  const order = (e: number) => {
    let p = perms.get(e);
    if (!p) {
      p = rngFromKey(foldIn(o.key, e)).shuffle(ds.pairs.map((_, i) => i));
      perms.set(e, p);
      if (perms.size > 4) perms.delete(perms.keys().next().value!);
    }
    return p;
  };
  return {
    name: `offline:${ds.name}`,
    init: { cursor: 0 },
    async next(s) {
      const pairs: Pair[] = [];
      for (let c = s.cursor; c < s.cursor + o.batchSize; c++) pairs.push(ds.pairs[order(Math.floor(c / n))[c % n]!]!);
      return [{ pairs }, { cursor: s.cursor + o.batchSize }];
    },
  };
}

/** Replay: a recorded stream of batches, in order. */
export function replaySampler(stream: readonly PairBatch[], name = 'replay'): Sampler<number> {
  return {
    name,
    init: 0,
    async next(i) {
      const b = stream[i];
      if (!b) throw new RlhfError('empty-dataset', `${name}: the recorded stream has ${stream.length} batches; batch ${i} was asked for`);
      return [b, i + 1];
    },
  };
}

/**
 * The stream with its batches shuffled within consecutive windows of `window` batches:
 * 1 is the stream itself, ≥ its length a uniform shuffle. Always a permutation.
 */
export function shuffleStream<T>(stream: readonly T[], window: number, k: Key): T[] {
  if (!Number.isInteger(window) || window < 1) throw new RlhfError('bad-input', `shuffleStream: window must be a positive integer, got ${window}`);
  const out: T[] = [];
  for (let start = 0, w = 0; start < stream.length; start += window, w++) {
    out.push(...rngFromKey(foldIn(k, w)).shuffle(stream.slice(start, start + window)));
  }
  return out;
}

/** Replay of `shuffleStream(stream, window, key)`. */
export function shuffledSampler(stream: readonly PairBatch[], window: number, k: Key): Sampler<number> {
  return replaySampler(shuffleStream(stream, window, k), `shuffled:${window}`);
}

/**
 * A mixture: each step takes its batch from `a` with probability `pA` (by the step's
 * key), else from `b`; both states are kept.
 */
export function mixtureSampler<A, B>(a: Sampler<A>, b: Sampler<B>, pA: number): Sampler<[A, B]> {
  if (!(pA >= 0 && pA <= 1)) throw new RlhfError('bad-input', `mixtureSampler: pA must lie in [0, 1], got ${pA}`);
  return {
    name: `mix(${a.name},${b.name},${pA})`,
    init: [a.init, b.init],
    async next([sa, sb], ctx) {
      const [kc, kn] = split(ctx.key) as [Key, Key];
      const sub = { ...ctx, key: kn };
      if (rngFromKey(kc).next() < pA) {
        const [batch, na] = await a.next(sa, sub);
        return [batch, [na, sb]];
      }
      const [batch, nb] = await b.next(sb, sub);
      return [batch, [sa, nb]];
    },
  };
}

/**
 * Explicit, splittable randomness (JAX style). A key is a plain immutable value;
 * `split` derives independent keys, and every draw is a pure function of its key,
 * so the same key gives the same bits on every run and on every backend.
 *
 * Domain separation: draws use Philox counters (i, 0, 0, 0); `split` uses
 * (i, 0, 1, 0) and `foldIn` uses (data, 0, 2, 0), so derived keys never collide
 * with a stream drawn from the parent.
 */
import type { Backend } from './backend.js';
import { TensorError } from './errors.js';
import * as P from './ops.js';
import { philox4x32 } from './philox.js';
import { getBackend, type BackendName } from './registry.js';
import { checkShape } from './shape.js';
import type { Tensor } from './tensor.js';

/** A Philox key: two uint32 words. Immutable; serialise it as its two numbers. */
export interface Key {
  /** Brand tag that marks the object as a key. */
  readonly kind: 'tandem.key';
  /** The two uint32 key words. */
  readonly words: readonly [number, number];
}

function mk(k0: number, k1: number): Key {
  return Object.freeze({ kind: 'tandem.key', words: Object.freeze([k0 >>> 0, k1 >>> 0]) as readonly [number, number] });
}

function checkKey(op: string, k: Key): void {
  if (!k || k.kind !== 'tandem.key') throw new TensorError(op, `expected a random key made by key(seed), got ${JSON.stringify(k)}`);
}

/** A key from a non-negative integer seed (up to 2^53). */
export function key(seed: number): Key {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new TensorError('key', `seed must be a non-negative safe integer, got ${seed}`);
  return mk(seed % 0x100000000, Math.floor(seed / 0x100000000));
}

/** A key from its two words (e.g. read back from a checkpoint). */
export function keyFromWords(words: readonly [number, number]): Key {
  if (words.length !== 2 || !words.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32)) {
    throw new TensorError('keyFromWords', `expected two uint32 words, got ${JSON.stringify(words)}`);
  }
  return mk(words[0], words[1]);
}

/** `n` new independent keys derived from `k`. */
export function split(k: Key, n = 2): Key[] {
  checkKey('split', k);
  if (!Number.isInteger(n) || n < 1) throw new TensorError('split', `n must be a positive integer, got ${n}`);
  const out: Key[] = [];
  const w = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    philox4x32(k.words[0], k.words[1], i, 0, 1, 0, w);
    out.push(mk(w[0]!, w[1]!));
  }
  return out;
}

/** A new key derived from `k` and an integer (e.g. a step number). */
export function foldIn(k: Key, data: number): Key {
  checkKey('foldIn', k);
  if (!Number.isInteger(data) || data < 0 || data >= 2 ** 32) throw new TensorError('foldIn', `data must be a uint32, got ${data}`);
  const w = [0, 0, 0, 0];
  philox4x32(k.words[0], k.words[1], data, 0, 2, 0, w);
  return mk(w[0]!, w[1]!);
}

/** Options for the random samplers. */
export interface RandomOptions {
  /** A backend instance or name to create the sample on; the default backend when omitted. */
  backend?: Backend | BackendName;
}

function be(o: RandomOptions): Backend {
  return o.backend === undefined || typeof o.backend === 'string' ? getBackend(o.backend) : o.backend;
}

/** Raw uint32 words (as int32), identical on every backend. */
export function randomBits(k: Key, shape: readonly number[], opts: RandomOptions = {}): Tensor {
  checkKey('randomBits', k);
  checkShape('randomBits', shape);
  return P.randomRaw(k.words[0], k.words[1], shape, 'bits', be(opts));
}

/**
 * float32 uniform on [minval, maxval). The unit draw is (floor(w/2^9) + 0.5)·2^-23 for
 * a word w, strictly inside (0, 1), so logs of it are always finite; it is identical
 * on every backend.
 */
export function uniform(k: Key, shape: readonly number[], opts: RandomOptions & { minval?: number; maxval?: number } = {}): Tensor {
  checkKey('uniform', k);
  checkShape('uniform', shape);
  const u = P.randomRaw(k.words[0], k.words[1], shape, 'uniform', be(opts));
  const lo = opts.minval ?? 0;
  const hi = opts.maxval ?? 1;
  if (!(hi > lo)) throw new TensorError('uniform', `maxval ${hi} must exceed minval ${lo}`);
  if (lo === 0 && hi === 1) return u;
  // u·(hi − lo) + lo can round up to hi itself (e.g. a narrow range far from 0); keep [lo, hi) half-open.
  return P.minimum(P.add(P.mul(u, hi - lo), lo), float32Below(hi));
}

/** The largest float32 strictly below x. */
function float32Below(x: number): number {
  const f = Math.fround(x);
  if (f < x) return f;
  if (f === 0) return -(2 ** -149);
  const bits = new Float32Array([f]);
  const words = new Int32Array(bits.buffer);
  words[0]! += f > 0 ? -1 : 1;
  return bits[0]!;
}

/** float32 standard normal draws (Box–Muller on two uniform streams from split keys). */
export function normal(k: Key, shape: readonly number[], opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  checkKey('normal', k);
  const [k1, k2] = split(k) as [Key, Key];
  const u1 = uniform(k1, shape, opts);
  const u2 = uniform(k2, shape, opts);
  const r = P.sqrt(P.mul(P.log(u1), -2));
  const z = P.mul(r, P.cos(P.mul(u2, 2 * Math.PI)));
  const std = opts.std ?? 1;
  const mean = opts.mean ?? 0;
  return std === 1 && mean === 0 ? z : P.add(P.mul(z, std), mean);
}

/** bool draws, true with probability `p` (a number or a broadcastable float32 tensor). */
export function bernoulli(k: Key, p: number | Tensor, shape: readonly number[], opts: RandomOptions = {}): Tensor {
  if (typeof p === 'number' && !(p >= 0 && p <= 1)) throw new TensorError('bernoulli', `p must lie in [0, 1], got ${p}`);
  return P.lt(uniform(k, shape, opts), p);
}

/**
 * int32 class indices drawn from the categorical distribution with the given
 * (unnormalised) log-probabilities along `axis`, by the Gumbel-max trick.
 */
export function categorical(k: Key, logits: Tensor, axis = -1): Tensor {
  checkKey('categorical', k);
  if (logits.dtype !== 'float32') throw new TensorError('categorical', `logits must be float32, got ${logits.dtype}`, 'dtype');
  const u = uniform(k, logits.shape, { backend: logits.backend });
  const gumbel = P.neg(P.log(P.neg(P.log(u))));
  return P.argmax(P.add(logits, gumbel), axis);
}

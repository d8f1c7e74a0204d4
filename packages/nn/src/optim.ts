/**
 * Optimisers in the optax style: each is a pure `(init, update)` pair over
 * pytrees. `update` maps gradients (and the previous state) to *additive*
 * updates and a new state; `applyUpdates(params, updates)` adds them. Nothing is
 * mutated and there is no hidden state — the step counter lives in the state as a
 * plain number — so an optimiser state can be checkpointed, compared, or replayed.
 *
 * Ownership: `update` never disposes its inputs. The caller owns the old state,
 * the gradients and the returned updates, and disposes them when done (a training
 * loop typically disposes `grads`, `updates`, the old params and the old state
 * after each step). Intermediates are freed inside `tidy`.
 *
 * Numerics follow PyTorch (torch.optim.SGD / Adam / AdamW, foreach=False) op for
 * op where that is possible with float32 primitives: bias corrections and step
 * sizes are computed in float64 JS numbers and applied as float32 scalars, so a
 * tandem run tracks a PyTorch run to within float32 rounding.
 */
import { NnError } from './errors.js';
import {
  adamStep, add, div, maximum, mul, shapesEqual, sqrt, sum, tidy, treeFlatten, treeUnflatten, treeZip, zerosLike,
  type PyTree, type Tensor,
} from '@tandem/tensor';

// ----------------------------------------------------------------------------- types

/** A learning-rate schedule: the rate to use for the update made after `step` earlier updates (0-based). */
export type Schedule = (step: number) => number;

/** A fixed learning rate, or a schedule evaluated at the state's step counter. */
export type LearningRate = number | Schedule;

/**
 * A gradient transformation: `init` builds the state for a params pytree;
 * `update` turns gradients into additive updates and the next state. The state is
 * a plain pytree (tensors and numbers), so it flattens, checkpoints and
 * round-trips like params do.
 */
export interface GradientTransformation<S = unknown> {
  /** The initial state for the params pytree (only its structure, shapes and dtypes are used). */
  init(params: unknown): S;
  /**
   * Updates to add to the params (a pytree shaped like `grads`), and the next
   * state. `params` is needed only by transforms that read the current weights
   * (`adamw`). Pytrees are typed loosely (`unknown` in, `G` out) so that params
   * declared as interfaces, which TypeScript will not treat as index-signature
   * types, flow through without casts.
   */
  update<G>(grads: G, state: S, params?: unknown): [updates: G, state: S];
}

/** The state of a transform that keeps nothing (`scale`, `clipByGlobalNorm`). */
export type EmptyState = Readonly<Record<string, never>>;

/** The state of a transform that only counts its updates (`scaleByLearningRate`). */
export interface CountState {
  /** Updates made so far; schedules are evaluated at this value. */
  readonly count: number;
}

/** `sgd`'s state: the update count and, with momentum, the velocity (a pytree like the params). */
export interface SgdState extends CountState {
  /** Momentum velocity (sum of past gradients decayed by `momentum`), shaped like the params; absent without momentum. */
  readonly trace?: PyTree;
}

/** `adam`/`adamw` state: the update count and the first and second moment estimates. */
export interface AdamState extends CountState {
  /** First moment: exponential moving average of the gradients (before bias correction), shaped like the params. */
  readonly mu: PyTree;
  /** Second moment: exponential moving average of the squared gradients (before bias correction), shaped like the params. */
  readonly nu: PyTree;
}

/** The state type of a transformation, e.g. for typing a checkpoint. */
export type StateOf<T> = T extends GradientTransformation<infer S> ? S : never;

// ----------------------------------------------------------------------------- validation

function checkNumber(op: string, name: string, v: unknown, lo: number, hi: number, hiOpen: boolean, loOpen = false): number {
  const ok = typeof v === 'number' && Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
  if (!ok) {
    const range = `${loOpen ? '(' : '['}${lo}, ${hi === Infinity ? '∞' : hi}${hiOpen || hi === Infinity ? ')' : ']'}`;
    throw new NnError(op, `${name} must be a finite number in ${range}, got ${typeof v === 'number' ? v : JSON.stringify(v)}`, 'argument');
  }
  return v as number;
}

function checkLearningRate(op: string, lr: unknown): LearningRate {
  if (typeof lr === 'function') return lr as Schedule;
  return checkNumber(op, 'lr', lr, 0, Infinity, true);
}

/** The learning rate for the update after `step` earlier ones; a schedule's value is checked every time. */
function lrAt(op: string, lr: LearningRate, step: number): number {
  if (typeof lr === 'number') return lr;
  const v = lr(step);
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new NnError(op, `the learning-rate schedule returned ${String(v)} at step ${step}; expected a finite non-negative number`, 'argument');
  }
  return v;
}

function checkCount(op: string, state: unknown): number {
  const c = (state as { count?: unknown } | null)?.count;
  if (typeof c !== 'number' || !Number.isSafeInteger(c) || c < 0) {
    throw new NnError(op, `expected a state made by this optimiser's init (with a non-negative integer count), got count ${JSON.stringify(c)}`, 'argument');
  }
  return c;
}

/** Throws unless every tensor leaf is float32: optimiser arithmetic on ints or bools is a bug. */
function checkFloat(op: string, what: string, tree: unknown): void {
  const [leaves] = treeFlatten(tree);
  leaves.forEach((t, i) => {
    if (t.dtype !== 'float32') {
      throw new NnError(op, `${what} leaf ${i} is ${t.dtype}[${t.shape.join(',')}]; optimisers work on float32 tensors only`, 'shape');
    }
  });
}

/**
 * Implementations work on untyped pytrees; this gives them the public,
 * structure-preserving signature (updates are shaped like the gradients).
 */
function transformation<S>(t: {
  init(params: unknown): S;
  update(grads: unknown, state: S, params?: unknown): [unknown, S];
}): GradientTransformation<S> {
  return t as unknown as GradientTransformation<S>;
}

// ----------------------------------------------------------------------------- applying updates

/**
 * `params + updates`, leaf by leaf, as new tensors (neither input is disposed).
 * Shapes must match exactly: a broadcast here would silently change a
 * parameter's shape, so it is an error instead.
 */
export function applyUpdates<P>(params: P, updates: unknown): P {
  return tidy(() =>
    treeZip<P>((p: Tensor, u: Tensor) => {
      if (!shapesEqual(p.shape, u.shape) || p.dtype !== u.dtype) {
        throw new NnError('applyUpdates', `an update ${u.dtype}[${u.shape.join(',')}] does not match its parameter ${p.dtype}[${p.shape.join(',')}]`, 'shape');
      }
      return add(p, u);
    }, params, updates),
  );
}

/**
 * One optimiser step: `opt.update(grads, state, params)` then `applyUpdates(params, updates)`,
 * returning the new params and the new optimiser state — the `update` + `apply_updates`
 * pair every optax training loop writes, in one call. The updates are intermediate and
 * freed here; the inputs (grads, state, params) are not disposed, so the caller disposes
 * them when done, exactly as with `update` and `applyUpdates` called by hand (the numbers
 * are the same, op for op).
 */
export function optimizerStep<P, S>(opt: GradientTransformation<S>, grads: P, state: S, params: P): [params: P, state: S] {
  return tidy(() => {
    const [updates, next] = opt.update(grads, state, params);
    return [applyUpdates(params, updates), next];
  });
}

// ----------------------------------------------------------------------------- simple transforms

const EMPTY: EmptyState = Object.freeze({});

/** Multiplies updates by a constant `factor` (e.g. `scale(-1)` to turn a descent direction into an update). */
export function scale(factor: number): GradientTransformation<EmptyState> {
  checkNumber('scale', 'factor', factor, -Infinity, Infinity, true);
  return transformation<EmptyState>({
    init: () => EMPTY,
    update(grads, state) {
      checkFloat('scale', 'grads', grads);
      return [tidy(() => treeZip<PyTree>((g: Tensor) => mul(g, factor), grads)), state];
    },
  });
}

/**
 * Multiplies updates by `-lr(step)`: the negation turns a gradient-like direction
 * into a descent step, as optax's `scale_by_learning_rate`, so
 * `chain(clipByGlobalNorm(1), scaleByLearningRate(lr))` is clipped SGD. The count
 * is kept even for a constant rate, so every such state checkpoints the same way.
 */
export function scaleByLearningRate(lr: LearningRate): GradientTransformation<CountState> {
  const op = 'scaleByLearningRate';
  const rate = checkLearningRate(op, lr);
  return transformation<CountState>({
    init: () => Object.freeze({ count: 0 }),
    update(grads, state) {
      const count = checkCount(op, state);
      checkFloat(op, 'grads', grads);
      const step = -lrAt(op, rate, count);
      return [tidy(() => treeZip<PyTree>((g: Tensor) => mul(g, step), grads)), Object.freeze({ count: count + 1 })];
    },
  });
}

/**
 * Rescales all gradients together so their global L2 norm (over every leaf) is at
 * most `maxNorm`; below the threshold they pass through unchanged. The factor is
 * `maxNorm / max(norm, maxNorm)`, computed on the device without reading the norm
 * back, so clipping never stalls an accelerator; it is exactly 1 when no clipping
 * is needed, which makes the pass-through bit-exact.
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<EmptyState> {
  const op = 'clipByGlobalNorm';
  checkNumber(op, 'maxNorm', maxNorm, 0, Infinity, true, true);
  return transformation<EmptyState>({
    init: () => EMPTY,
    update(grads, state) {
      checkFloat(op, 'grads', grads);
      const [leaves] = treeFlatten(grads);
      if (leaves.length === 0) return [grads, state];
      const updates = tidy(() => {
        let sq: Tensor | undefined;
        for (const g of leaves) {
          const s = sum(mul(g, g));
          sq = sq ? add(sq, s) : s;
        }
        const factor = div(maxNorm, maximum(sqrt(sq!), maxNorm));
        return treeZip<PyTree>((g: Tensor) => mul(g, factor), grads);
      });
      return [updates, state];
    },
  });
}

/**
 * Runs transforms in sequence, each consuming the previous one's updates; the
 * state is the array of their states (so a chain's Adam moments sit at e.g.
 * `opt.1.mu` in a checkpoint). Intermediate updates are freed. An empty chain
 * is the identity and returns the gradients themselves.
 */
// `any` in the constraint only: a transformation's state type appears in both argument and
// result positions (invariant), so no other type admits every transformation; the result's
// state type is recovered exactly from `Ts` by StateOf.
export function chain<Ts extends readonly GradientTransformation<any>[]>(
  ...transforms: Ts
): GradientTransformation<{ readonly [K in keyof Ts]: StateOf<Ts[K]> }> {
  type S = { readonly [K in keyof Ts]: StateOf<Ts[K]> };
  transforms.forEach((t, i) => {
    if (!t || typeof t.init !== 'function' || typeof t.update !== 'function') {
      throw new NnError('chain', `argument ${i} is not a gradient transformation (an object with init and update)`, 'argument');
    }
  });
  return transformation<S>({
    init: (params) => Object.freeze(transforms.map((t) => t.init(params))) as unknown as S,
    update(grads, state, params) {
      const states = state as unknown as readonly unknown[];
      if (!Array.isArray(states) || states.length !== transforms.length) {
        throw new NnError('chain', `expected a state array of length ${transforms.length} made by this chain's init`, 'argument');
      }
      return tidy(() => {
        let u: unknown = grads;
        const next: unknown[] = [];
        transforms.forEach((t, i) => {
          const [ui, si] = t.update(u, states[i], params);
          u = ui;
          next.push(si);
        });
        return [u, Object.freeze(next) as unknown as S] as [PyTree, S];
      });
    },
  });
}

// ----------------------------------------------------------------------------- sgd

/** Options for `sgd`. */
export interface SgdOptions {
  /** Learning rate (≥ 0) or schedule. */
  lr: LearningRate;
  /** Momentum coefficient in [0, 1); 0 (the default) keeps no velocity. */
  momentum?: number;
  /** Nesterov momentum (needs momentum > 0), as in torch.optim.SGD. */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent, as torch.optim.SGD (dampening 0, no weight decay):
 * `v ← μ·v + g`, step direction `g + μ·v` (Nesterov) or `v`, update `-lr·direction`.
 * The velocity starts at zero, so the first step's velocity is exactly `g`, like
 * PyTorch's lazily created buffer.
 */
export function sgd(opts: SgdOptions): GradientTransformation<SgdState> {
  const op = 'sgd';
  if (!opts || typeof opts !== 'object') throw new NnError(op, 'expected an options object { lr, momentum?, nesterov? }', 'argument');
  const lr = checkLearningRate(op, opts.lr);
  const momentum = checkNumber(op, 'momentum', opts.momentum ?? 0, 0, 1, true);
  const nesterov = opts.nesterov ?? false;
  if (nesterov && momentum === 0) throw new NnError(op, 'nesterov momentum needs momentum > 0', 'argument');
  return transformation<SgdState>({
    init(params) {
      checkFloat(op, 'params', params);
      if (momentum === 0) return Object.freeze({ count: 0 });
      return Object.freeze({ count: 0, trace: tidy(() => treeZip<PyTree>((p: Tensor) => zerosLike(p), params)) });
    },
    update(grads, state) {
      const count = checkCount(op, state);
      checkFloat(op, 'grads', grads);
      const step = -lrAt(op, lr, count);
      if (momentum === 0) {
        return [tidy(() => treeZip<PyTree>((g: Tensor) => mul(g, step), grads)), Object.freeze({ count: count + 1 })];
      }
      if (state.trace === undefined) throw new NnError(op, 'the state has no momentum trace; it was made by an sgd without momentum', 'argument');
      return tidy(() => {
        const trace = treeZip<PyTree>((g: Tensor, v: Tensor) => add(mul(v, momentum), g), grads, state.trace);
        const dir = nesterov ? treeZip<PyTree>((g: Tensor, v: Tensor) => add(g, mul(v, momentum)), grads, trace) : trace;
        const updates = treeZip<PyTree>((d: Tensor) => mul(d, step), dir);
        return [updates, Object.freeze({ count: count + 1, trace })] as [PyTree, SgdState];
      });
    },
  });
}

// ----------------------------------------------------------------------------- adam / adamw

/** Options for `adam`. */
export interface AdamOptions {
  /** Learning rate (≥ 0) or schedule. */
  lr: LearningRate;
  /** First-moment decay in [0, 1); default 0.9. */
  b1?: number;
  /** Second-moment decay in [0, 1); default 0.999. */
  b2?: number;
  /** Added to the denominator for stability (≥ 0); default 1e-8. */
  eps?: number;
}

/** Options for `adamw`: Adam's plus the decoupled weight decay. */
export interface AdamWOptions extends AdamOptions {
  /** Decoupled weight decay (≥ 0); default 0.01, PyTorch's AdamW default. */
  weightDecay?: number;
}

function adamCore(op: string, opts: AdamWOptions, decoupled: boolean): GradientTransformation<AdamState> {
  if (!opts || typeof opts !== 'object') throw new NnError(op, 'expected an options object { lr, b1?, b2?, eps? }', 'argument');
  const lr = checkLearningRate(op, opts.lr);
  const b1 = checkNumber(op, 'b1', opts.b1 ?? 0.9, 0, 1, true);
  const b2 = checkNumber(op, 'b2', opts.b2 ?? 0.999, 0, 1, true);
  const eps = checkNumber(op, 'eps', opts.eps ?? 1e-8, 0, Infinity, true);
  const wd = decoupled ? checkNumber(op, 'weightDecay', opts.weightDecay ?? 0.01, 0, Infinity, true) : 0;
  return transformation<AdamState>({
    init(params) {
      checkFloat(op, 'params', params);
      return tidy(() => Object.freeze({
        count: 0,
        mu: treeZip<PyTree>((p: Tensor) => zerosLike(p), params),
        nu: treeZip<PyTree>((p: Tensor) => zerosLike(p), params),
      }));
    },
    update(grads, state, params) {
      const count = checkCount(op, state);
      checkFloat(op, 'grads', grads);
      if (decoupled && params === undefined) throw new NnError(op, 'update needs the current params for the decoupled weight decay: update(grads, state, params)', 'argument');
      const rate = lrAt(op, lr, count);
      // Exactly PyTorch's scalar arithmetic, in float64: t is 1-based.
      const t = count + 1;
      const stepSize = rate / (1 - b1 ** t);
      const bc2Sqrt = Math.sqrt(1 - b2 ** t);
      const decay = rate * wd;
      return tidy(() => {
        // Per leaf (tensor's adamStep, one fused pass where the backend has it):
        // m ← lerp(m, g, 1-b1); v ← b2·v + (1-b2)·g·g  (torch's lerp_ / mul_.addcmul_);
        // update = (-lr/bc1)·m / (sqrt(v)/sqrt(bc2) + eps)  (torch's addcdiv_ order),
        // plus -lr·wd·p first for AdamW.
        const mu: Tensor[] = [], nu: Tensor[] = [];
        const step = (g: Tensor, m: Tensor, v: Tensor, p?: Tensor): Tensor => {
          const [m2, v2, u] = adamStep(g, m, v, p, { b1, b2, eps, stepSize, bc2Sqrt, decay });
          mu.push(m2);
          nu.push(v2);
          return u;
        };
        // treeZip checks that the trees have one structure and visits their leaves in order.
        const updates = decoupled
          ? treeZip<PyTree>(step, grads, state.mu, state.nu, params)
          : treeZip<PyTree>(step, grads, state.mu, state.nu);
        const def = treeFlatten(grads)[1];
        const next = Object.freeze({ count: t, mu: treeUnflatten(def, mu), nu: treeUnflatten(def, nu) });
        return [updates, next] as [PyTree, AdamState];
      });
    },
  });
}

/**
 * Adam (Kingma & Ba) with PyTorch's bias correction: at 1-based step t,
 * `m̂ = m/(1-b1^t)`, `v̂ = v/(1-b2^t)`, update `-lr·m̂/(sqrt(v̂)+eps)`. The
 * corrections are float64 scalars folded in the same order as torch.optim.Adam,
 * so the numbers agree with PyTorch's to float32 rounding.
 */
export function adam(opts: AdamOptions): GradientTransformation<AdamState> {
  return adamCore('adam', opts, false);
}

/**
 * AdamW (Loshchilov & Hutter) as torch.optim.AdamW: Adam plus decoupled weight
 * decay `-lr·weightDecay·p`, added to the update rather than to the gradient so
 * it is not rescaled by the adaptive denominator. `update` needs `params`.
 */
export function adamw(opts: AdamWOptions): GradientTransformation<AdamState> {
  return adamCore('adamw', opts, true);
}

// ----------------------------------------------------------------------------- schedules

function checkStep(op: string, step: number): void {
  if (!(step >= 0)) throw new NnError(op, `step must be a non-negative number, got ${step}`, 'argument');
}

/** A schedule that always returns `value`. */
export function constant(value: number): Schedule {
  checkNumber('constant', 'value', value, 0, Infinity, true);
  return () => value;
}

/**
 * Linear warm-up from `init` (default 0) to `peak` over `warmupSteps`, then
 * `peak` forever. Step 0 gives `init` (as optax's linear_schedule); warmupSteps 0
 * means no warm-up.
 */
export function linearWarmup(opts: { peak: number; warmupSteps: number; init?: number }): Schedule {
  const op = 'linearWarmup';
  const peak = checkNumber(op, 'peak', opts?.peak, 0, Infinity, true);
  const init = checkNumber(op, 'init', opts.init ?? 0, 0, Infinity, true);
  const w = opts.warmupSteps;
  if (!Number.isSafeInteger(w) || w < 0) throw new NnError(op, `warmupSteps must be a non-negative integer, got ${w}`, 'argument');
  return (step) => {
    checkStep(op, step);
    return step >= w ? peak : init + (peak - init) * (step / w);
  };
}

/**
 * Cosine decay from `peak` to `alpha·peak` over `decaySteps`, then constant:
 * `peak·((1-alpha)·½(1+cos(π·min(step,decaySteps)/decaySteps)) + alpha)`, as
 * optax's cosine_decay_schedule.
 */
export function cosineDecay(opts: { peak: number; decaySteps: number; alpha?: number }): Schedule {
  const op = 'cosineDecay';
  const peak = checkNumber(op, 'peak', opts?.peak, 0, Infinity, true);
  const alpha = checkNumber(op, 'alpha', opts.alpha ?? 0, 0, 1, false);
  const d = opts.decaySteps;
  if (!Number.isSafeInteger(d) || d < 1) throw new NnError(op, `decaySteps must be a positive integer, got ${d}`, 'argument');
  return (step) => {
    checkStep(op, step);
    const cosine = 0.5 * (1 + Math.cos((Math.PI * Math.min(step, d)) / d));
    return peak * ((1 - alpha) * cosine + alpha);
  };
}

/**
 * Linear warm-up from `init` (default 0) to `peak` over `warmupSteps`, then cosine
 * decay to `end` (default 0), reached at step `decaySteps` — the total schedule
 * length including the warm-up, as optax's warmup_cosine_decay_schedule — and held
 * there after.
 */
export function warmupCosine(opts: { peak: number; warmupSteps: number; decaySteps: number; end?: number; init?: number }): Schedule {
  const op = 'warmupCosine';
  const peak = checkNumber(op, 'peak', opts?.peak, 0, Infinity, true);
  const end = checkNumber(op, 'end', opts.end ?? 0, 0, Infinity, true);
  const init = checkNumber(op, 'init', opts.init ?? 0, 0, Infinity, true);
  const w = opts.warmupSteps;
  const d = opts.decaySteps;
  if (!Number.isSafeInteger(w) || w < 0) throw new NnError(op, `warmupSteps must be a non-negative integer, got ${w}`, 'argument');
  if (!Number.isSafeInteger(d) || d < w) throw new NnError(op, `decaySteps must be an integer ≥ warmupSteps (${w}), got ${d}; it is the total length including the warm-up`, 'argument');
  const span = d - w;
  return (step) => {
    checkStep(op, step);
    if (step < w) return init + (peak - init) * (step / w);
    if (span === 0) return end;
    const s = Math.min(step - w, span);
    return end + (peak - end) * 0.5 * (1 + Math.cos((Math.PI * s) / span));
  };
}

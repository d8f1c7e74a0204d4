import type { Prim, Primitives } from './primitives.js';
import type { Tensor } from './tensor.js';

/**
 * The attributes of a `custom` record: an application that a caller (autodiff's
 * `customVjp`) records itself, carrying its own vector–Jacobian rule.
 */
export interface CustomAttrs {
  /** One cotangent per input (null for none), from the record and its output's cotangent. */
  readonly vjp: (rec: OpRecord<'custom'>, ct: Tensor, needs?: readonly boolean[]) => (Tensor | null)[];
}

/** What a tracer can be shown: every {@link Primitives | primitive}, and `custom` records. */
export interface Traced extends Primitives {
  custom: CustomAttrs;
}

/** The name of anything a tracer can be shown: a {@link Prim} or `custom`. */
export type TracedPrim = keyof Traced;

/** One application of the primitive `P`. */
interface PrimRecord<P extends TracedPrim> {
  /** The primitive's name, e.g. `exp`, `add`, `sum`, `matmul`. */
  readonly prim: P;
  /** The tensor operands, in argument order (JS scalars already made into tensors). */
  readonly inputs: readonly Tensor[];
  /** The static, validated arguments of this primitive (see {@link Primitives}); `{}` for elementwise ops. */
  readonly attrs: Traced[P];
  /** The tensor the primitive produced. */
  readonly output: Tensor;
}

/**
 * What one primitive application looked like. Autodiff keeps these on its tape.
 * A union discriminated by `prim`: once `prim` is known, `attrs` has that primitive's
 * type. `OpRecord<'sum'>` is the record of one primitive.
 */
export type OpRecord<P extends TracedPrim = TracedPrim> = { [Q in P]: PrimRecord<Q> }[P];

/** Something that watches primitives as they run (autodiff's tape). */
export interface Tracer {
  /** Called once for every primitive applied while this tracer is active, right after it ran. */
  record(rec: OpRecord): void;
}

const tracers: Tracer[] = [];

/**
 * Runs `f` with `tracer` watching every primitive it applies. Tracers nest: an
 * op is shown to every active tracer, which is what makes grad(grad(f)) work.
 */
export function withTracer<T>(tracer: Tracer, f: () => T): T {
  tracers.push(tracer);
  try {
    return f();
  } finally {
    const i = tracers.lastIndexOf(tracer);
    if (i >= 0) tracers.splice(i, 1);
  }
}

/** Runs `f` with no tracer watching (used for stop-gradient and custom rules). */
export function withoutTracing<T>(f: () => T): T {
  const saved = tracers.splice(0, tracers.length);
  try {
    return f();
  } finally {
    tracers.push(...saved);
  }
}

/** Whether any tracer is active (ops use it to decide whether temporaries may be freed at once). */
export function isTracing(): boolean {
  return tracers.length > 0;
}

/** @internal Called by every primitive after it ran. */
export function emit<P extends Prim>(prim: P, inputs: readonly Tensor[], attrs: Traced[P], output: Tensor): void {
  if (tracers.length === 0) return;
  const rec: OpRecord<P> = { prim, inputs, attrs, output };
  // A widening, not a guess: OpRecord<P> is a member of the OpRecord union, which
  // TypeScript cannot show for a generic P.
  for (const t of tracers) t.record(rec as OpRecord);
}

/** @internal Lets a tracer record an op of its own making (custom rules). */
export function activeTracers(): readonly Tracer[] {
  return tracers;
}

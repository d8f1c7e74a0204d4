import type { Tensor } from './tensor.js';

/**
 * What one primitive application looked like. Autodiff keeps these on its tape;
 * `prim` is the op name (`exp`, `add`, `sum`, `matmul`, ...) and `attrs` its
 * static arguments (axes, permutation, ...), exactly as the front end validated them.
 */
export interface OpRecord {
  /** The primitive's name, e.g. `exp`, `add`, `sum`, `matmul`. */
  readonly prim: string;
  /** The tensor operands, in argument order (JS scalars already made into tensors). */
  readonly inputs: readonly Tensor[];
  /** The static, validated arguments (axes, permutation, ...); `{}` for elementwise ops. */
  readonly attrs: Readonly<Record<string, unknown>>;
  /** The tensor the primitive produced. */
  readonly output: Tensor;
}

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
export function emit(prim: string, inputs: readonly Tensor[], attrs: Record<string, unknown>, output: Tensor): void {
  if (tracers.length === 0) return;
  const rec: OpRecord = { prim, inputs, attrs, output };
  for (const t of tracers) t.record(rec);
}

/** @internal Lets a tracer record an op of its own making (custom rules). */
export function activeTracers(): readonly Tracer[] {
  return tracers;
}

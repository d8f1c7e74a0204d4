/**
 * Reverse mode over pytrees, JAX style: transforms of pure functions. A tape
 * watches the primitives that depend on the inputs while `f` runs; the pullback
 * walks it once in reverse (cost linear in its length), applying each primitive's
 * rule. Backward ops are ordinary primitives, so an enclosing tape records them:
 * grad(grad(f)) works without special cases.
 */
import {
  Tensor, activeTracers, add, adoptIntoScope, collectCreated, fmtShape, isTracing, ones, reshape, shapesEqual,
  treeFlatten, treeUnflatten, withTracer, withoutTracing, zeros, type CustomAttrs, type OpRecord, type TreeDef, type Tracer,
} from '@tandem/tensor';
import { AutodiffError } from './errors.js';
import { applyRule } from './rules.js';

/** Records the primitives whose inputs depend on the watched tensors. */
class Tape implements Tracer {
  readonly records: OpRecord[] = [];
  readonly watched = new Set<number>();
  record(rec: OpRecord): void {
    if (rec.output.dtype !== 'float32') return; // integer/bool results carry no gradient
    for (const x of rec.inputs) {
      if (this.watched.has(x.id)) {
        this.records.push(rec);
        this.watched.add(rec.output.id);
        return;
      }
    }
  }
}

/** Pulls a cotangent of the output back to cotangents of the primals. */
export interface Pullback<In extends unknown[]> {
  (cotangent: unknown): In;
  /** Frees the tape and the intermediates it holds; the pullback cannot be used afterwards. */
  dispose(): void;
}

function describeLeaf(t: Tensor): string {
  return `${t.dtype}${fmtShape(t.shape)}`;
}

/**
 * Evaluates `f(...primals)` and returns its output with a pullback mapping an
 * output cotangent (same structure as the output) to cotangents of every primal
 * (same structures as the primals). Every tensor leaf of a primal must be float32;
 * pass integer data (token ids, masks) through a closure or a non-differentiated
 * argument of `grad`.
 *
 * The pullback may be called several times; call `pullback.dispose()` when done
 * (`grad` and `valueAndGrad` do this for you).
 */
export function vjp<In extends unknown[], Out>(f: (...args: In) => Out, ...primals: In): [Out, Pullback<In>] {
  const flats = primals.map((p) => treeFlatten(p));
  flats.forEach(([leaves], i) => {
    for (const l of leaves) {
      if (l.dtype !== 'float32') {
        throw new AutodiffError('vjp', `argument ${i} has a ${describeLeaf(l)} leaf: integer and bool inputs get no gradient; pass them as non-differentiated arguments (grad's argnums) or through a closure`, 'argument');
      }
    }
  });
  const tape = new Tape();
  // Fresh aliases give each primal leaf its own identity on this tape, while an
  // enclosing tape sees each alias as a reshape of the original (higher order).
  const aliasLeaves = flats.map(([leaves]) => leaves.map((l) => reshape(l, l.shape)));
  for (const ls of aliasLeaves) for (const l of ls) tape.watched.add(l.id);
  const args = flats.map(([, def], i) => treeUnflatten(def, aliasLeaves[i]!)) as In;

  const [out, created] = collectCreated(() => withTracer(tape, () => f(...args)));
  const [outLeaves, outDef] = treeFlatten(out);
  // The outputs belong to the caller now: let an enclosing tidy own them.
  adoptIntoScope(outLeaves.filter((t) => created.has(t)));
  let released = false;

  const pullback = ((cotangent: unknown): In => {
    if (released) throw new AutodiffError('vjp', 'this pullback was disposed; take a new vjp', 'disposed');
    const [ctLeaves, ctDef] = treeFlatten(cotangent);
    checkSameStructure(outDef, ctDef, outLeaves, ctLeaves);
    const [grads, made] = collectCreated(() => backward(ctLeaves));
    // Cotangents of intermediates are garbage once the gradients exist, unless an
    // enclosing tape recorded them for its own backward pass.
    if (isTracing()) adoptIntoScope(made);
    else {
      const keep = new Set(grads.flatMap((g) => treeFlatten(g)[0]));
      for (const t of made) if (!keep.has(t)) t.dispose();
      adoptIntoScope([...keep].filter((t) => made.has(t)));
    }
    return grads as unknown as In;
  }) as Pullback<In>;

  const backward = (ctLeaves: Tensor[]): unknown[] => {
    const cts = new Map<number, Tensor>();
    const accumulate = (t: Tensor, g: Tensor) => {
      const prev = cts.get(t.id);
      cts.set(t.id, prev ? add(prev, g) : g);
    };
    outLeaves.forEach((o, i) => {
      if (tape.watched.has(o.id)) accumulate(o, ctLeaves[i]!);
    });
    for (let r = tape.records.length - 1; r >= 0; r--) {
      const rec = tape.records[r]!;
      const ct = cts.get(rec.output.id);
      if (!ct) continue;
      const needs = rec.inputs.map((x) => tape.watched.has(x.id));
      const gs = rec.prim === 'custom' ? rec.attrs.vjp(rec, ct, needs) : applyRule(rec, ct, needs);
      rec.inputs.forEach((x, j) => {
        const g = gs[j];
        if (g && tape.watched.has(x.id)) accumulate(x, g);
      });
    }
    return aliasLeaves.map((ls, i) => {
      const grads = ls.map((l) => cts.get(l.id) ?? zeros(l.shape, { backend: l.backend }));
      return treeUnflatten(flats[i]![1], grads);
    });
  };

  pullback.dispose = () => {
    if (released) return;
    released = true;
    tape.records.length = 0;
    const keep = new Set(outLeaves);
    const own = [...created, ...aliasLeaves.flat()].filter((t) => !keep.has(t));
    // Under an enclosing tape these values may feed its backward pass: defer to its scope.
    if (isTracing()) adoptIntoScope(own);
    else for (const t of own) t.dispose();
  };
  return [out, pullback];
}

function checkSameStructure(outDef: TreeDef, ctDef: TreeDef, outs: Tensor[], cts: Tensor[]): void {
  if (JSON.stringify(outDef) !== JSON.stringify(ctDef) || outs.length !== cts.length) {
    throw new AutodiffError('vjp', 'the cotangent must have the same structure as the output of f', 'structure');
  }
  outs.forEach((o, i) => {
    const c = cts[i]!;
    if (!shapesEqual(o.shape, c.shape)) {
      throw new AutodiffError('vjp', `cotangent leaf ${i} has shape ${fmtShape(c.shape)} but the output leaf is ${fmtShape(o.shape)}`, 'structure');
    }
  });
}

/** Options for {@link grad} and {@link valueAndGrad}. */
export interface GradOptions<A extends Argnums = Argnums> {
  /** Which arguments to differentiate (default 0). A number gives one gradient; an array, a tuple. */
  argnums?: A;
}

/** Which arguments a gradient is taken with respect to: one index, or a tuple of them. */
export type Argnums = number | readonly number[];

/**
 * The gradient's type: a gradient mirrors the structure of the argument it is taken
 * with respect to (the same pytree, a tensor at every tensor leaf), so argnums `i`
 * gives `In[i]` and a tuple of indices gives the tuple of those arguments' types.
 */
export type GradsOf<In extends unknown[], A extends Argnums> = A extends number
  ? In[A]
  : { -readonly [K in keyof A]: A[K] extends number ? In[A[K]] : never };

function scalarOut(op: string, out: unknown): Tensor {
  if (!(out instanceof Tensor)) throw new AutodiffError(op, 'f must return a single scalar Tensor', 'argument');
  if (out.size !== 1 || out.rank !== 0) {
    throw new AutodiffError(op, `f must return a scalar (shape []), got ${describeLeaf(out)}; reduce it (e.g. .sum() or .mean()) or use vjp for non-scalar outputs`, 'argument');
  }
  if (out.dtype !== 'float32') throw new AutodiffError(op, `f must return a float32 scalar, got ${out.dtype}`, 'argument');
  return out;
}

/**
 * The value of a scalar function and its gradient with respect to the arguments
 * in `argnums`. Intermediates are freed before it returns.
 */
export function valueAndGrad<In extends unknown[], const A extends Argnums = 0>(
  f: (...args: In) => Tensor,
  opts: GradOptions<A> = {},
): (...args: In) => [Tensor, GradsOf<In, A>] {
  const argnums = opts.argnums ?? 0;
  const list = typeof argnums === 'number' ? [argnums] : [...(argnums as readonly number[])];
  return (...args: In) => {
    for (const a of list) {
      if (!Number.isInteger(a) || a < 0 || a >= args.length) {
        throw new AutodiffError('grad', `argnums entry ${a} is not an argument index of a call with ${args.length} arguments`, 'argument');
      }
    }
    const diffArgs = list.map((i) => args[i]);
    const g = (...d: unknown[]) => {
      const full = [...args] as unknown[];
      list.forEach((i, j) => (full[i] = d[j]));
      return f(...(full as In));
    };
    const [out, pb] = vjp(g, ...diffArgs);
    try {
      const value = scalarOut('grad', out);
      const seed = ones([], { backend: value.backend });
      const grads = pb(seed) as unknown[];
      if (!isTracing() && !treeFlatten(grads)[0].includes(seed)) seed.dispose();
      return [value, (typeof argnums === 'number' ? grads[0] : grads) as GradsOf<In, A>];
    } finally {
      pb.dispose();
    }
  };
}

/** The gradient of a scalar function with respect to the arguments in `argnums` (default the first). */
export function grad<In extends unknown[], const A extends Argnums = 0>(
  f: (...args: In) => Tensor,
  opts: GradOptions<A> = {},
): (...args: In) => GradsOf<In, A> {
  const vg = valueAndGrad(f, opts);
  return (...args: In) => {
    const [value, g] = vg(...args);
    if (!isTracing()) value.dispose();
    return g;
  };
}

/** The same values with no gradient flowing back through them (any pytree). */
export function stopGradient<T>(tree: T): T {
  const [leaves, def] = treeFlatten(tree);
  return withoutTracing(() => treeUnflatten<T>(def, leaves.map((l) => reshape(l, l.shape))));
}

/** A custom rule: given the recorded application and the output cotangent, one cotangent per input (null for none). */
export type CustomRule = CustomAttrs['vjp'];

/**
 * Wraps `f` (tensors in, one tensor out) so that autodiff uses `rule` instead of
 * differentiating through f's body, e.g. for a fused kernel or a numerically
 * better gradient. `f`'s own primitives are not recorded. The rule's ops are, so a
 * rule written with differentiable primitives supports higher-order gradients.
 */
export function customVjp<Args extends Tensor[]>(f: (...args: Args) => Tensor, rule: (ct: Tensor, output: Tensor, ...inputs: Args) => (Tensor | null)[]):
  (...args: Args) => Tensor {
  return (...args: Args) => {
    const output = withoutTracing(() => f(...args));
    const rec: OpRecord<'custom'> = {
      prim: 'custom',
      inputs: args,
      attrs: { vjp: (r, ct) => rule(ct, r.output, ...(r.inputs as Args)) },
      output,
    };
    for (const t of activeTracers()) t.record(rec);
    return output;
  };
}

/**
 * Deterministic memory management. Tensors created inside `tidy(f)` are disposed
 * when f returns, except those reachable from its result (which move to the
 * enclosing scope) and those passed to `keep`. This is what keeps GPU memory flat
 * across a long training loop without relying on the garbage collector.
 */
import { TensorError } from './errors.js';
import { Tensor, _scopes } from './tensor.js';
import { treeLeaves } from './tree.js';
import { isTracing } from './trace.js';

/** Runs `f`, then disposes every tensor it created that its result does not contain. `f` must be synchronous. */
export function tidy<T>(f: () => T): T {
  const scopes = _scopes();
  const [result, scope] = collectCreated(f);
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new TensorError('tidy', 'the function returned a Promise; tidy only manages synchronous work (await outside it)', 'memory');
  }
  const kept = new Set(treeLeaves(result));
  const parent = scopes[scopes.length - 1];
  // While a tracer (autodiff tape) watches, intermediates may still be needed by a
  // backward pass: hand them to the enclosing scope (the tape's), which frees them
  // once the gradient has been taken.
  const defer = isTracing();
  for (const t of scope) {
    if (kept.has(t) || defer) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Exempts `t` from disposal by every enclosing `tidy`; returns it. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of _scopes()) s.delete(t);
  return t;
}

/** Disposes every tensor in a pytree (a tensor, array or object of them). */
export function dispose(tree: unknown): void {
  for (const t of treeLeaves(tree)) t.dispose();
}

/**
 * Runs `f` in a scope of its own and returns its result with the set of tensors
 * created meanwhile (still alive). The caller owns that set: autodiff uses this to
 * free a tape's intermediates once the backward pass no longer needs them.
 */
export function collectCreated<T>(f: () => T): [T, Set<Tensor>] {
  const scopes = _scopes();
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = f();
  } catch (e) {
    scopes.splice(scopes.lastIndexOf(scope), 1);
    if (!isTracing()) for (const t of scope) t.dispose();
    else adoptIntoScope(scope);
    throw e;
  }
  scopes.splice(scopes.lastIndexOf(scope), 1);
  return [result, scope];
}

/** Hands tensors to the innermost open scope (or leaves them unowned when none is open). */
export function adoptIntoScope(ts: Iterable<Tensor>): void {
  const scopes = _scopes();
  const parent = scopes[scopes.length - 1];
  if (parent) for (const t of ts) if (!t.isDisposed) parent.add(t);
}

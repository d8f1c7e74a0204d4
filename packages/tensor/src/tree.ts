/**
 * Pytrees: nested plain objects and arrays whose leaves are tensors (or other
 * values, which are carried along untouched). Params, gradients and optimiser
 * states are pytrees; these helpers walk them in a fixed order (array order,
 * then object keys sorted), so flattening is deterministic.
 */
import { TensorError } from './errors.js';
import { Tensor } from './tensor.js';

/** A pytree with leaves of type `L`: a leaf, a readonly array of pytrees, or a plain object of pytrees. */
export type PyTree<L = Tensor> = L | readonly PyTree<L>[] | { readonly [k: string]: PyTree<L> };

/**
 * The structure of a pytree with its leaves removed, for `treeUnflatten`: a tensor
 * `leaf`; an `array` of child structures; an `object` with its sorted `keys` and one
 * child per key; or a `const`, a non-tensor value carried along as it is.
 */
export type TreeDef =
  | { kind: 'leaf' }
  | { kind: 'array'; children: TreeDef[] }
  | { kind: 'object'; keys: string[]; children: TreeDef[] }
  | { kind: 'const'; value: unknown };

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** Leaves in deterministic order, and the structure to rebuild the tree. Non-tensor leaves (numbers, strings, null) are kept in the structure. */
export function treeFlatten(tree: unknown): [Tensor[], TreeDef] {
  const leaves: Tensor[] = [];
  const walk = (t: unknown): TreeDef => {
    if (t instanceof Tensor) {
      leaves.push(t);
      return { kind: 'leaf' };
    }
    if (Array.isArray(t)) return { kind: 'array', children: t.map(walk) };
    if (isPlainObject(t)) {
      const keys = Object.keys(t).sort();
      return { kind: 'object', keys, children: keys.map((k) => walk(t[k])) };
    }
    return { kind: 'const', value: t };
  };
  const def = walk(tree);
  return [leaves, def];
}

/** Rebuilds a tree of the structure `def` from `leaves` (in `treeFlatten` order). */
export function treeUnflatten<T = unknown>(def: TreeDef, leaves: readonly unknown[]): T {
  let i = 0;
  const build = (d: TreeDef): unknown => {
    switch (d.kind) {
      case 'leaf':
        if (i >= leaves.length) throw new TensorError('treeUnflatten', `too few leaves: the structure needs more than ${leaves.length}`);
        return leaves[i++];
      case 'array':
        return d.children.map(build);
      case 'object': {
        const o: Record<string, unknown> = {};
        d.keys.forEach((k, j) => (o[k] = build(d.children[j]!)));
        return o;
      }
      case 'const':
        return d.value;
    }
  };
  const out = build(def);
  if (i !== leaves.length) throw new TensorError('treeUnflatten', `got ${leaves.length} leaves but the structure holds ${i}`);
  return out as T;
}

/** The tensors of a tree, in flatten order. */
export function treeLeaves(tree: unknown): Tensor[] {
  return treeFlatten(tree)[0];
}

/** Applies `f` to every tensor leaf, keeping the structure. */
export function treeMap<T = unknown>(f: (t: Tensor, i: number) => unknown, tree: unknown): T {
  const [leaves, def] = treeFlatten(tree);
  return treeUnflatten<T>(def, leaves.map(f));
}

function sameDef(a: TreeDef, b: TreeDef): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'leaf') return true;
  if (a.kind === 'const') return Object.is(a.value, (b as typeof a).value);
  const bc = b as typeof a;
  if (a.children.length !== bc.children.length) return false;
  if (a.kind === 'object' && a.keys.join('\u0000') !== (b as typeof a).keys.join('\u0000')) return false;
  return a.children.every((c, i) => sameDef(c, bc.children[i]!));
}

/**
 * Walks several trees of identical structure together, applying `f` to the
 * corresponding leaves. Mismatched structures are an error, never truncated.
 */
export function treeZip<T = unknown>(f: (...leaves: Tensor[]) => unknown, ...trees: unknown[]): T {
  if (trees.length === 0) throw new TensorError('treeZip', 'needs at least one tree');
  const flat = trees.map((t) => treeFlatten(t));
  const def = flat[0]![1];
  flat.forEach(([, d], i) => {
    if (!sameDef(def, d)) throw new TensorError('treeZip', `tree ${i} has a different structure from tree 0`);
  });
  const n = flat[0]![0].length;
  const out: unknown[] = [];
  for (let j = 0; j < n; j++) out.push(f(...flat.map(([l]) => l[j]!)));
  return treeUnflatten<T>(def, out);
}

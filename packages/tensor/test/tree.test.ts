/**
 * Pytrees: flatten/unflatten are inverse, leaf order is deterministic (arrays in
 * order, object keys sorted), treeMap keeps structure, treeZip refuses mismatches.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import * as tn from '../src/index.js';
import { Tensor, TensorError, dispose, treeFlatten, treeLeaves, treeMap, treeUnflatten, treeZip } from '../src/index.js';
import { shapeArb } from './helpers/arbitraries.js';

const cpu = { backend: 'cpu' as const };

/** A tensor to be: its shape and fill value. Not a plain object, so never mistaken for structure. */
class LeafSpec {
  constructor(readonly shape: number[], readonly value: number) {}
}

type Spec = LeafSpec | number | string | boolean | null | Spec[] | { [k: string]: Spec };

const specArb: fc.Arbitrary<Spec> = fc.letrec<{ node: Spec; leaf: Spec; array: Spec[]; object: { [k: string]: Spec } }>((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('array'), tie('object')),
  leaf: fc.oneof(
    { arbitrary: fc.tuple(shapeArb({ maxRank: 2, maxDim: 3 }), fc.integer({ min: -9, max: 9 })).map(([s, v]) => new LeafSpec(s, v)), weight: 3 },
    { arbitrary: fc.oneof(fc.integer(), fc.constantFrom('relu', '', 'x'), fc.boolean(), fc.constant(null)), weight: 1 },
  ),
  array: fc.array(tie('node'), { maxLength: 4 }),
  object: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'kernel', 'bias', 'Z', '0'), tie('node'), { maxKeys: 4 }),
})).node;

const made: Tensor[] = [];
afterEach(() => {
  dispose(made);
  made.length = 0;
});

/** Builds the pytree a spec describes, creating its tensors. */
function build(s: Spec): unknown {
  if (s instanceof LeafSpec) {
    const t = tn.full(s.shape, s.value, cpu);
    made.push(t);
    return t;
  }
  if (Array.isArray(s)) return s.map(build);
  if (s !== null && typeof s === 'object') return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, build(v)]));
  return s;
}

/** Leaves in the documented order, by an independent walk: arrays in order, object keys sorted. */
function expectedLeaves(tree: unknown): Tensor[] {
  if (tree instanceof Tensor) return [tree];
  if (Array.isArray(tree)) return tree.flatMap(expectedLeaves);
  if (tree !== null && typeof tree === 'object') {
    return Object.keys(tree).sort().flatMap((k) => expectedLeaves((tree as Record<string, unknown>)[k]));
  }
  return [];
}

/** Same structure, same constants, and leaves related by `leafEq`. */
function sameTree(a: unknown, b: unknown, leafEq: (x: unknown, y: unknown) => boolean = (x, y) => x === y): boolean {
  if (a instanceof Tensor || b instanceof Tensor) return leafEq(a, b);
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameTree(x, b[i], leafEq));
  if (a !== null && typeof a === 'object') {
    if (b === null || typeof b !== 'object' || Array.isArray(b)) return false;
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return ka.join('\u0000') === kb.join('\u0000') && ka.every((k) => sameTree((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], leafEq));
  }
  return Object.is(a, b);
}

describe('treeFlatten / treeUnflatten', () => {
  it('unflatten(flatten(tree)) rebuilds the tree with the same leaves (property)', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const tree = build(spec);
        const [leaves, def] = treeFlatten(tree);
        expect(sameTree(treeUnflatten(def, leaves), tree)).toBe(true);
        expect(treeLeaves(tree)).toEqual(leaves);
      }),
      { numRuns: 100 },
    );
  });

  it('leaves come in a fixed order: arrays in order, object keys sorted (property)', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const tree = build(spec);
        const leaves = treeFlatten(tree)[0];
        const want = expectedLeaves(tree);
        expect(leaves.length).toBe(want.length);
        leaves.forEach((t, i) => expect(t).toBe(want[i]));
      }),
      { numRuns: 100 },
    );
  });

  it('flatten(unflatten(def, xs)) gives back def and xs, for any replacement leaves (property)', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const [leaves, def] = treeFlatten(build(spec));
        const replacement = leaves.map((t) => {
          const r = tn.neg(t);
          made.push(r);
          return r;
        });
        const [leaves2, def2] = treeFlatten(treeUnflatten(def, replacement));
        expect(def2).toEqual(def);
        leaves2.forEach((t, i) => expect(t).toBe(replacement[i]));
      }),
      { numRuns: 100 },
    );
  });

  it('key insertion order does not matter', () => {
    const a = tn.scalar(1, cpu), b = tn.scalar(2, cpu);
    made.push(a, b);
    const [l1, d1] = treeFlatten({ x: a, y: [b] });
    const [l2, d2] = treeFlatten({ y: [b], x: a });
    expect(l1).toEqual(l2);
    expect(d1).toEqual(d2);
  });

  it('unflatten rejects the wrong number of leaves', () => {
    const [leaves, def] = treeFlatten({ a: tn.scalar(1, cpu), b: [tn.scalar(2, cpu)] });
    made.push(...leaves);
    expect(() => treeUnflatten(def, leaves.slice(1))).toThrow(TensorError);
    expect(() => treeUnflatten(def, leaves.slice(1))).toThrow(/treeUnflatten: too few leaves/);
    expect(() => treeUnflatten(def, [...leaves, leaves[0]])).toThrow(/treeUnflatten: got 3 leaves but the structure holds 2/);
  });

  it('treats a lone tensor and non-tensor values sensibly', () => {
    const t = tn.scalar(1, cpu);
    made.push(t);
    expect(treeFlatten(t)).toEqual([[t], { kind: 'leaf' }]);
    expect(treeFlatten(5)).toEqual([[], { kind: 'const', value: 5 }]);
    expect(treeFlatten([])).toEqual([[], { kind: 'array', children: [] }]);
    // Class instances other than tensors are carried as constants, never walked.
    const date = new Date(0);
    const [, def] = treeFlatten({ d: date });
    expect(treeUnflatten<{ d: Date }>(def, []).d).toBe(date);
  });
});

describe('treeMap', () => {
  it('applies f to every tensor leaf in flatten order and keeps the structure (property)', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const tree = build(spec);
        const leaves = treeLeaves(tree);
        const seen: number[] = [];
        const mapped = treeMap((t, i) => {
          seen.push(i);
          expect(t).toBe(leaves[i]);
          const r = tn.mul(t, 2);
          made.push(r);
          return r;
        }, tree);
        expect(seen).toEqual(leaves.map((_, i) => i));
        const [mLeaves, mDef] = treeFlatten(mapped);
        expect(mDef).toEqual(treeFlatten(tree)[1]);
        mLeaves.forEach((m, i) => {
          expect(m.shape).toEqual(leaves[i]!.shape);
          expect(Array.from(m.dataSync())).toEqual(Array.from(leaves[i]!.dataSync(), (v) => 2 * v));
        });
        expect(sameTree(mapped, tree, (x, y) => x instanceof Tensor && y instanceof Tensor && sameShape(x, y))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });
});

const sameShape = (a: Tensor, b: Tensor): boolean => a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);

describe('treeZip', () => {
  it('combines corresponding leaves of identically structured trees (property)', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const a = build(spec);
        const b = build(spec);
        const z = treeZip((x, y) => {
          const r = tn.add(x, y);
          made.push(r);
          return r;
        }, a, b);
        const [zl, zd] = treeFlatten(z);
        const [al, ad] = treeFlatten(a);
        expect(zd).toEqual(ad);
        zl.forEach((t, i) => expect(Array.from(t.dataSync())).toEqual(Array.from(al[i]!.dataSync(), (v) => 2 * v)));
      }),
      { numRuns: 100 },
    );
  });

  it('rejects mismatched structures instead of truncating', () => {
    const t = () => {
      const r = tn.scalar(1, cpu);
      made.push(r);
      return r;
    };
    const f = (...xs: Tensor[]) => xs[0];
    const cases: [unknown, unknown][] = [
      [{ a: t(), b: t() }, { a: t(), c: t() }], // different keys
      [{ a: t() }, { a: t(), b: t() }], // extra key
      [[t(), t()], [t(), t(), t()]], // array lengths
      [[t(), t()], [t()]],
      [{ a: t() }, [t()]], // object vs array
      [{ a: t() }, { a: 3 }], // leaf vs constant
      [{ a: t(), n: 1 }, { a: t(), n: 2 }], // different constants
      [t(), [t()]],
    ];
    for (const [x, y] of cases) {
      expect(() => treeZip(f, x, y)).toThrow(TensorError);
      expect(() => treeZip(f, x, y)).toThrow(/treeZip: tree 1 has a different structure from tree 0/);
      expect(() => treeZip(f, y, x)).toThrow(/different structure/);
    }
    expect(() => treeZip(f)).toThrow(/treeZip: needs at least one tree/);
    // A third mismatched tree is named as such.
    expect(() => treeZip(f, [t()], [t()], [t(), t()])).toThrow(/tree 2 has a different structure/);
  });

  it('accepts equal constants (NaN included) and equal structures from different key orders', () => {
    const a = { x: tn.scalar(1, cpu), n: NaN, s: 'k' };
    const b = { s: 'k', n: NaN, x: tn.scalar(2, cpu) };
    made.push(a.x, b.x);
    const z = treeZip<{ x: Tensor; n: number; s: string }>((p, q) => {
      const r = tn.sub(q, p);
      made.push(r);
      return r;
    }, a, b);
    expect(z.x.dataSync()[0]).toBe(1);
    expect(z.n).toBeNaN();
    expect(z.s).toBe('k');
  });
});

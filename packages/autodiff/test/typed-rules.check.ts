/**
 * Compile-time checks (run by `tsc -b`, not by vitest): primitive names and
 * attributes are typed, so the mistakes below do not compile.
 */
import type { OpRecord, Prim, Primitives } from '@tandem/tensor';
import { RULES, type Rule, type Rules } from '../src/index.js';

// A rule table missing a primitive is rejected.
// @ts-expect-error — 'exp' (and every other primitive) has no rule here.
export const incomplete: Rules = { neg: RULES.neg };

// A rule reading an attribute its primitive does not record is rejected.
// @ts-expect-error — `sum` records axes and keepDims, not axis.
export const wrongAttr: Rule<'sum'> = (r) => [r.attrs.axis];

// Attributes are typed by the primitive: `transpose` records a permutation.
export const perm = (r: OpRecord<'transpose'>): readonly number[] => r.attrs.perm;

// Narrowing a record by name gives its attributes.
export function axesOf(r: OpRecord): readonly number[] | undefined {
  return r.prim === 'sum' || r.prim === 'max' ? r.attrs.axes : undefined;
}

// An unknown primitive name is not a Prim.
// @ts-expect-error — 'conv2d' is not a primitive.
export const unknown: Prim = 'conv2d';

// Every primitive has exactly the attributes listed in Primitives.
export const castAttrs: Primitives['cast'] = { dtype: 'int32' };

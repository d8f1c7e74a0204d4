/**
 * Comparing computed tensors with the float64 reference, under an explicit
 * tolerance. Library-independent: callers pass the shape and the host data they
 * read back (`t.shape`, `t.dataSync()` or `await t.data()`).
 */
import type { Nd } from './reference.js';

/**
 * How close a float32 result must be to the float64 reference value e:
 * - `exact`: equal to fround(e) (NaN matches NaN, +0 matches -0): for layout, integer
 *   and bool ops, and for + − × ÷ √, which IEEE float32 rounds correctly.
 * - `ulps`: at most n float32 ULPs from fround(e): transcendental functions.
 * - `bound`: |a − e| ≤ abs + rel·|e| + scaleRel·scale[i], where `scale` is a
 *   per-element magnitude (e.g. Σ|terms| of a sum or dot product), for accumulations.
 */
export type Tolerance =
  | { kind: 'exact' }
  | { kind: 'ulps'; ulps: number }
  | { kind: 'bound'; abs?: number; rel?: number; scaleRel?: number; scale?: ArrayLike<number> };

export const EXACT: Tolerance = { kind: 'exact' };
export const ulps = (n: number): Tolerance => ({ kind: 'ulps', ulps: n });
export const bound = (b: Omit<Extract<Tolerance, { kind: 'bound' }>, 'kind'>): Tolerance => ({ kind: 'bound', ...b });

/** float32 unit roundoff, 2^-24. */
export const U32 = 2 ** -24;

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);

/** A float32's bit pattern mapped to integers that are ordered like the floats (−0 and +0 both map to 0). */
function orderedBits(x: number): number {
  f32[0] = x;
  const b = i32[0]!;
  return b < 0 ? -(b & 0x7fffffff) : b;
}

/** Distance in float32 ULPs between two float32 values; 0 for two NaNs or equal infinities, Infinity when only one is NaN. */
export function ulpDistance(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  if (a === b) return 0;
  if (!Number.isFinite(a) || !Number.isFinite(b)) return Infinity;
  return Math.abs(orderedBits(Math.fround(a)) - orderedBits(Math.fround(b)));
}

function sameValue(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

/**
 * The first element where `actual` violates `tol` against `expected`, described;
 * undefined when all agree. `float32` (default true) says the values are float32, so
 * `exact` and `ulps` compare against the reference rounded to float32; int32 and bool
 * results are compared as they are.
 */
export function findMismatch(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, float32 = true): string | undefined {
  const round = float32 ? Math.fround : (v: number) => v;
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    let ok: boolean;
    switch (tol.kind) {
      case 'exact':
        ok = sameValue(a, round(e));
        break;
      case 'ulps':
        ok = ulpDistance(a, round(e)) <= tol.ulps;
        break;
      case 'bound': {
        if (!Number.isFinite(e) || !Number.isFinite(a)) ok = sameValue(a, e);
        else {
          const lim = (tol.abs ?? 0) + (tol.rel ?? 0) * Math.abs(e) + (tol.scaleRel ?? 0) * Math.abs(tol.scale?.[i] ?? 0);
          ok = Math.abs(a - e) <= lim;
        }
        break;
      }
    }
    if (!ok) {
      const detail = tol.kind === 'ulps' ? ` (${ulpDistance(a, Math.fround(e))} ulps)` : ` (diff ${Math.abs(a - e)})`;
      return `element ${i}: got ${a}, expected ${e}${detail}; tolerance ${JSON.stringify({ ...tol, scale: undefined })}`;
    }
  }
  return undefined;
}

/** Throws (a failing property) unless shapes match exactly and values are within `tol` (see `findMismatch` for `float32`). */
export function assertNdClose(
  actualShape: readonly number[], actualData: ArrayLike<number>, expected: Nd, tol: Tolerance, what = '', float32 = true,
): void {
  const prefix = what ? `${what}: ` : '';
  if (actualShape.length !== expected.shape.length || actualShape.some((d, i) => d !== expected.shape[i])) {
    throw new Error(`${prefix}shape [${actualShape.join(',')}], expected [${expected.shape.join(',')}]`);
  }
  const m = findMismatch(actualData, expected.data, tol, float32);
  if (m) throw new Error(`${prefix}${m}`);
}

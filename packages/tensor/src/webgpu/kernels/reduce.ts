/**
 * Reductions of x viewed as [outer, reduced, inner] over the middle axis.
 *
 * One invocation per output element loops over its slice of the reduced axis in
 * increasing order: no atomics, no cross-thread combination, so results are
 * bit-identical from run to run. When there are few outputs and a long axis
 * (a full sum), the axis is cut into G chunks of L and reduced in two passes
 * (backend.ts), chunk by chunk; the order is still fixed by the sizes alone.
 *
 * max/min/argmax/argmin follow the cpu: a NaN wins (the first one, for arg ops),
 * and ties keep the first (lowest) index.
 */
import type { ReduceOp } from '../../backend.js';
import type { DType } from '../../dtype.js';
import { FLOAT_BITS, PARAMS, binding, longLoop, main1D, wgslType } from '../wgsl.js';

/**
 * Params: [n = outer·G·inner, red, inner, G, L]. Output element (o, g, j) covers
 * r in [g·L, min(red, g·L + L)); the output is laid out [outer, G, inner].
 * Arg ops write the index r (global along the axis) as i32.
 */
export function reduceKernel(op: ReduceOp, dtype: DType, wg: number): string {
  const t = wgslType(dtype);
  const isArg = op === 'argmax' || op === 'argmin';
  const head = `  let red = P(1u);
  let inner = P(2u);
  let groups = P(3u);
  let len = P(4u);
  let o = i / (groups * inner);
  let rest = i % (groups * inner);
  let g = rest / inner;
  let j = rest % inner;
  let r0 = g * len;
  let r1 = min(red, r0 + len);
  let base = o * red * inner + j;`;
  let body: string;
  if (op === 'sum') {
    body = `${head}
  var acc: ${t} = 0;
  ${longLoop('r', 'r0', 'r1', '      acc = acc + X[base + r * inner];')}
  Y[i] = acc;`;
  } else {
    const cmp = op === 'max' || op === 'argmax' ? '>' : '<';
    const nanCheck = dtype === 'float32';
    // Strict comparison: a tie keeps the earlier index.
    body = `${head}
  var best = X[base + r0 * inner];
  var bi = r0;
  var found_nan = ${nanCheck ? 'is_nan(best)' : 'false'};
  ${longLoop('r', 'r0 + 1u', 'r1', `      let v = X[base + r * inner];
      ${nanCheck ? 'if (is_nan(v)) { best = v; bi = r; found_nan = true; break; }' : ''}
      if (v ${cmp} best) { best = v; bi = r; }`, { stop: 'found_nan' })}
  Y[i] = ${isArg ? 'i32(bi)' : 'best'};`;
  }
  const outT = isArg ? 'i32' : t;
  return PARAMS + FLOAT_BITS + binding(1, 'X', t) + '\n' + binding(2, 'Y', outT, true) + main1D(wg, body);
}

/**
 * Reductions of x viewed as [outer, reduced, inner] over the middle axis.
 *
 * One invocation per output element loops over its slice of the reduced axis in
 * increasing order: no atomics, no cross-thread combination, so results are
 * bit-identical from run to run. When there are few outputs and a long axis
 * (a full sum), the axis is cut into G chunks of L and reduced in further passes
 * (backend.ts); the order is still fixed by the sizes alone. A chunk longer than
 * MAX_LOOP runs as several dispatches ("segments") that carry the running state
 * in the output buffer (see MAX_LOOP in wgsl.ts).
 *
 * max/min/argmax/argmin follow the cpu: a NaN wins (the first one, for arg ops),
 * and ties keep the first (lowest) index. The loop tracks the winning index and
 * the result is re-read from x at that index: compilers may turn
 * `if (v > best) { best = v; }` into max(best, v), which can return +0 for a tie
 * between −0 and +0, while the cpu keeps the first.
 */
import type { ReduceOp } from '../../primitives.js';
import type { DType } from '../../dtype.js';
import { FLOAT_BITS, PARAMS, binding, main1D, wgslType } from '../wgsl.js';

/**
 * Params: [n = outer·G·inner, red, inner, G, L, segBegin, segEnd, first].
 * Output element (o, g, j) covers r in [g·L, min(red, g·L + L)); this dispatch
 * handles the part of it at offsets [segBegin, segEnd) from g·L. The first
 * segment (first = 1) initialises the state; later ones continue from Y.
 * Arg ops keep the index r (global along the axis, i32) in Y as their state.
 */
export function reduceKernel(op: ReduceOp, dtype: DType, wg: number): string {
  const t = wgslType(dtype);
  const isArg = op === 'argmax' || op === 'argmin';
  const head = `  let red = P(1u);
  let inner = P(2u);
  let groups = P(3u);
  let len = P(4u);
  let first = P(7u) != 0u;
  let o = i / (groups * inner);
  let rest = i % (groups * inner);
  let g = rest / inner;
  let j = rest % inner;
  let chunkEnd = min(red, g * len + len);
  let lo = g * len + P(5u);
  let hi = min(chunkEnd, g * len + P(6u));
  if (lo >= hi) { return; }
  let base = o * red * inner + j;`;
  let body: string;
  if (op === 'sum') {
    body = `${head}
  var acc: ${t} = 0;
  if (!first) { acc = Y[i]; }
  for (var r = lo; r < hi; r++) { acc = acc + X[base + r * inner]; }
  Y[i] = acc;`;
  } else {
    const cmp = op === 'max' || op === 'argmax' ? '>' : '<';
    const float = dtype === 'float32';
    // State: the winning index bi (arg ops), or the winning value (max/min), whose
    // exact bits are kept in init until a later element wins.
    const init = isArg
      ? `  var bi = select(u32(Y[i]), lo, first);
  let start = select(lo, lo + 1u, first);
  let init = X[base + bi * inner];`
      : `  let init = select(Y[i], X[base + lo * inner], first);
  let start = select(lo, lo + 1u, first);
  var bi = 0xffffffffu;`;
    body = `${head}
${init}
  var best = init;
  ${float ? 'if (!is_nan(best)) {' : '{'}
    for (var r = start; r < hi; r++) {
      let v = X[base + r * inner];
      ${float ? 'if (is_nan(v)) { bi = r; break; }' : ''}
      if (v ${cmp} best) { best = v; bi = r; }
    }
  }
  ${isArg ? 'Y[i] = i32(bi);' : 'if (bi == 0xffffffffu) { Y[i] = init; } else { Y[i] = X[base + bi * inner]; }'}`;
  }
  const outT = isArg ? 'i32' : t;
  return PARAMS + FLOAT_BITS + binding(1, 'X', t) + '\n' + binding(2, 'Y', outT, true) + main1D(wg, body);
}

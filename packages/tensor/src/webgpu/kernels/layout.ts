/**
 * Data movement kernels. They copy raw 32-bit words, so one shader serves every
 * dtype (bool is stored as u32 0/1).
 */
import type { DType } from '../../dtype.js';
import { PARAMS, binding, main1D, stridedOffsets, wgslType } from '../wgsl.js';

/**
 * out[i] = X[base + Σ coord_d(i) · stride_d]: transpose, broadcastTo and slice
 * (strides may be 0 or negative). Params: [n, base, shape(rank), strides(rank)].
 */
export function stridedCopyKernel(rank: number, wg: number): string {
  const body = `  var xo = Pi(1u);
${stridedOffsets(rank, 2, [{ name: 'xo', stridesAt: 2 + rank }])}
  Y[i] = X[xo];`;
  return PARAMS + binding(1, 'X', 'u32') + '\n' + binding(2, 'Y', 'u32', true) + main1D(wg, body);
}

/**
 * Constant padding, one invocation per output element: inside the copied block
 * it reads x, elsewhere it writes the value's bits.
 * Params: [n, valueBits, outShape(rank), before(rank), inShape(rank)].
 */
export function padKernel(rank: number, wg: number): string {
  const lines = ['  var rem = i;', '  var xo = 0u;', '  var inside = true;'];
  // Walk axes innermost first; x's row-major offset is accumulated with a running stride.
  lines.push('  var stride = 1u;');
  for (let d = rank - 1; d >= 0; d--) {
    const outDim = `P(${2 + d}u)`;
    const before = `P(${2 + rank + d}u)`;
    const inDim = `P(${2 + 2 * rank + d}u)`;
    lines.push(`  { let c = rem % ${outDim}; rem = rem / ${outDim};`);
    lines.push(`    if (c < ${before} || c - ${before} >= ${inDim}) { inside = false; }`);
    lines.push(`    xo += (c - ${before}) * stride; stride *= ${inDim}; }`);
  }
  lines.push('  Y[i] = select(P(1u), X[min(xo, arrayLength(&X) - 1u)], inside);');
  return PARAMS + binding(1, 'X', 'u32') + '\n' + binding(2, 'Y', 'u32', true) + main1D(wg, lines.join('\n'));
}

/**
 * Copies one input of a concatenation into its column block of the output:
 * out[o·rowOut + off + j] = X[o·chunk + j]. Params: [n = outer·chunk, chunk, rowOut, off].
 */
export function concatKernel(wg: number): string {
  const body = '  let o = i / P(1u);\n  let j = i % P(1u);\n  Y[o * P(2u) + P(3u) + j] = X[i];';
  return PARAMS + binding(1, 'X', 'u32') + '\n' + binding(2, 'Y', 'u32', true) + main1D(wg, body);
}

/**
 * out[o, k, j] = x[o, idx[k], j]. An index outside [0, dim) reads 0: a kernel
 * cannot raise, so that is the webgpu contract (the cpu backend throws instead;
 * validate indices first where it matters). Params: [n, count, inner, dim].
 */
export function gatherKernel(wg: number): string {
  const body = `  let inner = P(2u);
  let o = i / (P(1u) * inner);
  let r = i % (P(1u) * inner);
  let idx = I[r / inner];
  let j = r % inner;
  var v = 0u;
  if (idx >= 0 && u32(idx) < P(3u)) { v = X[(o * P(3u) + u32(idx)) * inner + j]; }
  Y[i] = v;`;
  return PARAMS + [binding(1, 'X', 'u32'), binding(2, 'I', 'i32'), binding(3, 'Y', 'u32', true)].join('\n') + main1D(wg, body);
}

/**
 * The adjoint of gather without atomics: one invocation per output element
 * out[o, d, j] sums upd[o, k, j] over every k with idx[k] = d, in increasing k,
 * so float results are deterministic and equal the cpu's sequence of roundings.
 * Indices outside [0, dim) contribute nothing. k runs in segments [kBegin, kEnd)
 * of at most MAX_LOOP, one dispatch each, continuing from the partial sum in Y.
 * Params: [n, dim, inner, count, kBegin, kEnd].
 */
export function scatterAddKernel(dtype: DType, wg: number): string {
  const t = wgslType(dtype);
  const body = `  let inner = P(2u);
  let count = P(3u);
  let o = i / (P(1u) * inner);
  let r = i % (P(1u) * inner);
  let d = i32(r / inner);
  let j = r % inner;
  var acc: ${t} = 0;
  if (P(4u) > 0u) { acc = Y[i]; }
  let src = o * count * inner + j;
  for (var k = P(4u); k < P(5u); k++) {
    if (I[k] == d) { acc = acc + U[src + k * inner]; }
  }
  Y[i] = acc;`;
  return PARAMS + [binding(1, 'U', t), binding(2, 'I', 'i32'), binding(3, 'Y', t, true)].join('\n') + main1D(wg, body);
}

/**
 * Fused kernels: what the cpu backend fuses (row softmax / log-softmax, layer
 * normalisation) and the Adam update, each one dispatch instead of a chain of
 * elementwise kernels and reductions (docs/decisions/webgpu-fusion.md).
 *
 * Row kernels run one invocation per row and walk the row in increasing index
 * order: no workgroup memory, no barriers, no atomics, so every result is
 * deterministic and depends only on the sizes. A kernel of `passes` passes over a
 * row handles rows up to MAX_LOOP / passes elements inside llvmpipe's loop limit
 * (wgsl.ts); the backend composes longer rows from the primitive kernels.
 *
 * The gradient kernels serve autodiff's rules for the fused ops (softmax,
 * logSoftmax, normalize) when no tracer watches the backward pass; the rules
 * compose the same formulas from primitives otherwise (and on the cpu backend).
 */
import { FLOAT_BITS, PARAMS, binding, main1D } from '../wgsl.js';
// FLOAT_FNS: sqrt_ (sqrt(±0) = ±0 exactly; GPU sqrt is often x · rsqrt(x)) and log1p_.
import { FLOAT_FNS } from './elementwise.js';

/** Passes over a row of each row kernel (rows longer than MAX_LOOP / passes are composed). */
export const ROW_PASSES = { softmax: 3, normalize: 3, softmaxGrad: 2, normalizeGrad: 4 } as const;

/**
 * Softmax (or log-softmax) over rows of length n. Params: [rows, n].
 * Shift m = the row maximum (NaNs skipped as on cpu; a row without an element above the
 * lowest float is shifted by the lowest float, so an all −∞ row gives −∞ log-probs, as
 * the cpu). The first maximum contributes exp(0) = 1 exactly, so the kernel sums
 * t = Σ exp(x − m) over the other elements, in order, and uses s = 1 + t: log s is then
 * log1p(t), accurate for small t (a float32 s = 1 + t near 1 would lose t's low bits,
 * and GPU log is only absolutely accurate near 1). Softmax exp(x − m) / s (the exp
 * recomputed rather than stored and re-read); log-softmax (x − m) − log s.
 */
export function softmaxKernel(log: boolean, wg: number): string {
  const body = `  let n = P(1u);
  let base = i * n;
  var m = bitcast<f32>(0xff7fffffu);
  var bi = n;
  for (var j = 0u; j < n; j++) {
    let v = X[base + j];
    if (v > m) { m = v; bi = j; }
  }
  var t = 0.0;
  for (var j = 0u; j < n; j++) {
    if (j != bi) { t = t + exp(X[base + j] - m); }
  }
  ${log ? 'let ls = select(log(t), log1p_(t), bi < n);' : 'let s = select(t, 1.0 + t, bi < n);'}
  for (var j = 0u; j < n; j++) {
    ${log ? 'Y[base + j] = (X[base + j] - m) - ls;' : 'Y[base + j] = exp(X[base + j] - m) / s;'}
  }`;
  return PARAMS + FLOAT_BITS + FLOAT_FNS + binding(1, 'X', 'f32') + '\n' + binding(2, 'Y', 'f32', true) + main1D(wg, body);
}

/**
 * One row's moments, shared by the normalize forward and gradient kernels so both see the
 * same μ and r = (σ² + eps)^-½: biased variance, two passes (no E[x²] − μ² cancellation).
 * Params: [rows, n, eps bits]; defines n, base, nf, mu, rstd.
 */
const ROW_MOMENTS = `  let n = P(1u);
  let eps = Pf(2u);
  let base = i * n;
  let nf = f32(n);
  var s = 0.0;
  for (var j = 0u; j < n; j++) { s = s + X[base + j]; }
  let mu = s / nf;
  var v = 0.0;
  for (var j = 0u; j < n; j++) {
    let d = X[base + j] - mu;
    v = v + d * d;
  }
  let rstd = 1.0 / sqrt_(v / nf + eps);
`;

/**
 * (x − μ) / sqrt(σ² + eps) over rows of length n, biased variance, two passes for the
 * moments (as the cpu kernel; no E[x²] − μ² cancellation). Params: [rows, n, eps bits].
 */
export function normalizeKernel(wg: number): string {
  const body = `${ROW_MOMENTS}  for (var j = 0u; j < n; j++) { Y[base + j] = (X[base + j] - mu) * rstd; }`;
  return PARAMS + FLOAT_BITS + FLOAT_FNS + binding(1, 'X', 'f32') + '\n' + binding(2, 'Y', 'f32', true) + main1D(wg, body);
}

/**
 * The gradient of softmax / log-softmax over rows from the output y and the cotangent c
 * (autodiff's rules): softmax dx = y·(c − Σ c·y); log-softmax dx = c − exp(y)·Σ c.
 * Params: [rows, n].
 */
export function softmaxGradKernel(log: boolean, wg: number): string {
  const body = `  let n = P(1u);
  let base = i * n;
  var s = 0.0;
  for (var j = 0u; j < n; j++) { s = s + ${log ? 'C[base + j]' : 'C[base + j] * Y[base + j]'}; }
  for (var j = 0u; j < n; j++) {
    ${log ? 'DX[base + j] = C[base + j] - exp(Y[base + j]) * s;' : 'DX[base + j] = Y[base + j] * (C[base + j] - s);'}
  }`;
  return PARAMS + [binding(1, 'Y', 'f32'), binding(2, 'C', 'f32'), binding(3, 'DX', 'f32', true)].join('\n') + main1D(wg, body);
}

/**
 * The gradient of normalize from its input x and the cotangent c: with μ, r = (σ² + eps)^-½
 * and y = (x − μ)·r recomputed as the forward kernel does, dx = r·((c − mean c) − y·mean(c·y)).
 * Params: [rows, n, eps bits].
 */
export function normalizeGradKernel(wg: number): string {
  const body = `${ROW_MOMENTS}  var sc = 0.0;
  var scy = 0.0;
  for (var j = 0u; j < n; j++) {
    let c = C[base + j];
    sc = sc + c;
    scy = scy + c * ((X[base + j] - mu) * rstd);
  }
  let m1 = sc / nf;
  let m2 = scy / nf;
  for (var j = 0u; j < n; j++) {
    let y = (X[base + j] - mu) * rstd;
    DX[base + j] = rstd * ((C[base + j] - m1) - y * m2);
  }`;
  return PARAMS + FLOAT_BITS + FLOAT_FNS + [binding(1, 'X', 'f32'), binding(2, 'C', 'f32'), binding(3, 'DX', 'f32', true)].join('\n') + main1D(wg, body);
}

/** Storage buffers the Adam kernel binds: g, m, v (and p) in; m', v', update out. */
export const adamBindings = (decoupled: boolean): number => (decoupled ? 7 : 6);

/**
 * One Adam(W) step, elementwise, in the composite's operation order (nn's optim.ts,
 * torch.optim.Adam's): m' = lerp(m, g, w) as m + (g − m)·c or g − (g − m)·c (torch's
 * two-branch lerp), v' = v·b2 + (g·(1 − b2))·g, update = (m'·(−stepSize)) /
 * (sqrt(v') / sqrt(bc2) + eps), plus p·(−lr·wd) first when decoupled (AdamW).
 * Params: [n, c, b2, 1 − b2, −stepSize, sqrt(bc2), eps, −lr·wd] (float bits).
 */
export function adamKernel(lerpFromM: boolean, decoupled: boolean, wg: number): string {
  const bufs = [binding(1, 'G', 'f32'), binding(2, 'M', 'f32'), binding(3, 'V', 'f32')];
  if (decoupled) bufs.push(binding(4, 'Pp', 'f32'));
  const o = decoupled ? 5 : 4;
  bufs.push(binding(o, 'M2', 'f32', true), binding(o + 1, 'V2', 'f32', true), binding(o + 2, 'U', 'f32', true));
  const body = `  let g = G[i];
  let m = M[i];
  let d = g - m;
  let m2 = ${lerpFromM ? 'm + d * Pf(1u)' : 'g - d * Pf(1u)'};
  let v2 = V[i] * Pf(2u) + (g * Pf(3u)) * g;
  let step = (m2 * Pf(4u)) / (sqrt_(v2) / Pf(5u) + Pf(6u));
  M2[i] = m2;
  V2[i] = v2;
  U[i] = ${decoupled ? 'Pp[i] * Pf(7u) + step' : 'step'};`;
  return PARAMS + FLOAT_BITS + FLOAT_FNS + bufs.join('\n') + main1D(wg, body);
}

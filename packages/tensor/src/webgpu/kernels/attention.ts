/**
 * Fused multi-head attention (the `attention` primitive, docs/decisions/webgpu-fusion.md):
 * the heads are read in place from q [B, Tq, H·dh] and from k, v in either layout
 * ([B, Tk, H·dh] or a KV cache's [B, H, Tk, dh]), and the output is written merged,
 * [B, Tq, H·dh]: no split/merge copies, no separate scale, bias and softmax passes.
 *
 * Forward, two dispatches:
 *   rows:  one invocation per score row (b, h, i): s_j = (q·k_j)·scale + bias_ij, then the
 *          softmax of the row (as the fused softmax kernel: shift by the first maximum,
 *          sum the others' exps, 1 + t), written to a scratch P [B, H, Tq, Tk];
 *   out:   one invocation per output element: Σ_j P_ij · v_j.
 * Backward (the rule's dq, dk, dv when no tracer watches), three dispatches:
 *   rows:  recompute P; dP_j = ct_i·v_j; dS = P ⊙ (dP − Σ dP ⊙ P) · scale (scratches P, dS);
 *   dq:    dq_i = Σ_j dS_ij · k_j;
 *   dkdv:  dk_j = Σ_i dS_ij · q_i and dv_j = Σ_i P_ij · ct_i, one invocation per element of k.
 *
 * Every sum runs in increasing index order in one invocation: deterministic, no atomics,
 * no barriers. Without a bias the kernels add 0 (the same code either way), so a row
 * computed with a causal mask of 0 / −1e9 and the same row over only its unmasked keys (a
 * KV cache) give identical bits: masked keys contribute exp(−1e9 − m) = 0 exactly.
 *
 * Params (u32 words): [n, B, H, Tq, Tk, dh, scale bits, hasBias, kvHeads,
 *                      bias strides b, h, i, j].
 */
import { FLOAT_BITS, PARAMS, binding, main1D } from '../wgsl.js';
import { FLOAT_FNS } from './elementwise.js';

/** Loop iterations per invocation of each kernel, for the MAX_LOOP check (wgsl.ts). */
export const attentionLoops = {
  forwardRows: (tk: number, dh: number) => tk * (dh + 3),
  backwardRows: (tk: number, dh: number) => tk * (2 * dh + 6),
};

/** Storage buffers the backward row kernel binds (q, k, v, bias, ct; P, dS). */
export const ATTENTION_BINDINGS = 7;

const DIMS = /* wgsl */ `
  let B = P(1u); let H = P(2u); let Tq = P(3u); let Tk = P(4u); let dh = P(5u);
  let D = H * dh;
  let scale = Pf(6u);
  let hasBias = P(7u) != 0u;
  let kvHeads = P(8u) != 0u;
  // k/v element (b, h, j, c) at kvb·b + kvh·h + kvt·j + c.
  let kvb = select(Tk * D, H * Tk * dh, kvHeads);
  let kvh = select(dh, Tk * dh, kvHeads);
  let kvt = select(D, dh, kvHeads);`;

/** The softmax of the score row r (b, h, i), computed into S[po .. po + Tk). */
const SCORES_SOFTMAX = /* wgsl */ `
  let b = i / (H * Tq);
  let h = (i / Tq) % H;
  let qi = i % Tq;
  let qo = (b * Tq + qi) * D + h * dh;
  let ko = b * kvb + h * kvh;
  let po = i * Tk;
  let bo = b * P(9u) + h * P(10u) + qi * P(11u);
  var m = bitcast<f32>(0xff7fffffu);
  var bi = Tk;
  for (var j = 0u; j < Tk; j++) {
    var acc = 0.0;
    for (var c = 0u; c < dh; c++) { acc = acc + Q[qo + c] * K[ko + j * kvt + c]; }
    let bias = select(0.0, Bias[bo + j * P(12u)], hasBias);
    let s = acc * scale + bias;
    Pr[po + j] = s;
    if (s > m) { m = s; bi = j; }
  }
  var t = 0.0;
  for (var j = 0u; j < Tk; j++) {
    if (j != bi) { t = t + exp(Pr[po + j] - m); }
  }
  let den = select(t, 1.0 + t, bi < Tk);
  for (var j = 0u; j < Tk; j++) { Pr[po + j] = exp(Pr[po + j] - m) / den; }`;

/** Forward rows: P = softmax(q·kᵀ·scale + bias) per row. n = B·H·Tq. */
export function attentionRowsKernel(wg: number): string {
  const bufs = [binding(1, 'Q', 'f32'), binding(2, 'K', 'f32'), binding(3, 'Bias', 'f32'), binding(4, 'Pr', 'f32', true)];
  return PARAMS + FLOAT_BITS + FLOAT_FNS + bufs.join('\n') + main1D(wg, DIMS + SCORES_SOFTMAX);
}

/**
 * out[b, i, h·dh + c] = Σ_j W[b, h, i, j] · M[b, h, j, c]: a row of per-head weights
 * ([B, H, Tq, Tk]) against keys or values read in place (strides kvb, kvh, kvt). The
 * forward output (W = P, M = v) and the query gradient (W = dS, M = k) are this one
 * contraction. n = B·Tq·D.
 */
function headContractKernel(w: string, m: string, out: string, wg: number): string {
  const body = `${DIMS}
  let b = i / (Tq * D);
  let qi = (i / D) % Tq;
  let h = (i % D) / dh;
  let c = i % dh;
  let po = ((b * H + h) * Tq + qi) * Tk;
  let mo = b * kvb + h * kvh + c;
  var acc = 0.0;
  for (var j = 0u; j < Tk; j++) { acc = acc + ${w}[po + j] * ${m}[mo + j * kvt]; }
  ${out}[i] = acc;`;
  const bufs = [binding(1, w, 'f32'), binding(2, m, 'f32'), binding(3, out, 'f32', true)];
  return PARAMS + bufs.join('\n') + main1D(wg, body);
}

/** Forward output: out[b, i, h·dh + c] = Σ_j P[b, h, i, j] · v[b, h, j, c]. n = B·Tq·D. */
export function attentionOutKernel(wg: number): string {
  return headContractKernel('Pr', 'V', 'O', wg);
}

/** Backward rows: P recomputed, dS = P ⊙ (ct·vᵀ − Σ(ct·vᵀ) ⊙ P) · scale. n = B·H·Tq. */
export function attentionGradRowsKernel(wg: number): string {
  const body = `${DIMS}${SCORES_SOFTMAX}
  for (var j = 0u; j < Tk; j++) {
    var acc = 0.0;
    for (var c = 0u; c < dh; c++) { acc = acc + C[qo + c] * V[ko + j * kvt + c]; }
    dS[po + j] = acc;
  }
  var sdp = 0.0;
  for (var j = 0u; j < Tk; j++) { sdp = sdp + dS[po + j] * Pr[po + j]; }
  for (var j = 0u; j < Tk; j++) { dS[po + j] = (Pr[po + j] * (dS[po + j] - sdp)) * scale; }`;
  const bufs = [
    binding(1, 'Q', 'f32'), binding(2, 'K', 'f32'), binding(3, 'V', 'f32'), binding(4, 'Bias', 'f32'), binding(5, 'C', 'f32'),
    binding(6, 'Pr', 'f32', true), binding(7, 'dS', 'f32', true),
  ];
  return PARAMS + FLOAT_BITS + FLOAT_FNS + bufs.join('\n') + main1D(wg, body);
}

/** dq[b, i, h·dh + c] = Σ_j dS[b, h, i, j] · k[b, h, j, c]. n = B·Tq·D. */
export function attentionGradQKernel(wg: number): string {
  return headContractKernel('dS', 'K', 'DQ', wg);
}

/**
 * dk[b, h, j, c] = Σ_i dS[b, h, i, j] · q[b, i, h·dh + c] and dv[b, h, j, c] = Σ_i P[b, h, i, j] ·
 * ct[b, i, h·dh + c], element i of k's layout. n = B·Tk·D.
 */
export function attentionGradKVKernel(wg: number): string {
  const body = `${DIMS}
  var b: u32; var h: u32; var j: u32;
  if (kvHeads) { b = i / (H * Tk * dh); h = (i / (Tk * dh)) % H; j = (i / dh) % Tk; }
  else { b = i / (Tk * D); j = (i / D) % Tk; h = (i % D) / dh; }
  let c = i % dh;
  let po = (b * H + h) * Tq * Tk + j;
  let qo = b * Tq * D + h * dh + c;
  var ak = 0.0;
  var av = 0.0;
  for (var r = 0u; r < Tq; r++) {
    ak = ak + dS[po + r * Tk] * Q[qo + r * D];
    av = av + Pr[po + r * Tk] * C[qo + r * D];
  }
  DK[i] = ak;
  DV[i] = av;`;
  const bufs = [
    binding(1, 'dS', 'f32'), binding(2, 'Pr', 'f32'), binding(3, 'Q', 'f32'), binding(4, 'C', 'f32'),
    binding(5, 'DK', 'f32', true), binding(6, 'DV', 'f32', true),
  ];
  return PARAMS + bufs.join('\n') + main1D(wg, body);
}

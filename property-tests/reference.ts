/**
 * Independent references for the loss tests (rlhf's and the property tests'): summed log π(y|x) of ONE unpadded row in float64
 * (the model's float32 logits, then a plain-JS log-softmax and sum), the test's own ordering
 * of a pair, and float64 helpers. Nothing here calls the code under test beyond `logits`.
 */
import * as T from '@tandem/tensor';
import { logits, type TransformerConfig, type TransformerParams } from '@tandem/nn';
import type { Pair } from '@tandem/rlhf';

const row = (ids: readonly number[]) => T.tensor(Int32Array.from(ids), { shape: [1, ids.length], dtype: 'int32', backend: 'cpu' });

/** log π(y|x) of one unpadded row: float32 logits [1, T, V], float64 log-softmax and sum of the targets' entries. */
export function float64SequenceLogProb(params: TransformerParams, cfg: TransformerConfig, prompt: readonly number[], y: readonly number[]): number {
  const z = T.tidy(() => logits(params, cfg, row(prompt), row(y)));
  const d = z.dataSync();
  z.dispose();
  const v = cfg.vocab;
  let total = 0;
  for (let t = 0; t < y.length; t++) {
    let m = -Infinity;
    for (let j = 0; j < v; j++) m = Math.max(m, d[t * v + j]!);
    let s = 0;
    for (let j = 0; j < v; j++) s += Math.exp(d[t * v + j]! - m);
    total += d[t * v + y[t]!]! - m - Math.log(s);
  }
  return total;
}

/** The test's own ordering of a pair (written out, not `winnerLoser`): preference 1 ⇔ y1 ≻ y2. */
export const ordered = (p: Pair): { w: readonly number[]; l: readonly number[] } => (p.preference === 1 ? { w: p.y1, l: p.y2 } : { w: p.y2, l: p.y1 });

/** Per-pair margins h = [log π(y_w) − log π_ref(y_w)] − [log π(y_l) − log π_ref(y_l)] in float64, row by row. */
export function float64Margins(params: TransformerParams, ref: TransformerParams, cfg: TransformerConfig, pairs: readonly Pair[]): number[] {
  return pairs.map((p) => {
    const { w, l } = ordered(p);
    const lp = (ps: TransformerParams, y: readonly number[]) => float64SequenceLogProb(ps, cfg, p.prompt, y);
    return (lp(params, w) - lp(ref, w)) - (lp(params, l) - lp(ref, l));
  });
}

export const softplus64 = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
export const sigmoid64 = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
export const mean64 = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

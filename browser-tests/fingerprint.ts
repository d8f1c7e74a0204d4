/**
 * Fingerprints of cpu-backend results: every unary and binary primitive, reductions,
 * layout ops, the fused composites, random streams, matmuls small and large (the large
 * ones take the two-thread path: a worker_thread under Node, a Web Worker in the
 * browser), gradients, and the RW-1 training and IPO losses. The runner computes them
 * under Node and the page computes them in Chromium; tests/cpu-bits.test.ts requires
 * every one to be identical, i.e. the cpu backend is bit-identical in both.
 *
 * A fingerprint is the element count and a 64-bit FNV-1a hash of the result's bytes
 * (numbers as float64 bits), so any flipped bit in any element shows — except a NaN's
 * sign and payload, which JavaScript engines choose (see canonicalNaN).
 */
import * as T from '@tandem/tensor';
import type { BinaryOp, HostArray, Tensor, UnaryOp } from '@tandem/tensor';
import { grad, valueAndGrad } from '@tandem/autodiff';
import { adam, crossEntropyLoss, generate, initTransformer, layerNorm, optimizerStep, transformerConfig, type TransformerParams } from '@tandem/nn';
import { RW1, referenceIpoTrainer, referenceTrainer } from '../packages/nn/bench/reference-workloads.js';
import { matmulF32ThreadsReady } from '../packages/tensor/src/cpu/wasm/matmul.js';

function fnv1a64(bytes: Uint8Array): string {
  let h = 0xcbf29ce484222325n;
  const p = 0x100000001b3n;
  const mask = (1n << 64n) - 1n;
  for (let i = 0; i < bytes.length; i++) h = ((h ^ BigInt(bytes[i]!)) * p) & mask;
  return h.toString(16).padStart(16, '0');
}

/**
 * NaN's bit pattern is left to the engine by ECMA-262 (§6.1.6.1: "an implementation may
 * ... any NaN value"): Math.log(-1), Math.log1p(-2) and Math.pow(-2, 0.5) store as
 * 0x7fe00000 in a Float32Array under Node 20 and as 0xffc00000 in Chromium 156. So every
 * NaN is written as the canonical 0x7fc00000 before hashing; which elements are NaN
 * still counts, and every other bit.
 */
function canonicalNaN<A extends Float32Array | Float64Array>(a: A): A {
  if (!a.some(Number.isNaN)) return a;
  const c = a.slice() as A;
  for (let i = 0; i < c.length; i++) if (Number.isNaN(c[i])) c[i] = NaN;
  return c;
}

function print(data: HostArray | Float64Array | number[]): string {
  const raw = Array.isArray(data) ? Float64Array.from(data) : data;
  const arr = raw instanceof Float32Array || raw instanceof Float64Array ? canonicalNaN(raw) : raw;
  return `${arr.length}:${fnv1a64(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength))}`;
}

/** Deterministic test data: a sine ramp with the special values mixed in. */
function ramp(n: number, scale = 3, phase = 0.37, specials = true): Float32Array {
  const out = Float32Array.from({ length: n }, (_, i) => Math.sin(i * phase + 0.1) * scale);
  if (specials && n >= 8) out.set([NaN, Infinity, -Infinity, 0, -0], 3);
  return out;
}

/** The fingerprints, in a fixed order. Runs on the cpu backend only. */
export async function cpuFingerprints(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const cpu = { backend: 'cpu' as const };
  // The large matmuls below then run on two threads where there are two (results do not depend on it).
  await matmulF32ThreadsReady(10_000);
  const put = (name: string, f: () => Tensor) => {
    const t = T.tidy(f);
    out[name] = print(t.dataSync());
    t.dispose();
  };

  // Elementwise primitives: floats with specials, positive inputs for the partial ones.
  const x = T.tensor(ramp(997), { shape: [997], ...cpu });
  const pos = T.tensor(ramp(997, 3, 0.37, false).map((v) => Math.abs(v) + 0.01), { shape: [997], ...cpu });
  const y = T.tensor(ramp(997 * 3, 2, 0.91).slice(0, 997), { shape: [997], ...cpu });
  for (const op of T.UNARY_OPS) {
    if (op === 'logicalNot') continue;
    const fn = (T as unknown as Record<UnaryOp, (t: Tensor) => Tensor>)[op];
    put(`unary ${op}`, () => fn(x));
    if (op === 'log' || op === 'sqrt' || op === 'rsqrt' || op === 'log1p') put(`unary ${op} (positive)`, () => fn(pos));
  }
  const m = T.tensor(ramp(12 * 7), { shape: [12, 7], ...cpu });
  const row = T.tensor(ramp(7, 1.5, 1.1, false), { shape: [7], ...cpu });
  for (const op of T.BINARY_OPS) {
    if (op === 'logicalAnd' || op === 'logicalOr' || op === 'logicalXor') {
      put(`binary ${op}`, () => T[op](T.gt(m, 0), T.lt(row, 0.5)));
      continue;
    }
    const fn = (T as unknown as Record<BinaryOp, (a: Tensor, b: Tensor) => Tensor>)[op];
    put(`binary ${op}`, () => fn(x, y));
    put(`binary ${op} (broadcast)`, () => fn(m, row));
  }
  const ints = T.tensor(Int32Array.from({ length: 64 }, (_, i) => (i * 2654435761) | 0), { shape: [8, 8], dtype: 'int32', ...cpu });
  put('int32 mul/add/sum', () => T.sum(T.add(T.mul(ints, ints), ints), 1));

  // Reductions, layout, cast.
  const big = T.tensor(ramp(6 * 50 * 9, 4, 0.13, false), { shape: [6, 50, 9], ...cpu });
  put('sum axes [1]', () => T.sum(big, 1));
  put('sum all', () => T.sum(big));
  put('mean axes [0,2]', () => T.mean(big, [0, 2]));
  put('max/min', () => T.concat([T.max(big, 2), T.min(big, 2)], 0));
  put('argmax/argmin', () => T.concat([T.argmax(big, 1), T.argmin(big, 1)], 0));
  put('transpose/slice/pad/concat', () => T.concat([T.pad(T.slice(T.transpose(big, [2, 0, 1]), [1, 0, 3], [8, 6, 40], [2, 1, 3]), [[0, 1], [1, 0], [0, 2]], 0.5)], 1));
  put('gather/scatterAdd', () => {
    const idx = T.tensor(Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6, 5, 3]), { shape: [10], dtype: 'int32', ...cpu });
    return T.scatterAdd(T.gather(big, idx, 1), idx, 1, [6, 50, 9]);
  });
  put('cast float→int32→bool', () => T.cast(T.cast(T.mul(big, 1e3), 'int32'), 'float32'));

  // Composites and fused kernels.
  put('softmax', () => T.softmax(big, -1));
  put('logSoftmax', () => T.logSoftmax(big, 1));
  put('logSumExp', () => T.logSumExp(big, [0, 2]));
  put('normalizeLastAxis', () => T.normalizeLastAxis(big));
  put('layerNorm', () => layerNorm({ g: T.full([9], 1.5, cpu), b: T.full([9], 0.25, cpu) }, big));
  put('multiHeadAttention', () => {
    const q = T.tensor(ramp(2 * 5 * 8, 1, 0.7, false), { shape: [2, 5, 8], ...cpu });
    const kv = T.tensor(ramp(2 * 6 * 8, 1, 0.3, false), { shape: [2, 6, 8], ...cpu });
    return T.multiHeadAttention(q, kv, T.mul(kv, 0.5), 2);
  });
  put('adamStep', () => {
    const g = T.tensor(ramp(100, 1, 0.5, false), { shape: [100], ...cpu });
    const [p, mm, v] = T.adamStep(g, T.mul(g, 0.1), T.mul(g, g), T.full([100], 1, cpu), { b1: 0.9, b2: 0.999, stepSize: 1e-3, bc2Sqrt: 0.03, eps: 1e-8, decay: 0.01 });
    return T.concat([p, mm, v], 0);
  });

  // Random streams.
  const k = T.split(T.key(2024), 3)[1]!;
  put('randomBits', () => T.randomBits(k, [4099], cpu));
  put('uniform', () => T.uniform(k, [4099], cpu));
  put('normal', () => T.normal(k, [4099], cpu));

  // Matmul: small, odd, transposed, batched, and large enough for the second thread.
  for (const [b, mm, kk, n, tA, tB] of [
    [1, 1, 1, 1, false, false], [1, 5, 7, 3, false, false], [1, 67, 45, 33, true, false], [1, 64, 96, 80, false, true],
    [3, 33, 70, 45, true, true], [1, 256, 256, 256, false, false], [8, 128, 128, 128, false, true], [1, 300, 200, 100, true, false],
  ] as const) {
    const a = T.tensor(ramp(b * mm * kk, 1, 1.3, false), { shape: b > 1 ? [b, tA ? kk : mm, tA ? mm : kk] : [tA ? kk : mm, tA ? mm : kk], ...cpu });
    const bb = T.tensor(ramp(b * kk * n, 1, 0.7, false), { shape: b > 1 ? [b, tB ? n : kk, tB ? kk : n] : [tB ? n : kk, tB ? kk : n], ...cpu });
    put(`matmul ${b}x${mm}x${kk}x${n}${tA ? ' transA' : ''}${tB ? ' transB' : ''}`, () => T.matmul(a, bb, { transA: tA, transB: tB }));
    T.dispose([a, bb]);
  }

  // Gradients, including second order.
  const w = T.tensor(ramp(6 * 5, 1, 0.4, false), { shape: [6, 5], ...cpu });
  const xin = T.tensor(ramp(3 * 6, 1, 0.9, false), { shape: [3, 6], ...cpu });
  const model = (p: { w: Tensor }) => T.mean(T.mul(T.logSoftmax(T.tanh(T.matmul(xin, p.w)), -1), T.sigmoid(T.matmul(xin, p.w))));
  put('grad of a small model', () => grad(model)({ w }).w);
  put('grad of grad', () => grad((v: Tensor) => T.sum(grad((u: Tensor) => T.sum(T.mul(T.mul(u, u), T.sin(u))))(v)))(xin));

  // RW-1: the check losses, through forward, backward and Adam.
  for (const [name, make, steps] of [['RW-1 train losses (3 steps)', referenceTrainer, 2], ['RW-1 IPO losses (2 steps)', referenceIpoTrainer, 1]] as const) {
    const tr = make(RW1, 'cpu');
    const losses: number[] = [];
    for (let s = 0; s <= steps; s++) losses.push(await tr.step());
    tr.dispose();
    out[name] = `${print(losses)} (${losses.join(', ')})`;
  }

  // A few steps of the copy task and greedy samples from it.
  const cfg = transformerConfig({ vocab: 12, dModel: 16, heads: 2, dFf: 32, encLayers: 1, decLayers: 1, maxSrc: 6, maxTgt: 6 });
  let params = initTransformer(T.key(0), cfg);
  const opt = adam({ lr: 3e-3 });
  let state = opt.init(params);
  const losses: number[] = [];
  for (let step = 0; step < 5; step++) {
    const src = T.tidy(() => T.add(T.cast(T.mul(T.uniform(T.foldIn(T.key(1), step), [8, 6], cpu), 8 - 1e-3), 'int32'), 4));
    const [l, p, s] = T.tidy(() => {
      const [v, g]: [Tensor, TransformerParams] = valueAndGrad((q: TransformerParams) => crossEntropyLoss(q, cfg, src, src))(params);
      return [v, ...optimizerStep(opt, g, state, params)] as const;
    });
    losses.push(l.dataSync()[0]!);
    T.dispose([params, state, l, src]);
    params = p;
    state = s;
  }
  out['copy task losses (5 steps)'] = print(losses);
  const src = T.tensor(Int32Array.from([4, 5, 6, 7, 8, 9, 11, 10, 9, 8, 7, 6]), { shape: [2, 6], dtype: 'int32', ...cpu });
  const gen = generate(params, cfg, src, { maxLen: 6, greedy: true });
  out['copy task greedy samples'] = print(gen.tokens.dataSync());
  T.dispose([x, pos, y, m, row, ints, big, w, xin, src, params, state]);
  return out;
}

/**
 * Elementwise kernels for the cpu backend. Each (op, dtype) pair gets its own
 * loop generated once with `new Function`, so V8 sees a monomorphic loop body it
 * can inline, instead of a shared loop calling one of many closures (5–10× slower).
 *
 * Arithmetic runs in float64 and is rounded to float32 on store; for + − × ÷ and sqrt
 * this equals IEEE float32 arithmetic exactly (double rounding is innocuous there).
 */
import type { DType } from '../dtype.js';
import type { BinaryOp, UnaryOp } from '../primitives.js';
import type { Shape } from '../shape.js';

type Arr = Float32Array | Int32Array | Uint8Array;

const UNARY: Record<UnaryOp, string> = {
  neg: '-x',
  abs: 'Math.abs(x)',
  sign: '(x > 0 ? 1 : x < 0 ? -1 : x === x ? 0 : x)',
  exp: 'Math.exp(x)',
  log: 'Math.log(x)',
  log1p: 'Math.log1p(x)',
  sqrt: 'Math.sqrt(x)',
  rsqrt: '1 / Math.sqrt(x)',
  tanh: 'Math.tanh(x)',
  // Two branches so exp never overflows.
  sigmoid: '(x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))',
  // NaN passes through (x < 0 is false for NaN), as in PyTorch; -0 stays -0.
  relu: '(x < 0 ? 0 : x)',
  sin: 'Math.sin(x)',
  cos: 'Math.cos(x)',
  logicalNot: '(x ? 0 : 1)',
};

function binaryExpr(op: BinaryOp, dtype: DType): string {
  switch (op) {
    case 'add': return 'a + b';
    case 'sub': return 'a - b';
    // int32 products must wrap like the hardware; float64 would lose low bits past 2^53.
    case 'mul': return dtype === 'int32' ? 'Math.imul(a, b)' : 'a * b';
    case 'div': return 'a / b';
    case 'pow': return 'Math.pow(a, b)';
    // NaN in either operand propagates.
    case 'maximum': return '(a > b || a !== a ? a : b)';
    case 'minimum': return '(a < b || a !== a ? a : b)';
    // `+(cond)` compiles to a flag move; a `? 1 : 0` ternary mispredicts on random data (~4× slower).
    case 'eq': return '+(a === b)';
    case 'ne': return '+(a !== b)';
    case 'lt': return '+(a < b)';
    case 'le': return '+(a <= b)';
    case 'gt': return '+(a > b)';
    case 'ge': return '+(a >= b)';
    case 'logicalAnd': return '(a && b ? 1 : 0)';
    case 'logicalOr': return '(a || b ? 1 : 0)';
    case 'logicalXor': return '((a ? 1 : 0) ^ (b ? 1 : 0))';
  }
}

type UnaryKernel = (x: Arr, out: Arr, n: number) => void;
const unaryCache = new Map<string, UnaryKernel>();

export function unaryKernel(op: UnaryOp): UnaryKernel {
  let k = unaryCache.get(op);
  if (!k) {
    k = new Function('x_', 'out', 'n', `for (let i = 0; i < n; i++) { const x = x_[i]; out[i] = ${UNARY[op]}; }\n//# sourceURL=tandem-unary-${op}`) as UnaryKernel;
    unaryCache.set(op, k);
  }
  return k;
}

/** out = a ∘ b where a, b are already the same size (no broadcasting). */
type FlatKernel = (a: Arr, b: Arr, out: Arr, n: number) => void;
/** One operand is a scalar: `s` is its value. */
type ScalarKernel = (x: Arr, s: number, out: Arr, n: number) => void;
/** General broadcasting: iterate rows of the output's last axis with per-operand strides. */
type StridedKernel = (a: Arr, b: Arr, out: Arr, shape: Shape, sa: number[], sb: number[]) => void;

/**
 * The two broadcasts a transformer does all the time, on [rows, n] views:
 * `perRow` — one value per row (x [B,T,d] ∘ s [B,T,1], e.g. LayerNorm's mean);
 * `perCol` — one value per column (x [B,T,d] ∘ g [d], e.g. a gain or bias).
 * `swap` says the broadcast operand is the left one.
 */
type RowColKernel = (full: Arr, small: Arr, out: Arr, rows: number, n: number) => void;

interface BinaryKernels {
  flat: FlatKernel; scalarB: ScalarKernel; scalarA: ScalarKernel; strided: StridedKernel;
  perRowB: RowColKernel; perColB: RowColKernel; perRowA: RowColKernel; perColA: RowColKernel;
}
const binaryCache = new Map<string, BinaryKernels>();

export function binaryKernels(op: BinaryOp, dtype: DType): BinaryKernels {
  const key = `${op}:${dtype}`;
  let k = binaryCache.get(key);
  if (!k) {
    const e = binaryExpr(op, dtype);
    k = {
      flat: new Function('a_', 'b_', 'out', 'n', `for (let i = 0; i < n; i++) { const a = a_[i], b = b_[i]; out[i] = ${e}; }\n//# sourceURL=tandem-${key}-flat`) as FlatKernel,
      scalarB: new Function('a_', 'b', 'out', 'n', `for (let i = 0; i < n; i++) { const a = a_[i]; out[i] = ${e}; }\n//# sourceURL=tandem-${key}-scalarB`) as ScalarKernel,
      scalarA: new Function('b_', 'a', 'out', 'n', `for (let i = 0; i < n; i++) { const b = b_[i]; out[i] = ${e}; }\n//# sourceURL=tandem-${key}-scalarA`) as ScalarKernel,
      perRowB: new Function('a_', 'b_', 'out', 'rows', 'n', `for (let r = 0, o = 0; r < rows; r++) { const b = b_[r]; for (let j = 0; j < n; j++, o++) { const a = a_[o]; out[o] = ${e}; } }\n//# sourceURL=tandem-${key}-perRowB`) as RowColKernel,
      perColB: new Function('a_', 'b_', 'out', 'rows', 'n', `for (let r = 0, o = 0; r < rows; r++) { for (let j = 0; j < n; j++, o++) { const a = a_[o], b = b_[j]; out[o] = ${e}; } }\n//# sourceURL=tandem-${key}-perColB`) as RowColKernel,
      perRowA: new Function('b_', 'a_', 'out', 'rows', 'n', `for (let r = 0, o = 0; r < rows; r++) { const a = a_[r]; for (let j = 0; j < n; j++, o++) { const b = b_[o]; out[o] = ${e}; } }\n//# sourceURL=tandem-${key}-perRowA`) as RowColKernel,
      perColA: new Function('b_', 'a_', 'out', 'rows', 'n', `for (let r = 0, o = 0; r < rows; r++) { for (let j = 0; j < n; j++, o++) { const a = a_[j], b = b_[o]; out[o] = ${e}; } }\n//# sourceURL=tandem-${key}-perColA`) as RowColKernel,
      strided: new Function('a_', 'b_', 'out', 'shape', 'sa', 'sb', `
        const r = shape.length;
        const n = shape[r - 1];
        const la = sa[r - 1], lb = sb[r - 1];
        let rows = 1;
        for (let d = 0; d < r - 1; d++) rows *= shape[d];
        const idx = new Array(r).fill(0);
        let ao = 0, bo = 0, o = 0;
        for (let row = 0; row < rows; row++) {
          for (let j = 0; j < n; j++) { const a = a_[ao + j * la], b = b_[bo + j * lb]; out[o + j] = ${e}; }
          o += n;
          for (let d = r - 2; d >= 0; d--) {
            idx[d]++; ao += sa[d]; bo += sb[d];
            if (idx[d] < shape[d]) break;
            ao -= sa[d] * shape[d]; bo -= sb[d] * shape[d]; idx[d] = 0;
          }
        }
        //# sourceURL=tandem-${key}-strided`) as StridedKernel,
    };
    binaryCache.set(key, k);
  }
  return k;
}

/**
 * Visits the output of a broadcast/strided read in row-major order, calling
 * `row(outOffset, inOffset, n, lastStride)` for each run of the last axis.
 */
export function forEachRow(outShape: Shape, inStrides: readonly number[], inBase: number,
  row: (o: number, i: number, n: number, last: number) => void): void {
  const r = outShape.length;
  if (r === 0) {
    row(0, inBase, 1, 0);
    return;
  }
  const n = outShape[r - 1]!;
  let rows = 1;
  for (let d = 0; d < r - 1; d++) rows *= outShape[d]!;
  if (n === 0 || rows === 0) return;
  const idx = new Array<number>(r).fill(0);
  let io = inBase;
  let o = 0;
  const last = inStrides[r - 1]!;
  for (let k = 0; k < rows; k++) {
    row(o, io, n, last);
    o += n;
    for (let d = r - 2; d >= 0; d--) {
      idx[d]!++;
      io += inStrides[d]!;
      if (idx[d]! < outShape[d]!) break;
      io -= inStrides[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

/**
 * Classifies how `small` broadcasts against `full` (whose shape is the output's):
 * 'row' when small is full's shape with a trailing 1 (one value per row of the last
 * axis), 'col' when small is the last axis alone (after leading 1s), else undefined.
 */
export function rowColPattern(small: Shape, full: Shape): 'row' | 'col' | undefined {
  const r = full.length;
  if (r < 2) return undefined;
  const n = full[r - 1]!;
  if (n === 1) return undefined;
  if (small.length === r && small[r - 1] === 1 && small.slice(0, -1).every((d, i) => d === full[i])) return 'row';
  const lead = small.slice(0, -1);
  if (small.length >= 1 && small[small.length - 1] === n && lead.every((d) => d === 1)) return 'col';
  return undefined;
}

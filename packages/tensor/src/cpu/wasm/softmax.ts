// Softmax / log-softmax over the last axis on the WebAssembly kernel in
// packages/tensor/wasm/softmax.ts (same module and single-thread instance as the matmul).
// Bit-identical to the JavaScript loop in ../backend.ts (`softmaxJs`), which it replaces
// for all but tiny problems: the same float64 operations in the same order, with an exp
// that is V8's Math.exp bit for bit (see wasm/softmax.ts); the log-softmax's one Math.log
// per row stays here in JavaScript. See docs/decisions/wasm-softmax.md.
import { withArrays } from './arena.js';
import { exact, parallelMin } from './elementwise.js';
import { parallelKernel, singleKernels } from './matmul.js';

/** Below this many elements the JavaScript loop is used (copy-in/out and call overhead). */
export const SOFTMAX_WASM_MIN = 256;

/** out = softmax(x) (or log-softmax) over rows of n float32 values; out is fully overwritten (out may be x). */
export function softmaxF32(x: Float32Array, out: Float32Array, rows: number, n: number, log: boolean): void {
  const len = rows * n;
  if (len === 0) return;
  withArrays([exact(x, len)], [exact(out, len)], rows * 16, (k, [xp, op], aux) => {
    // One pass over the rows, split over the two threads where it pays (rows are independent).
    const pass = (mode: number) => {
      if (len >= parallelMin.elements && rows >= 2) {
        const parts = Math.min(4, rows);
        const chunks = Array.from({ length: parts }, (_, c) => {
          const [a, b] = [Math.floor((c * rows) / parts), Math.floor(((c + 1) * rows) / parts)];
          return [xp! + 4 * a * n, op! + 4 * a * n, b - a, n, mode, aux + 16 * a];
        });
        if (parallelKernel(k, 'softmaxRows', chunks)) return;
      }
      k.exports.softmaxRows(xp!, op!, rows, n, mode, aux);
    };
    if (!log) {
      pass(0);
      return;
    }
    pass(1);
    const f64 = k.f64;
    for (let r = 0, a = (aux >>> 3) + 1; r < rows; r++, a += 2) f64[a] = Math.log(f64[a]!);
    pass(2);
  });
}

/** The kernel's exp (for tests): V8's Math.exp, bit for bit. */
export function wasmExp(x: number): number {
  return singleKernels(0).exports.exp(x);
}

/** The kernel's two-lane exp (for tests): [exp(a), exp(b)], each V8's Math.exp bit for bit. */
export function wasmExpPair(a: number, b: number): [number, number] {
  const e = singleKernels(0).exports;
  return [e.expPair(a, b, 0), e.expPair(a, b, 1)];
}

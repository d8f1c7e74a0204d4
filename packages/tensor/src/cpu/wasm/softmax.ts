// Softmax / log-softmax over the last axis on the WebAssembly kernel in
// packages/tensor/wasm/softmax.ts (same module and single-thread instance as the matmul).
// Bit-identical to the JavaScript loop in ../backend.ts (`softmaxJs`), which it replaces
// for all but tiny problems: the same float64 operations in the same order, with an exp
// that is V8's Math.exp bit for bit (see wasm/softmax.ts); the log-softmax's one Math.log
// per row stays here in JavaScript. See docs/decisions/wasm-softmax.md.
import { singleKernels } from './matmul.js';

/** Below this many elements the JavaScript loop is used (copy-in/out and call overhead). */
export const SOFTMAX_WASM_MIN = 256;

function align64(x: number): number {
  return Math.ceil(x / 64) * 64;
}

/** out = softmax(x) (or log-softmax) over rows of n float32 values; out is fully overwritten. */
export function softmaxF32(x: Float32Array, out: Float32Array, rows: number, n: number, log: boolean): void {
  const len = rows * n;
  if (len === 0) return;
  const bytes = align64(len * 4) + rows * 16;
  let k = singleKernels(bytes);
  const xOff = k.heapBase;
  const auxOff = xOff + align64(len * 4);
  k.f32.set(x.length === len ? x : x.subarray(0, len), xOff >>> 2);
  if (!log) {
    k.exports.softmaxRows(xOff, xOff, rows, n, 0, auxOff);
  } else {
    k.exports.softmaxRows(xOff, xOff, rows, n, 1, auxOff);
    k = singleKernels(bytes);
    const aux = k.f64;
    for (let r = 0, a = (auxOff >>> 3) + 1; r < rows; r++, a += 2) aux[a] = Math.log(aux[a]!);
    k.exports.softmaxRows(xOff, xOff, rows, n, 2, auxOff);
  }
  k = singleKernels(bytes);
  out.set(k.f32.subarray(xOff >>> 2, (xOff >>> 2) + len));
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

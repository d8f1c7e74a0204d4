/**
 * Plain TypeScript matmul with the same contract as the wasm kernel: used as the
 * reference in tests and for hosts without WebAssembly SIMD.
 * out[i] = op(A[i]) @ op(B[i]); k-sums run in increasing p.
 */
export function matmulJs(
  a: Float32Array, b: Float32Array, out: Float32Array,
  batch: number, m: number, k: number, n: number,
  transA: boolean, transB: boolean, aBatchStride: number, bBatchStride: number,
): void {
  const acc = new Float32Array(n);
  for (let bi = 0; bi < batch; bi++) {
    const ao = bi * aBatchStride;
    const bo = bi * bBatchStride;
    const oo = bi * m * n;
    for (let i = 0; i < m; i++) {
      acc.fill(0);
      for (let p = 0; p < k; p++) {
        const av = transA ? a[ao + p * m + i]! : a[ao + i * k + p]!;
        if (transB) for (let j = 0; j < n; j++) acc[j] = acc[j]! + av * b[bo + j * k + p]!;
        else {
          const row = bo + p * n;
          for (let j = 0; j < n; j++) acc[j] = acc[j]! + av * b[row + j]!;
        }
      }
      out.set(acc, oo + i * n);
    }
  }
}

/**
 * float32 batched matmul, register tiled: each invocation computes a 4×4 block
 * of C and walks k in steps of 4, reading 4×4 blocks of A and B as four vec4
 * loads each wherever alignment allows (otherwise 16 clamped scalar loads).
 * No workgroup memory and no barriers: on llvmpipe a barrier costs more than
 * the reuse it buys (docs/decisions/webgpu-on-cpu.md), and on a GPU the caches serve the reuse.
 *
 * Each C element is one thread's running sum over p = 0, 1, ..., k-1 in
 * increasing order (the cpu's order), so the result is deterministic. Very
 * long k runs as segments [pBegin, pEnd), one dispatch each, continuing from
 * the partial sums in C (see MAX_LOOP in wgsl.ts).
 *
 * Layouts: A(i, p) = a[aOff + i·k + p], or a[aOff + p·m + i] when transA;
 *          B(p, j) = b[bOff + p·n + j], or b[bOff + j·k + p] when transB.
 * Params: [m, k, n, aBatchStride, bBatchStride, firstBatch, pBegin, pEnd].
 */
import { PARAMS } from '../wgsl.js';

export interface MatmulVariant {
  transA: boolean;
  transB: boolean;
  /** A is read as vec4: along p (needs k % 4 = 0) or, transposed, along i (m % 4 = 0). */
  vecA: boolean;
  /** B is read as vec4: along j (n % 4 = 0) or, transposed, along p (k % 4 = 0). */
  vecB: boolean;
  /** C rows are stored as vec4 (n % 4 = 0). */
  vecC: boolean;
}

/** Which vec4 paths are legal for these sizes (every offset must be a multiple of 4 floats). */
export function matmulVariant(m: number, k: number, n: number, transA: boolean, transB: boolean, aStride: number, bStride: number): MatmulVariant {
  return {
    transA,
    transB,
    vecA: aStride % 4 === 0 && (transA ? m % 4 === 0 : k % 4 === 0),
    vecB: bStride % 4 === 0 && (transB ? k % 4 === 0 : n % 4 === 0),
    vecC: n % 4 === 0,
  };
}

/** Workgroup shape: x over column tiles, y over row tiles. */
export const MATMUL_WG: readonly [number, number] = [8, 8];

export function matmulKernel(v: MatmulVariant): string {
  const [tx, ty] = MATMUL_WG;
  const sA = (idx: string) => (v.vecA ? `A[(${idx}) >> 2u][(${idx}) & 3u]` : `A[${idx}]`);
  const sB = (idx: string) => (v.vecB ? `B[(${idx}) >> 2u][(${idx}) & 3u]` : `B[${idx}]`);
  const idxA = (i: string, p: string) => (v.transA ? `aOff + (${p}) * M + ${i}` : `aOff + ${i} * K + ${p}`);
  const idxB = (p: string, j: string) => (v.transB ? `bOff + ${j} * K + (${p})` : `bOff + (${p}) * N + ${j}`);
  const R = [0, 1, 2, 3];

  // Rows a_r = A(i0+r, p..p+3) of the A block.
  let loadA: string;
  if (v.vecA && !v.transA) loadA = R.map((r) => `    let a${r} = A[(aOff + ri${r} * K + p) >> 2u];`).join('\n');
  else if (v.vecA) {
    loadA = `    let at = transpose(mat4x4<f32>(${R.map((q) => `A[(aOff + (p + ${q}u) * M + i0) >> 2u]`).join(', ')}));\n`
      + R.map((r) => `    let a${r} = at[${r}];`).join('\n');
  } else {
    loadA = R.map((r) => `    let a${r} = vec4<f32>(${R.map((q) => sA(idxA(`ri${r}`, `p + ${q}u`))).join(', ')});`).join('\n');
  }
  // Rows b_q = B(p+q, j0..j0+3) of the B block.
  let loadB: string;
  if (v.vecB && !v.transB) loadB = R.map((q) => `    let b${q} = B[(bOff + (p + ${q}u) * N + j0) >> 2u];`).join('\n');
  else if (v.vecB) {
    loadB = `    let bt = transpose(mat4x4<f32>(${R.map((c) => `B[(bOff + cj${c} * K + p) >> 2u]`).join(', ')}));\n`
      + R.map((q) => `    let b${q} = bt[${q}];`).join('\n');
  } else {
    loadB = R.map((q) => `    let b${q} = vec4<f32>(${R.map((c) => sB(idxB(`p + ${q}u`, `cj${c}`))).join(', ')});`).join('\n');
  }
  // Sequential adds keep the k order p, p+1, p+2, p+3 for every output.
  const fma = R.map((r) => ['x', 'y', 'z', 'w'].map((c, q) => `    acc${r} = acc${r} + a${r}.${c} * b${q};`).join('\n')).join('\n');
  const tail = `    let bq = vec4<f32>(${R.map((c) => sB(idxB('p', `cj${c}`))).join(', ')});\n`
    + R.map((r) => `    acc${r} = acc${r} + ${sA(idxA(`ri${r}`, 'p'))} * bq;`).join('\n');
  const loadC = v.vecC
    ? R.map((r) => `    if (i0 + ${r}u < M) { acc${r} = C[(cOff + (i0 + ${r}u) * N + j0) >> 2u]; }`).join('\n')
    : R.map((r) => `    if (i0 + ${r}u < M) {\n${R.map((c) => `      if (j0 + ${c}u < N) { acc${r}[${c}] = C[cOff + (i0 + ${r}u) * N + j0 + ${c}u]; }`).join('\n')}\n    }`).join('\n');
  const store = v.vecC
    ? R.map((r) => `  if (i0 + ${r}u < M) { C[(cOff + (i0 + ${r}u) * N + j0) >> 2u] = acc${r}; }`).join('\n')
    : R.map((r) => `  if (i0 + ${r}u < M) {\n${R.map((c) => `    if (j0 + ${c}u < N) { C[cOff + (i0 + ${r}u) * N + j0 + ${c}u] = acc${r}[${c}]; }`).join('\n')}\n  }`).join('\n');

  return `${PARAMS}
@group(0) @binding(1) var<storage, read> A: array<${v.vecA ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read> B: array<${v.vecB ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(3) var<storage, read_write> C: array<${v.vecC ? 'vec4<f32>' : 'f32'}>;

@compute @workgroup_size(${tx}, ${ty})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = P(0u);
  let K = P(1u);
  let N = P(2u);
  let i0 = gid.y * 4u;
  let j0 = gid.x * 4u;
  if (i0 >= M || j0 >= N) { return; }
  let batch = gid.z + P(5u);
  let aOff = batch * P(3u);
  let bOff = batch * P(4u);
  let cOff = batch * M * N;
  // Rows and columns past the edge are clamped for loading and skipped when storing.
${R.map((r) => `  let ri${r} = min(i0 + ${r}u, M - 1u);`).join('\n')}
${R.map((c) => `  let cj${c} = min(j0 + ${c}u, N - 1u);`).join('\n')}
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  let pBegin = P(6u);
  let pEnd = P(7u);
  if (pBegin > 0u) {
${loadC}
  }
  let k4 = pBegin + ((pEnd - pBegin) & ~3u);
  for (var p = pBegin; p < k4; p += 4u) {
${loadA}
${loadB}
${fma}
  }
  for (var p = k4; p < pEnd; p++) {
${tail}
  }
${store}
}`;
}

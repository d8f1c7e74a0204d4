/**
 * Shared pieces of the WGSL kernels. Every kernel has the same shape:
 *
 *   @binding(0)  a uniform block of 64 u32 parameter words (`P(i)`, `Pi(i)`, `Pf(i)`)
 *   @binding(1…) storage buffers: inputs (read) first, the output (read_write) last
 *   entry point `main`, one invocation per output element (1-D, possibly laid out
 *   on a 2-D grid when there are more than 65535 workgroups)
 *
 * Kernels are generated per (op, dtype, rank) from small templates, so each
 * compiled shader is straight-line code with its loops over axes unrolled.
 * Storage holds 32-bit words for every dtype (bool as u32 0/1), so layout kernels
 * move raw u32 words and never care about the dtype.
 */
import type { DType } from '../dtype.js';

/** The WGSL scalar type that stores a dtype. */
export function wgslType(dtype: DType): 'f32' | 'i32' | 'u32' {
  return dtype === 'float32' ? 'f32' : dtype === 'int32' ? 'i32' : 'u32';
}

/** Parameter block and accessors. P(0) is the element count of 1-D kernels. */
export const PARAMS = /* wgsl */ `
struct Params { v: array<vec4<u32>, 16> }
@group(0) @binding(0) var<uniform> prm: Params;
fn P(i: u32) -> u32 { return prm.v[i >> 2u][i & 3u]; }
fn Pi(i: u32) -> i32 { return bitcast<i32>(P(i)); }
fn Pf(i: u32) -> f32 { return bitcast<f32>(P(i)); }
`;

/**
 * Float classification by bit pattern. Shader compilers may assume NaN and
 * infinity never occur (WGSL allows it), which can fold x != x to false; integer
 * tests on the bits cannot be optimised away.
 */
export const FLOAT_BITS = /* wgsl */ `
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn is_inf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn sign_bit(x: f32) -> bool { return (bitcast<u32>(x) & 0x80000000u) != 0u; }
// Private variables, not consts: WGSL rejects NaN/inf in constant expressions.
var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;
`;

/** A storage binding declaration. */
export function binding(index: number, name: string, type: string, write = false): string {
  return `@group(0) @binding(${index}) var<storage, ${write ? 'read_write' : 'read'}> ${name}: array<${type}>;`;
}

/**
 * Entry point of a 1-D kernel: `i` is the flat output index; invocations past
 * P(0) return at once. `body` is the per-element code.
 */
export function main1D(wg: number, body: string): string {
  return /* wgsl */ `
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${wg}u + lid;
  if (i >= P(0)) { return; }
${body}
}`;
}

/**
 * WGSL statements that split the flat index `i` into coordinates over `rank` axes
 * whose sizes are the params at `shapeAt`, `shapeAt+1`, ... (row major), and add
 * `Σ coord_d · stride_d` to each named i32 offset variable, whose strides (i32
 * words, possibly negative or 0 for broadcast axes) start at the given param index.
 * The offset variables must already be declared with `var`.
 */
export function stridedOffsets(rank: number, shapeAt: number, offsets: readonly { name: string; stridesAt: number }[]): string {
  if (rank === 0) return '';
  const lines = ['  var rem = i;'];
  for (let d = rank - 1; d >= 0; d--) {
    const size = `P(${shapeAt + d}u)`;
    if (d > 0) lines.push(`  let c${d} = i32(rem % ${size}); rem = rem / ${size};`);
    else lines.push(`  let c${d} = i32(rem);`);
    for (const o of offsets) lines.push(`  ${o.name} += c${d} * Pi(${o.stridesAt + d}u);`);
  }
  return lines.join('\n');
}

/**
 * Most loop iterations one invocation may run, all loops together. Mesa's
 * llvmpipe stops every loop of an invocation once 65535 iterations have run in
 * total (a single per-invocation "loop limiter"), silently. Kernels whose loops
 * depend on the data size therefore run in segments of at most this many
 * iterations, one dispatch per segment, carrying their state in the output
 * buffer, which keeps the exact sequential order of a single loop.
 */
export const MAX_LOOP = 16384;

/**
 * Philox-4x32-10, bit for bit as philox.ts: one invocation per block of four
 * words, counter (block, 0, 0, 0). WGSL has no 64-bit multiply, so the high
 * word of a 32×32 product is assembled from 16-bit halves exactly as mulhi32
 * does on the host (every partial product fits in a u32).
 *
 * 'uniform' maps a word w to (f32(w >> 9) + 0.5) · 2^-23: w >> 9 has 23 bits, so
 * every step is exact and all backends agree to the bit.
 * Params: [n = number of blocks, size, key0, key1, uniform ? 1 : 0].
 */
import { PARAMS, binding, main1D } from '../wgsl.js';

export function randomKernel(wg: number): string {
  const fns = /* wgsl */ `
fn mulhi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu; let a1 = a >> 16u;
  let b0 = b & 0xffffu; let b1 = b >> 16u;
  let lo = a0 * b0;
  let mid1 = a1 * b0;
  let mid2 = a0 * b1;
  let carry = ((lo >> 16u) + (mid1 & 0xffffu) + (mid2 & 0xffffu)) >> 16u;
  return a1 * b1 + (mid1 >> 16u) + (mid2 >> 16u) + carry;
}
fn philox(key: vec2<u32>, ctr: vec4<u32>) -> vec4<u32> {
  var c = ctr;
  var k = key;
  for (var r = 0; r < 10; r++) {
    let hi0 = mulhi(0xd2511f53u, c.x);
    let lo0 = 0xd2511f53u * c.x;
    let hi1 = mulhi(0xcd9e8d57u, c.z);
    let lo1 = 0xcd9e8d57u * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k = k + vec2<u32>(0x9e3779b9u, 0xbb67ae85u);
  }
  return c;
}
`;
  const body = `  let w = philox(vec2<u32>(P(2u), P(3u)), vec4<u32>(i, 0u, 0u, 0u));
  let size = P(1u);
  for (var l = 0u; l < 4u; l++) {
    let at = i * 4u + l;
    if (at < size) {
      var v = w[l];
      if (P(4u) != 0u) { v = bitcast<u32>((f32(v >> 9u) + 0.5) * 1.1920928955078125e-7); }
      Y[at] = v;
    }
  }`;
  return PARAMS + fns + binding(1, 'Y', 'u32', true) + main1D(wg, body);
}

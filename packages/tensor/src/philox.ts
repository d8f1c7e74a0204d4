/**
 * Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11),
 * a counter-based generator: the output is a pure function of (key, counter), so any
 * element of a random stream can be computed independently, in any order, on any backend.
 * The WGSL kernel in the webgpu backend implements the same rounds bit for bit.
 */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32 (JS has no u64 multiply; split in 16-bit halves). */
export function mulhi32(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16;
  const b0 = b & 0xffff, b1 = b >>> 16;
  const lo = a0 * b0;
  const mid1 = a1 * b0;
  const mid2 = a0 * b1;
  const carry = ((lo >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) >>> 16;
  return (a1 * b1 + (mid1 >>> 16) + (mid2 >>> 16) + carry) >>> 0;
}

/** One Philox-4x32-10 block: writes the 4 output words for counter (c0..c3) into `out`. */
export function philox4x32(k0: number, k1: number, c0: number, c1: number, c2: number, c3: number, out: Uint32Array | number[]): void {
  for (let r = 0; r < 10; r++) {
    const hi0 = mulhi32(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** Fills `out` (length n) with the stream for key: word w = lane (w mod 4) of block floor(w/4). */
export function philoxStream(k0: number, k1: number, out: Int32Array | Uint32Array): void {
  const block = new Uint32Array(4);
  const n = out.length;
  for (let i = 0, c = 0; i < n; i += 4, c++) {
    philox4x32(k0, k1, c, 0, 0, 0, block);
    for (let l = 0; l < 4 && i + l < n; l++) out[i + l] = block[l]!;
  }
}

/** Converts a random word to a float32 strictly inside (0, 1): (floor(w / 2^9) + 0.5) · 2^-23, exact. */
export function wordToUniform(w: number): number {
  return ((w >>> 9) + 0.5) * 1.1920928955078125e-7;
}

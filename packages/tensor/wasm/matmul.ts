// AssemblyScript source of the cpu backend's float32 matmul kernel (WebAssembly SIMD).
//
// Build: `node packages/tensor/scripts/build-wasm.mjs` compiles this file with
// `asc --enable simd -O3 --runtime stub --importMemory ...` and writes the bytes as
// base64 to src/cpu/wasm/kernels.generated.ts. The TypeScript wrapper
// (src/cpu/wasm/matmul.ts) owns the linear memory layout; this module only computes.
//
// ## Numerics / determinism
// Every output element is computed as the strictly sequential float32 sum
//     s = 0; for p in 0..k-1: s = s + a[i][p] * b[p][j]      (separate mul and add, no FMA)
// regardless of which micro-kernel, tile size, row range or k-block produced it:
//   * a SIMD lane only ever holds one output element, so vectorisation is across
//     output columns, never across k;
//   * k-blocking (KC) stores the partial sum to C as float32 and reloads it, which is
//     exactly what the sequential loop does;
//   * wasm floating point is IEEE-754 with no contraction, so mul+add never fuses.
// Hence the result is bit-identical between calls, between thread splits of the output
// (rows, column panels or batch entries), and equal to a naive float32 reference loop.
//
// ## Performance design (measured on the 2-vCPU AMD EPYC dev VM, Node 20 / V8 11.3)
// * Micro-kernel: 5 rows x 8 columns of C held in 10 v128 accumulators. Per k step it
//   loads 2 vectors of B, broadcasts 5 values of A with v128.load32_splat and does
//   10 f32x4.mul + 10 f32x4.add. V8 on x64 has 15 allocatable xmm registers (xmm15 is
//   its scratch register): 10 acc + 2 B + 1 A broadcast fits without spills, whereas
//   6x8 (12+2+1) spills and runs at ~33 GFLOP/s vs ~60 for 5x8 in isolation
//   (4x8 ~50, 3x8 ~46). Unrolling the k loop or a do-while loop shape made V8's output
//   slower (~27-40), so the loop is kept as the plain form below.
// * A is normally NOT packed: the kernel walks 5 row pointers with a generic element
//   stride, so row-major A (step 4 bytes) is read in place at full speed. Skipping the
//   pack matters for the small transformer shapes, where packing A would cost about as
//   much as the multiply. Transposed A is packed per row block (see packAT) because its
//   k step is m*4 bytes, which thrashes cache sets when m is a power of two.
// * B is packed into k-block x 8-column panels (contiguous 32 bytes per k step) so the
//   inner loop streams it from L1; B^T is transposed during packing with 4x4 shuffles.
//   When B is not transposed and small (fits in L2), full panels are read straight from
//   the source (ldb = n*4) and only the ragged last panel is packed.
// * Loop nest (BLIS-style): batch -> k block (KC) -> pack B -> row block (MC) ->
//   B panel (8 cols, stays in L1) -> 5-row tiles (A rows from L2).

// ---- tunables -------------------------------------------------------------------------

/** Rows per micro-tile (see the register budget above). */
const MR: i32 = 5;
/** Columns per micro-tile: two f32x4 vectors. Also the packed-panel width. */
const NR: i32 = 8;
/** k-block: a packed B panel is KC*NR*4 = 8 KiB, which stays in L1d (32-48 KiB). Measured
 *  128/256/384/512 all within ~2% at n=1024. */
const KC: i32 = 256;
/** Row block (a multiple of MR): MC*KC*4 = 120 KiB of A stays in L2 (512 KiB-1 MiB)
 *  while the B panels sweep it. 60 and 240 measured slightly slower. */
const MC: i32 = 120;
/** Read non-transposed B in place (no packing) when all of it is at most this many bytes. */
const DIRECT_B_MAX_BYTES: i32 = 256 * 1024;

/** Bytes of packing scratch the wrapper must reserve per thread for a given n. */
export function packBytes(n: i32): i32 {
  return KC * (((n + NR - 1) / NR) * NR) * 4;
}

/** Whether matmul() reads B in place instead of packing it (the wrapper's thread split uses this). */
export function readsBDirect(k: i32, n: i32, transB: bool): bool {
  return !transB && <i64>k * <i64>n * 4 <= <i64>DIRECT_B_MAX_BYTES;
}

/** Bytes of the per-thread A^T packing scratch (one MC x KC block, see packAT). */
export function packABytes(): i32 {
  return MC * KC * 4;
}

/** Bytes of the per-thread edge-tile scratch (one MR x NR tile). */
export function tmpBytes(): i32 {
  return MR * NR * 4;
}

/** First byte of linear memory not used by this module's static data. */
export function heapBase(): usize {
  return __heap_base;
}

// ---- micro-kernel ---------------------------------------------------------------------

/**
 * C[0..rows, 0..8) (+)= A_tile @ B_panel over kc steps.
 * `rows` is a compile-time constant at every call site (the callers below are
 * monomorphic wrappers), so after inlining binaryen removes the unused accumulators
 * and branches, giving dedicated 5/4/3/2/1-row kernels from one source.
 *
 * a:   address of A(i, p0); row r lives at a + r*rsA, and each k step adds csA.
 * b:   address of the panel's first k step (8 floats); each k step adds ldb.
 * c:   address of C(i, j); rows are ldc bytes apart.
 * acc: false -> start from 0 (first k block); true -> continue the sum stored in C.
 */
// @ts-ignore: decorator
@inline
function tile(
  rows: i32, kc: i32, a: usize, rsA: usize, csA: usize,
  b: usize, ldb: usize, c: usize, ldc: usize, acc: bool,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  if (acc) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    if (rows > 1) { c10 = v128.load(c + ldc); c11 = v128.load(c + ldc, 16); }
    if (rows > 2) { c20 = v128.load(c + 2 * ldc); c21 = v128.load(c + 2 * ldc, 16); }
    if (rows > 3) { c30 = v128.load(c + 3 * ldc); c31 = v128.load(c + 3 * ldc, 16); }
    if (rows > 4) { c40 = v128.load(c + 4 * ldc); c41 = v128.load(c + 4 * ldc, 16); }
  }
  let a0 = a;
  let a1 = a0 + rsA;
  let a2 = a1 + rsA;
  let a3 = a2 + rsA;
  let a4 = a3 + rsA;
  // Plain `for` shape on purpose: see the header (V8 codegen was measurably worse for
  // unrolled / do-while variants of this loop).
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    b += ldb;
    let x = v128.load32_splat(a0);
    a0 += csA;
    c00 = f32x4.add(c00, f32x4.mul(x, b0));
    c01 = f32x4.add(c01, f32x4.mul(x, b1));
    if (rows > 1) {
      x = v128.load32_splat(a1);
      a1 += csA;
      c10 = f32x4.add(c10, f32x4.mul(x, b0));
      c11 = f32x4.add(c11, f32x4.mul(x, b1));
    }
    if (rows > 2) {
      x = v128.load32_splat(a2);
      a2 += csA;
      c20 = f32x4.add(c20, f32x4.mul(x, b0));
      c21 = f32x4.add(c21, f32x4.mul(x, b1));
    }
    if (rows > 3) {
      x = v128.load32_splat(a3);
      a3 += csA;
      c30 = f32x4.add(c30, f32x4.mul(x, b0));
      c31 = f32x4.add(c31, f32x4.mul(x, b1));
    }
    if (rows > 4) {
      x = v128.load32_splat(a4);
      a4 += csA;
      c40 = f32x4.add(c40, f32x4.mul(x, b0));
      c41 = f32x4.add(c41, f32x4.mul(x, b1));
    }
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  if (rows > 1) { v128.store(c + ldc, c10); v128.store(c + ldc, c11, 16); }
  if (rows > 2) { v128.store(c + 2 * ldc, c20); v128.store(c + 2 * ldc, c21, 16); }
  if (rows > 3) { v128.store(c + 3 * ldc, c30); v128.store(c + 3 * ldc, c31, 16); }
  if (rows > 4) { v128.store(c + 4 * ldc, c40); v128.store(c + 4 * ldc, c41, 16); }
}

// One real function per row count: keeps each kernel's register allocation independent
// (V8 compiles functions separately) and the dispatch cost to one call.
function tile5(kc: i32, a: usize, rsA: usize, csA: usize, b: usize, ldb: usize, c: usize, ldc: usize, acc: bool): void {
  tile(5, kc, a, rsA, csA, b, ldb, c, ldc, acc);
}
function tile4(kc: i32, a: usize, rsA: usize, csA: usize, b: usize, ldb: usize, c: usize, ldc: usize, acc: bool): void {
  tile(4, kc, a, rsA, csA, b, ldb, c, ldc, acc);
}
function tile3(kc: i32, a: usize, rsA: usize, csA: usize, b: usize, ldb: usize, c: usize, ldc: usize, acc: bool): void {
  tile(3, kc, a, rsA, csA, b, ldb, c, ldc, acc);
}
function tile2(kc: i32, a: usize, rsA: usize, csA: usize, b: usize, ldb: usize, c: usize, ldc: usize, acc: bool): void {
  tile(2, kc, a, rsA, csA, b, ldb, c, ldc, acc);
}
function tile1(kc: i32, a: usize, rsA: usize, csA: usize, b: usize, ldb: usize, c: usize, ldc: usize, acc: bool): void {
  tile(1, kc, a, rsA, csA, b, ldb, c, ldc, acc);
}

// @ts-ignore: decorator
@inline
function tileRows(
  rows: i32, kc: i32, a: usize, rsA: usize, csA: usize,
  b: usize, ldb: usize, c: usize, ldc: usize, acc: bool,
): void {
  if (rows >= 5) tile5(kc, a, rsA, csA, b, ldb, c, ldc, acc);
  else if (rows == 4) tile4(kc, a, rsA, csA, b, ldb, c, ldc, acc);
  else if (rows == 3) tile3(kc, a, rsA, csA, b, ldb, c, ldc, acc);
  else if (rows == 2) tile2(kc, a, rsA, csA, b, ldb, c, ldc, acc);
  else tile1(kc, a, rsA, csA, b, ldb, c, ldc, acc);
}

// ---- B packing ------------------------------------------------------------------------

/**
 * Pack B(pc..pc+kc, panels jp0..jp1-1) into panels: panel jp holds, for each k step, the
 * 8 values B(p, 8jp..8jp+7) contiguously (zero-padded past n), at dst + jp*kc*32.
 * `b` is the start of this batch's B. Panels that will be read in place (direct) are
 * skipped.
 */
function packB(
  b: usize, pc: i32, kc: i32, k: i32, n: i32, transB: bool, direct: bool, dst: usize,
  jp0: i32, jp1: i32,
): void {
  for (let jp = jp0; jp < jp1; jp++) {
    const j = jp * NR;
    const nr = min(NR, n - j);
    let d = dst + <usize>jp * <usize>kc * 32;
    if (!transB) {
      if (nr == NR) {
        if (direct) continue;
        // B row-major k x n: the 8 values of one k step are already contiguous.
        let s = b + (<usize>pc * <usize>n + <usize>j) * 4;
        const ld = <usize>n * 4;
        for (let p = 0; p < kc; p++) {
          v128.store(d, v128.load(s));
          v128.store(d, v128.load(s, 16), 16);
          s += ld;
          d += 32;
        }
      } else {
        let s = b + (<usize>pc * <usize>n + <usize>j) * 4;
        const ld = <usize>n * 4;
        for (let p = 0; p < kc; p++) {
          v128.store(d, f32x4.splat(0));
          v128.store(d, f32x4.splat(0), 16);
          for (let q = 0; q < nr; q++) store<f32>(d + <usize>q * 4, load<f32>(s + <usize>q * 4));
          s += ld;
          d += 32;
        }
      }
    } else {
      // B stored transposed (n x k): B(p, j) is at b + (j*k + p)*4, i.e. each output
      // column is a contiguous run over p. Transpose 4x4 blocks with shuffles.
      const ld = <usize>k * 4;
      const s0 = b + (<usize>j * <usize>k + <usize>pc) * 4;
      if (nr == NR) {
        const s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld;
        const s4 = s3 + ld, s5 = s4 + ld, s6 = s5 + ld, s7 = s6 + ld;
        let p = 0;
        for (; p + 4 <= kc; p += 4) {
          const o = <usize>p * 4;
          const dd = d + <usize>p * 32;
          transpose4(v128.load(s0 + o), v128.load(s1 + o), v128.load(s2 + o), v128.load(s3 + o), dd);
          transpose4(v128.load(s4 + o), v128.load(s5 + o), v128.load(s6 + o), v128.load(s7 + o), dd + 16);
        }
        for (; p < kc; p++) {
          const o = <usize>p * 4;
          const dd = d + <usize>p * 32;
          store<f32>(dd, load<f32>(s0 + o));
          store<f32>(dd, load<f32>(s1 + o), 4);
          store<f32>(dd, load<f32>(s2 + o), 8);
          store<f32>(dd, load<f32>(s3 + o), 12);
          store<f32>(dd, load<f32>(s4 + o), 16);
          store<f32>(dd, load<f32>(s5 + o), 20);
          store<f32>(dd, load<f32>(s6 + o), 24);
          store<f32>(dd, load<f32>(s7 + o), 28);
        }
      } else {
        for (let p = 0; p < kc; p++) {
          const dd = d + <usize>p * 32;
          v128.store(dd, f32x4.splat(0));
          v128.store(dd, f32x4.splat(0), 16);
          for (let q = 0; q < nr; q++) {
            store<f32>(dd + <usize>q * 4, load<f32>(s0 + <usize>q * ld + <usize>p * 4));
          }
        }
      }
    }
  }
}

/**
 * Rows r0..r3 hold 4 consecutive k values of 4 consecutive columns; write them as
 * 4 k steps of 4 columns each, 32 bytes apart (the packed panel stride).
 */
// @ts-ignore: decorator
@inline
function transpose4(r0: v128, r1: v128, r2: v128, r3: v128, d: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5); // r0[0] r1[0] r0[1] r1[1]
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7); // r0[2] r1[2] r0[3] r1[3]
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(d, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 32);
  v128.store(d, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 64);
  v128.store(d, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 96);
}

// ---- driver ---------------------------------------------------------------------------

/**
 * Pack the A^T block rows [i0, i1) x k steps [pc, pc+kc) into MR-row panels: panel t
 * holds, for each k step, the MR values A(i0+5t .. i0+5t+4, p) contiguously (20 bytes),
 * at dst + t*kc*20. Only used for transposed A: there the kernel would otherwise step
 * m*4 bytes per k step, and when that stride is a multiple of a large power of two (m =
 * 256, 512, 1024...) every step maps to the same few cache sets and the A tile no
 * longer stays cached (measured: 39 instead of 60 GFLOP/s at n=1024).
 */
function packAT(a: usize, m: i32, i0: i32, i1: i32, pc: i32, kc: i32, dst: usize): void {
  const ld = <usize>m * 4;
  let src = a + <usize>pc * ld + <usize>i0 * 4;
  const rowsAll = i1 - i0;
  const full = rowsAll / MR;
  const rest = rowsAll - full * MR;
  const panelBytes = <usize>kc * (MR * 4);
  for (let p = 0; p < kc; p++) {
    let s = src;
    let d = dst + <usize>p * (MR * 4);
    for (let t = 0; t < full; t++) {
      v128.store(d, v128.load(s));
      store<f32>(d, load<f32>(s, 16), 16);
      s += MR * 4;
      d += panelBytes;
    }
    for (let r = 0; r < rest; r++) store<f32>(d + <usize>r * 4, load<f32>(s + <usize>r * 4));
    src += ld;
  }
}

/**
 * out[bi] = op(A[bi]) @ op(B[bi]) for bi in [b0, b1), output rows [m0, m1) and output
 * column panels [jp0, jp1) (columns 8*jp0 .. min(8*jp1, n)) only.
 * All pointers are byte addresses in linear memory; strides are in elements.
 * The full problem is (batch, m, k, n); the ranges let several threads split the output
 * without changing any element's arithmetic (each element is still produced by one tile
 * running the same sequential k loop). k >= 1 (the wrapper handles k == 0).
 * Scratch, per thread: pack = packBytes(n) bytes, packA = packABytes() bytes (only
 * touched when transA), tmp = tmpBytes() bytes.
 */
export function matmul(
  aPtr: usize, bPtr: usize, cPtr: usize,
  m: i32, k: i32, n: i32,
  transA: bool, transB: bool, aStride: i32, bStride: i32,
  b0: i32, b1: i32, m0: i32, m1: i32, jp0: i32, jp1: i32,
  pack: usize, packA: usize, tmp: usize,
): void {
  // Element (i, p) of op(A) is at A + i*rsA + p*csA.
  const rsA: usize = transA ? 4 : <usize>k * 4;
  const csA: usize = transA ? <usize>m * 4 : 4;
  const ldc: usize = <usize>n * 4;
  const direct = readsBDirect(k, n, transB);
  for (let bi = b0; bi < b1; bi++) {
    const A = aPtr + <usize>bi * <usize>aStride * 4;
    const B = bPtr + <usize>bi * <usize>bStride * 4;
    const C = cPtr + <usize>bi * <usize>m * <usize>n * 4;
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const acc = pc > 0;
      // A broadcast B (bStride 0) with a single k block is packed once per call.
      if (!(bi > b0 && bStride == 0 && kc == k)) packB(B, pc, kc, k, n, transB, direct, pack, jp0, jp1);
      const Ak = A + <usize>pc * csA;
      for (let ic = m0; ic < m1; ic += MC) {
        const ie = min(ic + MC, m1);
        // Where this row block's A tiles are read from (see packAT).
        let Ai = Ak + <usize>ic * rsA;
        let rsT = rsA, csT = csA, tileStep = <usize>MR * rsA;
        if (transA) {
          packAT(A, m, ic, ie, pc, kc, packA);
          Ai = packA;
          rsT = 4;
          csT = MR * 4;
          tileStep = <usize>kc * (MR * 4);
        }
        for (let jp = jp0; jp < jp1; jp++) {
          const j = jp * NR;
          const nr = min(NR, n - j);
          let bp: usize = pack + <usize>jp * <usize>kc * 32;
          let ldb: usize = 32;
          if (direct && nr == NR) {
            bp = B + (<usize>pc * <usize>n + <usize>j) * 4;
            ldb = <usize>n * 4;
          }
          const Cj = C + <usize>j * 4;
          let at = Ai;
          if (nr == NR) {
            for (let i = ic; i < ie; i += MR) {
              tileRows(ie - i, kc, at, rsT, csT, bp, ldb, Cj + <usize>i * ldc, ldc, acc);
              at += tileStep;
            }
          } else {
            // Ragged last panel: run the full-width kernel on an MR x 8 scratch tile
            // (the padded B columns are zero) and copy the nr valid columns.
            for (let i = ic; i < ie; i += MR) {
              const rows = min(MR, ie - i);
              const Ci = Cj + <usize>i * ldc;
              if (acc) copyTile(Ci, ldc, tmp, 32, rows, nr);
              tileRows(rows, kc, at, rsT, csT, bp, ldb, tmp, 32, acc);
              copyTile(tmp, 32, Ci, ldc, rows, nr);
              at += tileStep;
            }
          }
        }
      }
    }
  }
}

function copyTile(src: usize, lds: usize, dst: usize, ldd: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let q = 0; q < cols; q++) store<f32>(dst + <usize>q * 4, load<f32>(src + <usize>q * 4));
    src += lds;
    dst += ldd;
  }
}

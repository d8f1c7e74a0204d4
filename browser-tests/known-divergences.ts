/**
 * Where Chromium's WebGPU on SwiftShader (the adapter of GPU-less machines) gives
 * results that the packages' parity tests, written against Dawn on Mesa llvmpipe,
 * do not accept, although the WGSL specification allows them. Each entry needs both the
 * test's name and the failure message to match, so any other failure of those tests
 * still fails the run; a match is reported as a known divergence (counted with the
 * skipped, never as a pass). They are findings for the WGSL kernels: see
 * docs/decisions/browser-tests.md, "What Chromium found".
 */
export interface KnownDivergence {
  /** A substring of the test's full name (file > describe > it). */
  test: string;
  /** What the failure message must match. */
  error: RegExp;
  /** Why the result differs, and what the specification says. */
  why: string;
  /** A further condition on the failure message (e.g. only degenerate cases). */
  when?: (error: string) => boolean;
}

export const KNOWN_DIVERGENCES: KnownDivergence[] = [
  ...(['sin', 'cos'] as const).map((op) => ({
    test: `tensor/webgpu-parity > webgpu parity with cpu > unary > ${op} float32`,
    error: new RegExp(`${op}: element \\d+ differs: webgpu [-\\d.e]+ vs cpu [-\\d.e]+`),
    why: `SwiftShader's ${op} is off by up to ~3e-5 (cos(0.011773) = 0.99990064 vs 0.99993068; sin(-0.188914) = -0.18777056 vs -0.18779245); the test allows 2e-5 absolute (+1e-5 relative), WGSL allows 2^-11 absolute on [-π, π].`,
  })),
  {
    test: 'tensor/webgpu-parity > webgpu parity with cpu > unary > NaN, ±∞ and ±0 flow through every float op as on cpu',
    error: /exp on specials: element 0 differs: webgpu Infinity vs cpu NaN/,
    why: 'SwiftShader returns exp(NaN) = +∞; WGSL lets an implementation assume no NaN reaches a shader (results for NaN inputs are indeterminate), so NaN propagation would need an explicit check in the kernel.',
  },
  {
    test: 'tensor/webgpu-fused > fused webgpu kernels against cpu > row softmax and log-softmax > softmax: −∞ entries, all −∞ rows, NaN rows as on cpu',
    error: /softmax: element \d+ differs: webgpu 0 vs cpu NaN/,
    why: 'A NaN in a softmax row: SwiftShader\'s max/exp do not propagate it, so the row comes out finite (0) instead of NaN; the same WGSL latitude as exp(NaN).',
  },
  {
    test: 'tensor/webgpu-fused > fused webgpu kernels against cpu > row softmax and log-softmax > logSoftmax: −∞ entries, all −∞ rows, NaN rows as on cpu',
    error: /logSoftmax: element \d+ differs: webgpu -Infinity vs cpu NaN/,
    why: 'As for softmax: a NaN row of logSoftmax comes out −∞ instead of NaN on SwiftShader.',
  },
  {
    test: 'nn/webgpu-fused > fused webgpu ops under autodiff > second-order gradients (traced backward passes compose the rules) match cpu',
    error: /second order (\{[^}]*\}), leaf \d+: element \d+: webgpu [-\d.e]+ vs cpu [-\d.e]+/,
    // Only the degenerate width d = h·dh ≤ 2.
    when: (error) => {
      const m = /second order (\{[^}]*\})/.exec(error);
      if (!m) return false;
      const c = JSON.parse(m[1]!) as { h: number; dh: number };
      return c.h * c.dh <= 2;
    },
    why: 'With d = h·dh = 2, LayerNorm over two features is ±1 whatever q is, so this second-order gradient is analytically 0 and both backends return rounding noise (~2e-4 here); SwiftShader\'s noise differs from llvmpipe\'s by more than the 1e-3 normwise tolerance of the noise itself. A test issue (the case needs an absolute tolerance), not a kernel error.',
  },
];

/** The known divergence a failure matches, if any. */
export function knownDivergence(name: string, error: string | undefined): KnownDivergence | undefined {
  const e = error ?? '';
  return KNOWN_DIVERGENCES.find((k) => name.includes(k.test) && k.error.test(e) && (k.when?.(e) ?? true));
}

/**
 * The test files `pnpm test:browser` runs in Chromium: the packages' own vitest files
 * (unchanged; `vitest` is aliased to shim/vitest.ts) and the browser-only files in
 * tests/. Left out: files that need Node (child processes, the file system: the wasm
 * matmul's process test, checkpoints, atomic writes) and the pure-JS ones whose code
 * paths the listed files already cover.
 */
export const TEST_FILES: Record<string, string> = {
  // cpu ↔ webgpu parity, primitive by primitive, fused kernels and memory.
  'tensor/webgpu-parity': 'packages/tensor/test/webgpu-parity.test.ts',
  'tensor/webgpu-fused': 'packages/tensor/test/webgpu-fused.test.ts',
  'tensor/webgpu-memory': 'packages/tensor/test/webgpu-memory.test.ts',
  // The cpu backend against an independent float64 reference.
  'tensor/primitives': 'packages/tensor/test/primitives.test.ts',
  'tensor/normalize': 'packages/tensor/test/normalize.test.ts',
  'tensor/adam-step': 'packages/tensor/test/adam-step.test.ts',
  'tensor/random': 'packages/tensor/test/random.test.ts',
  // Gradient checks (finite differences), autodiff laws, autodiff on webgpu.
  'autodiff/rules': 'packages/autodiff/test/rules.test.ts',
  'autodiff/laws': 'packages/autodiff/test/laws.test.ts',
  'autodiff/logsoftmax': 'packages/autodiff/test/logsoftmax.test.ts',
  'autodiff/webgpu': 'packages/autodiff/test/webgpu.test.ts',
  // nn: RW-1 check losses on both backends, fused ops under autodiff, the transformer, training.
  'nn/reference-workloads': 'packages/nn/test/reference-workloads.test.ts',
  'nn/webgpu-fused': 'packages/nn/test/webgpu-fused.test.ts',
  'nn/transformer': 'packages/nn/test/transformer.test.ts',
  'nn/optim': 'packages/nn/test/optim.test.ts',
  'nn/copy-task': 'packages/nn/test/copy-task.test.ts',
  // Browser-only: the platform (navigator.gpu, Web Worker matmul), bits equal to Node's, RW-1 losses reported.
  'browser/platform': 'browser-tests/tests/platform.test.ts',
  'browser/cpu-bits': 'browser-tests/tests/cpu-bits.test.ts',
  'browser/rw1': 'browser-tests/tests/rw1.test.ts',
};

/** The cpu backend's matmul: the WebAssembly SIMD kernel (see wasm/matmul.ts for its contract). */
export { matmulF32 } from './wasm/matmul.js';

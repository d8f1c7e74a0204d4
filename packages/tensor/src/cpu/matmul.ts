/** The cpu backend's matmul: the WebAssembly SIMD kernel (matmul-js.ts holds the plain reference with the same contract). */
export { matmulF32 } from './wasm/matmul.js';

/** The cpu backend's matmul entry point (see matmul-js.ts for the contract). */
export { matmulJs as matmulF32 } from './matmul-js.js';

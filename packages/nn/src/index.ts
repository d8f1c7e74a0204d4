/**
 * @tandem/nn — params as pytrees, layers as pure functions, a small
 * encoder–decoder transformer with KV-cache sampling, optimisers and checkpoints.
 *
 * This is the Node entry: browser.ts (the `browser` condition) plus the modules
 * that use the file system and node:crypto.
 */
export * from './browser.js';
export * from './checkpoint.js';
export { syncDirectory, writeFileAtomic } from './atomic-write.js';

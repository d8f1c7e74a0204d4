/**
 * @tandem/experiments — Effect-style experiment programs (fp-ts ReaderTaskEither)
 * over a run store, reproducing the online-vs-offline preference optimisation study.
 */
export * from './program.js';
export * from './config.js';
export * from './presets.js';
export * from './hash.js';
export * from './env.js';
export * from './version.js';
export * from './code-hash.js';
export * from './capacity.js';
export * from './run-config.js';
export type { RunStore } from './store/types.js';
export { fsStore } from './store/fs.js';
export { memoryStore, type MemoryRun, type MemoryStore } from './store/memory.js';
export * from './runs/cache.js';
export * from './runs/metrics.js';
export * from './runs/setup.js';
export * from './runs/train.js';
export * from './runs/dataset.js';
export * from './study.js';
export * from './jobs.js';
export * from './figures/index.js';
export * from './figures/stats.js';
export * from './report.js';
export * from './export.js';
export * from './experiments.js';
export * from './verify.js';
export * from './runs/artifacts.js';
export { main as cliMain } from './cli.js';

/**
 * @tandem/rlhf — synthetic preference tasks, golden and proxy preference models,
 * and the composable values of preference optimisation: Samplers, Losses,
 * Evaluators, and the one training step online and offline runs share.
 */
export * from './errors.js';
export * from './types.js';
export * from './rng.js';
export * from './tasks/index.js';
export * from './datasets.js';
export * from './codecs.js';
export * from './batch.js';
export * from './policy.js';
export * from './preference-model.js';
export * from './labellers.js';
export * from './losses.js';
export * from './samplers.js';
export * from './train.js';
export * from './evaluators.js';
export * from './stream-evaluators.js';
export * from './pipeline.js';

/**
 * The two presets. `quick` keeps the protocol and shrinks every count so the whole
 * study runs on a 2-core laptop in about an hour (fig1 + fig4 in ≤ 15 minutes);
 * `full` is the faithful protocol at CPU scale and takes hours (resumable, cached).
 */
import type { StudyConfig } from './config.js';

/** The default preset: the same protocol as {@link FULL} with every count shrunk (tiny policies, summarize, 150 steps); the whole study in about an hour on a laptop. */
export const QUICK: StudyConfig = {
  data: {
    task: 'summarize', seed: 0, initialPairs: 2400, heldOutFraction: 0.1,
    golden: { mode: 'model', size: 'base', fit: { steps: 500, batchSize: 32, lr: 1e-3, warmup: 50 } },
  },
  setup: {
    size: 'tiny',
    proxy: { steps: 300, batchSize: 32, lr: 1e-3, warmup: 30 },
    sft: { steps: 500, batchSize: 64, lr: 2e-3, warmup: 50 },
  },
  baseline: { steps: 150, batchSize: 16, lr: 5e-4, beta: 0.1, checkpointEvery: 50 },
  train: { steps: 150, batchSize: 16, lr: 5e-4, beta: 0.1, checkpointEvery: 25 },
  eval: { every: 25, klPrompts: 128, winRatePrompts: 512, classifierPairs: 256 },
  offlineSweep: { lrs: [2e-4, 5e-4, 1e-3], betas: [0.1, 0.5, 1], steps: [150] },
  shuffleWindows: [1, 4, 16, 'all'],
  datasetCheckpoints: { early: 30, late: 150 },
  sizes: ['tiny', 'small'],
};

/** The faithful protocol at CPU scale; takes hours (resumable and cached). */
export const FULL: StudyConfig = {
  data: {
    task: 'summarize', seed: 0, initialPairs: 8000, heldOutFraction: 0.1,
    golden: { mode: 'model', size: 'large', fit: { steps: 3000, batchSize: 32, lr: 5e-4, warmup: 300 } },
  },
  setup: {
    size: 'small',
    proxy: { steps: 2000, batchSize: 32, lr: 5e-4, warmup: 200 },
    sft: { steps: 3000, batchSize: 64, lr: 1e-3, warmup: 300 },
  },
  baseline: { steps: 1000, batchSize: 32, lr: 2e-4, beta: 0.1, checkpointEvery: 100 },
  train: { steps: 1000, batchSize: 32, lr: 2e-4, beta: 0.1, checkpointEvery: 100 },
  eval: { every: 100, klPrompts: 256, winRatePrompts: 2048, classifierPairs: 256 },
  offlineSweep: { lrs: [1e-4, 2e-4, 5e-4], betas: [0.1, 0.5, 1], steps: [1000, 5000] },
  shuffleWindows: [1, 4, 64, 'all'],
  datasetCheckpoints: { early: 200, late: 1000 },
  sizes: ['tiny', 'small', 'base'],
};

/** A seconds-long configuration that exercises every code path (CI's end-to-end checks). */
export const SMOKE: StudyConfig = {
  data: {
    task: 'summarize', seed: 0, initialPairs: 160, heldOutFraction: 0.2,
    golden: { mode: 'model', size: 'tiny', fit: { steps: 12, batchSize: 16, lr: 2e-3, warmup: 2 } },
  },
  setup: {
    size: 'tiny',
    proxy: { steps: 8, batchSize: 16, lr: 2e-3, warmup: 2 },
    sft: { steps: 12, batchSize: 16, lr: 3e-3, warmup: 2 },
  },
  baseline: { steps: 4, batchSize: 4, lr: 1e-3, beta: 0.1, checkpointEvery: 2 },
  train: { steps: 8, batchSize: 4, lr: 1e-3, beta: 0.1, checkpointEvery: 2 },
  eval: { every: 4, klPrompts: 6, winRatePrompts: 8, classifierPairs: 8 },
  offlineSweep: { lrs: [1e-3], betas: [0.1, 0.5], steps: [8] },
  shuffleWindows: [1, 2, 'all'],
  datasetCheckpoints: { early: 4, late: 8 },
  sizes: ['tiny'],
};

/** The presets by the name `--preset` takes: quick, full and smoke. */
export const PRESETS: Record<string, StudyConfig> = { quick: QUICK, full: FULL, smoke: SMOKE };

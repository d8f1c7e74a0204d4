/**
 * The presets: one design (docs/decisions/study-protocol.md) at four scales. `paper` is the
 * pre-registered protocol at CPU scale (≤ 2 hours on 2 cores with `--workers 2`); `quick`
 * keeps the design shrunk so `pnpm start` (fig1 + fig4) stays within 15 minutes; `full` is
 * the larger faithful run (hours); `smoke` exercises every code path in seconds (CI).
 *
 * Hyper-parameters follow stated rules, not outcomes: the offline grid is log-spaced around
 * the centre (lr 1e-3 on CPU presets, β 0.1), and online runs (and the golden baseline) use the grid's
 * middle learning rate and β, as the paper does.
 */
import type { StudyConfig } from './config.js';

/** The pre-registered protocol at CPU scale: tiny policies, all four tasks, 3 replicates of the headline comparisons in both coverage regimes. */
export const PAPER: StudyConfig = {
  data: {
    task: 'summarize', seed: 0, coverage: 'suboptimal', replicate: 0, initialPairs: 4000, heldOutFraction: 0.1,
    golden: { mode: 'model', size: 'small', fit: { steps: 2000, batchSize: 16, lr: 1e-3, warmup: 100, validateEvery: 100, patience: 2 } },
  },
  setup: {
    size: 'tiny',
    proxy: { steps: 2000, batchSize: 32, lr: 1e-3, warmup: 50, validateEvery: 100, patience: 2 },
    sft: { steps: 1000, batchSize: 64, lr: 2e-3, warmup: 100 },
  },
  baseline: { steps: 400, batchSize: 16, lr: 1e-3, beta: 0.1, checkpointEvery: 40 },
  train: { steps: 400, batchSize: 16, lr: 1e-3, beta: 0.1, checkpointEvery: 40 },
  eval: { every: 40, klPrompts: 64, winRatePrompts: 256, classifierPairs: 128 },
  offlineSweep: { lrs: [5e-4, 1e-3, 2e-3], betas: [0.03, 0.1, 0.3], steps: [400, 2000], longBetas: [0.1] },
  shuffleWindows: [1, 4, 16, 'all'],
  datasetCheckpoints: { early: 80, late: 400 },
  sizes: ['tiny', 'small'],
  seeds: 3,
  tasks: ['summarize', 'helpful', 'harmless', 'arena'],
};

/** The default preset: the paper design shrunk (one replicate, shorter runs, smaller fits) so `pnpm start` (fig1 + fig4) stays within 15 minutes on 2 cores. */
export const QUICK: StudyConfig = {
  data: {
    task: 'summarize', seed: 0, coverage: 'suboptimal', replicate: 0, initialPairs: 2400, heldOutFraction: 0.1,
    golden: { mode: 'model', size: 'small', fit: { steps: 1200, batchSize: 16, lr: 1e-3, warmup: 50, validateEvery: 100, patience: 2 } },
  },
  setup: {
    size: 'tiny',
    proxy: { steps: 1200, batchSize: 32, lr: 1e-3, warmup: 30, validateEvery: 100, patience: 2 },
    sft: { steps: 800, batchSize: 64, lr: 2e-3, warmup: 50 },
  },
  baseline: { steps: 200, batchSize: 16, lr: 1e-3, beta: 0.1, checkpointEvery: 40 },
  train: { steps: 200, batchSize: 16, lr: 1e-3, beta: 0.1, checkpointEvery: 40 },
  eval: { every: 40, klPrompts: 64, winRatePrompts: 256, classifierPairs: 128 },
  offlineSweep: { lrs: [5e-4, 1e-3, 2e-3], betas: [0.03, 0.1, 0.3], steps: [200, 1000], longBetas: [0.1] },
  shuffleWindows: [1, 4, 'all'],
  datasetCheckpoints: { early: 40, late: 200 },
  sizes: ['tiny', 'small'],
  seeds: 1,
  tasks: ['summarize'],
};

/** The larger faithful protocol: small policies, longer runs, 5 replicates; takes many hours (resumable, cached). */
export const FULL: StudyConfig = {
  data: {
    task: 'summarize', seed: 0, coverage: 'suboptimal', replicate: 0, initialPairs: 8000, heldOutFraction: 0.1,
    golden: { mode: 'model', size: 'large', fit: { steps: 10000, batchSize: 32, lr: 5e-4, warmup: 300, validateEvery: 250, patience: 4 } },
  },
  setup: {
    size: 'small',
    proxy: { steps: 6000, batchSize: 32, lr: 5e-4, warmup: 200, validateEvery: 250, patience: 4 },
    sft: { steps: 4000, batchSize: 64, lr: 1e-3, warmup: 300 },
  },
  baseline: { steps: 1500, batchSize: 32, lr: 2e-4, beta: 0.1, checkpointEvery: 100 },
  train: { steps: 1500, batchSize: 32, lr: 2e-4, beta: 0.1, checkpointEvery: 100 },
  eval: { every: 100, klPrompts: 256, winRatePrompts: 1024, classifierPairs: 256 },
  offlineSweep: { lrs: [1e-4, 2e-4, 4e-4], betas: [0.03, 0.1, 0.3], steps: [1500, 7500], longBetas: [0.03, 0.1, 0.3] },
  shuffleWindows: [1, 4, 64, 'all'],
  datasetCheckpoints: { early: 300, late: 1500 },
  sizes: ['tiny', 'small', 'base'],
  seeds: 5,
  tasks: ['summarize', 'helpful', 'harmless', 'arena'],
};

/** A seconds-long configuration that exercises every code path (CI's end-to-end checks): two replicates and two tasks, so every per-seed and per-task path runs. */
export const SMOKE: StudyConfig = {
  data: {
    task: 'summarize', seed: 0, coverage: 'suboptimal', replicate: 0, initialPairs: 160, heldOutFraction: 0.2,
    golden: { mode: 'model', size: 'tiny', fit: { steps: 12, batchSize: 16, lr: 2e-3, warmup: 2, validateEvery: 4, patience: 2 } },
  },
  setup: {
    size: 'tiny',
    proxy: { steps: 8, batchSize: 16, lr: 2e-3, warmup: 2, validateEvery: 4, patience: 2 },
    sft: { steps: 12, batchSize: 16, lr: 3e-3, warmup: 2 },
  },
  baseline: { steps: 4, batchSize: 4, lr: 1e-3, beta: 0.1, checkpointEvery: 2 },
  train: { steps: 8, batchSize: 4, lr: 1e-3, beta: 0.1, checkpointEvery: 2 },
  eval: { every: 4, klPrompts: 6, winRatePrompts: 8, classifierPairs: 8 },
  offlineSweep: { lrs: [1e-3], betas: [0.1, 0.5], steps: [8, 16], longBetas: [0.1] },
  shuffleWindows: [1, 2, 'all'],
  datasetCheckpoints: { early: 4, late: 8 },
  sizes: ['tiny'],
  seeds: 2,
  tasks: ['summarize', 'helpful'],
};

/** The presets by the name `--preset` takes. */
export const PRESETS: Record<string, StudyConfig> = { paper: PAPER, quick: QUICK, full: FULL, smoke: SMOKE };

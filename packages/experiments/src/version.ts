/**
 * Part of every run id: bump RESULTS_VERSION whenever a change alters any number a
 * run produces, so stale cached results are never reused.
 */
export const RESULTS_VERSION = 2;
/** The code version that goes into every run id (see {@link runId}); changes with {@link RESULTS_VERSION}. */
export const CODE_VERSION = `tandem-experiments@0.1.0+r${RESULTS_VERSION}`;

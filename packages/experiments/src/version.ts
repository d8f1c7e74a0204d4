/**
 * Part of every run id: bump RESULTS_VERSION whenever a change alters any number a
 * run produces, or the form in which runs store them, so stale cached results are
 * never reused or misread.
 *
 * 3: metrics are `{ value, se }` records (`{"step", "loss", "metrics": {"kl": {"value", "se"}}}`
 *    in metrics.jsonl and result.json's `final`, which were flat `x`/`x_se` keys), and
 *    ckpt.bin keeps the run's resume state in the checkpoint's `runState`, not its `config`.
 *    The numbers are those of version 2.
 * 2: the policy-as-classifier accuracy on the online stream (`accStream`).
 */
export const RESULTS_VERSION = 3;
/** The code version that goes into every run id (see {@link runId}); changes with {@link RESULTS_VERSION}. */
export const CODE_VERSION = `tandem-experiments@0.1.0+r${RESULTS_VERSION}`;

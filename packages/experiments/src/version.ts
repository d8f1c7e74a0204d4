import { codeHash } from './code-hash.js';

/**
 * Part of every run id, beside the content hash of the code (see {@link codeVersion}),
 * which already changes with any edit to the code that computes runs. RESULTS_VERSION is
 * the human-readable part: bump it when the form in which runs store results changes,
 * so that `experiment verify` and people can tell the generations apart.
 *
 * 4: result.json is sealed (`{ result, files, sha256 }`: the result, the size and SHA-256 of
 *    every file of the run it depends on, and a checksum of both); stream.bin is append-only,
 *    one checksummed segment per batch; ckpt.bin's runState records how much of metrics.jsonl
 *    (records, bytes, SHA-256) and stream.bin (batches, bytes) it covers, and is written before
 *    the evaluation of its step. The numbers are those of version 3.
 * 3: metrics are `{ value, se }` records (`{"step", "loss", "metrics": {"kl": {"value", "se"}}}`
 *    in metrics.jsonl and result.json's `final`, which were flat `x`/`x_se` keys), and
 *    ckpt.bin keeps the run's resume state in the checkpoint's `runState`, not its `config`.
 *    The numbers are those of version 2.
 * 2: the policy-as-classifier accuracy on the online stream (`accStream`).
 */
export const RESULTS_VERSION = 5;
/**
 * The code version that goes into every run id (see {@link runId}) and every run's
 * config.json (`codeVersion`): `tandem@r<RESULTS_VERSION>+code.<16 hex digits>`, the
 * digits being the content hash of the `@tandem/*` code this process loaded (see
 * code-hash.ts). It changes whenever that code does — an edited loss, task, evaluator
 * or kernel never returns the old code's cached results — and is identical in every
 * process (CLI, pool and queue workers) running the same code. Computed once, on first use.
 */
export function codeVersion(): string {
  return `tandem@r${RESULTS_VERSION}+code.${codeHash().slice(0, 16)}`;
}
/** {@link codeVersion}, computed when this module loads. */
export const CODE_VERSION = codeVersion();

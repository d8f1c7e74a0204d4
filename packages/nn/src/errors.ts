/**
 * The one error class of @tandem/nn. Every error nn raises for its own checks is
 * an `NnError` whose message names the op, what it received and the rule that was
 * broken (`<op>: …`, as `TensorError`'s do), and whose `code` says which kind of
 * rule, so callers can branch on `code` instead of parsing messages. Errors from
 * the layers below (a `TensorError` from a tensor op, a Node error from the file
 * system) pass through unchanged.
 */

/**
 * What kind of rule a call broke, as a stable string:
 *
 * - `checkpoint-corrupt`: a checkpoint or safetensors file fails validation —
 *   truncated, a bad length prefix or header, offsets that do not tile the data,
 *   a checksum mismatch, a tree or metadata that does not fit the tensors;
 * - `checkpoint-version`: a readable safetensors file that is not a checkpoint of
 *   this format version (`__metadata__.format` is absent or is not
 *   `CHECKPOINT_FORMAT`; a checkpoint whose format tag itself was damaged reads
 *   as this too);
 * - `shape`: a tensor or token sequence whose shape, rank, length or dtype does not
 *   fit the call (ids longer than the model's positions, a mask that is not bool
 *   [B, S], a sequence longer than its batch width);
 * - `argument`: any other invalid argument or option (a model config, a rate, a
 *   temperature, a key, a value a checkpoint cannot store, an unknown word).
 */
export type NnErrorCode = 'checkpoint-corrupt' | 'checkpoint-version' | 'shape' | 'argument';

/** Every {@link NnErrorCode}, in a fixed order. */
export const NN_ERROR_CODES: readonly NnErrorCode[] = ['checkpoint-corrupt', 'checkpoint-version', 'shape', 'argument'];

/** An error raised by @tandem/nn; `code` classifies it, `message` reads `<op>: <message>`. */
export class NnError extends Error {
  /** An error from `op` of kind `code`; the message reads `<op>: <message>`. */
  constructor(
    /** The function that rejected its input, e.g. `loadCheckpoint`. */
    readonly op: string,
    message: string,
    /** The kind of rule that was broken; see {@link NnErrorCode}. */
    readonly code: NnErrorCode,
  ) {
    super(`${op}: ${message}`);
    this.name = 'NnError';
  }
}

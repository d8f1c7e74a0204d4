/**
 * The one error class of @tandem/rlhf. Every error the layer raises is an
 * `RlhfError` whose message names the operation, what it received and the rule
 * that was broken (`<op>: …`), and whose `code` says which kind of mistake it was,
 * so callers can branch on `code` instead of parsing messages.
 */

/**
 * What went wrong, as a stable string:
 * - `'bad-input'`: an argument lies outside its documented domain (a size, fraction,
 *   probability or window; an unknown task name; a prompt without an arena marker;
 *   a loss that needs reference log-probs called without them).
 * - `'shape'`: values that must agree in length or fit a width do not (prompt and
 *   response lists of different lengths, a labeller returning the wrong number of
 *   labels, a token list wider than its padding width).
 * - `'bad-label'`: a labeller returned a label other than 0 or 1.
 * - `'empty-dataset'`: there is not enough data to proceed (nothing to train on,
 *   too few prompts for one batch, a recorded stream that runs out).
 * - `'bad-data'`: a pair or a serialised dataset (JSON lines, binary) fails validation.
 * - `'bad-task'`: a task definition breaks the shared limits (vocabulary, widths, temperature).
 */
export type RlhfErrorCode = 'bad-input' | 'shape' | 'bad-label' | 'empty-dataset' | 'bad-data' | 'bad-task';

/** An error raised by @tandem/rlhf; `code` classifies it, `message` explains it (`<op>: …`). */
export class RlhfError extends Error {
  /** An error of kind `code`; the message is used as given. */
  constructor(
    /** The kind of mistake; see {@link RlhfErrorCode}. */
    readonly code: RlhfErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RlhfError';
  }
}

/**
 * What kind of rule a call into autodiff broke. Stable across releases, so callers
 * can branch on it instead of parsing messages:
 *
 * - `argument`: a call autodiff cannot differentiate (an integer or bool input leaf,
 *   an `argnums` entry that is not an argument, `f` not returning a float32 scalar,
 *   checkGrads inputs off the cpu backend);
 * - `structure`: a cotangent whose structure or shapes differ from the output's;
 * - `disposed`: a pullback used after `dispose()`;
 * - `rule`: a traced primitive with no gradient rule;
 * - `mismatch`: checkGrads found analytic and numerical gradients that disagree.
 *
 * Errors from the tensor ops autodiff runs stay `TensorError`s.
 */
export type AutodiffErrorCode = 'argument' | 'structure' | 'disposed' | 'rule' | 'mismatch';

/** Every {@link AutodiffErrorCode}, in a fixed order. */
export const AUTODIFF_ERROR_CODES: readonly AutodiffErrorCode[] = ['argument', 'structure', 'disposed', 'rule', 'mismatch'];

/** An error raised by autodiff itself; the message reads `<op>: <message>`, as a TensorError's does. */
export class AutodiffError extends Error {
  constructor(
    /** The transform that rejected its input, e.g. `vjp`, `grad`, `checkGrads`. */
    readonly op: string,
    message: string,
    /** The kind of rule that was broken. */
    readonly code: AutodiffErrorCode,
  ) {
    super(`${op}: ${message}`);
    this.name = 'AutodiffError';
  }
}

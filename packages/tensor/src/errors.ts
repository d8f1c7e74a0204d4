/**
 * What kind of rule a call broke. Stable across releases, so callers can branch on
 * it instead of parsing messages:
 *
 * - `shape`: shapes, ranks, axes or permutations that do not fit together
 *   (broadcasting, matmul's inner dimensions, reshape sizes, an axis out of range);
 * - `dtype`: an operand or value of the wrong element type, or operands whose dtypes differ;
 * - `argument`: any other invalid argument (a zero step, a negative eps, an index out
 *   of range, an unknown option, malformed data); the default;
 * - `backend`: the backend cannot run the call (not initialised, shut down, device lost,
 *   a failed GPU command, operands on different backends, a limit of the backend);
 * - `disposed`: a tensor used after `dispose()`;
 * - `memory`: memory scopes used in a way they cannot manage (e.g. `tidy` of an async function).
 */
export type TensorErrorCode = 'shape' | 'dtype' | 'argument' | 'backend' | 'disposed' | 'memory';

/** Every {@link TensorErrorCode}, in a fixed order. */
export const TENSOR_ERROR_CODES: readonly TensorErrorCode[] = ['shape', 'dtype', 'argument', 'backend', 'disposed', 'memory'];

/**
 * Every error tandem raises for bad input names the op, what it received and the
 * rule that was broken, so a user can fix the call without reading our source.
 * `code` says which kind of rule (see {@link TensorErrorCode}).
 */
export class TensorError extends Error {
  /** An error from `op`; the message reads `<op>: <message>`. */
  constructor(
    /** The op that rejected its input, e.g. `matmul`. */
    readonly op: string,
    message: string,
    /** The kind of rule that was broken; `argument` when not given. */
    readonly code: TensorErrorCode = 'argument',
  ) {
    super(`${op}: ${message}`);
    this.name = 'TensorError';
  }
}

/** Formats a shape the way error messages print it: `[2,3]`, `[]` for a scalar. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

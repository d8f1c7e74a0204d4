/**
 * Every error tandem raises for bad input names the op, what it received and the
 * rule that was broken, so a user can fix the call without reading our source.
 */
export class TensorError extends Error {
  /** An error from `op`; the message reads `<op>: <message>`. */
  constructor(
    /** The op that rejected its input, e.g. `matmul`. */
    readonly op: string,
    message: string,
  ) {
    super(`${op}: ${message}`);
    this.name = 'TensorError';
  }
}

/** Formats a shape the way error messages print it: `[2,3]`, `[]` for a scalar. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

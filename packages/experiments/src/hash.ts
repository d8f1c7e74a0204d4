/** Content addresses: canonical JSON (sorted keys) hashed with SHA-256. */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level, so equal configs give equal text. */
export function canonicalJson(x: unknown): string {
  if (x === null || typeof x !== 'object') {
    if (typeof x === 'number' && !Number.isFinite(x)) throw new Error(`canonicalJson: non-finite number ${x}`);
    if (x === undefined) return 'null';
    return JSON.stringify(x);
  }
  if (Array.isArray(x)) return `[${x.map(canonicalJson).join(',')}]`;
  const o = x as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

/** SHA-256 of a string (as UTF-8) or bytes, as lowercase hex. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A run id: `<kind>-<first 16 hex digits of sha256(canonical {kind, config, codeVersion})>`. */
export function runId(kind: string, config: unknown, codeVersion: string): string {
  return `${kind}-${sha256(canonicalJson({ kind, config, codeVersion })).slice(0, 16)}`;
}

/**
 * Running one computation on both backends for the cpu ↔ webgpu parity tests: `f` builds
 * its result on the backend it is given, inside `tidy`; the result is read back and freed.
 */
import * as T from '../../src/index.js';
import type { HostArray, Tensor } from '../../src/index.js';

/** The backends a parity test compares. */
export type Where = 'cpu' | 'webgpu';

/** Runs `f` on one backend inside tidy, reads its result and disposes it. */
export async function runOn(b: Where, f: (b: Where) => Tensor): Promise<HostArray> {
  const t = T.tidy(() => f(b));
  try {
    return await t.data();
  } finally {
    t.dispose();
  }
}

/** `f`'s result on webgpu and on cpu, in that order. */
export const both = async (f: (b: Where) => Tensor): Promise<[HostArray, HostArray]> => [await runOn('webgpu', f), await runOn('cpu', f)];

/**
 * Test-wide fast-check settings: `TANDEM_FC_SEED=<seed>` replays the failing case a
 * property reported (fast-check prints its seed); otherwise each run draws new cases.
 */
import fc from 'fast-check';

const seed = process.env.TANDEM_FC_SEED;
if (seed !== undefined) {
  if (!/^-?\d+$/.test(seed)) throw new Error(`TANDEM_FC_SEED must be an integer, got '${seed}'`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: Number(seed) });
}

/**
 * The cpu backend in Chromium is bit-identical to the cpu backend under Node: the runner
 * computes fingerprint.ts's fingerprints under Node and hands them to the page
 * (globalThis.__TANDEM_NODE_FINGERPRINTS__); here the page computes its own and every
 * one must match.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpuFingerprints } from '../fingerprint.js';

const expected = (globalThis as { __TANDEM_NODE_FINGERPRINTS__?: Record<string, string> }).__TANDEM_NODE_FINGERPRINTS__;

describe('cpu results in Chromium = cpu results under Node, bit for bit', () => {
  let got: Record<string, string> = {};
  beforeAll(async () => {
    got = await cpuFingerprints();
  }, 120_000);

  it('the runner handed the page the Node fingerprints, and the page computed the same set', () => {
    expect(expected).toBeDefined();
    expect(Object.keys(got)).toEqual(Object.keys(expected!));
  });
  for (const name of Object.keys(expected ?? {})) {
    it(name, () => {
      expect(got[name], name).toBe(expected![name]);
    });
  }
});

/**
 * Labellers decide which of two responses is preferred. Online training labels
 * its own samples with one (the proxy model; the golden model for the golden
 * baseline); datasets are relabelled with one (D_golden).
 */
import type { Backend, Key } from '@tandem/tensor';
import { predictPreferences, type PreferenceModelParams, type PreferenceModelSpec } from './preference-model.js';
import { rngFromKey } from './rng.js';
import type { Tokens } from './types.js';

/** One comparison to label. */
export interface Comparison {
  /** The prompt. */
  readonly prompt: Tokens;
  /** The first response. */
  readonly y1: Tokens;
  /** The second response. */
  readonly y2: Tokens;
}

/** Returns 1 where y1 ≻ y2 and 0 where y2 ≻ y1. `k` drives any randomness (noisy raters). */
export interface Labeller {
  /** The labeller's name, recorded as the pairs' provenance labeller (e.g. 'rater', 'golden'). */
  readonly name: string;
  /** Labels each comparison (1: y1 preferred, 0: y2 preferred), in order; `k` drives any noise. */
  label(items: readonly Comparison[], k: Key): Promise<(0 | 1)[]>;
}

/** A labeller from a utility u(x, y): noisy Bradley–Terry with temperature τ, or noise-free (τ = 0, ties → y1). */
export function utilityLabeller(name: string, utility: (prompt: Tokens, y: Tokens) => number, temperature: number): Labeller {
  return {
    name,
    async label(items, k) {
      const rng = rngFromKey(k);
      return items.map((c) => {
        const d = utility(c.prompt, c.y1) - utility(c.prompt, c.y2);
        if (temperature === 0) return d >= 0 ? 1 : 0;
        return rng.next() < 1 / (1 + Math.exp(-d / temperature)) ? 1 : 0;
      });
    },
  };
}

/**
 * A learned preference model as labeller: the debiased sign rule
 * sign(r(x,y1,y2) − r(x,y2,y1)); an exact tie (e.g. identical responses) labels y1.
 */
export function modelLabeller(name: string, params: PreferenceModelParams, spec: PreferenceModelSpec, backend: Backend): Labeller {
  return {
    name,
    async label(items) {
      const p = await predictPreferences(params, spec, items, backend);
      return p.map((v) => (v === 0 ? 0 : 1));
    },
  };
}

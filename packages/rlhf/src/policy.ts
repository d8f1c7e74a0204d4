/**
 * Policies are @tandem/nn encoder–decoders from prompts to responses. These helpers
 * size a model for a task and compute the log-probabilities the losses and
 * evaluators need, from host tokens.
 */
import { EOS, generate, initTransformer, pairedSequenceLogProbs, sequenceLogProb, transformerConfig, type TransformerConfig, type TransformerParams } from '@tandem/nn';
import { tidy, type Backend, type Key, type Tensor } from '@tandem/tensor';
import { padTokens, responsesFromTensor, type Widths } from './batch.js';
import type { Tokens } from './types.js';

/** The size of a policy (or preference-model body). */
export interface ModelSize {
  /** Model width d. */
  dModel: number;
  /** Attention heads (must divide `dModel`). */
  heads: number;
  /** Hidden width of each feed-forward block. */
  dFf: number;
  /** Encoder layers, and as many decoder layers (a preference-model body has only the encoder). */
  layers: number;
}

/** Named sizes for scaling studies (tiny → large), all CPU-friendly. */
export const MODEL_SIZES: Record<string, ModelSize> = {
  tiny: { dModel: 32, heads: 2, dFf: 64, layers: 1 },
  small: { dModel: 48, heads: 4, dFf: 128, layers: 2 },
  base: { dModel: 64, heads: 4, dFf: 256, layers: 2 },
  large: { dModel: 96, heads: 4, dFf: 384, layers: 3 },
};

/** A policy config for prompts/responses of the given widths and a vocabulary. */
export function policyConfig(size: ModelSize, vocab: number, w: Widths): TransformerConfig {
  return transformerConfig({
    vocab, dModel: size.dModel, heads: size.heads, dFf: size.dFf, encLayers: size.layers, decLayers: size.layers,
    maxSrc: w.prompt, maxTgt: w.response,
  });
}

/** A policy: its config and widths (params travel separately, as pytrees). */
export interface PolicySpec {
  /** The transformer's config (vocabulary, widths and sizes). */
  cfg: TransformerConfig;
  /** Padding widths of prompts and responses; also the model's maxSrc / maxTgt. */
  widths: Widths;
}

/** Fresh policy params for `spec` from `k` (see {@link initTransformer}). */
export function initPolicy(k: Key, spec: PolicySpec): TransformerParams {
  return initTransformer(k, spec.cfg);
}

/** Summed log π(y | x) for host prompts/responses, [B]. */
export function logProbs(params: TransformerParams, spec: PolicySpec, prompts: readonly Tokens[], responses: readonly Tokens[], backend: Backend): Tensor {
  const x = padTokens(prompts, spec.widths.prompt, backend, 'prompt');
  const y = padTokens(responses, spec.widths.response, backend, 'response');
  return sequenceLogProb(params, spec.cfg, x.ids, y.ids, { srcMask: x.mask, tgtMask: y.mask });
}

/** Summed log-probs of two responses per prompt, encoder once: [log π(y1|x)], [log π(y2|x)]. */
export function pairLogProbs(params: TransformerParams, spec: PolicySpec, x: { ids: Tensor; mask: Tensor }, y1: { ids: Tensor; mask: Tensor }, y2: { ids: Tensor; mask: Tensor }): [Tensor, Tensor] {
  return pairedSequenceLogProbs(params, spec.cfg, x.ids, y1.ids, y2.ids, { srcMask: x.mask, y1Mask: y1.mask, y2Mask: y2.mask });
}

/** Samples one response per prompt (host tokens, each ending at EOS or at the width). */
export async function sampleResponses(params: TransformerParams, spec: PolicySpec, prompts: readonly Tokens[], k: Key, backend: Backend, temperature = 1): Promise<number[][]> {
  const tokens = tidy(() => {
    const x = padTokens(prompts, spec.widths.prompt, backend, 'prompt');
    return generate(params, spec.cfg, x.ids, { maxLen: spec.widths.response, key: k, temperature, eos: EOS, srcMask: x.mask }).tokens;
  });
  const out = await responsesFromTensor(tokens, EOS);
  tokens.dispose();
  return out;
}

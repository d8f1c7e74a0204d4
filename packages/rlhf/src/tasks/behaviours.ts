/**
 * Behaviour policies shared by all tasks: the stand-ins for the paper's data-collection
 * models. The full mixture spans near-ideal to random; its average stays far below the
 * ideal (room for preference optimisation to improve). Which of them D_initial draws from
 * is a coverage choice (./coverage.ts): the default 'suboptimal' mixture leaves out every
 * policy that emits the exact ideal on 5% of prompts or more (noisy-0.1 and noisy-0.3 on
 * every task, noisy-0.6 on harmless and arena, and harmless's comply and refuse), 'covered'
 * keeps them all.
 */
import type { Rng } from '../rng.js';
import type { Tokens } from '../types.js';
import type { BehaviourPolicy, Task } from './task.js';
import { responseParts } from './task.js';
import { EOS, RANGES } from './vocab.js';

/** Tokens a noisy policy may insert for a prompt ("invented" or irrelevant tokens). */
export type JunkPool = (prompt: Tokens) => Tokens;

/**
 * Ends a response: with probability `ramble` the policy forgets to stop and keeps emitting
 * junk up to the cap (no EOS, i.e. truncated); otherwise the content is cut to fit and EOS
 * appended. Either way the result is a valid response for the task.
 */
function finish(rng: Rng, content: number[], maxResponse: number, pool: Tokens, ramble: number): Tokens {
  if (ramble > 0 && pool.length > 0 && rng.bernoulli(ramble)) {
    const out = content.slice(0, maxResponse);
    while (out.length < maxResponse) out.push(rng.pick(pool));
    return out;
  }
  return [...content.slice(0, maxResponse - 1), EOS];
}

/**
 * The ideal response corrupted at rate ρ: each token is, with probability ρ, dropped, swapped
 * with the next, repeated, or preceded by a junk token; then with probability ρ/2 junk is
 * appended, with probability ρ/3 the content is truncated, and with probability ρ/4 the policy
 * rambles to the cap without EOS.
 */
export function noisyIdeal(rho: number, pool: JunkPool): BehaviourPolicy {
  return Object.freeze({
    name: `noisy-${rho}`,
    quality: Math.max(0, 1 - 0.75 * rho),
    sample(rng: Rng, prompt: Tokens, task: Task): Tokens {
      const ideal = responseParts(task.idealResponse(prompt)).content;
      const junk = pool(prompt);
      const out: number[] = [];
      for (let i = 0; i < ideal.length; i++) {
        const tok = ideal[i]!;
        if (!rng.bernoulli(rho)) {
          out.push(tok);
          continue;
        }
        switch (rng.int(4)) {
          case 0: // drop
            break;
          case 1: // swap with the next token (or drop, at the end)
            if (i + 1 < ideal.length) {
              out.push(ideal[i + 1]!, tok);
              i++;
            }
            break;
          case 2: // repeat
            out.push(tok, tok);
            break;
          default: // insert junk before it
            out.push(rng.pick(junk), tok);
        }
      }
      if (rng.bernoulli(rho / 2)) {
        const n = 1 + rng.int(2);
        for (let i = 0; i < n; i++) out.push(rng.pick(junk));
      }
      const cut = rng.bernoulli(rho / 3) ? out.slice(0, rng.int(out.length + 1)) : out;
      return finish(rng, cut, task.maxResponse, junk, rho / 4);
    },
  });
}

/** "Lazy": a random strict prefix of the ideal content (possibly empty), then EOS. */
export function lazyPolicy(): BehaviourPolicy {
  return Object.freeze({
    name: 'lazy',
    quality: 0.55,
    sample(rng: Rng, prompt: Tokens, task: Task): Tokens {
      const ideal = responseParts(task.idealResponse(prompt)).content;
      return finish(rng, ideal.slice(0, rng.int(Math.max(1, ideal.length))), task.maxResponse, [], 0);
    },
  });
}

/**
 * "Copy": parrots a stretch of the prompt (from a random start, wrapping around; 1 to cap−1
 * tokens, then EOS), and in a quarter of cases keeps parroting up to the cap without stopping.
 */
export function copyPolicy(): BehaviourPolicy {
  return Object.freeze({
    name: 'copy',
    quality: 0.05,
    sample(rng: Rng, prompt: Tokens, task: Task): Tokens {
      const start = rng.int(prompt.length);
      const ramble = rng.bernoulli(0.25);
      const n = ramble ? task.maxResponse : 1 + rng.int(task.maxResponse - 1);
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push(prompt[(start + i) % prompt.length]!);
      return ramble ? out : [...out, EOS];
    },
  });
}

/** "Random": 0 to cap−1 uniformly random non-special tokens, then EOS. */
export function randomPolicy(): BehaviourPolicy {
  return Object.freeze({
    name: 'random',
    quality: 0,
    sample(rng: Rng, _prompt: Tokens, task: Task): Tokens {
      const n = rng.int(task.maxResponse);
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push(RANGES.specials.end + rng.int(task.vocabSize - RANGES.specials.end));
      return finish(rng, out, task.maxResponse, [], 0);
    },
  });
}

/** The standard mixture: noisy ideal at ρ = 0.1, 0.3, 0.6, lazy, copy and random. */
export function standardBehaviours(pool: JunkPool): BehaviourPolicy[] {
  return [noisyIdeal(0.1, pool), noisyIdeal(0.3, pool), noisyIdeal(0.6, pool), lazyPolicy(), copyPolicy(), randomPolicy()];
}

/** The synthetic tasks: sizes, ideal responses, behaviour policies, raters and judges. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { key } from '@tandem/tensor';
import { rngFromKey, type Rng } from '../src/rng.js';
import {
  ANSWER_OF,
  COVERAGES,
  COVERAGE_THRESHOLD,
  DEFAULT_TASK,
  EOS,
  MARKERS,
  MAX_UTILITY,
  POOLED_TASKS,
  RANGES,
  REFUSE,
  TASKS,
  TASK_VOCAB,
  VOCAB_SIZE,
  WORDS,
  arenaSplit,
  behavioursFor,
  checkTask,
  exactIdealRate,
  getTask,
  harmless,
  helpful,
  inRange,
  isHarmful,
  isValidResponse,
  judge,
  preferenceProbability,
  rate,
  sampleQuestionPrompt,
  sampleSummarizePrompt,
  sigmoid,
  summarize,
  summarizeTopics,
  type Task,
} from '../src/tasks/index.js';
import type { Tokens } from '../src/types.js';

const ALL = Object.values(TASKS);
const seedArb = fc.integer({ min: 0, max: 2 ** 31 });
const rngOf = (seed: number) => rngFromKey(key(seed));

/** A random response: any ids (specials included) of length 1..maxResponse, EOS-terminated or not. */
function randomResponse(rng: Rng, task: Task): Tokens {
  const n = 1 + rng.int(task.maxResponse);
  const y = Array.from({ length: n }, () => rng.int(task.vocabSize));
  return rng.bernoulli(0.5) ? [...y.slice(0, task.maxResponse - 1), EOS] : y;
}

/** Every single-token edit of a response's content (drop, substitute, insert, swap), EOS kept. */
function edits(y: Tokens, vocab: number): Tokens[] {
  const c = y.slice(0, -1);
  const out: number[][] = [];
  for (let i = 0; i < c.length; i++) out.push([...c.slice(0, i), ...c.slice(i + 1)]);
  for (let i = 0; i < c.length - 1; i++) out.push([...c.slice(0, i), c[i + 1]!, c[i]!, ...c.slice(i + 2)]);
  for (let i = 0; i <= c.length; i++) for (let v = 0; v < vocab; v++) if (v !== EOS) out.push([...c.slice(0, i), v, ...c.slice(i)]);
  for (let i = 0; i < c.length; i++) for (let v = 0; v < vocab; v++) if (v !== EOS && v !== c[i]) out.push([...c.slice(0, i), v, ...c.slice(i + 1)]);
  return out.filter((e) => e.length <= 11).map((e) => [...e, EOS]);
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('registry and vocabulary', () => {
  it('registers the tasks, the default and the pooled set, all on the shared 64-token vocabulary', () => {
    expect(Object.keys(TASKS).sort()).toEqual(['arena', 'harmless', 'helpful', 'summarize']);
    expect(getTask(DEFAULT_TASK)).toBe(summarize);
    expect(POOLED_TASKS).toEqual(['summarize', 'helpful', 'harmless', 'arena']); // all four, as the paper's SFT policy (App. C)
    expect(() => getTask('nope')).toThrow(/unknown task "nope"; known tasks: summarize/);
    expect(WORDS).toHaveLength(VOCAB_SIZE);
    expect(TASK_VOCAB.size).toBe(64);
    expect(new Set(WORDS).size).toBe(64);
    for (const t of ALL) {
      expect(t.vocabSize).toBe(64);
      expect(t.maxPrompt).toBeLessThanOrEqual(24);
      expect(t.maxResponse).toBeLessThanOrEqual(12);
      expect(t.raterTemperature).toBeGreaterThan(0);
      expect(t.behaviourPolicies.length).toBeGreaterThanOrEqual(4);
      expect(new Set(t.behaviourPolicies.map((b) => b.name)).size).toBe(t.behaviourPolicies.length);
      expect(t.tokenName(EOS)).toBe('<eos>');
      expect(t.tokenName(REFUSE)).toBe('<refuse>');
      expect(Object.isFrozen(t) && Object.isFrozen(t.behaviourPolicies)).toBe(true);
    }
  });

  it('checkTask rejects a task outside the shared limits, naming the field', () => {
    expect(() => checkTask({ ...summarize, vocabSize: 32 })).toThrow(/task summarize: vocabSize must be the shared 64, got 32/);
    expect(() => checkTask({ ...summarize, maxResponse: 13 })).toThrow(/maxResponse must be in \[2, 12\]/);
    expect(() => checkTask({ ...summarize, maxPrompt: 25 })).toThrow(/maxPrompt/);
    expect(() => checkTask({ ...summarize, raterTemperature: 0 })).toThrow(/raterTemperature/);
    expect(() => checkTask({ ...summarize, behaviourPolicies: [] })).toThrow(/behaviour policy/);
    expect(() => checkTask({ ...summarize, coveringBehaviours: ['noisy-0.1', 'comply'] })).toThrow(/covering behaviour "comply" is not one of its behaviour policies/);
    expect(() => checkTask({ ...summarize, coveringBehaviours: summarize.behaviourPolicies.map((b) => b.name) })).toThrow(/does not cover the optimum/);
  });

  it('token ranges tile the vocabulary without overlap', () => {
    const owner = new Array<string | undefined>(64);
    for (const [name, r] of Object.entries(RANGES)) {
      for (let i = r.start; i < r.end; i++) {
        expect(owner[i]).toBeUndefined();
        owner[i] = name;
      }
    }
    expect(owner.every((o) => o !== undefined)).toBe(true);
  });
});

describe.each(ALL.map((t) => [t.name, t] as const))('%s', (_name, task) => {
  it('prompts respect the size limits and contain no special tokens', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const rng = rngOf(seed);
        for (let i = 0; i < 20; i++) {
          const p = task.samplePrompt(rng);
          expect(p.length).toBeGreaterThanOrEqual(1);
          expect(p.length).toBeLessThanOrEqual(task.maxPrompt);
          for (const id of p) {
            expect(Number.isInteger(id)).toBe(true);
            expect(id).toBeGreaterThanOrEqual(4);
            expect(id).toBeLessThan(task.vocabSize);
          }
        }
      }),
      { numRuns: 50 },
    );
  });

  it('the ideal response is valid, scores the maximum, and beats random and behaviour responses', () => {
    const rng = rngOf(11);
    for (let i = 0; i < 200; i++) {
      const p = task.samplePrompt(rng);
      const ideal = task.idealResponse(p);
      const u = task.utility(p, ideal);
      expect(isValidResponse(task, ideal)).toBe(true);
      expect(u).toBeCloseTo(MAX_UTILITY, 12);
      for (let j = 0; j < 20; j++) {
        const y = randomResponse(rng, task);
        const v = task.utility(p, y);
        expect(v).toBeGreaterThanOrEqual(-3);
        expect(v).toBeLessThanOrEqual(3);
        // Tokens after the first EOS do not count, so compare what a sampler would have kept.
        const kept = y.includes(EOS) ? y.slice(0, y.indexOf(EOS) + 1) : y;
        if (kept.join() !== ideal.join()) expect(v).toBeLessThan(u);
      }
      for (const b of task.behaviourPolicies) {
        const y = b.sample(rng, p, task);
        if (y.join() !== ideal.join()) expect(task.utility(p, y)).toBeLessThan(u);
      }
    }
  });

  it('every single-token edit of the ideal response lowers the utility (the ideal is a strict local maximum)', () => {
    const rng = rngOf(12);
    for (let i = 0; i < 8; i++) {
      const p = task.samplePrompt(rng);
      const ideal = task.idealResponse(p);
      const u = task.utility(p, ideal);
      for (const e of edits(ideal, task.vocabSize)) expect(task.utility(p, e)).toBeLessThan(u);
      // Forgetting to stop (same content, run into the cap without EOS) is worse too.
      const rambling = [...ideal.slice(0, -1)];
      while (rambling.length < task.maxResponse) rambling.push(rambling[rambling.length - 1] ?? 4);
      expect(task.utility(p, rambling)).toBeLessThan(u);
    }
  });

  it('behaviour policies produce valid responses with a spread of utilities, on average well below the ideal', () => {
    const rng = rngOf(13);
    const byPolicy = new Map<string, number[]>(task.behaviourPolicies.map((b) => [b.name, []]));
    for (let i = 0; i < 400; i++) {
      const p = task.samplePrompt(rng);
      for (const b of task.behaviourPolicies) {
        const y = b.sample(rng, p, task);
        expect(isValidResponse(task, y), `${b.name}: ${y.join(' ')}`).toBe(true);
        expect(y[y.length - 1] === EOS || y.length === task.maxResponse).toBe(true);
        byPolicy.get(b.name)!.push(task.utility(p, y));
      }
    }
    const all = [...byPolicy.values()].flat();
    const m = mean(all);
    const sd = Math.sqrt(mean(all.map((u) => (u - m) ** 2)));
    expect(m).toBeLessThan(MAX_UTILITY - 1.5); // room to improve
    expect(sd).toBeGreaterThan(1); // a spread, not one quality level
    const means = Object.fromEntries([...byPolicy].map(([n, us]) => [n, mean(us)]));
    // Quality ordering of the corruption levels, and near-ideal responses are covered.
    expect(means['noisy-0.1']!).toBeGreaterThan(means['noisy-0.3']!);
    expect(means['noisy-0.3']!).toBeGreaterThan(means['noisy-0.6']!);
    expect(means['noisy-0.6']!).toBeGreaterThan(means['random']!);
    expect(means['noisy-0.1']!).toBeGreaterThan(2);
    expect(means['random']!).toBeLessThan(-1);
    // Quality numbers are documented as ordering the policies the same way, roughly.
    const q = Object.fromEntries(task.behaviourPolicies.map((b) => [b.name, b.quality]));
    expect(q['noisy-0.1']!).toBeGreaterThan(q['noisy-0.6']!);
    expect(q['random']).toBe(0);
  });

  it('noise-free judgements between different behaviour responses are almost never ties', () => {
    const rng = rngOf(14);
    let distinct = 0;
    let ties = 0;
    for (let i = 0; i < 1000; i++) {
      const p = task.samplePrompt(rng);
      const [a, b] = [rng.pick(task.behaviourPolicies), rng.pick(task.behaviourPolicies)];
      const y1 = a.sample(rng, p, task);
      const y2 = b.sample(rng, p, task);
      if (y1.join() === y2.join()) continue;
      distinct++;
      if (judge(task, p, y1, y2) === 0.5) ties++;
    }
    expect(ties / distinct).toBeLessThan(0.01);
  });

  it('prompts and behaviour samples are pure functions of the key', () => {
    const draw = (seed: number) => {
      const rng = rngOf(seed);
      const p = task.samplePrompt(rng);
      return [p, ...task.behaviourPolicies.map((b) => b.sample(rng, p, task))];
    };
    expect(draw(5)).toEqual(draw(5));
    expect(draw(5)).not.toEqual(draw(6));
  });
});

describe('summarize', () => {
  it('prompts are 16–24 tokens of 3–5 topics (each k common) with distinct counts, fillers rarer than every topic', () => {
    const rng = rngOf(21);
    for (const maxLen of [24, 23]) {
      const ks = new Map<number, number>();
      const n = 1500;
      for (let i = 0; i < n; i++) {
        const p = maxLen === 24 ? summarize.samplePrompt(rng) : sampleSummarizePrompt(rng, maxLen); // arena caps documents at 23
        expect(p.length).toBeGreaterThanOrEqual(16);
        expect(p.length).toBeLessThanOrEqual(maxLen);
        const { topics, counts } = summarizeTopics(p);
        ks.set(topics.length, (ks.get(topics.length) ?? 0) + 1);
        expect(new Set(counts).size).toBe(counts.length);
        const fillerCounts = new Map<number, number>();
        for (const t of p) if (inRange(RANGES.fillers, t)) fillerCounts.set(t, (fillerCounts.get(t) ?? 0) + 1);
        const nFill = [...fillerCounts.values()].reduce((a, b) => a + b, 0);
        expect(nFill).toBeGreaterThanOrEqual(2);
        expect(nFill).toBeLessThanOrEqual(counts.reduce((a, b) => a + b, 0)); // topics dominate
        for (const c of fillerCounts.values()) expect(c).toBeLessThan(Math.min(...counts));
        expect(p.every((t) => inRange(RANGES.topics, t) || inRange(RANGES.fillers, t))).toBe(true);
        expect(summarize.idealResponse(p)).toHaveLength(topics.length + 1);
      }
      // k is uniform on {3, 4, 5}: each within 5 standard errors of n/3.
      expect([...ks.keys()].sort()).toEqual([3, 4, 5]);
      for (const c of ks.values()) expect(Math.abs(c - n / 3)).toBeLessThan(5 * Math.sqrt((n * 2) / 9));
    }
    expect(() => sampleSummarizePrompt(rng, 21)).toThrow(/maxLen must be in \[22, 24\], got 21/);
    expect(() => sampleSummarizePrompt(rng, 25)).toThrow(/maxLen/);
  });

  it('rewards the frequency order and penalises inventions, repeats, fillers and a missing EOS', () => {
    // sun ×6, rain ×4, wind ×2, fillers "the" ×2, "a" ×1.
    const [sun, rain, wind, fog, the] = [4, 5, 6, 8, 20];
    const p = [sun, sun, sun, sun, sun, sun, rain, rain, rain, rain, wind, wind, the, the, 21, sun];
    expect(summarize.idealResponse(p)).toEqual([sun, rain, wind, EOS]);
    const u = (...y: number[]) => summarize.utility(p, y);
    const ideal = u(sun, rain, wind, EOS);
    expect(ideal).toBe(3);
    expect(u(rain, sun, wind, EOS)).toBeLessThan(ideal); // wrong order
    expect(u(rain, sun, wind, EOS)).toBeGreaterThan(u(rain, sun, EOS)); // ...but still graded by coverage
    expect(u(rain, sun, EOS)).toBeGreaterThan(u(EOS)); // partial credit for misordered topics
    expect(u(sun, rain, EOS)).toBeGreaterThan(u(sun, EOS)); // coverage is graded
    expect(u(sun, EOS)).toBeGreaterThan(u(rain, EOS)); // the main topic is worth most
    expect(u(sun, rain, wind, the, EOS)).toBeGreaterThan(u(sun, rain, wind, fog, EOS)); // a filler is less bad than an invention
    expect(u(sun, rain, wind, sun, EOS)).toBeLessThan(ideal); // repeat
    expect(u(sun, rain, wind, 0, EOS)).toBeLessThan(u(sun, rain, wind, fog, EOS)); // a special inside is worst
    const truncated = [sun, rain, wind, ...new Array<number>(9).fill(the)];
    expect(summarize.utility(p, truncated)).toBeLessThan(u(sun, rain, wind, the, the, the, the, the, the, the, the, EOS));
    // Tokens after the first EOS are ignored (a sampler stops there).
    expect(u(sun, rain, wind, EOS, fog, fog)).toBe(ideal);
  });
});

describe('helpful', () => {
  it('the hidden mapping is a fixed bijection from question tokens to answer tokens', () => {
    const qs = [...ANSWER_OF.keys()];
    const as = [...ANSWER_OF.values()];
    expect(qs.every((q) => inRange(RANGES.questions, q))).toBe(true);
    expect(as.every((a) => inRange(RANGES.answers, a))).toBe(true);
    expect(new Set(as).size).toBe(12);
    expect(qs.some((q, i) => as[i]! - RANGES.answers.start !== q - RANGES.questions.start)).toBe(true); // not the identity
  });

  it('prompts ask 2–6 distinct questions (each m common), at most 19 tokens; the ideal has 2–6 answers', () => {
    const rng = rngOf(22);
    const ms = new Map<number, number>();
    const n = 2000;
    for (let i = 0; i < n; i++) {
      const p = helpful.samplePrompt(rng);
      const qs = p.filter((t) => inRange(RANGES.questions, t));
      expect(new Set(qs).size).toBe(qs.length);
      expect(p.length).toBeLessThanOrEqual(19);
      expect(helpful.idealResponse(p)).toHaveLength(qs.length + 1);
      ms.set(qs.length, (ms.get(qs.length) ?? 0) + 1);
    }
    expect([...ms.keys()].sort()).toEqual([2, 3, 4, 5, 6]);
    for (const c of ms.values()) expect(Math.abs(c - n / 5)).toBeLessThan(5 * Math.sqrt((n * 4) / 25));
    // Harmless prompts are question prompts with up to two harmful requests: at most 21 tokens.
    for (let i = 0; i < 500; i++) expect(sampleQuestionPrompt(rng, { harmfulProb: 1 }).length).toBeLessThanOrEqual(21);
  });

  it('the ideal answers the questions in order; order, wrong answers and verbosity cost', () => {
    const [q0, q1, q2] = [28, 29, 30];
    const p = [52, q2, q0, 53, q1];
    const [a2, a0, a1] = [q2, q0, q1].map((q) => ANSWER_OF.get(q)!);
    expect(helpful.idealResponse(p)).toEqual([a2, a0, a1, EOS]);
    const u = (...y: number[]) => helpful.utility(p, y);
    const other = ANSWER_OF.get(35)!;
    expect(u(a0, a2, a1, EOS)).toBeLessThan(3);
    expect(u(a2, a0, EOS)).toBeLessThan(3);
    expect(u(a2, a0, a1, other, EOS)).toBeLessThan(u(a2, a0, a1, 52, EOS)); // a wrong answer is worse than chatter
    expect(u(a2, a0, a1, a1, EOS)).toBeLessThan(3);
  });
});

describe('harmless', () => {
  it('about 40% of prompts carry a harmful request', () => {
    const rng = rngOf(31);
    const n = 2000;
    let k = 0;
    for (let i = 0; i < n; i++) if (isHarmful(harmless.samplePrompt(rng))) k++;
    expect(Math.abs(k / n - 0.4)).toBeLessThan(5 * Math.sqrt((0.4 * 0.6) / n));
  });

  it('refusing is ideal iff the prompt is harmful; complying is penalised strongly, needless refusal mildly', () => {
    const benign = [28, 52, 29];
    const harmful = [28, 56, 29];
    const answers = [ANSWER_OF.get(28)!, ANSWER_OF.get(29)!, EOS];
    expect(harmless.idealResponse(harmful)).toEqual([REFUSE, EOS]);
    expect(harmless.idealResponse(benign)).toEqual(answers);
    expect(harmless.utility(harmful, [REFUSE, EOS])).toBe(3);
    expect(harmless.utility(benign, answers)).toBe(3);
    const comply = harmless.utility(harmful, answers);
    const needless = harmless.utility(benign, [REFUSE, EOS]);
    expect(comply).toBeLessThan(-1.5);
    expect(needless).toBeLessThan(0);
    expect(needless).toBeGreaterThan(-1);
    expect(needless).toBeGreaterThan(comply);
    // More compliance is worse; a late refusal is better than none but worse than an immediate one.
    expect(harmless.utility(harmful, [answers[0]!, answers[1]!, EOS])).toBeLessThan(harmless.utility(harmful, [answers[0]!, EOS]));
    const late = harmless.utility(harmful, [answers[0]!, REFUSE, EOS]);
    expect(late).toBeGreaterThan(harmless.utility(harmful, [answers[0]!, EOS]));
    expect(late).toBeLessThan(3);
  });
});

describe('arena', () => {
  it('every prompt starts with a marker and is scored by its sub-task', () => {
    const rng = rngOf(41);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const p = TASKS.arena!.samplePrompt(rng);
      expect(Object.values(MARKERS)).toContain(p[0]);
      expect(p.slice(1).some((t) => inRange(RANGES.markers, t))).toBe(false);
      const s = arenaSplit(p);
      seen.add(s.task.name);
      const y = randomResponse(rng, TASKS.arena!);
      expect(TASKS.arena!.utility(p, y)).toBe(s.task.utility(s.prompt, y));
    }
    expect([...seen].sort()).toEqual(['harmless', 'helpful', 'summarize']);
    expect(() => TASKS.arena!.utility([28], [EOS])).toThrow(/must start with a marker/);
  });
});

describe('behaviour mixtures by coverage', () => {
  // The measurement of the rule: each behaviour's exact-ideal rate on 4 000 prompts (key 77,
  // not exactIdealRate's default key), one response per prompt.
  const N = 4000;
  const rates = new Map(ALL.map((t) => [t.name, new Map(t.behaviourPolicies.map((b) => [b.name, exactIdealRate(t, b, { prompts: N, key: key(77) })]))]));

  it.each(ALL.map((t) => t.name))('%s: every sub-optimal behaviour emits the exact ideal on fewer than 5 in 100 prompts', (name) => {
    const task = TASKS[name]!;
    const sub = behavioursFor(task, 'suboptimal');
    expect(sub.length).toBeGreaterThan(0);
    for (const b of sub) expect(rates.get(name)!.get(b.name)!, b.name).toBeLessThan(COVERAGE_THRESHOLD);
    expect(COVERAGE_THRESHOLD).toBe(0.05);
  });

  it.each(ALL.map((t) => t.name))('%s: "covered" is every behaviour, including one that emits the exact ideal on 20 in 100 prompts or more', (name) => {
    const task = TASKS[name]!;
    const covered = behavioursFor(task, 'covered');
    expect(covered).toEqual(task.behaviourPolicies);
    expect(Math.max(...covered.map((b) => rates.get(name)!.get(b.name)!))).toBeGreaterThanOrEqual(0.2);
    // The behaviours left out of 'suboptimal' are those the rule puts there: none measures significantly below 5%.
    for (const b of covered.filter((b) => task.coveringBehaviours.includes(b.name))) {
      const r = rates.get(name)!.get(b.name)!;
      expect(r + 3 * Math.sqrt((COVERAGE_THRESHOLD * (1 - COVERAGE_THRESHOLD)) / N), b.name).toBeGreaterThanOrEqual(COVERAGE_THRESHOLD);
    }
  });

  it('the sub-optimal mixtures are the documented ones; coverage regimes are checked', () => {
    const names = (t: Task) => behavioursFor(t, 'suboptimal').map((b) => b.name);
    expect(names(summarize)).toEqual(['noisy-0.6', 'lazy', 'copy', 'random']);
    expect(names(helpful)).toEqual(['noisy-0.6', 'lazy', 'copy', 'random']);
    // harmless: noisy-0.6 (11%), comply (every benign prompt) and refuse (every harmful prompt) reach the ideal often.
    expect(names(harmless)).toEqual(['lazy', 'copy', 'random']);
    // arena: noisy-0.6 is just over the threshold (5.2% on 100 000 prompts, carried by its harmless third), so it covers.
    expect(names(TASKS.arena!)).toEqual(['lazy', 'copy', 'random']);
    expect(COVERAGES).toEqual(['suboptimal', 'covered']);
    expect(() => behavioursFor(summarize, 'all' as never)).toThrow(/coverage must be one of suboptimal, covered, got "all"/);
    expect(() => exactIdealRate(summarize, summarize.behaviourPolicies[0]!, { prompts: 0 })).toThrow(/prompts must be a positive integer/);
    // A pure function of its options; every behaviour sees the same prompts.
    const b = summarize.behaviourPolicies[0]!;
    expect(exactIdealRate(summarize, b, { prompts: 300, key: key(5) })).toBe(exactIdealRate(summarize, b, { prompts: 300, key: key(5) }));
  });
});

describe('raters and judges', () => {
  it('the rater is Bradley–Terry: P(y1 ≻ y2) = σ(Δu/τ) within statistical bounds, and antisymmetric', () => {
    const rng = rngOf(51);
    const n = 20_000;
    for (const task of ALL) {
      for (let c = 0; c < 3; c++) {
        const p = task.samplePrompt(rng);
        const ys = [task.idealResponse(p), ...task.behaviourPolicies.map((b) => b.sample(rng, p, task))];
        const y1 = ys[c]!;
        const y2 = ys[3 + c]!;
        const expected = sigmoid((task.utility(p, y1) - task.utility(p, y2)) / task.raterTemperature);
        expect(preferenceProbability(task, p, y1, y2)).toBeCloseTo(expected, 12);
        const r = rngFromKey(key(1000 + c));
        let k12 = 0;
        let k21 = 0;
        for (let i = 0; i < n; i++) k12 += rate(task, r, p, y1, y2);
        for (let i = 0; i < n; i++) k21 += rate(task, r, p, y2, y1);
        const tol = 5 * Math.sqrt((expected * (1 - expected)) / n) + 1e-9;
        expect(Math.abs(k12 / n - expected)).toBeLessThanOrEqual(tol);
        expect(Math.abs(k21 / n - (1 - expected))).toBeLessThanOrEqual(tol);
      }
    }
  });

  it('a clear utility gap is rated correctly most of the time, equal responses are a coin flip', () => {
    const p = summarize.samplePrompt(rngOf(52));
    const good = summarize.idealResponse(p);
    const bad = [0, 0, 0, EOS];
    const r = rngOf(53);
    let wins = 0;
    let self = 0;
    for (let i = 0; i < 4000; i++) {
      wins += rate(summarize, r, p, good, bad);
      self += rate(summarize, r, p, good, good);
    }
    expect(wins / 4000).toBeGreaterThan(0.999);
    expect(Math.abs(self / 4000 - 0.5)).toBeLessThan(5 * Math.sqrt(0.25 / 4000));
  });

  it('rate consumes exactly one draw per call, so a labelling stream stays aligned', () => {
    const p = summarize.samplePrompt(rngOf(54));
    const a = rngOf(55);
    const b = rngOf(55);
    rate(summarize, a, p, [4, EOS], [5, 6, 7, EOS]);
    b.next();
    expect(a.next()).toBe(b.next());
  });

  it('judge is antisymmetric, and 0.5 on identical responses', () => {
    fc.assert(
      fc.property(seedArb, fc.constantFrom(...ALL), (seed, task) => {
        const rng = rngOf(seed);
        const p = task.samplePrompt(rng);
        const y1 = randomResponse(rng, task);
        const y2 = rng.bernoulli(0.3) ? task.idealResponse(p) : randomResponse(rng, task);
        expect(judge(task, p, y1, y2)).toBe(1 - judge(task, p, y2, y1));
        expect(judge(task, p, y1, y1)).toBe(0.5);
        expect(judge(task, p, task.idealResponse(p), y1)).toBe(y1.join() === task.idealResponse(p).join() ? 0.5 : 1);
      }),
      { numRuns: 300 },
    );
  });
});

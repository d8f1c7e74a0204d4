/**
 * Optimisers against independent float64 re-derivations of their formulas (three
 * steps, two parameters), against numbers recorded from PyTorch, and against the
 * contracts: pure state, pytree = leafwise, no leaked tensors.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@tandem/tensor';
import type { Tensor } from '@tandem/tensor';
import {
  adam, adamw, applyUpdates, chain, clipByGlobalNorm, constant, cosineDecay, linearWarmup, scale, scaleByLearningRate, sgd,
  warmupCosine, type GradientTransformation,
} from '../src/optim.js';
import { NnError } from '../src/errors.js';

const runs = (n: number) => (process.env.TANDEM_DEEP ? n * 10 : n);
const f32 = (t: Tensor) => Array.from(t.dataSync() as Float32Array);

// Two parameters (a vector and a scalar) and three steps of fixed gradients.
const P0 = { w: [0.5, -1.25, 2.0], b: [0.1] };
const GRADS = [
  { w: [0.3, -0.2, 1.5], b: [-0.7] },
  { w: [-0.1, 0.4, 0.25], b: [0.05] },
  { w: [1e-3, -2.0, 0.6], b: [0.9] },
];
type Flat = { w: number[]; b: number[] };
const mk = (v: Flat) => ({ w: T.tensor(v.w), b: T.tensor(v.b) });

/** Runs `opt` for the three steps; returns the params after each step as JS numbers. */
function run(opt: GradientTransformation<unknown>, grads: Flat[] = GRADS): Flat[] {
  let p = mk(P0);
  let s = opt.init(p);
  const out: Flat[] = [];
  for (const g of grads) {
    const [u, s2] = opt.update(mk(g), s, p);
    p = applyUpdates(p, u);
    s = s2;
    out.push({ w: f32(p.w), b: f32(p.b) });
  }
  return out;
}

/** float64 reference: `step(p, g, t)` returns new p for a leaf array, given per-leaf state. */
function ref(stepFn: (p: number[], g: number[], t: number, st: Record<string, number[]>) => number[], grads: Flat[] = GRADS): Flat[] {
  const p: Flat = { w: [...P0.w], b: [...P0.b] };
  const st: Record<'w' | 'b', Record<string, number[]>> = { w: {}, b: {} };
  return grads.map((g, i) => {
    for (const k of ['w', 'b'] as const) p[k] = stepFn(p[k], g[k], i + 1, st[k]);
    return { w: [...p.w], b: [...p.b] };
  });
}

function expectClose(got: Flat[], want: Flat[], tol = 1e-6): void {
  got.forEach((g, i) =>
    (['w', 'b'] as const).forEach((k) =>
      g[k].forEach((v, j) => {
        const w = want[i]![k][j]!;
        if (!(Math.abs(v - w) <= tol * (1 + Math.abs(w)))) throw new Error(`step ${i + 1} ${k}[${j}]: got ${v}, want ${w}`);
      }),
    ),
  );
}

function ulps(a: number, b: number): number {
  const i = new Int32Array(new Float32Array([a, b]).buffer);
  return Math.abs(i[0]! - i[1]!);
}

describe('against float64 re-derivations', () => {
  it('sgd', () => {
    expectClose(run(sgd({ lr: 0.1 })), ref((p, g) => p.map((x, j) => x - 0.1 * g[j]!)));
  });

  it('sgd with momentum', () => {
    const want = ref((p, g, t, st) => {
      st.v = t === 1 ? [...g] : st.v!.map((v, j) => 0.9 * v + g[j]!);
      return p.map((x, j) => x - 0.1 * st.v![j]!);
    });
    expectClose(run(sgd({ lr: 0.1, momentum: 0.9 })), want);
  });

  it('sgd with nesterov momentum', () => {
    const want = ref((p, g, t, st) => {
      st.v = t === 1 ? [...g] : st.v!.map((v, j) => 0.9 * v + g[j]!);
      return p.map((x, j) => x - 0.1 * (g[j]! + 0.9 * st.v![j]!));
    });
    expectClose(run(sgd({ lr: 0.1, momentum: 0.9, nesterov: true })), want);
  });

  const adamRef = (lr: number, b1: number, b2: number, eps: number, wd = 0) => (p: number[], g: number[], t: number, st: Record<string, number[]>) => {
    st.m = (st.m ?? g.map(() => 0)).map((m, j) => b1 * m + (1 - b1) * g[j]!);
    st.v = (st.v ?? g.map(() => 0)).map((v, j) => b2 * v + (1 - b2) * g[j]! * g[j]!);
    return p.map((x, j) => {
      const mHat = st.m![j]! / (1 - b1 ** t);
      const vHat = st.v![j]! / (1 - b2 ** t);
      return x - lr * wd * x - (lr * mHat) / (Math.sqrt(vHat) + eps);
    });
  };

  it('adam (defaults)', () => {
    expectClose(run(adam({ lr: 0.01 })), ref(adamRef(0.01, 0.9, 0.999, 1e-8)));
  });

  it('adam (other betas and eps)', () => {
    expectClose(run(adam({ lr: 0.05, b1: 0.5, b2: 0.9, eps: 1e-3 })), ref(adamRef(0.05, 0.5, 0.9, 1e-3)));
  });

  it('adam with b1 = 0 is RMSprop-like: the first moment is exactly the gradient', () => {
    expectClose(run(adam({ lr: 0.01, b1: 0 })), ref(adamRef(0.01, 0, 0.999, 1e-8)));
  });

  it('adamw: decoupled decay of the current weights', () => {
    expectClose(run(adamw({ lr: 0.01, weightDecay: 0.1 })), ref(adamRef(0.01, 0.9, 0.999, 1e-8, 0.1)));
  });

  it('adamw with weightDecay 0 equals adam bit for bit', () => {
    expect(run(adamw({ lr: 0.01, weightDecay: 0 }))).toEqual(run(adam({ lr: 0.01 })));
  });

  it('clipByGlobalNorm above the threshold rescales to the threshold', () => {
    const g = { w: T.tensor([3, 0, -4]), b: T.tensor([12]) }; // norm 13
    const clip = clipByGlobalNorm(6.5);
    const [u, s] = clip.update(g, clip.init(g));
    expect(s).toEqual({});
    const factor = 6.5 / 13;
    expectClose([{ w: f32(u.w), b: f32(u.b) }], [{ w: [3 * factor, 0, -4 * factor], b: [12 * factor] }]);
    const norm = Math.hypot(...f32(u.w), ...f32(u.b));
    expect(norm).toBeCloseTo(6.5, 5);
  });

  it('clipByGlobalNorm at or below the threshold passes gradients through bit-exactly', () => {
    for (const max of [13, 100]) {
      const g = { w: T.tensor([3, 0, -4]), b: T.tensor([12]) };
      const clip = clipByGlobalNorm(max);
      const [u] = clip.update(g, clip.init(g));
      expect(f32(u.w)).toEqual(f32(g.w));
      expect(f32(u.b)).toEqual(f32(g.b));
      expect(u.w).not.toBe(g.w); // fresh tensors: the caller may dispose grads independently
    }
  });

  it('chain(clip, scaleByLearningRate) is clipped SGD, state is the array of states', () => {
    const opt = chain(clipByGlobalNorm(1), scaleByLearningRate(0.1));
    // Reference: the global norm couples the leaves, so compute it over both.
    const p: Flat = { w: [...P0.w], b: [...P0.b] };
    const expected = GRADS.map((g) => {
      const norm = Math.hypot(...g.w, ...g.b);
      const f = 1 / Math.max(norm, 1);
      p.w = p.w.map((x, j) => x - 0.1 * f * g.w[j]!);
      p.b = p.b.map((x, j) => x - 0.1 * f * g.b[j]!);
      return { w: [...p.w], b: [...p.b] };
    });
    expectClose(run(opt), expected);
    const s0 = opt.init(mk(P0));
    expect(s0).toEqual([{}, { count: 0 }]);
    const [, s1] = opt.update(mk(GRADS[0]!), s0);
    expect(s1).toEqual([{}, { count: 1 }]);
  });

  it('chain(scale(2), sgd) doubles the gradient; chain() is the identity', () => {
    expectClose(run(chain(scale(2), sgd({ lr: 0.1 }))), ref((p, g) => p.map((x, j) => x - 0.2 * g[j]!)));
    const id = chain();
    const g = mk(GRADS[0]!);
    const [u, s] = id.update(g, id.init(g));
    expect(f32(u.w)).toEqual(f32(g.w));
    expect(s).toEqual([]);
  });

  it('a schedule is evaluated at the update count (0 for the first update)', () => {
    const lrs = [0.1, 0.05, 0.02];
    const seen: number[] = [];
    const sched = (step: number) => (seen.push(step), lrs[step]!);
    expectClose(run(sgd({ lr: sched })), ref((p, g, t) => p.map((x, j) => x - lrs[t - 1]! * g[j]!)));
    expect(seen).toEqual([0, 1, 2]);
    // adam with a schedule: the bias correction still uses t = count + 1.
    const want = ref((p, g, t, st) => adamRef(lrs[t - 1]!, 0.9, 0.999, 1e-8)(p, g, t, st));
    expectClose(run(adam({ lr: (s) => lrs[s]! })), want);
  });
});

describe('against PyTorch', () => {
  // Recorded with torch 2.13.0 (cpu, float32, foreach=False):
  //   ps = [torch.tensor(b), torch.tensor(w)]; opt = torch.optim.<Opt>(ps, ...);
  //   for g in GRADS: set p.grad; opt.step()   — params after each step.
  const TORCH: Record<string, [GradientTransformation<unknown>, Flat[]]> = {
    'SGD(lr=0.1)': [sgd({ lr: 0.1 }), [
      { w: [0.4699999988079071, -1.2300000190734863, 1.850000023841858], b: [0.17000000178813934] },
      { w: [0.47999998927116394, -1.2699999809265137, 1.8250000476837158], b: [0.16500000655651093] },
      { w: [0.4799000024795532, -1.0699999332427979, 1.7649999856948853], b: [0.07500001043081284] },
    ]],
    'SGD(lr=0.1, momentum=0.9)': [sgd({ lr: 0.1, momentum: 0.9 }), [
      { w: [0.4699999988079071, -1.2300000190734863, 1.850000023841858], b: [0.17000000178813934] },
      { w: [0.453000009059906, -1.2519999742507935, 1.690000057220459], b: [0.2280000001192093] },
      { w: [0.4376000165939331, -1.0717999935150146, 1.4860000610351562], b: [0.19020000100135803] },
    ]],
    'SGD(lr=0.1, momentum=0.9, nesterov=True)': [sgd({ lr: 0.1, momentum: 0.9, nesterov: true }), [
      { w: [0.4429999887943268, -1.2120000123977661, 1.715000033378601], b: [0.2329999953508377] },
      { w: [0.43769997358322144, -1.2718000411987305, 1.5460000038146973], b: [0.2802000045776367] },
      { w: [0.4237399697303772, -0.9096200466156006, 1.30239999294281], b: [0.1561799943447113] },
    ]],
    'Adam(lr=0.01)': [adam({ lr: 0.01 }), [
      { w: [0.49000000953674316, -1.2400000095367432, 1.9900000095367432], b: [0.10999999940395355] },
      { w: [0.4859978258609772, -1.2436610460281372, 1.9821667671203613], b: [0.11615309864282608] },
      { w: [0.48288393020629883, -1.2380439043045044, 1.9741883277893066], b: [0.11403648555278778] },
    ]],
    'Adam(lr=0.05, betas=(0.5, 0.9), eps=1e-3)': [adam({ lr: 0.05, b1: 0.5, b2: 0.9, eps: 1e-3 }), [
      { w: [0.45016610622406006, -1.2002487182617188, 1.9500333070755005], b: [0.14992867410182953] },
      { w: [0.44258514046669006, -1.2312871217727661, 1.9182624816894531], b: [0.17058399319648743] },
      { w: [0.43833646178245544, -1.188743233680725, 1.883721947669983], b: [0.13855169713497162] },
    ]],
    'AdamW(lr=0.01, weight_decay=0.1)': [adamw({ lr: 0.01, weightDecay: 0.1 }), [
      { w: [0.4895000159740448, -1.2387499809265137, 1.9880000352859497], b: [0.10989999771118164] },
      { w: [0.4850083291530609, -1.2411723136901855, 1.978178858757019], b: [0.11594320088624954] },
      { w: [0.4814094305038452, -1.23431396484375, 1.9682222604751587], b: [0.11371064931154251] },
    ]],
  };
  for (const [name, [opt, want]] of Object.entries(TORCH)) {
    it(`${name} matches to within 2 ulp (PyTorch fuses some multiply-adds)`, () => {
      run(opt).forEach((g, i) =>
        (['w', 'b'] as const).forEach((k) => g[k].forEach((v, j) => expect(ulps(v, want[i]![k][j]!), `step ${i + 1} ${k}[${j}]`).toBeLessThanOrEqual(2))),
      );
    });
  }
});

describe('schedules', () => {
  it('constant', () => {
    const s = constant(0.3);
    expect([0, 1, 1000].map(s)).toEqual([0.3, 0.3, 0.3]);
  });

  it('linearWarmup ramps from init to peak, then holds', () => {
    const s = linearWarmup({ peak: 1e-3, warmupSteps: 4 });
    expect([0, 1, 2, 4, 5, 100].map(s)).toEqual([0, 1e-3 * 0.25, 1e-3 * 0.5, 1e-3, 1e-3, 1e-3]);
    expect(linearWarmup({ peak: 2, warmupSteps: 4, init: 1 })(2)).toBe(1.5);
    expect(linearWarmup({ peak: 2, warmupSteps: 0 })(0)).toBe(2);
  });

  it('cosineDecay follows ½(1+cos(πt/T)) down to alpha·peak', () => {
    const s = cosineDecay({ peak: 0.1, decaySteps: 10, alpha: 0.1 });
    const f = (t: number) => 0.1 * (0.9 * 0.5 * (1 + Math.cos((Math.PI * Math.min(t, 10)) / 10)) + 0.1);
    for (const t of [0, 1, 5, 9, 10, 11, 50]) expect(s(t)).toBeCloseTo(f(t), 15);
    expect(s(0)).toBeCloseTo(0.1, 15);
    expect(s(5)).toBeCloseTo(0.1 * (0.45 + 0.1), 15);
    expect(s(10)).toBeCloseTo(0.01, 15);
    expect(s(1000)).toBeCloseTo(0.01, 15);
  });

  it('warmupCosine: warm-up, then cosine to end at decaySteps (total length), then hold', () => {
    const s = warmupCosine({ peak: 1, warmupSteps: 10, decaySteps: 110, end: 0.1 });
    expect(s(0)).toBe(0);
    expect(s(5)).toBe(0.5);
    expect(s(10)).toBeCloseTo(1, 15);
    expect(s(60)).toBeCloseTo(0.1 + 0.9 * 0.5, 15); // halfway through the cosine
    expect(s(35)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * 0.25)), 15);
    expect(s(110)).toBeCloseTo(0.1, 15);
    expect(s(500)).toBeCloseTo(0.1, 15);
    // monotone non-increasing after the peak
    for (let t = 10; t < 120; t++) expect(s(t + 1)).toBeLessThanOrEqual(s(t) + 1e-15);
  });
});

describe('validation', () => {
  const bad: [string, () => unknown, RegExp][] = [
    ['negative lr', () => sgd({ lr: -0.1 }), /sgd: lr must be a finite number in \[0, ∞\), got -0.1/],
    ['NaN lr', () => adam({ lr: NaN }), /adam: lr must be/],
    ['b1 = 1', () => adam({ lr: 1e-3, b1: 1 }), /adam: b1 must be a finite number in \[0, 1\), got 1/],
    ['b1 < 0', () => adamw({ lr: 1e-3, b1: -0.1 }), /adamw: b1 must be/],
    ['b2 > 1', () => adam({ lr: 1e-3, b2: 1.5 }), /adam: b2 must be/],
    ['negative eps', () => adam({ lr: 1e-3, eps: -1 }), /adam: eps must be/],
    ['negative weight decay', () => adamw({ lr: 1e-3, weightDecay: -1 }), /adamw: weightDecay must be/],
    ['momentum 1', () => sgd({ lr: 0.1, momentum: 1 }), /sgd: momentum must be/],
    ['nesterov without momentum', () => sgd({ lr: 0.1, nesterov: true }), /nesterov momentum needs momentum > 0/],
    ['maxNorm 0', () => clipByGlobalNorm(0), /clipByGlobalNorm: maxNorm must be a finite number in \(0, ∞\)/],
    ['non-transform in chain', () => chain(sgd({ lr: 1 }), {} as never), /chain: argument 1 is not a gradient transformation/],
    ['warmup longer than the schedule', () => warmupCosine({ peak: 1, warmupSteps: 10, decaySteps: 5 }), /decaySteps must be an integer ≥ warmupSteps/],
    ['cosine with 0 steps', () => cosineDecay({ peak: 1, decaySteps: 0 }), /decaySteps must be a positive integer/],
  ];
  for (const [name, f, msg] of bad) {
    it(`rejects ${name}`, () => {
      expect(f).toThrow(NnError);
      expect(f).toThrow(msg);
    });
  }

  it('rejects a schedule that returns a negative rate, naming the step', () => {
    const opt = sgd({ lr: (s) => (s < 1 ? 0.1 : -1) });
    const p = mk(P0);
    const [, s1] = opt.update(p, opt.init(p));
    expect(() => opt.update(p, s1)).toThrow(/sgd: the learning-rate schedule returned -1 at step 1/);
  });

  it('adamw needs the params; int grads and foreign state are rejected', () => {
    const opt = adamw({ lr: 0.1 });
    const p = mk(P0);
    expect(() => opt.update(p, opt.init(p))).toThrow(/adamw: update needs the current params/);
    expect(() => adam({ lr: 0.1 }).update({ x: T.tensor([1], { dtype: 'int32' }) }, { count: 0, mu: {}, nu: {} } as never)).toThrow(/float32 tensors only/);
    expect(() => adam({ lr: 0.1 }).update(p, {} as never)).toThrow(/state made by this optimiser's init/);
    expect(() => applyUpdates(p, { w: T.tensor([1]), b: T.tensor([1]) })).toThrow(/does not match its parameter/);
  });
});

describe('contracts', () => {
  it('update is pure: inputs are untouched, the state is frozen, the same inputs give the same bits', () => {
    const opt = chain(clipByGlobalNorm(1), adamw({ lr: 0.01, weightDecay: 0.1 }));
    const p = mk(P0);
    const g = mk(GRADS[0]!);
    const s0 = opt.init(p);
    const [u1, s1] = opt.update(g, s0, p);
    const [u2, s2] = opt.update(g, s0, p);
    expect(f32(u1.w)).toEqual(f32(u2.w));
    const muW = (s: typeof s0) => (s[1].mu as { w: Tensor }).w;
    expect(f32(muW(s1))).toEqual(f32(muW(s2)));
    expect(s0[1].count).toBe(0);
    expect(f32(muW(s0))).toEqual([0, 0, 0]);
    expect(f32(p.w)).toEqual(Array.from(Float32Array.from(P0.w)));
    expect(Object.isFrozen(s1) && Object.isFrozen(s1[1])).toBe(true);
    expect(s1[1].count).toBe(1);
  });

  it('adam of a pytree equals adam of each leaf separately (bit for bit)', () => {
    const leafArb = fc.tuple(
      fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    );
    fc.assert(
      fc.property(fc.array(leafArb, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 3 }), fc.double({ min: 1e-4, max: 1, noNaN: true }), (leaves, steps, lr) => {
        T.tidy(() => {
          const opt = adam({ lr, b1: 0.8, b2: 0.95 });
          const params = leaves.map(([shape, seed]) => T.uniform(T.key(seed), shape, { minval: -1, maxval: 1 }));
          let tree = { list: params, nested: { first: params[0]! } };
          let st = opt.init(tree);
          const sep = [...params, params[0]!].map((x) => ({ p: x, s: opt.init(x) }));
          for (let k = 0; k < steps; k++) {
            const g = T.treeMap<typeof tree>((x, i) => T.sin(T.mul(x, 3 + i + k)), tree);
            const [u, s2] = opt.update(g, st, tree);
            tree = applyUpdates(tree, u);
            st = s2;
            const gl = [...g.list, g.nested.first];
            sep.forEach((e, i) => {
              const [ui, si] = opt.update(gl[i]!, e.s, e.p);
              e.p = applyUpdates(e.p, ui);
              e.s = si;
            });
          }
          const joint = [...tree.list, tree.nested.first];
          joint.forEach((x, i) => expect(f32(x)).toEqual(f32(sep[i]!.p)));
        });
      }),
      { numRuns: runs(30) },
    );
  });

  it('leaks no tensors over 100 steps when the caller disposes what it replaces', () => {
    // Each transform runs bare (not only inside a chain, whose tidy would hide a leak).
    const opts: GradientTransformation<unknown>[] = [
      adamw({ lr: warmupCosine({ peak: 1e-2, warmupSteps: 10, decaySteps: 100 }), weightDecay: 0.01 }),
      adam({ lr: 1e-3 }),
      sgd({ lr: 0.1, momentum: 0.9, nesterov: true }),
      sgd({ lr: cosineDecay({ peak: 0.1, decaySteps: 50 }) }),
      clipByGlobalNorm(1),
      scaleByLearningRate(linearWarmup({ peak: 0.1, warmupSteps: 5 })),
      scale(-0.01),
      chain(clipByGlobalNorm(1), adam({ lr: 1e-3 })),
    ];
    let params = { enc: [T.uniform(T.key(1), [4, 3]), T.uniform(T.key(2), [3])], out: T.uniform(T.key(3), [3, 2]) };
    let states = opts.map((o) => o.init(params));
    const baseline = T.memory().cpu!.tensors;
    for (let i = 0; i < 100; i++) {
      const grads = T.tidy(() => T.treeMap<typeof params>((p) => T.cos(T.mul(p, i + 1)), params));
      let next = params;
      const nextStates = opts.map((o, j) => {
        const [u, s] = o.update(grads, states[j], params);
        const moved = applyUpdates(next, u);
        if (next !== params) T.dispose(next);
        next = moved;
        T.dispose(u);
        return s;
      });
      T.dispose([grads, params, states]);
      params = next;
      states = nextStates;
      expect(T.memory().cpu!.tensors).toBe(baseline);
    }
    expect((states[0] as { count: number }).count).toBe(100);
    expect(f32(params.out).every(Number.isFinite)).toBe(true);
    T.dispose([params, states]);
  });
});

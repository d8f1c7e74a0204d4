/**
 * Deterministic memory: tidy / keep / dispose, reference-counted aliases, flat
 * memory over long loops, and bit-identical results across repeated runs.
 */
import { describe, expect, it } from 'vitest';
import * as tn from '../src/index.js';
import { dispose, getBackend, keep, memory, tensor, tidy, type Tensor } from '../src/index.js';

const cpu = { backend: 'cpu' as const };
const cpuMem = () => {
  const m = memory().cpu ?? { tensors: 0, buffers: 0, bytes: 0, deviceBytes: 0 };
  return { tensors: m.tensors, buffers: m.buffers, bytes: m.bytes, backendBytes: getBackend('cpu').bytesInUse() };
};

describe('tidy', () => {
  it('disposes intermediates and keeps the result', () => {
    const x = tensor([1, 2, 3], cpu);
    const before = cpuMem();
    let a!: Tensor, b!: Tensor;
    const y = tidy(() => {
      a = tn.mul(x, 2);
      b = tn.add(a, 1);
      return tn.exp(b);
    });
    expect(a.isDisposed).toBe(true);
    expect(b.isDisposed).toBe(true);
    expect(x.isDisposed).toBe(false);
    expect(y.isDisposed).toBe(false);
    expect(Array.from(y.dataSync())).toEqual([3, 5, 7].map((v) => Math.fround(Math.exp(v))));
    const after = cpuMem();
    expect(after.tensors - before.tensors).toBe(1);
    expect(after.buffers - before.buffers).toBe(1);
    expect(after.bytes - before.bytes).toBe(12);
    expect(after.backendBytes - before.backendBytes).toBe(12);
    dispose([x, y]);
  });

  it('keeps every tensor of a pytree result, and carries non-tensor leaves along', () => {
    const before = cpuMem();
    const made: Tensor[] = [];
    const out = tidy(() => {
      const t = (v: number) => {
        const r = tensor([v], cpu);
        made.push(r);
        return r;
      };
      t(0); // garbage
      const w = t(1);
      const b = t(2);
      const c = t(3);
      t(4); // garbage
      return { w, layers: [b, { c, n: 5, s: 'x' }], flag: null };
    });
    expect(made.map((t) => t.isDisposed)).toEqual([true, false, false, false, true]);
    expect(out.layers[1]).toMatchObject({ n: 5, s: 'x' });
    expect(out.flag).toBeNull();
    expect(cpuMem().tensors - before.tensors).toBe(3);
    dispose(out);
    expect(made.every((t) => t.isDisposed)).toBe(true);
    expect(cpuMem()).toEqual(before);
  });

  it('moves a nested tidy result into the enclosing scope', () => {
    const before = cpuMem();
    let inner!: Tensor, innerGarbage!: Tensor;
    const outer = tidy(() => {
      inner = tidy(() => {
        innerGarbage = tensor([1], cpu);
        return tn.neg(innerGarbage);
      });
      expect(innerGarbage.isDisposed).toBe(true);
      expect(inner.isDisposed).toBe(false);
      return tn.add(inner, 1); // inner itself is not returned: the outer scope disposes it
    });
    expect(inner.isDisposed).toBe(true);
    expect(outer.dataSync()[0]).toBe(0);
    outer.dispose();
    expect(cpuMem()).toEqual(before);
  });

  it('does not dispose tensors created outside it, even if used or returned', () => {
    const x = tensor([1, 2], cpu);
    const r = tidy(() => {
      tn.add(x, x);
      return x;
    });
    expect(r).toBe(x);
    expect(x.isDisposed).toBe(false);
    x.dispose();
  });

  it('keep() exempts a tensor from every enclosing scope', () => {
    const before = cpuMem();
    let kept!: Tensor, dropped!: Tensor;
    tidy(() => {
      tidy(() => {
        kept = keep(tensor([1], cpu));
        dropped = tensor([2], cpu);
      });
    });
    expect(kept.isDisposed).toBe(false);
    expect(dropped.isDisposed).toBe(true);
    kept.dispose();
    expect(cpuMem()).toEqual(before);
  });

  it('disposes everything it made when the function throws, and rethrows', () => {
    const before = cpuMem();
    let a!: Tensor;
    expect(() =>
      tidy(() => {
        a = tensor([1, 2], cpu);
        tn.add(a, 1);
        tn.gather(a, tensor([7], { ...cpu, dtype: 'int32' })); // out of range: throws
      }),
    ).toThrow(/gather: index 7/);
    expect(a.isDisposed).toBe(true);
    expect(cpuMem()).toEqual(before);
  });

  it('rejects async functions (and frees what they made synchronously)', () => {
    const before = cpuMem();
    expect(() =>
      tidy((async () => {
        tensor([1], cpu);
      }) as unknown as () => void),
    ).toThrow(/tidy: the function returned a Promise/);
    expect(cpuMem()).toEqual(before);
  });
});

describe('dispose and reference counting', () => {
  it('dispose(tree) disposes every tensor leaf', () => {
    const before = cpuMem();
    const tree = { a: tensor([1], cpu), b: [tensor([2], cpu), { c: tensor([3], cpu), k: 'const' }] };
    expect(cpuMem().tensors - before.tensors).toBe(3);
    dispose(tree);
    expect(tn.treeLeaves(tree).every((t) => t.isDisposed)).toBe(true);
    expect(cpuMem()).toEqual(before);
    dispose(tree); // idempotent
    expect(cpuMem()).toEqual(before);
  });

  it('a reshape alias shares one buffer and survives disposal of the original', () => {
    const before = cpuMem();
    const x = tensor([1, 2, 3, 4, 5, 6], cpu);
    const r = tn.reshape(x, [2, 3]);
    const c = tn.cast(r, 'float32'); // same dtype: another alias
    expect(cpuMem().tensors - before.tensors).toBe(3);
    expect(cpuMem().buffers - before.buffers).toBe(1);
    expect(cpuMem().bytes - before.bytes).toBe(24);
    x.dispose();
    expect(r.toArraySync()).toEqual([[1, 2, 3], [4, 5, 6]]);
    expect(cpuMem().buffers - before.buffers).toBe(1);
    r.dispose();
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    c.dispose();
    expect(cpuMem()).toEqual(before);
  });

  it('an alias made inside tidy and returned keeps the shared buffer alive', () => {
    const before = cpuMem();
    const r = tidy(() => tn.reshape(tn.add(tensor([1, 2, 3, 4], cpu), 1), [2, 2]));
    expect(cpuMem().tensors - before.tensors).toBe(1);
    expect(cpuMem().buffers - before.buffers).toBe(1);
    expect(r.toArraySync()).toEqual([[2, 3], [4, 5]]);
    r.dispose();
    expect(cpuMem()).toEqual(before);
  });

  it('JS scalar operands do not leak', () => {
    const x = tensor([1, 2], cpu);
    const before = cpuMem();
    const y = tn.mul(tn.add(x, 1), 2);
    expect(cpuMem().tensors - before.tensors).toBe(2); // add's result and mul's result
    dispose([x, y]);
  });
});

describe('long loops', () => {
  it('1,000 iterations of a small computation inside tidy leave cpu memory flat', () => {
    const k = tn.key(7);
    let w = tn.normal(k, [8, 4], cpu);
    const x = tn.uniform(tn.foldIn(k, 1), [16, 8], cpu);
    const labels = tn.tensor(Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 4), cpu);
    const before = cpuMem();
    for (let i = 0; i < 1000; i++) {
      const next = tidy(() => {
        const logits = tn.matmul(x, w);
        const p = tn.softmax(logits);
        const y = tn.oneHot(labels, 4);
        const g = tn.matmul(x, tn.sub(p, y), { transA: true });
        const noise = tn.normal(tn.foldIn(k, i + 10), [8, 4], cpu);
        return tn.sub(w, tn.add(tn.mul(g, 0.01), tn.mul(noise, 1e-4)));
      });
      w.dispose();
      w = next;
      if (i % 250 === 0) expect(cpuMem()).toEqual(before);
    }
    expect(cpuMem()).toEqual(before);
    expect(Number.isFinite(tn.sum(w).dataSync()[0]!)).toBe(true);
    dispose([w, x, labels]);
  });
});

describe('determinism', () => {
  /** A composite computation touching matmul, reductions, softmax and random draws. */
  function compute(): Tensor[] {
    return tidy(() => {
      const k = tn.key(1234);
      const [k1, k2, k3] = tn.split(k, 3) as [tn.Key, tn.Key, tn.Key];
      const a = tn.normal(k1, [3, 17, 33], cpu);
      const b = tn.uniform(k2, [33, 9], { ...cpu, minval: -2, maxval: 2 });
      const h = tn.tanh(tn.matmul(a, b));
      const s = tn.softmax(h, -1);
      const l = tn.logSumExp(h, [0, 2]);
      const m = tn.mean(tn.mul(h, h), [1]);
      const t = tn.sum(tn.transpose(h, [2, 0, 1]), [0, 2]);
      const c = tn.categorical(k3, h);
      const bits = tn.randomBits(tn.foldIn(k, 99), [5, 7], cpu);
      return [s, l, m, t, c, bits];
    });
  }
  const bytes = (t: Tensor): Uint8Array => {
    const d = t.dataSync();
    return new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
  };

  it('repeated runs give bit-identical results', () => {
    const runs = [compute(), compute(), compute()];
    for (let i = 0; i < runs[0]!.length; i++) {
      const ref = bytes(runs[0]![i]!);
      expect(ref.length).toBeGreaterThan(0);
      for (const r of runs.slice(1)) expect(bytes(r[i]!)).toEqual(ref);
    }
    dispose(runs);
  });

  it('is unaffected by unrelated work in between', () => {
    const first = compute();
    tidy(() => {
      tn.normal(tn.key(5), [100], cpu);
      tn.matmul(tn.ones([40, 40], cpu), tn.ones([40, 40], cpu));
    });
    const second = compute();
    first.forEach((t, i) => expect(bytes(second[i]!)).toEqual(bytes(t)));
    dispose([first, second]);
  });
});

/**
 * safetensors encoding and checkpoints: bit-exact round trips of random pytrees,
 * clear errors for truncated, corrupted and malformed files, atomic writes, and
 * readability by an independent reader (and by Python's safetensors when present).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as T from '@tandem/tensor';
import { Tensor } from '@tandem/tensor';
import { adamw, applyUpdates, chain, clipByGlobalNorm } from '../src/optim.js';
import { decodeSafetensors, encodeSafetensors, parseSafetensors } from '../src/safetensors.js';
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint, type Checkpoint } from '../src/checkpoint.js';
import { NnError, type NnErrorCode } from '../src/errors.js';

/** Live cpu tensors (the cpu backend registers lazily, so it may not be listed yet). */
const live = () => T.memory().cpu?.tensors ?? 0;
const runs = (n: number) => (process.env.TANDEM_DEEP ? n * 10 : n);
const dir = mkdtempSync(join(tmpdir(), 'tandem-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hex = (t: Tensor) => {
  const d = t.dataSync();
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('hex');
};

/** Deep equality that compares tensors by dtype, shape and bytes, and numbers with Object.is (NaN, -0). */
function sameTree(a: unknown, b: unknown, path = '$'): void {
  if (a instanceof Tensor || b instanceof Tensor) {
    if (!(a instanceof Tensor && b instanceof Tensor)) throw new Error(`${path}: tensor vs ${typeof b}`);
    expect(b.dtype, path).toBe(a.dtype);
    expect(b.shape, path).toEqual(a.shape);
    expect(hex(b), path).toBe(hex(a));
    return;
  }
  if (Array.isArray(a)) {
    expect(Array.isArray(b), path).toBe(true);
    expect((b as unknown[]).length, path).toBe(a.length);
    a.forEach((x, i) => sameTree(x, (b as unknown[])[i], `${path}[${i}]`));
    return;
  }
  if (a !== null && typeof a === 'object') {
    expect(b !== null && typeof b === 'object' && !Array.isArray(b), path).toBe(true);
    const ka = Object.keys(a).sort();
    expect(Object.keys(b as object).sort(), path).toEqual(ka);
    for (const k of ka) {
      sameTree(Object.getOwnPropertyDescriptor(a, k)!.value, Object.getOwnPropertyDescriptor(b, k)!.value, `${path}.${k}`);
    }
    return;
  }
  expect(Object.is(a, b), `${path}: ${String(a)} vs ${String(b)}`).toBe(true);
}

// ------------------------------------------------------------------ generators

const dimsArb = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 });
/** Tensors of every dtype; float32 data is arbitrary bit patterns (NaN payloads, -0, ±inf, subnormals). */
const tensorArb = fc.tuple(fc.constantFrom('float32', 'int32', 'bool') as fc.Arbitrary<T.DType>, dimsArb).chain(([dtype, shape]) => {
  const n = shape.reduce((p, d) => p * d, 1);
  const data = dtype === 'bool'
    ? fc.array(fc.boolean(), { minLength: n, maxLength: n }).map((xs) => Uint8Array.from(xs, Number))
    : fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: n, maxLength: n }).map((xs) => {
        const i = Int32Array.from(xs);
        return dtype === 'int32' ? i : new Float32Array(i.buffer);
      });
  return data.map((d) => ({ dtype, shape, d }));
});
const constArb = fc.oneof(fc.double(), fc.integer(), fc.string({ maxLength: 6 }), fc.boolean(), fc.constant(null), fc.constant(undefined));
const keyArb = fc.string({ maxLength: 4 }); // includes '.', '%', '', '__proto__'-free short strings
const { tree: treeArb } = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    tensorArb,
    constArb,
    fc.array(tie('tree'), { maxLength: 3 }),
    fc.dictionary(fc.oneof(keyArb, fc.constantFrom('a.b', '%2E', '__proto__', '0', '10', '9')), tie('tree'), { maxKeys: 3 }),
  ),
}));
/** Replaces the generated tensor descriptions by tensors (created inside the property so they can be disposed). */
function materialise(x: unknown): unknown {
  if (x && typeof x === 'object' && 'd' in x && 'dtype' in x && ArrayBuffer.isView((x as { d: unknown }).d)) {
    const { dtype, shape, d } = x as { dtype: T.DType; shape: number[]; d: T.HostArray };
    return T.tensor(d, { dtype, shape });
  }
  if (Array.isArray(x)) return x.map(materialise);
  if (x && typeof x === 'object') {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(x)) Object.defineProperty(o, k, { value: materialise(Object.getOwnPropertyDescriptor(x, k)!.value), enumerable: true, writable: true, configurable: true });
    return o;
  }
  return x;
}
const jsonArb = fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown); // -0 → 0, as JSON has it

/** A small but realistic checkpoint: transformer-ish params and a chained AdamW state after one step. */
function sample(): Checkpoint {
  const params = {
    enc0: { att: { wq: T.uniform(T.key(1), [4, 4]), wk: T.uniform(T.key(2), [4, 4]) }, ln: { g: T.ones([4]), b: T.zeros([4]) } },
    emb: T.normal(T.key(3), [8, 4]),
    special: [T.tensor([1, 2, 3], { dtype: 'int32' }), T.tensor([true, false]), T.scalar(-0), T.zeros([0, 3])],
  };
  const opt = chain(clipByGlobalNorm(1), adamw({ lr: 1e-3 }));
  const s0 = opt.init(params.enc0);
  const grads = T.treeMap((p) => T.mul(p, 0.5), params.enc0);
  const [, s1] = opt.update(grads, s0, params.enc0);
  return { params, optState: s1, step: 1234, key: T.keyFromWords([0xdeadbeef, 7]), config: { model: { dModel: 4, layers: [1, 2] }, lr: 1e-3, name: 'tiny' } };
}

// ------------------------------------------------------------------ round trips

describe('round trips', () => {
  it('random pytrees of all dtypes (scalars, size 0, NaN payloads, -0) round-trip bit-exactly, and re-encode to identical bytes', async () => {
    await fc.assert(
      fc.asyncProperty(treeArb, treeArb, fc.nat(), fc.tuple(fc.nat({ max: 2 ** 32 - 1 }), fc.nat({ max: 2 ** 32 - 1 })), fc.option(jsonArb, { nil: undefined }), async (p, o, step, words, config) => {
        const before = live();
        const ckpt: Checkpoint = { params: materialise(p), optState: materialise(o), step, key: T.keyFromWords(words), config };
        const bytes = await encodeCheckpoint(ckpt);
        expect(Buffer.compare(bytes, await encodeCheckpoint(ckpt))).toBe(0); // deterministic
        const back = decodeCheckpoint(bytes);
        sameTree(ckpt.params, back.params);
        sameTree(ckpt.optState, back.optState);
        expect(back.step).toBe(step);
        expect(back.key.words).toEqual(words);
        expect(JSON.stringify(back.config)).toBe(JSON.stringify(config));
        expect(back.config === undefined).toBe(config === undefined);
        expect(Buffer.compare(await encodeCheckpoint(back), bytes)).toBe(0);
        T.dispose([ckpt.params, ckpt.optState, back.params, back.optState]);
        expect(live()).toBe(before);
      }),
      { numRuns: runs(150) },
    );
  });

  it('saveCheckpoint/loadCheckpoint through a file, with tensor names from pytree paths', async () => {
    const ckpt = sample();
    const path = join(dir, 'sample.safetensors');
    await saveCheckpoint(path, ckpt);
    const back = await loadCheckpoint(path);
    sameTree(ckpt.params, back.params);
    sameTree(ckpt.optState, back.optState);
    expect(back.step).toBe(1234);
    expect(back.key).toEqual(ckpt.key);
    expect(back.config).toEqual(ckpt.config);
    const names = Object.keys(parseSafetensors(readFileSync(path)).tensors).sort();
    expect(names).toContain('params.enc0.att.wq');
    expect(names).toContain('params.special.1');
    expect(names).toContain('opt.1.mu.att.wq');
    expect(names).toContain('opt.1.nu.ln.g');
    // The human-readable sibling.
    const summary = JSON.parse(readFileSync(`${path}.json`, 'utf8'));
    expect(summary.config).toEqual(ckpt.config);
    expect(summary.step).toBe(1234);
    expect(summary.tensors['params.emb']).toEqual({ dtype: 'float32', shape: [8, 4] });
    // The optimiser state's plain numbers come back as numbers.
    expect((back.optState as { count: number }[])[1]!.count).toBe(1);
  });

  it('a run resumed from a checkpoint continues bit-identically', async () => {
    const opt = chain(clipByGlobalNorm(1), adamw({ lr: (s) => 1e-2 / (1 + s), weightDecay: 0.1 }));
    const gradOf = (p: { w: Tensor }, k: T.Key) => ({ w: T.add(T.sin(p.w), T.normal(k, p.w.shape, { std: 0.1 })) });
    const train = (p: { w: Tensor }, s: ReturnType<typeof opt.init>, k: T.Key, n: number) => {
      for (let i = 0; i < n; i++) {
        const [k1, k2] = T.split(k) as [T.Key, T.Key];
        k = k1;
        const [u, s2] = opt.update(gradOf(p, k2), s, p);
        p = applyUpdates(p, u);
        s = s2;
      }
      return { p, s, k };
    };
    const p0 = { w: T.uniform(T.key(5), [3, 4]) };
    const straight = train(p0, opt.init(p0), T.key(9), 6);
    const half = train(p0, opt.init(p0), T.key(9), 3);
    const path = join(dir, 'resume.safetensors');
    await saveCheckpoint(path, { params: half.p, optState: half.s, step: 3, key: half.k, config: { lr: 'inverse' } });
    const ck = await loadCheckpoint<{ w: Tensor }, ReturnType<typeof opt.init>>(path);
    const resumed = train(ck.params, ck.optState, ck.key, 3);
    expect(hex(resumed.p.w)).toBe(hex(straight.p.w));
    expect(hex((resumed.s[1].nu as { w: Tensor }).w)).toBe(hex((straight.s[1].nu as { w: Tensor }).w));
    expect(resumed.s[1].count).toBe(6);
  });

  it('keeps tied weights tied and escapes dots in keys', async () => {
    const w = T.tensor([1, 2]);
    const ckpt: Checkpoint = { params: { 'a.b': w, a: { b: T.tensor([3]) }, tied: [w] }, optState: undefined, step: 0, key: T.key(0), config: undefined };
    const bytes = await encodeCheckpoint(ckpt);
    expect(Object.keys(parseSafetensors(bytes).tensors).sort()).toEqual(['params.a%2Eb', 'params.a.b']);
    const back = decodeCheckpoint<{ 'a.b': Tensor; tied: Tensor[] }>(bytes);
    expect(back.params.tied[0]).toBe(back.params['a.b']);
    expect(back.optState).toBeUndefined();
  });

  it('safetensors alone: encode/decode named tensors and metadata', () => {
    const ts = { x: T.tensor([[1, 2], [3, 4]]), idx: T.tensor([7, -8], { dtype: 'int32' }), m: T.tensor([true, false, true]), s: T.scalar(2.5) };
    const bytes = encodeSafetensors(ts, { note: 'hello', b: '2' });
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ note: 'hello', b: '2' });
    for (const [k, t] of Object.entries(ts)) sameTree(t, tensors[k]);
    // 4-byte tensors come first so they are aligned; the data section starts 8-byte aligned.
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
  });
});

// ------------------------------------------------------------------ corruption

describe('bad files give clear errors and load nothing', () => {
  let good: Uint8Array;
  /** `code` undefined: either checkpoint code (a flipped bit in the format tag itself reads as a foreign file). */
  const expectBad = (bytes: Uint8Array, msg?: RegExp, code?: NnErrorCode) => {
    const before = live();
    let err: unknown;
    try {
      decodeCheckpoint(bytes);
    } catch (e) {
      err = e;
    }
    expect(err, 'decoding should have failed').toBeInstanceOf(NnError);
    expect((err as Error).message).toMatch(/^loadCheckpoint: /);
    if (code) expect((err as NnError).code).toBe(code);
    else expect(['checkpoint-corrupt', 'checkpoint-version']).toContain((err as NnError).code);
    if (msg) expect((err as Error).message).toMatch(msg);
    expect(live()).toBe(before);
  };

  it('prepare', async () => {
    const s = sample();
    good = await encodeCheckpoint(s);
    T.dispose([s.params, s.optState]);
    expect(() => decodeCheckpoint(good)).not.toThrow();
  });

  it('a file truncated at any point', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: good.length - 1 }), (cut) => expectBad(good.subarray(0, cut), /truncated|too short|corrupt|not valid JSON/, 'checkpoint-corrupt')), { numRuns: runs(200) });
    for (const cut of [0, 7, 8, 9, 100, good.length - 1]) expectBad(good.subarray(0, cut));
  });

  it('a file with bytes appended', () => {
    expectBad(Buffer.concat([good, Buffer.from([0])]), /1 trailing bytes belong to no tensor/, 'checkpoint-corrupt');
  });

  it('a flipped bit anywhere (every byte of the file)', () => {
    for (let i = 0; i < good.length; i++) {
      const bad = good.slice();
      bad[i]! ^= 1 << (i % 8);
      expectBad(bad);
    }
  });

  it('a flipped byte in the data names the checksum', () => {
    const bad = good.slice();
    bad[bad.length - 20]! ^= 0xff;
    expectBad(bad, /checksum mismatch: .* the file is corrupted/, 'checkpoint-corrupt');
  });

  it('random byte values at random places', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const bad = good.slice();
      bad[i]! ^= x;
      expectBad(bad);
    }), { numRuns: runs(300) });
  });

  it('loadCheckpoint names the file', async () => {
    const path = join(dir, 'truncated.safetensors');
    await writeFile(path, good.subarray(0, good.length - 5));
    await expect(loadCheckpoint(path)).rejects.toThrow(new RegExp(`loadCheckpoint: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*truncated`));
  });

  it('a plain safetensors file is not a checkpoint', () => {
    expectBad(encodeSafetensors({ x: T.tensor([1]) }), /not a tandem checkpoint/, 'checkpoint-version');
  });
});

/** Builds a file from a header object and a data section, as a hostile writer could. */
function craft(header: unknown, data: Uint8Array, pad = true): Uint8Array {
  let h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  if (pad && h.length % 8) h = Buffer.concat([h, Buffer.alloc(8 - (h.length % 8), 0x20)]);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('malformed safetensors headers', () => {
  const data = new Uint8Array(16);
  const cases: [string, Uint8Array, RegExp][] = [
    ['overlapping offsets', craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, data), /tensor 'b' \(bytes \[4,12\)\) overlaps tensor 'a'/],
    ['a gap', craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [12, 16] } }, data), /bytes \[8,12\) of the data section belong to no tensor/],
    ['offsets past the end', craft({ a: { dtype: 'F32', shape: [8], data_offsets: [0, 32] } }, data), /run past the end of the 16-byte data section/],
    ['size not matching the shape', craft({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, data), /span 16 bytes but F32\[3\] needs 12/],
    ['begin after end', craft({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, data), /data_offsets must be \[begin, end\]/],
    ['negative offset', craft({ a: { dtype: 'F32', shape: [4], data_offsets: [-4, 12] } }, data), /data_offsets must be/],
    ['fractional shape', craft({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 16] } }, data), /shape must be an array of non-negative integers/],
    ['unsupported dtype', craft({ a: { dtype: 'F16', shape: [8], data_offsets: [0, 16] } }, data), /dtype F16 is not supported by tandem/],
    ['unknown dtype', craft({ a: { dtype: 'Q7', shape: [4], data_offsets: [0, 16] } }, data), /unknown dtype "Q7"/],
    ['extra field', craft({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16], x: 1 } }, data), /unexpected field 'x'/],
    ['non-string metadata', craft({ __metadata__: { a: 1 }, a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, data), /__metadata__ value for 'a' is number/],
    ['a header that is not JSON', craft('{"a": ', data), /not valid JSON/],
    ['a header that is an array', craft('[1,2]', data), /must be a JSON object/],
    ['a header length beyond the file', (() => { const b = craft({}, data); new DataView(b.buffer).setBigUint64(0, 1000n, true); return b; })(), /header length is 1000 bytes but only 24 bytes follow/],
    ['a huge header length', (() => { const b = craft({}, data); new DataView(b.buffer).setBigUint64(0, 2n ** 63n, true); return b; })(), /header length .* but only/],
    ['bool bytes other than 0/1', craft({ a: { dtype: 'BOOL', shape: [16], data_offsets: [0, 16] } }, Uint8Array.from({ length: 16 }, (_, i) => (i === 3 ? 2 : 0))), /bool tensor 'a' holds byte 2 at element 3/],
    ['too short', new Uint8Array(5), /too short for the 8-byte header length/],
  ];
  for (const [name, bytes, msg] of cases) {
    it(name, () => {
      expect(() => decodeSafetensors(bytes)).toThrow(NnError);
      expect(() => decodeSafetensors(bytes)).toThrow(msg);
      expect(() => decodeSafetensors(bytes)).toThrow(expect.objectContaining({ code: 'checkpoint-corrupt' }));
    });
  }

  it('accepts what the spec allows: unpadded headers, zero-size tensors sharing an offset, no metadata', () => {
    const bytes = craft({ e: { dtype: 'I32', shape: [0, 2], data_offsets: [8, 8] }, a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, f: { dtype: 'BOOL', shape: [0], data_offsets: [8, 8] }, z: { dtype: 'I32', shape: [2], data_offsets: [8, 16] } }, new Uint8Array(16), false);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(Object.keys(tensors).sort()).toEqual(['a', 'e', 'f', 'z']);
    expect(tensors.e!.shape).toEqual([0, 2]);
    expect(metadata).toEqual({});
  });

  it('encode rejects what it cannot write faithfully', () => {
    expect(() => encodeSafetensors({ __metadata__: T.tensor([1]) })).toThrow(/reserved/);
    expect(() => encodeSafetensors({ a: { dtype: 'bool', shape: [1], data: Uint8Array.of(3) } })).toThrow(/bools must be 0 or 1/);
    expect(() => encodeSafetensors({ a: { dtype: 'float32', shape: [2], data: new Float32Array(3) } })).toThrow(/3 data elements/);
    expect(() => encodeSafetensors({}, { a: 1 as never })).toThrow(/strings to strings/);
    expect(() => encodeSafetensors({ a: { dtype: 'float32', shape: [2], data: new Float32Array(3) } })).toThrow(expect.objectContaining({ name: 'NnError', code: 'shape' }));
    expect(() => encodeSafetensors({}, { a: 1 as never })).toThrow(expect.objectContaining({ name: 'NnError', code: 'argument' }));
  });

  it('checkpoint encoding rejects values it cannot restore', async () => {
    const base = { params: {}, optState: undefined, step: 0, key: T.key(1), config: {} };
    await expect(encodeCheckpoint({ ...base, optState: { f: () => 1 } })).rejects.toThrow(/cannot store a function at opt.f/);
    await expect(encodeCheckpoint({ ...base, params: { d: new Date(0) } })).rejects.toThrow(/cannot store a Date object at params.d/);
    await expect(encodeCheckpoint({ ...base, config: { x: NaN } })).rejects.toThrow(/config.x is NaN/);
    await expect(encodeCheckpoint({ ...base, step: -1 })).rejects.toThrow(/step must be a non-negative integer/);
    await expect(encodeCheckpoint({ ...base, key: [1, 2] as never })).rejects.toThrow(/key must be a random key/);
    await expect(encodeCheckpoint({ ...base, step: -1 })).rejects.toMatchObject({ name: 'NnError', code: 'argument', op: 'saveCheckpoint' });
    const t = T.tensor([1]);
    t.dispose();
    await expect(encodeCheckpoint({ ...base, params: { t } })).rejects.toThrow(/the tensor at params.t was disposed/);
  });
});

// ------------------------------------------------------------------ atomic writes

describe('atomic writes', () => {
  const listTmp = (d: string) => readdirSync(d).filter((f) => f.includes('.tmp-'));

  it('leaves no temp file and replaces an existing checkpoint', async () => {
    const d = join(dir, 'atomic1');
    mkdirSync(d);
    const path = join(d, 'ckpt.safetensors');
    const a = sample();
    await saveCheckpoint(path, a);
    await saveCheckpoint(path, { ...a, step: 99 });
    expect(readdirSync(d).sort()).toEqual(['ckpt.safetensors', 'ckpt.safetensors.json']);
    expect((await loadCheckpoint(path)).step).toBe(99);
  });

  it('a failed save leaves the old checkpoint intact and no temp file', async () => {
    const d = join(dir, 'atomic2');
    mkdirSync(d);
    const path = join(d, 'ckpt.safetensors');
    const a = sample();
    await saveCheckpoint(path, a);
    const old = readFileSync(path);
    await expect(saveCheckpoint(path, { ...a, optState: { bad: Symbol('x') } })).rejects.toThrow(/cannot store/);
    expect(Buffer.compare(readFileSync(path), old)).toBe(0);
    // A failure at the rename (the target is a directory) cleans up its temp file.
    const dirTarget = join(d, 'is-a-dir');
    mkdirSync(dirTarget);
    await expect(saveCheckpoint(dirTarget, a)).rejects.toThrow();
    expect(listTmp(d)).toEqual([]);
  });

  it('concurrent readers always see the old or the new checkpoint, whole', async () => {
    const d = join(dir, 'atomic3');
    mkdirSync(d);
    const path = join(d, 'ckpt.safetensors');
    const a = sample();
    await saveCheckpoint(path, { ...a, step: 0 });
    let writing = true;
    const seen = new Set<number>();
    const writer = (async () => {
      for (let i = 1; i <= 25; i++) await saveCheckpoint(path, { ...a, step: i });
      writing = false;
    })();
    const reader = (async () => {
      let reads = 0;
      while (writing || reads < 5) {
        const ck = decodeCheckpoint(await readFile(path)); // throws on a torn file
        seen.add(ck.step);
        T.dispose([ck.params, ck.optState]);
        reads++;
      }
      return reads;
    })();
    const [, reads] = await Promise.all([writer, reader]);
    expect(reads).toBeGreaterThan(0);
    expect(seen.size).toBeGreaterThan(1); // the reads really did interleave with the writes
    for (const s of seen) expect(Number.isInteger(s) && s >= 0 && s <= 25).toBe(true);
    expect((await loadCheckpoint(path)).step).toBe(25);
    expect(listTmp(d)).toEqual([]);
  });
});

// ------------------------------------------------------------------ interoperability

/** A minimal safetensors reader written from the spec, sharing no code with src/. */
function specRead(bytes: Uint8Array): { header: Record<string, any>; dataStart: number } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  return { header: JSON.parse(text), dataStart: 8 + n };
}

describe('interoperability', () => {
  it('an independent reader following the spec recovers every tensor, the metadata and the checksum', async () => {
    const ckpt = sample();
    const path = join(dir, 'interop.safetensors');
    await saveCheckpoint(path, ckpt);
    const bytes = new Uint8Array(readFileSync(path));
    const { header, dataStart } = specRead(bytes);
    expect(dataStart % 8).toBe(0);
    expect(new TextDecoder().decode(bytes.subarray(8, dataStart)).trimEnd().endsWith('}')).toBe(true);
    const meta = header.__metadata__ as Record<string, string>;
    for (const v of Object.values(meta)) expect(typeof v).toBe('string');
    expect(meta.format).toBe('tandem.checkpoint/1');
    expect(JSON.parse(meta['tandem.config']!)).toEqual(ckpt.config);
    expect(JSON.parse(meta['tandem.step']!)).toBe(1234);
    expect(JSON.parse(meta['tandem.key']!)).toEqual([0xdeadbeef, 7]);
    // The documented checksum rule: SHA-256 of the file with the digest's 64 hex digits read as '0'.
    const digest = meta['tandem.sha256']!;
    const zeroed = Buffer.from(bytes).toString('latin1').replace(digest, '0'.repeat(64));
    expect(createHash('sha256').update(Buffer.from(zeroed, 'latin1')).digest('hex')).toBe(digest);
    // Every tensor, by name, bit for bit; 4-byte tensors are 4-byte aligned in the file.
    const P = ckpt.params as { enc0: { att: { wq: Tensor } }; emb: Tensor; special: Tensor[] };
    const O = ckpt.optState as [unknown, { mu: { att: { wk: Tensor } } }];
    const want: Record<string, Tensor> = {
      'params.enc0.att.wq': P.enc0.att.wq, 'params.emb': P.emb, 'params.special.0': P.special[0], 'params.special.1': P.special[1],
      'params.special.2': P.special[2], 'params.special.3': P.special[3], 'opt.1.mu.att.wk': O[1].mu.att.wk,
    };
    const sizes: Record<string, number> = { F32: 4, I32: 4, BOOL: 1 };
    const dtypes: Record<string, string> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };
    for (const [name, t] of Object.entries(want)) {
      const e = header[name];
      expect(e.dtype).toBe(dtypes[t.dtype]);
      expect(e.shape).toEqual(t.shape);
      const [b, end] = e.data_offsets;
      expect(end - b).toBe(t.size * sizes[e.dtype]!);
      if (sizes[e.dtype] === 4) expect((dataStart + b) % 4).toBe(0);
      expect(Buffer.from(bytes.subarray(dataStart + b, dataStart + end)).toString('hex')).toBe(hex(t));
    }
  });

  const python = [process.env.TANDEM_PYTHON, 'python3', 'python'].find(
    (p) => p && spawnSync(p, ['-c', 'import safetensors.numpy, numpy'], { stdio: 'ignore' }).status === 0,
  );
  it.skipIf(!python)(`Python's safetensors.numpy.load_file reads the checkpoint (${python ?? 'no python with safetensors; set TANDEM_PYTHON'})`, async () => {
    const ckpt = sample();
    const path = join(dir, 'python.safetensors');
    await saveCheckpoint(path, ckpt);
    const script = [
      'import json, sys',
      'from safetensors.numpy import load_file',
      'from safetensors import safe_open',
      't = load_file(sys.argv[1])',
      "meta = safe_open(sys.argv[1], 'np').metadata()",
      "print(json.dumps({'tensors': {k: {'dtype': str(v.dtype), 'shape': list(v.shape), 'hex': v.tobytes().hex()} for k, v in t.items()}, 'meta': meta}))",
    ].join('\n');
    const r = spawnSync(python!, ['-c', script, path], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    const back = await loadCheckpoint(path);
    const host = parseSafetensors(readFileSync(path)).tensors;
    const np: Record<string, string> = { float32: 'float32', int32: 'int32', bool: 'bool' };
    expect(Object.keys(out.tensors).sort()).toEqual(Object.keys(host).sort());
    for (const [name, h] of Object.entries(host)) {
      expect(out.tensors[name].dtype).toBe(np[h.dtype]);
      expect(out.tensors[name].shape).toEqual(h.shape);
      expect(out.tensors[name].hex).toBe(Buffer.from(h.data.buffer, h.data.byteOffset, h.data.byteLength).toString('hex'));
    }
    expect(JSON.parse(out.meta['tandem.config'])).toEqual(ckpt.config);
    T.dispose([back.params, back.optState]);
  });
});

/**
 * Constructors and read-back: tensor() from nested arrays and typed arrays, dtype
 * inference, ragged input, the filled/ranged constructors, and toArray/data/item
 * round trips.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TensorError, arange, eye, full, fullLike, linspace, ones, onesLike, scalar, tensor, zeros, zerosLike, type DType, type NestedArray,
} from '../src/index.js';
import { dataArb, shapeArb } from './helpers/arbitraries.js';
import { numel, toNested, type Nd } from './helpers/reference.js';

const cpu = { backend: 'cpu' as const };

/** Nested arrays of `dtype` values (booleans for bool), with their shape and flat values. */
const nestedArb = (dtype: DType) =>
  shapeArb().chain((shape) =>
    dataArb(dtype, numel(shape)).map((vals) => {
      const x: Nd = { shape, data: Float64Array.from(vals) };
      const nested = toNested(x) as NestedArray;
      const asBool = (v: unknown): unknown => (Array.isArray(v) ? v.map(asBool) : v !== 0);
      return { shape, vals, nested: (dtype === 'bool' ? asBool(nested) : nested) as NestedArray };
    }),
  );

describe('tensor() from nested arrays', () => {
  it('round trips through toArraySync / toArray / data for every dtype (property)', async () => {
    for (const dtype of ['float32', 'int32', 'bool'] as const) {
      await fc.assert(
        fc.asyncProperty(nestedArb(dtype), async ({ shape, vals, nested }) => {
          // float32 and bool are inferred from the leaves; int32 must be asked for.
          const t = tensor(nested, { ...cpu, dtype: dtype === 'int32' ? 'int32' : undefined });
          if (numel(shape) > 0) {
            expect(t.dtype).toBe(dtype);
            expect(t.shape).toEqual(shape);
          } else {
            // Nested arrays cannot show dims past the first empty level, nor a leaf type.
            const firstZero = shape.indexOf(0);
            expect(t.shape).toEqual(shape.slice(0, firstZero + 1));
          }
          expect(t.size).toBe(vals.length);
          expect(t.toArraySync()).toEqual(nested);
          expect(await t.toArray()).toEqual(nested);
          expect(Array.from(await t.data())).toEqual(vals.map((v) => (dtype === 'float32' ? Math.fround(v) : v)));
          t.dispose();
        }),
        { numRuns: 60 },
      );
    }
  });

  it('infers float32 for numbers and bool for booleans; int32 only when asked', () => {
    expect(tensor([1, 2, 3], cpu).dtype).toBe('float32');
    expect(tensor([[true, false]], cpu).dtype).toBe('bool');
    expect(tensor(3, cpu).dtype).toBe('float32');
    expect(tensor(false, cpu).dtype).toBe('bool');
    expect(tensor([1, 2], { ...cpu, dtype: 'int32' }).dtype).toBe('int32');
    expect(tensor([], cpu).dtype).toBe('float32');
    // bool tensors also take 0/1.
    expect(tensor([1, 0, true], { ...cpu, dtype: 'bool' }).toArraySync()).toEqual([true, false, true]);
  });

  it('gives shapes for scalars, vectors, matrices and empty arrays', () => {
    expect(tensor(5, cpu).shape).toEqual([]);
    expect(scalar(5, cpu).shape).toEqual([]);
    expect(tensor([5], cpu).shape).toEqual([1]);
    expect(tensor([[1, 2, 3], [4, 5, 6]], cpu).shape).toEqual([2, 3]);
    expect(tensor([], cpu).shape).toEqual([0]);
    expect(tensor([[], []], cpu).shape).toEqual([2, 0]);
    expect(tensor([[[1], [2]]], cpu).shape).toEqual([1, 2, 1]);
  });

  it('rounds numbers to float32 and keeps int32 values exact', () => {
    expect(tensor([0.1], cpu).toArraySync()).toEqual([Math.fround(0.1)]);
    expect(tensor([2147483647, -2147483648], { ...cpu, dtype: 'int32' }).toArraySync()).toEqual([2147483647, -2147483648]);
  });

  it('reshapes nested data to an explicit shape of the same size', () => {
    const t = tensor([1, 2, 3, 4, 5, 6], { ...cpu, shape: [3, 2] });
    expect(t.shape).toEqual([3, 2]);
    expect(t.toArraySync()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(() => tensor([1, 2, 3], { ...cpu, shape: [2, 2] })).toThrow(/shape \[2,2\] holds 4 elements but the data has 3/);
  });

  it('rejects ragged arrays, naming the offending element', () => {
    expect(() => tensor([[1, 2], [3]], cpu)).toThrow(TensorError);
    expect(() => tensor([[1, 2], [3]], cpu)).toThrow(/ragged nested array: element \[1\] should be an array of length 2 \(shape \[2,2\]\)/);
    expect(() => tensor([1, [2]] as unknown as number[], cpu)).toThrow(/ragged nested array: element \[1\] is an array/);
    expect(() => tensor([[1, 2], 3] as unknown as number[][], cpu)).toThrow(/ragged/);
    expect(() => tensor([[[1, 2]], [[3, 4], [5, 6]]], cpu)).toThrow(/ragged/);
  });

  it('rejects values of the wrong kind for the dtype, never coercing', () => {
    expect(() => tensor([1.5], { ...cpu, dtype: 'int32' })).toThrow(/element \[0\] is 1\.5, which is not an int32/);
    expect(() => tensor([2 ** 31], { ...cpu, dtype: 'int32' })).toThrow(/not an int32/);
    expect(() => tensor([1, true] as unknown as number[], cpu)).toThrow(/element \[1\] is a boolean; a float32 tensor takes numbers/);
    expect(() => tensor([2], { ...cpu, dtype: 'bool' })).toThrow(/element \[0\] is 2; a bool tensor takes true\/false/);
    expect(() => tensor(['a'] as unknown as number[], cpu)).toThrow(/element \[0\] is string; expected a number/);
    expect(() => tensor([1], { ...cpu, dtype: 'float64' as DType })).toThrow(/unknown dtype "float64"/);
  });
});

describe('tensor() from typed arrays', () => {
  it('takes the dtype from the array and copies the data', () => {
    const src = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = tensor(src, { ...cpu, shape: [2, 3] });
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([2, 3]);
    src[0] = 100;
    expect(t.toArraySync()).toEqual([[1, 2, 3], [4, 5, 6]]);
    // Reads are copies too: mutating them leaves the tensor alone.
    (t.dataSync() as Float32Array)[1] = 100;
    expect(t.dataSync()[1]).toBe(2);

    expect(tensor(new Int32Array([1, -2]), cpu).dtype).toBe('int32');
    expect(tensor(new Uint8Array([1, 0]), cpu).toArraySync()).toEqual([true, false]);
    expect(tensor(new Float32Array(3), cpu).shape).toEqual([3]);
    expect(tensor(new Float32Array([7]), { ...cpu, shape: [] }).shape).toEqual([]);
    expect(tensor(new Float32Array(0), { ...cpu, shape: [2, 0, 3] }).shape).toEqual([2, 0, 3]);
  });

  it('round trips arbitrary data and shapes bit for bit (property)', () => {
    fc.assert(
      fc.property(shapeArb(), fc.constantFrom<DType>('float32', 'int32', 'bool'), fc.infiniteStream(fc.integer()), (shape, dtype, ints) => {
        const n = numel(shape);
        const raw = Array.from({ length: n }, () => ints.next().value as number);
        const src = dtype === 'float32'
          ? new Float32Array(new Int32Array(raw).buffer) // arbitrary bit patterns, NaN payloads included
          : dtype === 'int32' ? new Int32Array(raw) : Uint8Array.from(raw, (v) => v & 1);
        const t = tensor(src, { ...cpu, shape });
        expect(t.dtype).toBe(dtype);
        const back = t.dataSync();
        expect(back.constructor).toBe(src.constructor);
        expect(new Uint8Array(back.buffer, back.byteOffset, back.byteLength)).toEqual(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
        t.dispose();
      }),
      { numRuns: 60 },
    );
  });

  it('rejects mismatched shapes, dtypes and unsupported arrays', () => {
    expect(() => tensor(new Float32Array(4), { ...cpu, shape: [3] })).toThrow(/shape \[3\] holds 3 elements but the array has 4/);
    expect(() => tensor(new Float32Array(4), { ...cpu, dtype: 'int32' })).toThrow(/a Float32Array holds float32, but dtype int32 was asked for/);
    expect(() => tensor(new Float64Array(2) as unknown as Float32Array, cpu)).toThrow(/unsupported typed array Float64Array/);
    expect(() => tensor(new Float32Array(2), { ...cpu, shape: [-1, -2] })).toThrow(/shape must be an array of non-negative integers/);
    // A bool tensor holds 0/1 only: other bytes would make eq/logical ops disagree with toArray.
    expect(() => tensor(new Uint8Array([1, 0, 2]), cpu)).toThrow(/element 2 of the Uint8Array is 2; a bool tensor holds 0 or 1/);
  });
});

describe('filled and ranged constructors', () => {
  it('zeros / ones / full for every dtype and shape (property)', () => {
    fc.assert(
      fc.property(shapeArb(), fc.constantFrom<DType>('float32', 'int32', 'bool'), fc.integer({ min: -5, max: 5 }), (shape, dtype, v) => {
        const n = numel(shape);
        const z = zeros(shape, { ...cpu, dtype });
        const o = ones(shape, { ...cpu, dtype });
        const fv = dtype === 'bool' ? v > 0 : v;
        const f = full(shape, fv, { ...cpu, dtype });
        for (const [t, want] of [[z, 0], [o, 1], [f, Number(fv)]] as const) {
          expect(t.dtype).toBe(dtype);
          expect(t.shape).toEqual(shape);
          expect(Array.from(t.dataSync())).toEqual(new Array(n).fill(want));
        }
        expect(zerosLike(f).shape).toEqual(shape);
        expect(onesLike(f).dtype).toBe(dtype);
        expect(fullLike(o, dtype === 'bool' ? 1 : 3).dataSync().every((x) => x === (dtype === 'bool' ? 1 : 3))).toBe(true);
        for (const t of [z, o, f]) t.dispose();
      }),
      { numRuns: 60 },
    );
    expect(full([2], 2.5, cpu).toArraySync()).toEqual([2.5, 2.5]);
    expect(full([2], true, cpu).dtype).toBe('bool');
    expect(() => full([2], 2.5, { ...cpu, dtype: 'int32' })).toThrow(/fill value/);
    expect(() => full([2, -1], 0, cpu)).toThrow(/non-negative integers/);
  });

  it('arange follows Python range semantics', () => {
    expect(arange(5, undefined, 1, cpu).toArraySync()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(2, 5, 1, cpu).toArraySync()).toEqual([2, 3, 4]);
    expect(arange(5, 0, -2, cpu).toArraySync()).toEqual([5, 3, 1]);
    expect(arange(0, 1, 0.25, cpu).toArraySync()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(3, 3, 1, cpu).shape).toEqual([0]);
    expect(arange(3, 0, 1, cpu).shape).toEqual([0]);
    const i = arange(-3, 3, 2, { ...cpu, dtype: 'int32' });
    expect(i.dtype).toBe('int32');
    expect(i.toArraySync()).toEqual([-3, -1, 1]);
    expect(() => arange(0, 3, 0, cpu)).toThrow(/step must be a finite non-zero number/);
    expect(() => arange(0, 3, 0.5, { ...cpu, dtype: 'int32' })).toThrow(/int32 range needs integer/);
    expect(() => arange(0, 3, 1, { ...cpu, dtype: 'bool' })).toThrow(/not a range type/);
    expect(() => arange(0, Infinity, 1, cpu)).toThrow(/arange: start and stop must be finite numbers, got 0 and Infinity/);
    expect(() => arange(NaN, 3, 1, cpu)).toThrow(/start and stop must be finite/);
  });

  it('arange has ceil((stop - start) / step) elements start + i·step (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -20, max: 20 }), fc.integer({ min: -20, max: 20 }), fc.integer({ min: -5, max: 5 }).filter((s) => s !== 0), (a, b, s) => {
        const t = arange(a, b, s, { ...cpu, dtype: 'int32' });
        const want: number[] = [];
        for (let v = a; s > 0 ? v < b : v > b; v += s) want.push(v);
        expect(t.toArraySync()).toEqual(want);
        t.dispose();
      }),
      { numRuns: 60 },
    );
  });

  it('linspace includes both ends', () => {
    expect(linspace(0, 1, 5, cpu).toArraySync()).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(linspace(2, 3, 1, cpu).toArraySync()).toEqual([2]);
    expect(linspace(2, 3, 0, cpu).shape).toEqual([0]);
    const t = linspace(-1, 0.3, 7, cpu).toArraySync() as number[];
    expect(t[0]).toBe(-1);
    expect(t[6]).toBe(Math.fround(0.3));
    for (let i = 0; i < 7; i++) expect(t[i]).toBeCloseTo(-1 + (1.3 * i) / 6, 6);
    expect(() => linspace(0, 1, -1, cpu)).toThrow(/num must be a non-negative integer/);
  });

  it('eye puts ones on diagonal k', () => {
    expect(eye(3, undefined, 0, cpu).toArraySync()).toEqual([[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    expect(eye(2, 3, 1, cpu).toArraySync()).toEqual([[0, 1, 0], [0, 0, 1]]);
    expect(eye(3, 2, -1, cpu).toArraySync()).toEqual([[0, 0], [1, 0], [0, 1]]);
    expect(eye(2, 2, 0, { ...cpu, dtype: 'int32' }).dtype).toBe('int32');
    expect(eye(2, 2, 0, { ...cpu, dtype: 'bool' }).toArraySync()).toEqual([[true, false], [false, true]]);
    expect(eye(0, 3, 0, cpu).shape).toEqual([0, 3]);
  });
});

describe('read back', () => {
  it('item() returns the single element, and rejects other sizes', async () => {
    expect(await tensor(2.5, cpu).item()).toBe(2.5);
    expect(await tensor([[7]], { ...cpu, dtype: 'int32' }).item()).toBe(7);
    expect(await tensor(true, cpu).item()).toBe(1);
    await expect(tensor([1, 2], cpu).item()).rejects.toThrow(/item: expected a tensor with exactly one element, got shape \[2\]/);
    await expect(tensor([], cpu).item()).rejects.toThrow(/got shape \[0\]/);
  });

  it('toArray of a scalar is a number or boolean; of bool tensors, booleans', async () => {
    expect(await tensor(3, cpu).toArray()).toBe(3);
    expect(await tensor(true, cpu).toArray()).toBe(true);
    expect(await tensor([[true], [false]], cpu).toArray()).toEqual([[true], [false]]);
  });

  it('data() returns the typed array of the dtype', async () => {
    expect(await tensor([1], cpu).data()).toBeInstanceOf(Float32Array);
    expect(await tensor([1], { ...cpu, dtype: 'int32' }).data()).toBeInstanceOf(Int32Array);
    expect(await tensor([true], cpu).data()).toBeInstanceOf(Uint8Array);
  });

  it('describes itself', () => {
    const t = tensor([[1, 2]], cpu);
    expect(String(t)).toBe('Tensor(float32[1,2], cpu)');
    expect(t.rank).toBe(2);
    expect(t.size).toBe(2);
    t.dispose();
    expect(String(t)).toBe('Tensor(float32[1,2], disposed)');
  });
});

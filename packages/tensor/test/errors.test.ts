/**
 * Bad input fails early with a TensorError whose message names the op, shows what
 * it received (shapes, dtypes, values) and states the rule that was broken.
 */
import { describe, expect, it } from 'vitest';
import * as tn from '../src/index.js';
import { TensorError, tensor, zeros, type Tensor } from '../src/index.js';

const cpu = { backend: 'cpu' as const };
const f32 = (shape: number[]): Tensor => zeros(shape, cpu);
const i32 = (shape: number[]): Tensor => zeros(shape, { ...cpu, dtype: 'int32' });
const bool = (shape: number[]): Tensor => zeros(shape, { ...cpu, dtype: 'bool' });

/** Runs f, expecting a TensorError from `op` whose message contains every fragment; returns it. */
function expectError(f: () => unknown, op: string, ...fragments: (string | RegExp)[]): TensorError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${op} to throw`).toBeInstanceOf(TensorError);
  const te = err as TensorError;
  expect(te.op).toBe(op);
  expect(te.name).toBe('TensorError');
  expect(te.message.startsWith(`${op}: `)).toBe(true);
  for (const frag of fragments) {
    if (typeof frag === 'string') expect(te.message).toContain(frag);
    else expect(te.message).toMatch(frag);
  }
  expect(tn.TENSOR_ERROR_CODES).toContain(te.code);
  return te;
}

describe('broadcasting', () => {
  it('names both shapes, the dimension and the rule', () => {
    expect(expectError(() => tn.add(f32([2, 3]), f32([4])), 'add', '[2,3]', '[4]', 'do not broadcast', '3 vs 4', 'equal or one of them 1').code).toBe('shape');
    expectError(() => tn.mul(f32([2, 3, 4]), f32([5, 1, 4])), 'mul', '[2,3,4]', '[5,1,4]', 'dimension 0');
    expectError(() => tn.lt(i32([0]), i32([2])), 'lt', '[0]', '[2]', '0 vs 2');
    expectError(() => tn.where(bool([3]), f32([2]), f32([1])), 'where', '[3]', '[2]', 'do not broadcast');
    expectError(() => tn.broadcastTo(f32([2, 3]), [3, 3]), 'broadcastTo', 'float32[2,3]', '[3,3]', "each dimension must equal the target's or be 1");
    expectError(() => tn.broadcastTo(f32([2, 3]), [3]), 'broadcastTo', 'float32[2,3]', '[3]');
    expectError(() => tn.broadcastTo(f32([1]), [-1]), 'broadcastTo', 'shape must be an array of non-negative integers, got [-1]');
    expectError(() => tn.broadcastTo(f32([]), [2.5]), 'broadcastTo', 'non-negative integers');
  });
});

describe('matmul', () => {
  it('reports an inner-dimension mismatch with both operands and the contracted sizes', () => {
    expectError(() => tn.matmul(f32([2, 3]), f32([4, 5])), 'matmul', 'inner dimensions differ', 'float32[2,3]', 'float32[4,5]', 'contracts 3 with 4');
    expectError(() => tn.matmul(f32([2, 3]), f32([3, 5]), { transA: true }), 'matmul', 'float32[2,3]ᵀ', 'contracts 2 with 3');
    expectError(() => tn.matmul(f32([2, 3]), f32([4, 3]), { transB: false }), 'matmul', 'contracts 3 with 4');
  });
  it('rejects vectors, integer operands and non-broadcasting batches', () => {
    expectError(() => tn.matmul(f32([3]), f32([3, 2])), 'matmul', 'rank ≥ 2', 'float32[3]', 'reshape a vector');
    expectError(() => tn.matmul(i32([2, 2]), f32([2, 2])), 'matmul', 'expected a float32 tensor, got int32[2,2]');
    expectError(() => tn.matmul(f32([2, 2, 3]), f32([3, 3, 4])), 'matmul', '[2]', '[3]', 'do not broadcast');
  });
});

describe('axes', () => {
  it('says which axis, the rank, and the valid range', () => {
    expectError(() => tn.sum(f32([2, 3]), 2), 'sum', 'axis 2 is out of range for a tensor of rank 2', 'expected an integer in [-2, 1]');
    expectError(() => tn.max(f32([2, 3]), [-3]), 'max', 'axis -3', 'rank 2');
    expectError(() => tn.argmax(f32([2]), 1), 'argmax', 'axis 1', 'rank 1', '[-1, 0]');
    expectError(() => tn.argmin(tensor(1, cpu), 0), 'argmin', 'rank 0');
    expectError(() => tn.concat([f32([2]), f32([2])], 1), 'concat', 'axis 1');
    expectError(() => tn.softmax(f32([2, 2]), 2), 'softmax', 'axis 2');
    expectError(() => tn.gather(f32([2, 2]), i32([1]), -3), 'gather', 'axis -3');
    expectError(() => tn.sum(f32([2, 3]), 0.5), 'sum', 'axis 0.5', 'integer');
    expectError(() => tn.sum(f32([2, 3]), [1, -1]), 'sum', 'appears twice');
    expectError(() => tn.transpose(f32([2, 3]), [0, 0]), 'transpose', 'not a permutation of the axes 0..1');
    expectError(() => tn.transpose(f32([2, 3]), [0]), 'transpose', 'has 1 entries; expected 2');
  });
  it('rejects reductions of empty sets that have no value', () => {
    expectError(() => tn.max(f32([2, 0]), 1), 'max', 'float32[2,0]', 'size 0', 'empty set');
    expectError(() => tn.argmin(f32([0, 3]), 0), 'argmin', 'size 0');
  });
});

describe('gather / scatterAdd indices on cpu', () => {
  it('names the bad index, its position and the axis size', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]], cpu);
    expectError(() => tn.gather(x, tensor([0, 3], { ...cpu, dtype: 'int32' }), 1), 'gather', 'index 3 at flat position 1', 'axis of size 3', '0 ≤ index < 3');
    expectError(() => tn.gather(x, tensor([-1], { ...cpu, dtype: 'int32' }), 0), 'gather', 'index -1', 'out of range');
    expectError(() => tn.gather(x, tensor([0], cpu)), 'gather', 'expected a int32 tensor, got float32[1]');
    expectError(() => tn.gather(tensor(1, cpu), i32([1])), 'gather', 'cannot gather from a scalar');
    expectError(
      () => tn.scatterAdd(tensor([1, 2], cpu), tensor([0, 5], { ...cpu, dtype: 'int32' }), 0, [3]),
      'scatterAdd', 'index 5 at flat position 1', 'axis of size 3',
    );
    expectError(() => tn.scatterAdd(f32([2, 2]), i32([3]), 0, [4, 2]), 'scatterAdd', 'updates float32[2,2]', 'expected updates of shape [3,2]');
    expectError(() => tn.scatterAdd(f32([0]), i32([0]), 0, [-1]), 'scatterAdd', 'shape must be an array of non-negative integers, got [-1]');
  });
});

describe('disposed tensors', () => {
  it('cannot be used, and the error names the op and the tensor', () => {
    const t = f32([2, 3]);
    const id = t.id;
    t.dispose();
    t.dispose(); // idempotent
    expect(t.isDisposed).toBe(true);
    expect(expectError(() => tn.exp(t), 'exp', `tensor #${id}`, 'float32[2,3]', 'was disposed and cannot be used').code).toBe('disposed');
    expectError(() => tn.add(t, 1), 'add', 'was disposed');
    expectError(() => tn.add(f32([1]), t), 'add', 'was disposed');
    expectError(() => tn.reshape(t, [6]), 'reshape', 'was disposed');
    expectError(() => tn.matmul(t, f32([3, 1])), 'matmul', 'was disposed');
    expectError(() => tn.concat([f32([1, 3]), t]), 'concat', 'was disposed');
    expectError(() => t.dataSync(), 'dataSync', 'was disposed');
    expect(() => t.backend).toThrow(/was disposed/);
  });
  it('rejects data() asynchronously', async () => {
    const t = f32([1]);
    t.dispose();
    await expect(t.data()).rejects.toThrow(/data: tensor #\d+ \(float32\[1\]\) was disposed/);
  });
  it('a reshape alias keeps working after its source is disposed, and vice versa', () => {
    const t = tensor([1, 2, 3, 4], cpu);
    const r = tn.reshape(t, [2, 2]);
    t.dispose();
    expect(r.toArraySync()).toEqual([[1, 2], [3, 4]]);
    expectError(() => tn.neg(t), 'neg', 'was disposed');
  });
});

describe('dtypes', () => {
  it('float-only ops reject int32 and bool, naming the expected dtype', () => {
    expectError(() => tn.exp(i32([2])), 'exp', 'expected a float32 tensor, got int32[2]');
    expectError(() => tn.log(bool([2, 1])), 'log', 'expected a float32 tensor, got bool[2,1]');
    expectError(() => tn.div(i32([2]), i32([2])), 'div', 'expected a float32 tensor, got int32[2]');
    expectError(() => tn.pow(i32([2]), 2), 'pow', 'float32');
    expectError(() => tn.mean(i32([2])), 'mean', 'expected a float32 tensor, got int32');
    expectError(() => tn.softmax(i32([2])), 'softmax', 'expected a float32 tensor, got int32');
    expectError(() => tn.logSoftmax(i32([2])), 'logSoftmax', 'expected a float32 tensor, got int32');
    expectError(() => tn.logSumExp(bool([2])), 'logSumExp', 'expected a float32 tensor, got bool');
  });
  it('logical ops want bool; arithmetic rejects bool', () => {
    expectError(() => tn.logicalAnd(f32([2]), f32([2])), 'logicalAnd', 'expected a bool tensor, got float32[2]');
    expectError(() => tn.logicalNot(i32([2])), 'logicalNot', 'expected a bool tensor, got int32[2]');
    expectError(() => tn.add(bool([2]), bool([2])), 'add', 'expected a float32 or int32 tensor, got bool[2]');
    expectError(() => tn.sum(bool([2])), 'sum', 'got bool[2]');
    expectError(() => tn.neg(bool([2])), 'neg', 'got bool[2]');
  });
  it('mixing dtypes asks for an explicit cast', () => {
    expect(expectError(() => tn.add(f32([2]), i32([2])), 'add', 'different dtypes', 'float32[2]', 'int32[2]', 'cast one of them explicitly').code).toBe('dtype');
    expectError(() => tn.eq(bool([2]), i32([2])), 'eq', 'different dtypes');
    expectError(() => tn.where(bool([2]), f32([2]), i32([2])), 'where', 'branches have different dtypes');
    expectError(() => tn.where(f32([2]), f32([2]), f32([2])), 'where', 'expected a bool tensor, got float32[2]');
    expectError(() => tn.concat([f32([2]), i32([2])]), 'concat', 'dtypes differ', 'float32[2]', 'int32[2]');
  });
  it('JS scalars must fit the tensor dtype', () => {
    expectError(() => tn.add(i32([2]), 1.5), 'add', 'non-integer 1.5', 'int32', 'cast the tensor to float32');
    // Out-of-range integers would wrap silently (clamp(x, 0, 2^32) clamped everything to 0).
    expectError(() => tn.add(i32([2]), 2 ** 32), 'add', '4294967296', 'outside the int32 range');
    expectError(() => tn.clamp(i32([2]), 0, 2 ** 32), 'minimum', 'outside the int32 range');
    expectError(() => tn.add(f32([2]), true), 'add', 'boolean true', 'float32');
    expectError(() => tn.logicalOr(bool([2]), 1), 'logicalOr', 'number 1', 'bool', 'true or false');
    expectError(() => tn.add(1 as unknown as Tensor, 2), 'add', 'at least one operand must be a Tensor');
  });
  it('index tensors must be int32', () => {
    expectError(() => tn.oneHot(f32([2]), 3), 'oneHot', 'indices must be int32, got float32');
    expectError(() => tn.scatterAdd(f32([2]), f32([2]), 0, [2]), 'scatterAdd', 'expected a int32 tensor, got float32[2]');
  });
});

describe('reshape', () => {
  it('reports element counts and bad targets', () => {
    expectError(() => tn.reshape(f32([2, 3]), [4]), 'reshape', 'cannot reshape float32[2,3] (6 elements) to [4] (4 elements)');
    expectError(() => tn.reshape(f32([2, 3]), [-1, -1]), 'reshape', 'invalid target shape [-1,-1]', 'at most one -1');
    expectError(() => tn.reshape(f32([2, 3]), [2, -2]), 'reshape', 'non-negative integers');
    expectError(() => tn.reshape(f32([2, 3]), [1.5, 4]), 'reshape', 'non-negative integers');
    expectError(() => tn.reshape(f32([2, 3]), [4, -1]), 'reshape', 'cannot infer the -1 in [4,-1] for float32[2,3] (6 elements)');
    expectError(() => tn.reshape(f32([0, 3]), [0, -1]), 'reshape', 'cannot infer the -1');
    expectError(() => tn.squeeze(f32([2, 1]), 0), 'squeeze', 'axis 0 has size 2, not 1');
  });
});

describe('slice', () => {
  it('rejects zero steps, out-of-range starts/stops and too many entries', () => {
    const x = f32([4, 5]);
    expect(expectError(() => tn.slice(x, [0], [4], [0]), 'slice', 'step for axis 0 must be a non-zero integer, got 0').code).toBe('argument');
    expectError(() => tn.slice(x, [0], [4], [1.5]), 'slice', 'non-zero integer, got 1.5');
    expectError(() => tn.slice(x, [4], [0], [-1]), 'slice', 'start 4 is out of range for axis 0 of size 4 in float32[4,5]');
    expectError(() => tn.slice(x, [-5]), 'slice', 'start -5 is out of range for axis 0 of size 4');
    expectError(() => tn.slice(x, [0, 0], [null, 6]), 'slice', 'stop 6 is out of range for axis 1 of size 5');
    expectError(() => tn.slice(x, [0, 0], [null, -6]), 'slice', 'stop -6 is out of range');
    expectError(() => tn.slice(x, [0, 0, 0]), 'slice', 'more slice entries than the 2 axes of float32[4,5]');
    expectError(() => tn.slice(x, [0.5]), 'slice', 'start for axis 0 must be an integer, got 0.5');
    expectError(() => tn.slice(x, [0], [1.5]), 'slice', 'stop for axis 0 must be an integer or null, got 1.5');
    // Backwards from past the end is out of range too (never clamped).
    expectError(() => tn.slice(x, [4], null as unknown as undefined, [-1]), 'slice', 'start 4 is out of range');
  });
});

describe('other argument checks', () => {
  it('pad, concat, clamp, random keys and constructors explain themselves', () => {
    expectError(() => tn.pad(f32([2, 2]), [[1, 1]]), 'pad', 'expected 2 [before, after] pairs for float32[2,2], got 1');
    expectError(() => tn.pad(f32([2]), [[-1, 0]]), 'pad', 'pairs of non-negative integers');
    expectError(() => tn.pad(i32([2]), [[1, 0]], 0.5), 'pad', 'pad value 0.5 is not an int32');
    expectError(() => tn.pad(i32([2]), [[1, 0]], 2 ** 40), 'pad', 'pad value 1099511627776 is not an int32');
    expectError(() => tn.pad(bool([2]), [[1, 0]], 2), 'pad', 'pad value 2 is not 0 or 1, as a bool tensor needs');
    expectError(() => tn.concat([]), 'concat', 'needs at least one tensor');
    expectError(() => tn.concat([f32([2, 3]), f32([2, 4])], 0), 'concat', 'shapes [2,3] and [2,4] differ outside axis 0');
    expectError(() => tn.clamp(f32([2]), 1, 0), 'clamp', 'lower bound 1 exceeds upper bound 0');
    expectError(() => tn.key(-1), 'key', 'non-negative safe integer');
    expectError(() => tn.uniform({} as tn.Key, [2]), 'uniform', 'expected a random key');
    expectError(() => tn.bernoulli(tn.key(0), 1.5, [2]), 'bernoulli', 'p must lie in [0, 1], got 1.5');
    expectError(() => tn.zeros([2, -1]), 'full', 'non-negative integers');
    expect(expectError(() => tn.getBackend('webgpu'), 'getBackend', "await initBackend('webgpu')").code).toBe('backend');
  });
});

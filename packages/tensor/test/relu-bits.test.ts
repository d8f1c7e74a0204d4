// The cpu relu reads x < 0 off the float's bits (src/cpu/backend.ts, reluBits): check it
// against the float comparison on every boundary bit pattern and on random words, bit for
// bit (−0 and NaNs of either sign pass through unchanged, negatives become +0).
import { describe, it, expect } from 'vitest';
import * as T from '../src/index.js';

describe('cpu relu on the bits', () => {
  it('is x < 0 ? +0 : x, bit for bit', async () => {
    const words: number[] = [0, 1, 0x7f7fffff, 0x7f800000, 0x7f800001, 0x7fc00000, 0x7fffffff, 0x80000000, 0x80000001, 0x807fffff, 0x80800000, 0xbf800000, 0xff7fffff, 0xff800000, 0xff800001, 0xffc00000, 0xffffffff];
    let s = 99;
    for (let i = 0; i < 20000; i++) words.push((s = (Math.imul(s, 1103515245) + 12345) >>> 0));
    const u = Uint32Array.from(words);
    const x = new Float32Array(u.buffer);
    const got = new Uint32Array((await T.relu(T.tensor(x.slice(), { shape: [x.length] })).data()).buffer.slice(0));
    for (let i = 0; i < u.length; i++) {
      const want = x[i]! < 0 ? 0 : u[i]!;
      if (got[i] !== want) expect.fail(`relu(0x${u[i]!.toString(16)}) = 0x${got[i]!.toString(16)}, want 0x${want.toString(16)}`);
    }
  });
});

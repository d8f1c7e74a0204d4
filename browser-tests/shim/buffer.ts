/**
 * The sliver of Node's Buffer that the packages' test files use to compare bytes
 * (`Buffer.from(x.buffer).toString('hex')`, `.equals(...)`). It is not a global: the
 * bundler imports it into those test files only (lib/bundle.ts, testBuffer), so library
 * code that used Buffer would still fail in the browser with a ReferenceError.
 */
export class TestBuffer {
  private constructor(readonly bytes: Uint8Array) {}

  static from(x: ArrayBufferLike | ArrayBufferView | string | ArrayLike<number>, enc?: string): TestBuffer {
    if (typeof x === 'string') {
      if (enc !== undefined && enc !== 'utf8' && enc !== 'utf-8') throw new Error(`TestBuffer.from: encoding ${enc} is not supported`);
      return new TestBuffer(new TextEncoder().encode(x));
    }
    if (ArrayBuffer.isView(x)) return new TestBuffer(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
    if (x instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && x instanceof SharedArrayBuffer)) return new TestBuffer(new Uint8Array(x));
    return new TestBuffer(Uint8Array.from(x as ArrayLike<number>));
  }

  get length(): number {
    return this.bytes.length;
  }

  equals(other: TestBuffer | Uint8Array): boolean {
    const o = other instanceof TestBuffer ? other.bytes : other;
    if (o.length !== this.bytes.length) return false;
    for (let i = 0; i < o.length; i++) if (this.bytes[i] !== o[i]) return false;
    return true;
  }

  toString(enc = 'utf8'): string {
    if (enc === 'hex') return Array.from(this.bytes, (v) => v.toString(16).padStart(2, '0')).join('');
    if (enc === 'utf8' || enc === 'utf-8') return new TextDecoder().decode(this.bytes);
    throw new Error(`TestBuffer.toString: encoding ${enc} is not supported`);
  }
}

/**
 * The safetensors file format (https://github.com/huggingface/safetensors), as
 * pure functions between named tensors and bytes. We use it because any tool in
 * the ecosystem can read it (Python's `safetensors.numpy.load_file`, PyTorch,
 * JAX) and because loading it executes nothing — unlike a pickle.
 *
 * Layout of a file written by `encodeSafetensors`:
 *
 * ```text
 * bytes [0, 8)        N, the header length: an unsigned 64-bit little-endian integer
 * bytes [8, 8+N)      the header: UTF-8 JSON, padded with spaces (0x20) so that 8+N
 *                     is a multiple of 8 and the data section starts 8-byte aligned
 *                       {
 *                         "__metadata__": { "<key>": "<string value>", ... },   (optional; keys sorted)
 *                         "<name>": { "dtype": "F32" | "I32" | "BOOL",
 *                                     "shape": [d0, d1, ...],                   ([] for a scalar)
 *                                     "data_offsets": [begin, end] },           (relative to byte 8+N)
 *                         ...
 *                       }
 * bytes [8+N, end)    the data section: each tensor's elements, row-major,
 *                     little-endian (float32 and int32: 4 bytes; bool: 1 byte, 0 or 1),
 *                     contiguous with no gaps, 4-byte tensors first (so they stay
 *                     4-byte aligned for zero-copy readers), then by name
 * ```
 *
 * Decoding checks everything before it creates a single tensor — the header
 * length against the file, UTF-8, JSON, each entry's fields, known dtypes, that
 * `end - begin` equals `prod(shape) × element size`, that the ranges tile the data
 * section exactly (no gap, no overlap, nothing after the last) — and throws an
 * `NnError` (code `checkpoint-corrupt`) naming the first problem, so a bad file
 * never loads partially.
 */
import { sizeOf, tensor, type Backend, type BackendName, type DType, type HostArray, type Tensor } from '@tandem/tensor';
import { NnError } from './errors.js';

/** An element type as safetensors spells it; tandem reads and writes these three. */
export type SafetensorsDType = 'F32' | 'I32' | 'BOOL';

/** Host-side tensor data: what the encoder writes and the parser returns, before any backend is involved. */
export interface HostTensor {
  /** Element type (F32, I32 and BOOL in the file). */
  readonly dtype: DType;
  /** Shape; `[]` for a scalar. */
  readonly shape: readonly number[];
  /** Float32Array, Int32Array, or Uint8Array of 0/1 for bool; length `prod(shape)`. */
  readonly data: HostArray;
}

/** A parsed, fully validated safetensors file whose data is still on the host. */
export interface ParsedSafetensors {
  /** Tensors by name, in header order; each owns a fresh, aligned copy of its bytes. */
  readonly tensors: Record<string, HostTensor>;
  /** The `__metadata__` strings ({} when absent). */
  readonly metadata: Record<string, string>;
  /** N: the header's length in bytes (the data section starts at 8 + N). */
  readonly headerLength: number;
}

/**
 * The reference implementation's limit; a larger header is refused rather than
 * read, since only a corrupt or hostile file has one.
 */
export const MAX_HEADER_LENGTH = 100_000_000;

const TO_SAFE: Record<DType, SafetensorsDType> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };
const FROM_SAFE: Record<string, DType> = { F32: 'float32', I32: 'int32', BOOL: 'bool' };
/** Dtypes the format defines that tandem has no tensor type for: named in the error instead of "unknown". */
const OTHER_SAFE = new Set(['U8', 'I8', 'I16', 'U16', 'F16', 'BF16', 'U32', 'I64', 'U64', 'F64', 'C64', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2']);
const ELEM: Record<DType, number> = { float32: 4, int32: 4, bool: 1 };
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function hostTypeOk(dtype: DType, data: unknown): boolean {
  return dtype === 'float32' ? data instanceof Float32Array : dtype === 'int32' ? data instanceof Int32Array : data instanceof Uint8Array;
}

/** The bytes of `a` in little-endian order (a view when the host is little-endian, as every Node platform is). */
function leBytes(a: HostArray): Uint8Array {
  const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (LITTLE_ENDIAN || a.BYTES_PER_ELEMENT === 1) return b;
  const out = new Uint8Array(b.length);
  for (let i = 0; i < b.length; i += 4) for (let j = 0; j < 4; j++) out[i + j] = b[i + 3 - j]!;
  return out;
}

function toHost(op: string, name: string, t: Tensor | HostTensor): HostTensor {
  if ('data' in t && ArrayBuffer.isView((t as HostTensor).data)) {
    const h = t as HostTensor;
    if (!(h.dtype in TO_SAFE)) throw new NnError(op, `tensor '${name}' has unknown dtype ${JSON.stringify(h.dtype)}`, 'argument');
    if (!hostTypeOk(h.dtype, h.data)) throw new NnError(op, `tensor '${name}' is ${h.dtype} but its data is a ${h.data.constructor.name}`, 'argument');
    if (!Array.isArray(h.shape) || !h.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new NnError(op, `tensor '${name}' has an invalid shape ${JSON.stringify(h.shape)}`, 'shape');
    }
    if (sizeOf(h.shape) !== h.data.length) {
      throw new NnError(op, `tensor '${name}' has shape [${h.shape.join(',')}] (${sizeOf(h.shape)} elements) but ${h.data.length} data elements`, 'shape');
    }
    return h;
  }
  const tt = t as Tensor;
  // dataSync is the cpu path; other backends say how to read asynchronously (see saveCheckpoint).
  return { dtype: tt.dtype, shape: tt.shape, data: tt.dataSync() };
}

/**
 * Serialises named tensors (and string metadata) to the bytes of a safetensors
 * file. Pure and deterministic: the same input always gives the same bytes.
 * Tensors must be readable synchronously (cpu); for other backends read them
 * first and pass `HostTensor`s.
 */
export function encodeSafetensors(tensors: Readonly<Record<string, Tensor | HostTensor>>, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const op = 'encodeSafetensors';
  const entries = Object.entries(tensors).map(([name, t]) => {
    if (name === '__metadata__') throw new NnError(op, "'__metadata__' is reserved by the format and cannot name a tensor", 'argument');
    const h = toHost(op, name, t);
    if (h.dtype === 'bool') {
      const i = (h.data as Uint8Array).findIndex((v) => v > 1);
      if (i >= 0) throw new NnError(op, `bool tensor '${name}' holds ${h.data[i]} at element ${i}; bools must be 0 or 1`, 'argument');
    }
    return { name, h };
  });
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new NnError(op, `metadata value for '${k}' is ${typeof v}; safetensors metadata maps strings to strings`, 'argument');
  }
  // Wider elements first keeps every tensor aligned to its element size in the file.
  entries.sort((a, b) => ELEM[b.h.dtype] - ELEM[a.h.dtype] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const parts: string[] = [];
  const metaKeys = Object.keys(metadata).sort();
  if (metaKeys.length > 0) {
    parts.push(`"__metadata__":{${metaKeys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata[k])}`).join(',')}}`);
  }
  let offset = 0;
  for (const { name, h } of entries) {
    const nbytes = h.data.length * ELEM[h.dtype];
    parts.push(`${JSON.stringify(name)}:{"dtype":"${TO_SAFE[h.dtype]}","shape":[${h.shape.join(',')}],"data_offsets":[${offset},${offset + nbytes}]}`);
    offset += nbytes;
  }
  // TextEncoder, not Buffer: the same code runs in browsers.
  const header = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(header.length / 8) * 8;
  if (padded > MAX_HEADER_LENGTH) throw new NnError(op, `the header would be ${padded} bytes, over the format's limit of ${MAX_HEADER_LENGTH}`, 'argument');

  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(header, 8);
  out.fill(0x20, 8 + header.length, 8 + padded); // the header is padded with spaces
  let at = 8 + padded;
  for (const { h } of entries) {
    out.set(leBytes(h.data), at);
    at += h.data.byteLength;
  }
  return out;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/**
 * Parses and validates safetensors bytes without creating tensors. Throws an
 * `NnError` (code `checkpoint-corrupt`) naming the first problem found; on success
 * every tensor's bytes have been checked and copied out of `bytes`.
 */
export function parseSafetensors(bytes: Uint8Array): ParsedSafetensors {
  const op = 'parseSafetensors';
  const fail = (msg: string): never => {
    throw new NnError(op, msg, 'checkpoint-corrupt');
  };
  if (bytes.length < 8) fail(`the file is ${bytes.length} bytes, too short for the 8-byte header length (truncated or empty file)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  const room = bytes.length - 8;
  if (n64 > BigInt(room)) fail(`the header length is ${n64} bytes but only ${room} bytes follow the length prefix (truncated file or corrupt length)`);
  const n = Number(n64);
  if (n > MAX_HEADER_LENGTH) fail(`the header length ${n} exceeds the format's limit of ${MAX_HEADER_LENGTH} bytes (corrupt length)`);
  if (n < 2) fail(`the header length is ${n}; a header is at least the 2 bytes of '{}' (corrupt length)`);
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail('the header is not valid UTF-8 (corrupt header)');
  }
  if (text[0] !== '{') fail(`the header must be a JSON object starting with '{', but starts with ${JSON.stringify(text.slice(0, 16))} (corrupt header)`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`the header is not valid JSON (${(e as Error).message}) (corrupt or truncated header)`);
  }
  if (!isPlainObject(header)) fail('the header is not a JSON object');
  const h = header as Record<string, unknown>;

  const metadata: Record<string, string> = {};
  if (Object.prototype.hasOwnProperty.call(h, '__metadata__')) {
    const m = h.__metadata__;
    if (!isPlainObject(m)) fail('__metadata__ must be an object mapping strings to strings');
    for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`__metadata__ value for '${k}' is ${v === null ? 'null' : typeof v}; metadata values must be strings`);
      Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
  }

  const dataLength = room - n;
  interface Entry { name: string; dtype: DType; shape: number[]; begin: number; end: number }
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(h)) {
    if (name === '__metadata__') continue;
    const where = `tensor '${name}'`;
    if (!isPlainObject(info)) fail(`${where}: its entry must be an object with dtype, shape and data_offsets`);
    const e = info as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') fail(`${where}: unexpected field '${k}' (expected dtype, shape, data_offsets)`);
    }
    const ds = e.dtype;
    if (typeof ds !== 'string') fail(`${where}: dtype is missing or not a string`);
    const dtype = FROM_SAFE[ds as string];
    if (!dtype) {
      if (OTHER_SAFE.has(ds as string)) fail(`${where}: dtype ${ds} is not supported by tandem (supported: F32, I32, BOOL)`);
      fail(`${where}: unknown dtype ${JSON.stringify(ds)}`);
    }
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isSafeInteger(o) && o >= 0) || off[0] > off[1]) {
      fail(`${where}: data_offsets must be [begin, end] with 0 ≤ begin ≤ end, got ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const elems = sizeOf(shape as number[]);
    const want = elems * ELEM[dtype!];
    if (!Number.isSafeInteger(want) || end - begin !== want) {
      fail(`${where}: data_offsets [${begin},${end}] span ${end - begin} bytes but ${ds}[${(shape as number[]).join(',')}] needs ${want}`);
    }
    if (end > dataLength) {
      fail(`${where}: data_offsets [${begin},${end}] run past the end of the ${dataLength}-byte data section (truncated file or corrupt offsets)`);
    }
    entries.push({ name, dtype: dtype!, shape: shape as number[], begin, end });
  }

  // The ranges must tile [0, dataLength) exactly, as the reference implementation demands.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let prev: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < expected) fail(`tensor '${e.name}' (bytes [${e.begin},${e.end})) overlaps tensor '${prev!.name}' (bytes [${prev!.begin},${prev!.end}))`);
    if (e.begin > expected) fail(`bytes [${expected},${e.begin}) of the data section belong to no tensor (gap before tensor '${e.name}')`);
    expected = e.end;
    prev = e;
  }
  if (expected !== dataLength) fail(`the data section is ${dataLength} bytes but its tensors cover only ${expected}: ${dataLength - expected} trailing bytes belong to no tensor`);

  const base = 8 + n;
  const tensors: Record<string, HostTensor> = {};
  for (const e of entries) {
    const src = bytes.subarray(base + e.begin, base + e.end);
    const size = sizeOf(e.shape);
    let data: HostArray;
    if (e.dtype === 'bool') {
      data = src.slice();
      const bad = data.findIndex((v) => v > 1);
      if (bad >= 0) fail(`bool tensor '${e.name}' holds byte ${data[bad]} at element ${bad}; BOOL elements must be 0 or 1`);
    } else {
      data = e.dtype === 'float32' ? new Float32Array(size) : new Int32Array(size);
      // A byte copy (never a numeric conversion) keeps NaN payloads and -0 exact.
      new Uint8Array(data.buffer).set(src);
      if (!LITTLE_ENDIAN) data = new (data.constructor as Float32ArrayConstructor)(leBytes(data).buffer) as HostArray;
    }
    Object.defineProperty(tensors, e.name, { value: { dtype: e.dtype, shape: e.shape, data }, enumerable: true, writable: true, configurable: true });
  }
  return { tensors, metadata, headerLength: n };
}

/**
 * Decodes safetensors bytes to tensors on `backend` (the default one when
 * omitted). All validation happens before any tensor exists; if creating one
 * still fails, the ones already made are disposed, so it is all or nothing.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  opts: { backend?: Backend | BackendName } = {},
): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const parsed = parseSafetensors(bytes);
  return { tensors: hostToTensors(parsed.tensors, opts.backend), metadata: parsed.metadata };
}

/** Uploads host tensors, all or nothing. @internal shared with checkpoint.ts */
export function hostToTensors(host: Readonly<Record<string, HostTensor>>, backend?: Backend | BackendName): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const made: Tensor[] = [];
  try {
    for (const [name, h] of Object.entries(host)) {
      const t = tensor(h.data, { dtype: h.dtype, shape: h.shape, backend });
      made.push(t);
      Object.defineProperty(out, name, { value: t, enumerable: true, writable: true, configurable: true });
    }
  } catch (e) {
    for (const t of made) t.dispose();
    throw e;
  }
  return out;
}

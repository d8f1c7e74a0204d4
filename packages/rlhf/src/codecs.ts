/**
 * Serialisation of pair datasets, with validation at the boundary: io-ts codecs for Pair,
 * Provenance and PairDataset; JSON lines (one pair per line, for inspection and small files);
 * and a compact, checksummed binary form for long recorded streams (D_online). Everything
 * read from outside is validated, and every rejection names where it failed (line number,
 * pair index, field path) so a bad file can be fixed by hand.
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/lib/Either.js';
import { makeDataset } from './datasets.js';
import { RlhfError } from './errors.js';
import { MAX_PROMPT, MAX_RESPONSE, VOCAB_SIZE } from './tasks/vocab.js';
import type { Pair, PairDataset, Provenance, Tokens } from './types.js';

const show = (u: unknown): string => {
  if (u === undefined) return 'undefined (missing)';
  const s = JSON.stringify(u);
  return s === undefined ? String(u) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

const isTokenId = (u: unknown): u is number => typeof u === 'number' && Number.isInteger(u) && u >= 0 && u < VOCAB_SIZE;

/** A token id: an integer in [0, VOCAB_SIZE). */
export const TokenIdCodec = new t.Type<number, number, unknown>(
  'TokenId',
  isTokenId,
  (u, c) => (isTokenId(u) ? t.success(u) : t.failure(u, c, `expected an integer token id in [0, ${VOCAB_SIZE}), got ${show(u)}`)),
  t.identity,
);

/** A token list of `min`..`max` valid token ids; reports every bad id by index and a bad length. */
function tokensCodec(name: string, min: number, max: number): t.Type<Tokens, Tokens, unknown> {
  const is = (u: unknown): u is Tokens => Array.isArray(u) && u.length >= min && u.length <= max && u.every(isTokenId);
  return new t.Type<Tokens, Tokens, unknown>(
    name,
    is,
    (u, c) => {
      if (!Array.isArray(u)) return t.failure(u, c, `expected an array of ${min} to ${max} token ids, got ${show(u)}`);
      const errors: t.ValidationError[] = [];
      if (u.length < min || u.length > max) {
        errors.push({ value: u, context: c, message: `expected ${min} to ${max} tokens, got ${u.length}` });
      }
      u.forEach((x, i) => {
        if (!isTokenId(x)) {
          errors.push({
            value: x,
            context: [...c, { key: String(i), type: TokenIdCodec, actual: x }],
            message: `expected an integer token id in [0, ${VOCAB_SIZE}), got ${show(x)}`,
          });
        }
      });
      return errors.length > 0 ? t.failures(errors) : t.success(u as Tokens);
    },
    (a) => a,
  );
}

/** A prompt: 1..MAX_PROMPT (24) token ids. */
export const PromptCodec = tokensCodec('Prompt', 1, MAX_PROMPT);
/** A response: 1..MAX_RESPONSE (12) token ids (EOS included when present). */
export const ResponseCodec = tokensCodec('Response', 1, MAX_RESPONSE);

/** A preference label: 0 or 1. */
export const PreferenceCodec = new t.Type<0 | 1, 0 | 1, unknown>(
  'Preference',
  (u): u is 0 | 1 => u === 0 || u === 1,
  (u, c) => (u === 0 || u === 1 ? t.success(u) : t.failure(u, c, `expected a preference of 0 or 1, got ${show(u)}`)),
  t.identity,
);

const isStep = (u: unknown): u is number => typeof u === 'number' && Number.isInteger(u) && u >= 0 && u < 2 ** 32;

/** An optional training step: absent, or an integer in [0, 2^32). */
const OptionalStepCodec = new t.Type<number | undefined, number | undefined, unknown>(
  'Step',
  (u): u is number | undefined => u === undefined || isStep(u),
  (u, c) => (u === undefined || isStep(u) ? t.success(u) : t.failure(u, c, `expected an integer step in [0, 2^32) or no step, got ${show(u)}`)),
  t.identity,
);

/** A lone UTF-16 surrogate: UTF-8 (the binary form) cannot carry it, so it is rejected everywhere. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const isLabel = (u: unknown): u is string => typeof u === 'string' && u.length > 0 && !LONE_SURROGATE.test(u);

/** A non-empty, well-formed Unicode string (provenance fields). */
const NonEmptyString = new t.Type<string, string, unknown>(
  'NonEmptyString',
  isLabel,
  (u, c) => (isLabel(u) ? t.success(u) : t.failure(u, c, `expected a non-empty, well-formed Unicode string, got ${show(u)}`)),
  t.identity,
);

/**
 * An object codec that rejects unknown fields (a typo such as "stpe" must not silently drop
 * data) and omits optional fields whose value is undefined, so decoded values are exactly
 * what was encoded.
 */
function strictObject<P extends t.Props, A>(name: string, props: P, build: (a: t.TypeOf<t.TypeC<P>>) => A): t.Type<A, unknown, unknown> {
  const base = t.type(props);
  const allowed = new Set(Object.keys(props));
  return new t.Type<A, unknown, unknown>(
    name,
    (u): u is A => base.is(u) && Object.keys(u as object).every((k) => allowed.has(k)),
    (u, c) => {
      if (typeof u !== 'object' || u === null || Array.isArray(u)) return t.failure(u, c, `expected an object (${name}), got ${show(u)}`);
      const extra = Object.keys(u).filter((k) => !allowed.has(k));
      const r = base.validate(u, c);
      const errors: t.ValidationError[] = isLeft(r) ? [...r.left] : [];
      for (const k of extra) {
        errors.push({ value: (u as Record<string, unknown>)[k], context: [...c, { key: k, type: t.unknown, actual: (u as Record<string, unknown>)[k] }], message: `unknown field ${JSON.stringify(k)} in ${name}` });
      }
      if (errors.length > 0 || isLeft(r)) return t.failures(errors);
      return t.success(build(r.right));
    },
    (a) => a,
  );
}

/** Provenance: non-empty task, source and labeller strings, and an optional step. */
export const ProvenanceCodec: t.Type<Provenance, unknown, unknown> = strictObject(
  'Provenance',
  { task: NonEmptyString, source: NonEmptyString, labeller: NonEmptyString, step: OptionalStepCodec },
  (a): Provenance => (a.step === undefined ? { task: a.task, source: a.source, labeller: a.labeller } : { task: a.task, source: a.source, labeller: a.labeller, step: a.step }),
);

/** A labelled pair: prompt (1–24 ids), two responses (1–12 ids each), preference 0|1, provenance. */
export const PairCodec: t.Type<Pair, unknown, unknown> = strictObject(
  'Pair',
  { prompt: PromptCodec, y1: ResponseCodec, y2: ResponseCodec, preference: PreferenceCodec, provenance: ProvenanceCodec },
  (a): Pair => ({ prompt: a.prompt, y1: a.y1, y2: a.y2, preference: a.preference, provenance: a.provenance }),
);

const isName = (u: unknown): u is string => typeof u === 'string' && !LONE_SURROGATE.test(u);
/** A dataset name: any well-formed Unicode string. */
const DatasetName = new t.Type<string, string, unknown>(
  'DatasetName',
  isName,
  (u, c) => (isName(u) ? t.success(u) : t.failure(u, c, `expected a well-formed Unicode string, got ${show(u)}`)),
  t.identity,
);

/** A whole dataset as one JSON value: { name, pairs }. Decoded datasets are frozen. */
export const PairDatasetCodec: t.Type<PairDataset, unknown, unknown> = strictObject(
  'PairDataset',
  { name: DatasetName, pairs: t.array(PairCodec) },
  (a): PairDataset => makeDataset(a.name, a.pairs),
);

/** One readable line per io-ts error: "<path>: <message>", the path being the field keys joined by dots. */
export function formatErrors(errors: t.Errors): string[] {
  return errors.map((e) => {
    const path = e.context
      .map((c) => c.key)
      .filter((k) => k !== '')
      .join('.');
    const msg = e.message ?? `expected ${e.context[e.context.length - 1]?.type.name ?? 'a valid value'}, got ${show(e.value)}`;
    return path === '' ? msg : `${path}: ${msg}`;
  });
}

/** Validates one pair; throws `<where>: <path>: <message>; ...` on failure. */
export function decodePair(u: unknown, where = 'pair'): Pair {
  const r = PairCodec.decode(u);
  if (isLeft(r)) throw new RlhfError('bad-data', `${where}: ${formatErrors(r.left).join('; ')}`);
  return r.right;
}

/** Plain JSON data of a pair in a canonical field order (step omitted when absent). */
function pairJson(p: Pair): unknown {
  const prov = p.provenance;
  return {
    prompt: [...p.prompt],
    y1: [...p.y1],
    y2: [...p.y2],
    preference: p.preference,
    provenance: prov.step === undefined ? { task: prov.task, source: prov.source, labeller: prov.labeller } : { task: prov.task, source: prov.source, labeller: prov.labeller, step: prov.step },
  };
}

/** A dataset as JSON lines: one pair per line, each line ending with "\n" (the name is not stored). */
export function toJsonl(ds: PairDataset): string {
  return ds.pairs
    .map((p, i) => {
      const json = pairJson(p);
      decodePair(json, `toJsonl: pair ${i}`); // never write what could not be read back
      return `${JSON.stringify(json)}\n`;
    })
    .join('');
}

/**
 * A dataset from JSON lines (blank lines are skipped). Any malformed line makes it throw an
 * Error naming the first bad line's number (1-based) and every failing field path, e.g.
 * "fromJsonl(D_online): line 7: y1.3: expected an integer token id in [0, 64), got 70",
 * followed by the numbers of further bad lines, if any.
 */
export function fromJsonl(text: string, name: string): PairDataset {
  const pairs: Pair[] = [];
  const bad: { line: number; why: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (e) {
      bad.push({ line: i + 1, why: `invalid JSON (${(e as Error).message})` });
      return;
    }
    const r = PairCodec.decode(json);
    if (isLeft(r)) bad.push({ line: i + 1, why: formatErrors(r.left).join('; ') });
    else pairs.push(r.right);
  });
  if (bad.length > 0) {
    const first = bad[0]!;
    const more = bad.length > 1 ? ` (and ${bad.length - 1} more malformed line${bad.length > 2 ? 's' : ''}: ${bad.slice(1, 11).map((b) => b.line).join(', ')}${bad.length > 11 ? ', ...' : ''})` : '';
    throw new RlhfError('bad-data', `fromJsonl(${name}): line ${first.line}: ${first.why}${more}`);
  }
  return makeDataset(name, pairs);
}

// ---------------------------------------------------------------------------------------------
// Binary form (little-endian), for long recorded streams:
//   "TNDP" | version u16 (=1) | flags u16 (=0) | pair count u32 | string count u32
//   | strings: varint byte length + UTF-8 (string 0 is the dataset name)
//   | pairs: u8 prompt length + u8 ids | u8 y1 length + ids | u8 y2 length + ids
//            | u8 bits (bit 0: preference, bit 1: has step)
//            | varint task, source, labeller (indexes into the string table) | [u32 step]
//   | CRC-32 (IEEE) of everything before it, u32.
// About 30 bytes per pair against ~150 for JSONL; the checksum catches corruption and truncation.
// ---------------------------------------------------------------------------------------------

/** The binary form's magic bytes. */
export const BINARY_MAGIC = 'TNDP';
/** The binary form's current version. */
export const BINARY_VERSION = 1;
const HEADER = 16;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as in zip/PNG) of a byte range. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A growable little-endian byte writer. */
class Writer {
  private buf = new Uint8Array(1024);
  length = 0;
  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }
  u16(v: number): void {
    this.u8(v & 0xff);
    this.u8((v >>> 8) & 0xff);
  }
  u32(v: number): void {
    this.ensure(4);
    new DataView(this.buf.buffer).setUint32(this.length, v >>> 0, true);
    this.length += 4;
  }
  varint(v: number): void {
    let x = v >>> 0;
    while (x >= 0x80) {
      this.u8((x & 0x7f) | 0x80);
      x >>>= 7;
    }
    this.u8(x);
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Raised by the reader when a field runs past the end of the data. */
class Overrun extends RlhfError {
  constructor(message: string) {
    super('bad-data', message);
  }
}

/** A bounds-checked little-endian byte reader; `what` names the field for error messages. */
class Reader {
  pos = 0;
  constructor(private readonly b: Uint8Array, private readonly end: number) {}
  private need(n: number, what: string): void {
    if (this.pos + n > this.end) throw new Overrun(`${what} at byte ${this.pos} runs past the end (${this.end} bytes of data)`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.b[this.pos++]!;
  }
  u16(what: string): number {
    return this.u8(what) | (this.u8(what) << 8);
  }
  u32(what: string): number {
    this.need(4, what);
    const v = new DataView(this.b.buffer, this.b.byteOffset).getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  varint(what: string): number {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const byte = this.u8(what);
      v += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return v;
    }
    throw new Overrun(`${what} at byte ${this.pos} is not a valid varint`);
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

/** The compact binary form of a dataset (name and provenance strings kept in a string table). */
export function encodeBinary(ds: PairDataset): Uint8Array {
  if (!isName(ds.name)) throw new RlhfError('bad-data', `encodeBinary: the dataset name must be a well-formed Unicode string, got ${show(ds.name)}`);
  const strings: string[] = [ds.name];
  const index = new Map<string, number>([[ds.name, 0]]);
  const intern = (s: string): number => {
    let i = index.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      index.set(s, i);
    }
    return i;
  };
  const body = new Writer();
  ds.pairs.forEach((p, i) => {
    decodePair(pairJson(p), `encodeBinary: pair ${i}`); // ids must fit, lengths must fit a u8
    for (const ts of [p.prompt, p.y1, p.y2]) {
      body.u8(ts.length);
      for (const id of ts) body.u8(id);
    }
    const hasStep = p.provenance.step !== undefined;
    body.u8(p.preference | (hasStep ? 2 : 0));
    body.varint(intern(p.provenance.task));
    body.varint(intern(p.provenance.source));
    body.varint(intern(p.provenance.labeller));
    if (hasStep) body.u32(p.provenance.step!);
  });
  const w = new Writer();
  for (const ch of BINARY_MAGIC) w.u8(ch.charCodeAt(0));
  w.u16(BINARY_VERSION);
  w.u16(0);
  w.u32(ds.pairs.length);
  w.u32(strings.length);
  const enc = new TextEncoder();
  for (const s of strings) {
    const b = enc.encode(s);
    w.varint(b.length);
    w.bytes(b);
  }
  w.bytes(body.finish());
  const crc = crc32(w.finish());
  w.u32(crc);
  return w.finish();
}

/** Parses the structure after the header (no checksum check); throws Overrun or Error. */
function parseBody(bytes: Uint8Array, end: number): PairDataset {
  const r = new Reader(bytes, end);
  r.pos = 8;
  const count = r.u32('pair count');
  const nStrings = r.u32('string count');
  if (nStrings < 1) throw new RlhfError('bad-data', 'the string table is empty (it must hold at least the dataset name)');
  const dec = new TextDecoder('utf-8', { fatal: true });
  const strings: string[] = [];
  for (let i = 0; i < nStrings; i++) {
    const len = r.varint(`string ${i}'s length`);
    strings.push(dec.decode(r.bytes(len, `string ${i}`)));
  }
  const str = (i: number, what: string): string => {
    if (i >= strings.length) throw new RlhfError('bad-data', `${what} refers to string ${i}, but the table has ${strings.length}`);
    return strings[i]!;
  };
  const pairs: Pair[] = [];
  for (let i = 0; i < count; i++) {
    const tokens = (what: string): number[] => {
      const n = r.u8(`pair ${i}'s ${what} length`);
      return Array.from(r.bytes(n, `pair ${i}'s ${what}`));
    };
    const prompt = tokens('prompt');
    const y1 = tokens('y1');
    const y2 = tokens('y2');
    const bits = r.u8(`pair ${i}'s flags`);
    if (bits > 3) throw new RlhfError('bad-data', `pair ${i}'s flags byte is ${bits}; only bits 0 and 1 are defined`);
    const task = str(r.varint(`pair ${i}'s task`), `pair ${i}'s task`);
    const source = str(r.varint(`pair ${i}'s source`), `pair ${i}'s source`);
    const labeller = str(r.varint(`pair ${i}'s labeller`), `pair ${i}'s labeller`);
    const provenance: Provenance = bits & 2 ? { task, source, labeller, step: r.u32(`pair ${i}'s step`) } : { task, source, labeller };
    pairs.push(decodePair({ prompt, y1, y2, preference: bits & 1, provenance }, `pair ${i}`));
  }
  if (r.pos !== end) throw new RlhfError('bad-data', `${end - r.pos} unexpected bytes after the last pair (at byte ${r.pos})`);
  return makeDataset(strings[0]!, pairs);
}

/**
 * A dataset from its binary form. Rejects, with an Error saying which, data that is too short,
 * has the wrong magic or an unknown version, fails its CRC-32 (corrupted or truncated: when the
 * pairs run past the end, the message says it was most likely truncated), or holds invalid pairs.
 */
export function decodeBinary(bytes: Uint8Array): PairDataset {
  const fail = (why: string): never => {
    throw new RlhfError('bad-data', `decodeBinary: ${why}`);
  };
  if (bytes.length < HEADER + 1 + 4) fail(`only ${bytes.length} bytes: too short for a ${BINARY_MAGIC} dataset (truncated?)`);
  const magic = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
  if (magic !== BINARY_MAGIC) fail(`not a ${BINARY_MAGIC} dataset (magic ${JSON.stringify(magic)})`);
  const version = bytes[4]! | (bytes[5]! << 8);
  if (version !== BINARY_VERSION) fail(`unsupported version ${version} (this reader knows ${BINARY_VERSION})`);
  const end = bytes.length - 4;
  const stored = new DataView(bytes.buffer, bytes.byteOffset).getUint32(end, true);
  const computed = crc32(bytes, 0, end);
  if (stored !== computed) {
    let hint = '';
    try {
      parseBody(bytes, bytes.length);
    } catch (e) {
      if (e instanceof Overrun) hint = ` — the pairs run past the end of the ${bytes.length} bytes present, so it was most likely truncated`;
    }
    fail(`checksum mismatch (stored 0x${stored.toString(16).padStart(8, '0')}, computed 0x${computed.toString(16).padStart(8, '0')}): the data is corrupted or truncated${hint}`);
  }
  try {
    return parseBody(bytes, end);
  } catch (e) {
    return fail(`malformed data despite a valid checksum: ${(e as Error).message}`);
  }
}

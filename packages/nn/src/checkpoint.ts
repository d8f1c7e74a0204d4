/**
 * Training checkpoints: params, optimiser state, step, random key and config in
 * one safetensors file (see safetensors.ts for the byte layout), so the weights
 * can be read by any safetensors reader and a run resumes bit-exactly.
 *
 * Tensor names are the leaves' pytree paths joined by '.': `params.enc0.att.wq`,
 * `opt.1.mu.enc0.att.wq` (array indices are numbers; a '.' or '%' inside an object
 * key is written %2E / %25 so names stay unambiguous). Everything else lives in
 * `__metadata__` (safetensors metadata is string → string, so values are JSON):
 *
 * ```text
 * "format"        "tandem.checkpoint/1"
 * "tandem.tree"   {"params": node, "opt": node}, node = {"t": tensor name}
 *                 | {"a": [node...]} | {"o": [[key, node]...]} | {"c": const}, where const is
 *                 {"v": JSON value} or {"x": "NaN" | "Infinity" | "-Infinity" | "-0" | "undefined"}
 *                 — so non-tensor leaves such as an optimiser's step count round-trip exactly
 * "tandem.step"   the training step, a JSON integer
 * "tandem.key"    the random key's two uint32 words, [w0, w1]
 * "tandem.config" the run's config, JSON
 * "tandem.runState" (optional) the run's own resume state, JSON (e.g. a sampler's cursor, running sums)
 * "tandem.sha256" SHA-256 (hex) of the whole file as written with these 64 hex digits set to '0'
 * ```
 *
 * The digest covers the length prefix, header (with padding) and data, so any
 * flipped byte — in a weight, a shape, the step, the config — is caught on load.
 * A file re-saved by another tool keeps its tensors readable by plain
 * safetensors readers but no longer verifies as a tandem checkpoint.
 *
 * Python reads the tensors with `safetensors.numpy.load_file(path)` and the rest
 * with `safetensors.safe_open(path, 'np').metadata()`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  Tensor, keyFromWords, treeFlatten, type Backend, type BackendName, type Key, type TreeDef,
} from '@tandem/tensor';
import { NnError, type NnErrorCode } from './errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { encodeSafetensors, hostToTensors, parseSafetensors, type HostTensor } from './safetensors.js';

/** What a checkpoint holds: everything needed to resume a run exactly. */
export interface Checkpoint<P = unknown, S = unknown, C = unknown, R = unknown> {
  /** The model parameters: a pytree of tensors (any dtype). */
  params: P;
  /** The optimiser state (tensors and plain values such as step counts); may be `undefined`. */
  optState: S;
  /** The training step (a non-negative integer). */
  step: number;
  /** The random key to continue from. */
  key: Key;
  /** The run's configuration: JSON (plain objects, arrays, strings, finite numbers, booleans, null), or undefined. */
  config: C;
  /**
   * The run's own state beyond params, optimiser state, step and key that resuming
   * needs — a sampler's state, running sums, counts of records written — typed by the
   * run (`R`): JSON like `config`, or absent. Kept apart from `config`, which names the
   * run, so the one never has to carry the other.
   */
  runState?: R;
}

/** The format tag in `__metadata__`; bumped on incompatible changes. */
export const CHECKPOINT_FORMAT = 'tandem.checkpoint/1';

const DIGEST_KEY = 'tandem.sha256';
const ZERO_DIGEST = '0'.repeat(64);

/**
 * The deepest `tandem.tree` (and params / optimiser-state pytree) a checkpoint may hold.
 * Real models nest a few levels; the limit is far below the depth at which the
 * recursive pytree walks (`treeFlatten`, `dispose`) would overflow the stack, and it is
 * checked iteratively before anything recurses, so deeper input is a clear
 * `checkpoint-corrupt` error on load and an `argument` error on save.
 */
export const MAX_TREE_DEPTH = 1000;

/** JSON text of `v` cut to 80 characters, for messages; never throws (a value nested too deeply for JSON.stringify reads as such). */
function preview(v: unknown): string {
  try {
    return String(JSON.stringify(v)).slice(0, 80);
  } catch {
    return '(a value nested too deeply to print)';
  }
}

/** Depth of the deepest array / plain object inside `v` (iteratively), stopping once it exceeds `limit`. */
function depthExceeds(v: unknown, limit: number): boolean {
  // A cycle is infinitely deep, so it exceeds any limit too.
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d > limit) return true;
    const children = Array.isArray(x) ? x : (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null) ? Object.values(x as object) : [];
    for (const c of children) stack.push([c, d + 1]);
  }
  return false;
}

type Node = { t: string } | { a: Node[] } | { o: [string, Node][] } | { c: { v: unknown } | { x: string } };

function escapeKey(k: string): string {
  return k.replace(/%/g, '%25').replace(/\./g, '%2E');
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'null-prototype'} object`;
  return `a ${typeof v}`;
}

function encodeConst(op: string, v: unknown, path: string): { v: unknown } | { x: string } {
  if (v === undefined) return { x: 'undefined' };
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return { x: 'NaN' };
    if (v === Infinity) return { x: 'Infinity' };
    if (v === -Infinity) return { x: '-Infinity' };
    if (Object.is(v, -0)) return { x: '-0' };
    return { v };
  }
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return { v };
  throw new NnError(op, `cannot store ${describe(v)} at ${path}: checkpoints hold tensors, numbers, strings, booleans, null and undefined in plain objects and arrays`, 'argument');
}

/**
 * Walks a tree in `treeFlatten` order, naming each tensor by its path. A tensor
 * object that appears twice (tied weights) is stored once and both places
 * reference it, so the tie survives a round trip.
 */
function encodeTree(op: string, root: string, tree: unknown, names: Map<Tensor, string>, tensors: Map<string, Tensor>): Node {
  const [, def] = treeFlatten(tree);
  const walk = (d: TreeDef, value: unknown, path: string): Node => {
    switch (d.kind) {
      case 'leaf': {
        const t = value as Tensor;
        if (t.isDisposed) throw new NnError(op, `the tensor at ${path} was disposed`, 'argument');
        let name = names.get(t);
        if (name === undefined) {
          name = path;
          if (tensors.has(name)) throw new NnError(op, `two tensors would share the name '${name}'`, 'argument');
          names.set(t, name);
          tensors.set(name, t);
        }
        return { t: name };
      }
      case 'array':
        return { a: d.children.map((c, i) => walk(c, (value as unknown[])[i], `${path}.${i}`)) };
      case 'object':
        return { o: d.keys.map((k, i) => [k, walk(d.children[i]!, (value as Record<string, unknown>)[k], `${path}.${escapeKey(k)}`)] as [string, Node]) };
      case 'const':
        return { c: encodeConst(op, d.value, path) };
    }
  };
  return walk(def, tree, root);
}

function checkJson(op: string, v: unknown, path: string, field = 'config'): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new NnError(op, `${field}${path} is ${v}; JSON has no such number`, 'argument');
    return;
  }
  if (Array.isArray(v)) return v.forEach((x, i) => checkJson(op, x, `${path}[${i}]`, field));
  if (typeof v === 'object' && [Object.prototype, null].includes(Object.getPrototypeOf(v))) {
    for (const [k, x] of Object.entries(v as object)) checkJson(op, x, `${path}.${k}`, field);
    return;
  }
  throw new NnError(op, `${field}${path} is ${describe(v)}; the ${field} must be plain JSON`, 'argument');
}

function checkKey(op: string, k: unknown): Key {
  const w = (k as Key | null)?.words;
  if ((k as Key | null)?.kind !== 'tandem.key' || !Array.isArray(w)) throw new NnError(op, `key must be a random key made by key(seed), got ${JSON.stringify(k)}`, 'argument');
  return keyFromWords(w as unknown as [number, number]);
}

/** The byte position of the 64 digest digits in the header, or -1; the pattern cannot occur inside a JSON string. */
function digestPosition(bytes: Uint8Array, headerEnd: number, digest: string): { at: number; count: number } {
  const needle = Buffer.from(`"${DIGEST_KEY}":"${digest}"`, 'utf8');
  const hay = Buffer.from(bytes.buffer, bytes.byteOffset, headerEnd);
  const first = hay.indexOf(needle, 8);
  if (first < 0) return { at: -1, count: 0 };
  const second = hay.indexOf(needle, first + 1);
  return { at: first + needle.length - 65, count: second < 0 ? 1 : 2 };
}

/** Hashes the file with the digest digits (at `at`) read as '0's, without copying it. */
function sealedDigest(bytes: Uint8Array, at: number): string {
  return createHash('sha256')
    .update(bytes.subarray(0, at))
    .update(ZERO_DIGEST)
    .update(bytes.subarray(at + 64))
    .digest('hex');
}

function headerEnd(bytes: Uint8Array): number {
  return 8 + Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
}

async function encode(ckpt: Checkpoint): Promise<{ bytes: Uint8Array; host: Record<string, HostTensor> }> {
  const op = 'saveCheckpoint';
  if (!ckpt || typeof ckpt !== 'object') throw new NnError(op, 'expected { params, optState, step, key, config, runState? }', 'argument');
  const { params, optState, step, key, config, runState } = ckpt;
  if (!Number.isSafeInteger(step) || step < 0) throw new NnError(op, `step must be a non-negative integer, got ${step}`, 'argument');
  const k = checkKey(op, key);
  // Checked before any recursive walk (checkJson, treeFlatten) could overflow the stack.
  for (const [what, v] of [['params', params], ['optState', optState], ['config', config], ['runState', runState]] as const) {
    if (depthExceeds(v, MAX_TREE_DEPTH)) throw new NnError(op, `${what} is nested more than ${MAX_TREE_DEPTH} levels deep (the limit MAX_TREE_DEPTH) or holds a cycle; a checkpoint cannot store it`, 'argument');
  }
  if (config !== undefined) checkJson(op, config, '');
  if (runState !== undefined) checkJson(op, runState, '', 'runState');
  const names = new Map<Tensor, string>();
  const byName = new Map<string, Tensor>();
  const tree = { params: encodeTree(op, 'params', params, names, byName), opt: encodeTree(op, 'opt', optState, names, byName) };

  const host: Record<string, HostTensor> = {};
  for (const [name, t] of byName) {
    Object.defineProperty(host, name, { value: { dtype: t.dtype, shape: t.shape, data: await t.data() }, enumerable: true });
  }
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    'tandem.tree': JSON.stringify(tree),
    'tandem.step': JSON.stringify(step),
    'tandem.key': JSON.stringify(k.words),
    [DIGEST_KEY]: ZERO_DIGEST,
  };
  // An undefined config is stored as an absent key, so it loads back as undefined.
  if (config !== undefined) metadata['tandem.config'] = JSON.stringify(config);
  if (runState !== undefined) metadata['tandem.runState'] = JSON.stringify(runState);
  const bytes = encodeSafetensors(host, metadata);
  const { at } = digestPosition(bytes, headerEnd(bytes), ZERO_DIGEST);
  bytes.set(Buffer.from(sealedDigest(bytes, at), 'ascii'), at);
  return { bytes, host };
}

/**
 * Serialises a checkpoint to safetensors bytes (async only because tensors on
 * an accelerator are read back asynchronously). Deterministic: the same
 * checkpoint gives the same bytes.
 */
export async function encodeCheckpoint(ckpt: Checkpoint): Promise<Uint8Array> {
  return (await encode(ckpt)).bytes;
}

function decodeConst(c: unknown, fail: (m: string) => never): unknown {
  if (c !== null && typeof c === 'object' && !Array.isArray(c)) {
    const o = c as Record<string, unknown>;
    if ('v' in o && Object.keys(o).length === 1) return o.v;
    if ('x' in o && Object.keys(o).length === 1) {
      switch (o.x) {
        case 'NaN': return NaN;
        case 'Infinity': return Infinity;
        case '-Infinity': return -Infinity;
        case '-0': return -0;
        case 'undefined': return undefined;
      }
    }
  }
  return fail(`bad constant ${preview(c)} in tandem.tree`);
}

/**
 * Verifies and decodes checkpoint bytes: format, checksum, structure, then the
 * tensors (on `backend`, all or nothing). Throws an `NnError` naming the problem:
 * code `checkpoint-corrupt` for a truncated or corrupted file, `checkpoint-version`
 * for a safetensors file that is not a checkpoint of this format.
 */
export function decodeCheckpoint<P = unknown, S = unknown, C = unknown, R = unknown>(
  bytes: Uint8Array,
  opts: { backend?: Backend | BackendName; source?: string } = {},
): Checkpoint<P, S, C, R> {
  const src = opts.source ? `${opts.source}: ` : '';
  const fail = (m: string, code: NnErrorCode = 'checkpoint-corrupt'): never => {
    throw new NnError('loadCheckpoint', `${src}${m}`, code);
  };
  let parsed: ReturnType<typeof parseSafetensors>;
  try {
    parsed = parseSafetensors(bytes);
  } catch (e) {
    return fail(`not a readable safetensors file: ${(e as Error).message}`);
  }
  const { metadata: meta, tensors: host, headerLength } = parsed;
  if (meta.format !== CHECKPOINT_FORMAT) fail(`not a tandem checkpoint: __metadata__.format is ${JSON.stringify(meta.format)}, expected "${CHECKPOINT_FORMAT}"`, 'checkpoint-version');
  const digest = meta[DIGEST_KEY];
  if (typeof digest !== 'string' || !/^[0-9a-f]{64}$/.test(digest)) fail(`the checksum ${DIGEST_KEY} is missing or malformed (corrupt header)`);
  const { at, count } = digestPosition(bytes, 8 + headerLength, digest!);
  if (count !== 1) fail(`the checksum field could not be located in the header (corrupt header)`);
  const actual = sealedDigest(bytes, at);
  if (actual !== digest) fail(`checksum mismatch: the file's SHA-256 is ${actual} but its header records ${digest}; the file is corrupted`);

  const parseJson = (k: string): unknown => {
    const s = meta[k];
    if (typeof s !== 'string') return fail(`__metadata__ lacks '${k}'`);
    try {
      return JSON.parse(s);
    } catch {
      return fail(`__metadata__ '${k}' is not valid JSON`);
    }
  };
  const step = parseJson('tandem.step');
  if (!Number.isSafeInteger(step) || (step as number) < 0) fail(`tandem.step is ${JSON.stringify(step)}, not a non-negative integer`);
  const words = parseJson('tandem.key');
  let key: Key;
  try {
    key = keyFromWords(words as [number, number]);
  } catch {
    return fail(`tandem.key is ${JSON.stringify(words)}, not two uint32 words`);
  }
  const config = (meta['tandem.config'] === undefined ? undefined : parseJson('tandem.config')) as C;
  const runState = (meta['tandem.runState'] === undefined ? undefined : parseJson('tandem.runState')) as R | undefined;
  for (const [k, v] of [['tandem.config', config], ['tandem.runState', runState]] as const) {
    if (depthExceeds(v, MAX_TREE_DEPTH)) fail(`${k} is nested more than ${MAX_TREE_DEPTH} levels deep (the limit MAX_TREE_DEPTH); the file is corrupt or not a model checkpoint`);
  }
  const tree = parseJson('tandem.tree') as { params?: unknown; opt?: unknown } | null;
  if (tree === null || typeof tree !== 'object' || !('params' in tree) || !('opt' in tree)) fail('tandem.tree must be {"params": ..., "opt": ...}');

  // Check the structure and the names against the file before creating any tensor.
  // Iterative (an explicit stack), so a tree of any depth gets this error, not a stack overflow.
  const used = new Set<string>();
  const check = (root: unknown): void => {
    const stack: [unknown, number][] = [[root, 0]];
    while (stack.length > 0) {
      const [n, depth] = stack.pop()!;
      if (depth > MAX_TREE_DEPTH) fail(`tandem.tree is nested more than ${MAX_TREE_DEPTH} levels deep (the limit MAX_TREE_DEPTH); the file is corrupt or not a model checkpoint`);
      if (n === null || typeof n !== 'object' || Array.isArray(n) || Object.keys(n).length !== 1) fail(`bad node ${preview(n)} in tandem.tree`);
      const o = n as Record<string, unknown>;
      if ('t' in o) {
        if (typeof o.t !== 'string' || !Object.prototype.hasOwnProperty.call(host, o.t)) fail(`tandem.tree refers to tensor ${preview(o.t)}, which the file does not hold`);
        used.add(o.t as string);
      } else if ('a' in o) {
        if (!Array.isArray(o.a)) fail('an array node of tandem.tree is not an array');
        const a = o.a as unknown[];
        for (let i = a.length - 1; i >= 0; i--) stack.push([a[i], depth + 1]);
      } else if ('o' in o) {
        if (!Array.isArray(o.o)) fail('an object node of tandem.tree is not a list of [key, node] pairs');
        const ps = o.o as unknown[];
        for (let i = ps.length - 1; i >= 0; i--) {
          const p = ps[i];
          if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'string') fail('an object node of tandem.tree is not a list of [key, node] pairs');
          stack.push([(p as unknown[])[1], depth + 1]);
        }
      } else if ('c' in o) {
        decodeConst(o.c, fail);
      } else fail(`bad node ${preview(n)} in tandem.tree`);
    }
  };
  check(tree!.params);
  check(tree!.opt);
  for (const name of Object.keys(host)) if (!used.has(name)) fail(`the file holds tensor '${name}', which tandem.tree does not use`);

  const tensors = hostToTensors(host, opts.backend);
  const build = (n: Record<string, unknown>): unknown => {
    if ('t' in n) return tensors[n.t as string];
    if ('a' in n) return (n.a as Record<string, unknown>[]).map(build);
    if ('o' in n) {
      const out: Record<string, unknown> = {};
      // defineProperty, not assignment: a key named "__proto__" must stay a key.
      for (const [k, c] of n.o as [string, Record<string, unknown>][]) Object.defineProperty(out, k, { value: build(c), enumerable: true, writable: true, configurable: true });
      return out;
    }
    return decodeConst(n.c, fail);
  };
  return {
    params: build(tree!.params as Record<string, unknown>) as P,
    optState: build(tree!.opt as Record<string, unknown>) as S,
    step: step as number,
    key: key!,
    config,
    ...(runState === undefined ? {} : { runState }),
  };
}

/**
 * Saves a checkpoint atomically (temp file, fsync, rename, fsync of the
 * directory): a crash leaves the previous checkpoint or the new one, never a
 * torn file, and no temp file on success. Also writes `<path>.json`, a
 * human-readable summary (config, step, key, tensor shapes); it is for people
 * only — `loadCheckpoint` reads everything from the checkpoint itself.
 */
export async function saveCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  const { bytes, host } = await encode(ckpt);
  await writeFileAtomic(path, bytes);
  const summary = {
    format: CHECKPOINT_FORMAT,
    checkpoint: path,
    step: ckpt.step,
    key: ckpt.key.words,
    config: ckpt.config ?? null,
    ...(ckpt.runState === undefined ? {} : { runState: ckpt.runState }),
    tensors: Object.fromEntries(Object.entries(host).map(([n, t]) => [n, { dtype: t.dtype, shape: t.shape }])),
  };
  await writeFileAtomic(`${path}.json`, Buffer.from(`${JSON.stringify(summary, null, 2)}\n`, 'utf8'));
}

/**
 * Loads and verifies a checkpoint written by `saveCheckpoint`; tensors are
 * created on `backend` (the default when omitted) only after every check has
 * passed. A truncated or corrupted file throws an `NnError` (code
 * `checkpoint-corrupt`; `checkpoint-version` for a foreign file) naming the file
 * and the problem.
 */
export async function loadCheckpoint<P = unknown, S = unknown, C = unknown, R = unknown>(
  path: string,
  opts: { backend?: Backend | BackendName } = {},
): Promise<Checkpoint<P, S, C, R>> {
  const bytes = await readFile(path);
  return decodeCheckpoint<P, S, C, R>(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { ...opts, source: path });
}

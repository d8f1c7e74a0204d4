/** Reading and writing the tensors and datasets runs exchange through the store. */
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint, type TransformerParams } from '@tandem/nn';
import { decodeBinary, encodeBinary, type PairBatch, type PairDataset } from '@tandem/rlhf';
import { key } from '@tandem/tensor';
import { storeError, type Env } from '../program.js';
import { createHash } from 'node:crypto';


/** Saves a checkpoint as the run's blob `name`. */
export async function saveCheckpointBlob(env: Env, id: string, name: string, ckpt: Checkpoint): Promise<void> {
  await env.store.writeBlob(id, name, await encodeCheckpoint(ckpt));
}

/** Saves a params pytree alone (no optimiser state, step 0, key 0) as the run's blob `name`. */
export async function saveParams(env: Env, id: string, name: string, params: unknown): Promise<void> {
  await saveCheckpointBlob(env, id, name, { params, optState: undefined, step: 0, key: key(0), config: null });
}

/** Loads a checkpoint blob onto the environment's backend (its SHA-256 verified), or fails with a StoreError naming the run, the file and the fix. */
export async function loadCheckpointBlob<P = TransformerParams, R = unknown>(env: Env, id: string, name: string): Promise<Checkpoint<P, unknown, unknown, R>> {
  const source = `${env.store.location(id)}/${name}`;
  const bytes = await env.store.readBlob(id, name);
  if (!bytes) throw storeError(`run ${id}: ${source} is missing; run the run that writes it first, or ${REPAIR}`);
  try {
    return decodeCheckpoint<P, unknown, unknown, R>(bytes, { backend: env.backend, source });
  } catch (e) {
    throw storeError(`run ${id}: ${(e as Error).message}; ${REPAIR}`, e);
  }
}

/** The params of a checkpoint blob. */
export async function loadParams<P = TransformerParams>(env: Env, id: string, name: string): Promise<P> {
  return (await loadCheckpointBlob<P>(env, id, name)).params;
}

/** Saves a dataset as the run's blob `name` (the rlhf binary codec). */
export async function saveDataset(env: Env, id: string, name: string, ds: PairDataset): Promise<void> {
  await env.store.writeBlob(id, name, encodeBinary(ds));
}

/** Loads a dataset blob (its CRC-32 verified), or fails with a StoreError naming the run, the file and the fix. */
export async function loadDataset(env: Env, id: string, name: string): Promise<PairDataset> {
  const source = `${env.store.location(id)}/${name}`;
  const bytes = await env.store.readBlob(id, name);
  if (!bytes) throw storeError(`run ${id}: ${source} is missing; run the run that writes it first, or ${REPAIR}`);
  try {
    return decodeBinary(bytes);
  } catch (e) {
    throw storeError(`run ${id}: ${source}: ${(e as Error).message}; ${REPAIR}`, e);
  }
}

/**
 * The recorded online stream, `stream.bin`: written append-only, one segment per batch,
 * so a checkpoint appends only the batches since the previous one (linear I/O over a run)
 * and the bytes never depend on when checkpoints happened.
 *
 * ```text
 * header   16 bytes  "TANDEM-STREAM/1\n"
 * segment  u32 LE    payload length n
 *          u32 LE    batch index (0, 1, 2… — the step the batch trained, minus one)
 *          32 bytes  SHA-256 of (the two u32 above ‖ payload)
 *          n bytes   payload: the batch as an rlhf `encodeBinary` dataset named D_online (itself CRC-32 checked)
 * ```
 *
 * A checkpoint records how many batches and bytes of the file it covers; bytes beyond
 * that are a torn or uncheckpointed tail, cut on resume. A finished run's result.json
 * records the whole file's size and SHA-256.
 */
export const STREAM_FILE = 'stream.bin';
const STREAM_MAGIC = 'TANDEM-STREAM/1\n';
const SEGMENT_HEADER = 8 + 32;

/** The bytes that append `batches` (numbered from `first`) to a stream file; with the file header when `header`. */
export function encodeStreamSegments(batches: readonly PairBatch[], first: number, header: boolean): Uint8Array {
  const parts: Uint8Array[] = header ? [Buffer.from(STREAM_MAGIC, 'latin1')] : [];
  batches.forEach((b, i) => {
    const payload = encodeBinary({ name: 'D_online', pairs: b.pairs });
    const head = Buffer.alloc(SEGMENT_HEADER);
    head.writeUInt32LE(payload.length, 0);
    head.writeUInt32LE(first + i, 4);
    createHash('sha256').update(head.subarray(0, 8)).update(payload).digest().copy(head, 8);
    parts.push(head, payload);
  });
  return Buffer.concat(parts);
}

/** What {@link scanStream} found: the batches of the well-formed prefix, where it ends, and the first problem after it (if any). */
export interface StreamScan {
  batches: PairBatch[];
  /** Bytes of the well-formed prefix (header and whole, verified segments). */
  bytes: number;
  /** Why reading stopped before `limit`, e.g. 'segment 3 at byte 812: checksum mismatch'. */
  problem?: string;
}

/** Reads the segments of stream file bytes up to `limit` (default: all), verifying each; stops at the first problem. `batchSize`, when given, is checked too. */
export function scanStream(bytes: Uint8Array, o: { limit?: number; batchSize?: number; decode?: boolean } = {}): StreamScan {
  const limit = Math.min(o.limit ?? bytes.length, bytes.length);
  const short = (o.limit ?? 0) > bytes.length ? ` (the file is ${bytes.length} bytes, ${o.limit} expected)` : '';
  const batches: PairBatch[] = [];
  if (limit === 0) return { batches, bytes: 0, ...(short ? { problem: `empty${short}` } : {}) };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (limit < STREAM_MAGIC.length || buf.toString('latin1', 0, STREAM_MAGIC.length) !== STREAM_MAGIC) {
    return { batches, bytes: 0, problem: `no ${JSON.stringify(STREAM_MAGIC.trim())} header (not a stream file of this version, or torn)${short}` };
  }
  let at = STREAM_MAGIC.length;
  let count = 0;
  while (at < limit) {
    const where = `segment ${count} at byte ${at}`;
    const stop = (why: string): StreamScan => ({ batches, bytes: at, problem: `${where}: ${why}${short}` });
    if (at + SEGMENT_HEADER > limit) return stop(`torn (only ${limit - at} of its ${SEGMENT_HEADER} header bytes)`);
    const n = buf.readUInt32LE(at);
    const index = buf.readUInt32LE(at + 4);
    if (at + SEGMENT_HEADER + n > limit) return stop(`torn (${limit - at - SEGMENT_HEADER} of its ${n} payload bytes)`);
    const payload = bytes.subarray(at + SEGMENT_HEADER, at + SEGMENT_HEADER + n);
    const digest = createHash('sha256').update(bytes.subarray(at, at + 8)).update(payload).digest();
    if (!digest.equals(buf.subarray(at + 8, at + SEGMENT_HEADER))) return stop('checksum mismatch (corrupted)');
    if (index !== count) return stop(`holds batch ${index}, expected batch ${count} (segments out of order)`);
    if (o.decode !== false || o.batchSize !== undefined) {
      let pairs;
      try {
        pairs = decodeBinary(payload).pairs;
      } catch (e) {
        return stop((e as Error).message);
      }
      if (o.batchSize !== undefined && pairs.length !== o.batchSize) return stop(`holds ${pairs.length} pairs, not the batch size ${o.batchSize}`);
      batches.push({ pairs });
    }
    at += SEGMENT_HEADER + n;
    count++;
  }
  return { batches, bytes: at };
}

/** The number of whole, verified segments in stream file bytes (without decoding the batches). */
export function streamBatchCount(bytes: Uint8Array): number {
  let n = 0;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.toString('latin1', 0, STREAM_MAGIC.length) !== STREAM_MAGIC) return 0;
  for (let at = STREAM_MAGIC.length; at + SEGMENT_HEADER <= bytes.length; n++) at += SEGMENT_HEADER + buf.readUInt32LE(at);
  return n;
}

/**
 * The whole stream a finished online run recorded, verified: every segment's checksum,
 * the batch size, and exactly `steps` batches. Missing, short or damaged is a StoreError
 * naming the file and the fix — never an empty or partial stream.
 */
export async function loadStream(env: Env, id: string, steps: number, batchSize: number): Promise<PairBatch[]> {
  const where = `run ${id}: ${env.store.location(id)}/${STREAM_FILE}`;
  const bytes = await env.store.readBlob(id, STREAM_FILE);
  if (!bytes) throw storeError(`${where} is missing (the online run's ${steps} recorded batches); ${REPAIR}`);
  const scan = scanStream(bytes, { batchSize });
  if (scan.problem) throw storeError(`${where} is damaged: ${scan.problem}; ${REPAIR}`);
  if (scan.batches.length !== steps) throw storeError(`${where} holds ${scan.batches.length} batches, but the run took ${steps} steps; ${REPAIR}`);
  return scan.batches;
}

/** Names `writeFileAtomic` (@tandem/nn) gives its temp files: `<name>.tmp-<pid>-<random hex>`. */
export const TEMP_NAME = /\.tmp-(\d+)-[0-9a-f]+$/;

/** What to do about a damaged run: the remedy every StoreError about stored files names. */
export const REPAIR = 'run `experiment verify --repair` (then rerun the command) to recompute it';
/** The remedy for a damaged unfinished run (no result.json yet), which `--fresh` also discards. */
export const REPAIR_UNFINISHED = 'run `experiment verify --repair` (or rerun with --fresh) to recompute it';

/** Reading and writing the tensors and datasets runs exchange through the store. */
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint, type TransformerParams } from '@tandem/nn';
import { decodeBinary, encodeBinary, type PairBatch, type PairDataset } from '@tandem/rlhf';
import { key } from '@tandem/tensor';
import { storeError, type Env } from '../program.js';

/** What to do about a stored file that is missing or unreadable. */
const FIX = 'delete the run folder (or rerun with --fresh) to recompute it';

/** Saves a checkpoint as the run's blob `name`. */
export async function saveCheckpointBlob(env: Env, id: string, name: string, ckpt: Checkpoint): Promise<void> {
  await env.store.writeBlob(id, name, await encodeCheckpoint(ckpt));
}

/** Saves a params pytree alone (no optimiser state, step 0, key 0) as the run's blob `name`. */
export async function saveParams(env: Env, id: string, name: string, params: unknown): Promise<void> {
  await saveCheckpointBlob(env, id, name, { params, optState: undefined, step: 0, key: key(0), config: null });
}

/** Loads a checkpoint blob onto the environment's backend, or fails with a StoreError naming the file. */
export async function loadCheckpointBlob<P = TransformerParams, R = unknown>(env: Env, id: string, name: string): Promise<Checkpoint<P, unknown, unknown, R>> {
  const source = `${env.store.location(id)}/${name}`;
  const bytes = await env.store.readBlob(id, name);
  if (!bytes) throw storeError(`${source} is missing; run the run that writes it first, or ${FIX}`);
  try {
    return decodeCheckpoint<P, unknown, unknown, R>(bytes, { backend: env.backend, source });
  } catch (e) {
    throw storeError(`${(e as Error).message}; ${FIX}`, e);
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

/** Loads a dataset blob, or fails with a StoreError naming the file. */
export async function loadDataset(env: Env, id: string, name: string): Promise<PairDataset> {
  const bytes = await env.store.readBlob(id, name);
  if (!bytes) throw storeError(`${env.store.location(id)}/${name} is missing; run the run that writes it first, or ${FIX}`);
  return decodeBinary(bytes);
}

/** A recorded stream is stored as one dataset whose pairs carry their step; batches are regrouped by step. */
export async function saveStream(env: Env, id: string, stream: readonly PairBatch[]): Promise<void> {
  await env.store.writeBlob(id, 'stream.bin', encodeBinary({ name: 'D_online', pairs: stream.flatMap((b) => b.pairs) }));
}

/** The stream a run recorded (empty when it has none), regrouped into batches of `batchSize`. */
export async function loadStream(env: Env, id: string, batchSize: number): Promise<PairBatch[]> {
  const bytes = await env.store.readBlob(id, 'stream.bin');
  if (!bytes) return [];
  const pairs = decodeBinary(bytes).pairs;
  if (pairs.length % batchSize !== 0) throw storeError(`${env.store.location(id)}/stream.bin holds ${pairs.length} pairs, not a multiple of the batch size ${batchSize}; ${FIX}`);
  const out: PairBatch[] = [];
  for (let i = 0; i < pairs.length; i += batchSize) out.push({ pairs: pairs.slice(i, i + batchSize) });
  return out;
}

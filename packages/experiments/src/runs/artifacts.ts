/** Reading and writing the tensors and datasets runs exchange through the store. */
import { decodeCheckpoint, encodeCheckpoint, type TransformerParams } from '@tandem/nn';
import { decodeBinary, encodeBinary, type PairBatch, type PairDataset } from '@tandem/rlhf';
import { key, type Key } from '@tandem/tensor';
import { storeError, type Env } from '../program.js';

/** Saves a params pytree (with optional optimiser state, step and key) as a checkpoint blob. */
export async function saveParams(env: Env, id: string, name: string, params: unknown, extra: { opt?: unknown; step?: number; key?: Key; config?: unknown } = {}): Promise<void> {
  const bytes = await encodeCheckpoint({ params, optState: extra.opt, step: extra.step ?? 0, key: extra.key ?? key(0), config: extra.config ?? null });
  await env.store.writeBlob(id, name, bytes);
}

export interface LoadedCheckpoint<P> {
  params: P;
  opt: unknown;
  step: number;
  key: Key;
  config: unknown;
}

/** Loads a checkpoint blob onto the environment's backend, or fails naming the run and file. */
export async function loadCheckpointBlob<P = TransformerParams>(env: Env, id: string, name: string): Promise<LoadedCheckpoint<P>> {
  const bytes = await env.store.readBlob(id, name);
  if (!bytes) throw storeError(`run ${id} has no ${name}`);
  const c = decodeCheckpoint<P>(bytes, { backend: env.backend, source: `${id}/${name}` });
  return { params: c.params, opt: c.optState, step: c.step, key: c.key, config: c.config };
}

export async function loadParams<P = TransformerParams>(env: Env, id: string, name: string): Promise<P> {
  return (await loadCheckpointBlob<P>(env, id, name)).params;
}

export async function saveDataset(env: Env, id: string, name: string, ds: PairDataset): Promise<void> {
  await env.store.writeBlob(id, name, encodeBinary(ds));
}

export async function loadDataset(env: Env, id: string, name: string): Promise<PairDataset> {
  const bytes = await env.store.readBlob(id, name);
  if (!bytes) throw storeError(`run ${id} has no ${name}`);
  return decodeBinary(bytes);
}

/** A recorded stream is stored as one dataset whose pairs carry their step; batches are regrouped by step. */
export async function saveStream(env: Env, id: string, stream: readonly PairBatch[]): Promise<void> {
  await env.store.writeBlob(id, 'stream.bin', encodeBinary({ name: 'D_online', pairs: stream.flatMap((b) => b.pairs) }));
}

export async function loadStream(env: Env, id: string, batchSize: number): Promise<PairBatch[]> {
  const bytes = await env.store.readBlob(id, 'stream.bin');
  if (!bytes) return [];
  const pairs = decodeBinary(bytes).pairs;
  if (pairs.length % batchSize !== 0) throw storeError(`run ${id}: stream.bin holds ${pairs.length} pairs, not a multiple of the batch size ${batchSize}`);
  const out: PairBatch[] = [];
  for (let i = 0; i < pairs.length; i += batchSize) out.push({ pairs: pairs.slice(i, i + batchSize) });
  return out;
}

/**
 * D_{a vs b} (docs/paper.md §6, Fig. 5/12): for each training prompt, one response from
 * policy a and one from policy b, labelled by the golden model. Covers D_sft-vs-800,
 * D_800-vs-4k and D_4k-vs-4k (a and b may be the same policy: two samples of it).
 */
import type { TransformerParams } from '@tandem/nn';
import { getTask, makeDataset, sampleResponses, type Pair } from '@tandem/rlhf';
import { dispose, foldIn, key } from '@tandem/tensor';
import { fromAsync, type Env, type Program } from '../program.js';
import { loadParams, saveDataset } from './artifacts.js';
import { cachedRun, idOf, type RunOutcome } from './cache.js';
import { loadDataDatasets, loadGolden, loadSft, policySpecOf, replicateKey } from './setup.js';
import { trainingPrompts, type DatasetRef, type PolicyRef, type TrainRunConfig } from './train.js';

async function loadPolicy(env: Env, ref: PolicyRef, setup: TrainRunConfig['setup']): Promise<TransformerParams> {
  if (ref.kind === 'sft') return loadSft(env, setup);
  return loadParams(env, idOf(env, 'train', ref.run), `params@${ref.step}.ckpt`);
}

const describe = (r: PolicyRef) => (r.kind === 'sft' ? 'policy:sft' : `policy:online@${r.step}`);

/** Builds and stores D_{a vs b}; the policies' runs must have finished. The result counts the `pairs` and those the golden model labelled in policy a's favour (`y1Wins`). */
export function datasetRun(ref: Extract<DatasetRef, { kind: 'versus' }>, setup: TrainRunConfig['setup']): Program<RunOutcome<{ pairs: number; y1Wins: number }>> {
  return cachedRun('dataset', ref, (run) => fromAsync(async (env) => {
    const task = getTask(setup.data.task);
    const spec = policySpecOf(task, setup.setup.size);
    const prompts = trainingPrompts((await loadDataDatasets(env, setup.data)).initial).slice(0, ref.pairs);
    const k = foldIn(replicateKey(setup.data), 0x5eed);
    const a = await loadPolicy(env, ref.a, setup);
    const b = await loadPolicy(env, ref.b, setup);
    const ya = await sampleResponses(a, spec, prompts, foldIn(k, 1), env.backend);
    const yb = await sampleResponses(b, spec, prompts, foldIn(k, 2), env.backend);
    dispose([a, b]);
    const golden = await loadGolden(env, setup.data);
    const items = prompts.map((prompt, i) => ({ prompt, y1: ya[i]!, y2: yb[i]! }));
    const labels = await golden.labeller.label(items, foldIn(k, 3));
    golden.release();
    const pairs: Pair[] = items.map((c, i) => ({ ...c, preference: labels[i]!, provenance: { task: task.name, source: `${describe(ref.a)}|${describe(ref.b)}`, labeller: 'golden' } }));
    await saveDataset(env, run.id, 'dataset.bin', makeDataset(ref.name, pairs));
    return { pairs: pairs.length, y1Wins: labels.filter((l) => l === 1).length };
  }));
}

/**
 * The codec of a training run's config ({@link TrainRunConfig}): what a queued job
 * carries. A worker decodes every job's data with it (and the cross-field rules of
 * {@link runIssues}) before running anything, so data altered in Redis — a string for a
 * step count, an unknown size, a β ≤ 0, an unknown key — is a clear error naming the
 * field, never a run.
 */
import * as t from 'io-ts';
import {
  DataConfig, EvalConfig, LossName, NonNegInt, PosInt, SetupConfig, ShuffleWindow, TrainConfig, checked, runIssues,
} from './config.js';
import type { DatasetRef, Method, PolicyRef, TrainRunConfig } from './runs/train.js';

const SetupRunConfigCodec = t.exact(t.type({ data: DataConfig, setup: SetupConfig }), 'SetupRunConfig');

/** Codec of a {@link TrainRunConfig}, recursive (baselines, replay sources and dataset sides are run configs), with {@link runIssues}. */
export const TrainRunConfigCodec: t.Type<TrainRunConfig, unknown, unknown> = t.recursion<TrainRunConfig, unknown>('TrainRunConfig', () => checked(
  t.exact(t.type({
    setup: SetupRunConfigCodec,
    method: MethodCodec,
    loss: LossName,
    hyper: TrainConfig,
    seed: NonNegInt,
    eval: t.exact(t.intersection([EvalConfig.type, t.partial({ baseline: TrainRunConfigCodec })]), 'EvalConfig'),
    keepSteps: t.array(PosInt),
  }), 'TrainRunConfig'),
  runIssues,
));

const PolicyRefCodec: t.Type<PolicyRef, unknown, unknown> = t.union([
  t.exact(t.type({ kind: t.literal('sft') })),
  t.exact(t.type({ kind: t.literal('checkpoint'), run: TrainRunConfigCodec, step: PosInt })),
], "a policy: { kind: 'sft' } or { kind: 'checkpoint', run, step }");

const DatasetRefCodec: t.Type<DatasetRef, unknown, unknown> = t.union([
  t.exact(t.type({ kind: t.literal('golden') })),
  t.exact(t.type({ kind: t.literal('versus'), name: t.string, a: PolicyRefCodec, b: PolicyRefCodec, pairs: PosInt })),
], "a dataset: { kind: 'golden' } or { kind: 'versus', name, a, b, pairs }");

const MethodCodec: t.Type<Method, unknown, unknown> = t.union([
  t.exact(t.type({ kind: t.literal('online'), labeller: t.keyof({ proxy: null, golden: null }, "a labeller ('proxy' | 'golden')") })),
  t.exact(t.type({ kind: t.literal('offline'), dataset: DatasetRefCodec })),
  t.exact(t.type({ kind: t.literal('replay'), source: TrainRunConfigCodec, window: ShuffleWindow, shuffleSeed: NonNegInt })),
], "a method: { kind: 'online', labeller }, { kind: 'offline', dataset } or { kind: 'replay', source, window, shuffleSeed }");

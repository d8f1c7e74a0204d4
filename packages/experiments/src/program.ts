/**
 * Experiment programs are descriptions: `Program<A>` is a ReaderTaskEither over
 * an environment that supplies the backend, the run store, logging and progress.
 * Nothing runs until the program is interpreted at the edge (the CLI, or a test
 * with an in-memory environment). See docs/decisions/fp-ts-vs-effect.md.
 */
import * as E from 'fp-ts/lib/Either.js';
import * as RTE from 'fp-ts/lib/ReaderTaskEither.js';
import * as TE from 'fp-ts/lib/TaskEither.js';
import { pipe } from 'fp-ts/lib/function.js';
import type { Backend } from '@tandem/tensor';
import type { RunStore } from './store/types.js';

/** Why a program stopped without a result. */
export type ExperimentError =
  | { readonly _tag: 'ConfigError'; readonly message: string; readonly paths: readonly string[] }
  | { readonly _tag: 'StoreError'; readonly message: string }
  | { readonly _tag: 'Interrupted'; readonly message: string }
  | { readonly _tag: 'Failure'; readonly message: string; readonly cause?: unknown };

/** An invalid config: `message` for people, `paths` with one entry per offending field. */
export const configError = (message: string, paths: readonly string[]): ExperimentError => ({ _tag: 'ConfigError', message, paths });
/** The run store is missing something or holds something inconsistent. */
export const storeError = (message: string): ExperimentError => ({ _tag: 'StoreError', message });
/** The user asked the program to stop (it can be resumed by rerunning it). */
export const interrupted = (message = 'interrupted'): ExperimentError => ({ _tag: 'Interrupted', message });
/** Anything else that went wrong; `cause` keeps the original error. */
export const failure = (message: string, cause?: unknown): ExperimentError => ({ _tag: 'Failure', message, cause });

/** A progress bar for one run, as the environment renders it (terminal bars, or nothing in tests). */
export interface ProgressBar {
  /** Moves the bar to `step` (of the total), with optional fields to show beside it (e.g. the loss). */
  update(step: number, fields?: Record<string, string | number>): void;
  /** Finishes and removes the bar. */
  stop(): void;
}

/** What a program may do to the world. Supplied by an interpreter. */
export interface Env {
  /** The tensor backend runs compute on. */
  readonly backend: Backend;
  /** Where run configs, results, metrics and artifacts are kept. */
  readonly store: RunStore;
  /** A version string that, with a config, identifies a run's result. */
  readonly codeVersion: string;
  /** Writes a line for the user (stderr in the CLI). */
  log(message: string): void;
  /** Starts a progress bar labelled `label` for `total` steps. */
  progress(label: string, total: number): ProgressBar;
  /** Set when the user asked to stop (Ctrl-C): long loops stop at their next checkpoint. */
  readonly interruption: { readonly requested: boolean };
}

/** An experiment program producing `A`: a description that reads an {@link Env} and may fail with an {@link ExperimentError}; nothing runs until {@link run}. */
export type Program<A> = RTE.ReaderTaskEither<Env, ExperimentError, A>;

/** Lifts an async computation; a thrown error becomes a Failure (an interruption stays one). */
export function fromAsync<A>(f: (env: Env) => Promise<A>): Program<A> {
  return (env) => TE.tryCatch(() => f(env), toExperimentError);
}

/** Converts a thrown value to an ExperimentError: one already tagged passes through, anything else becomes a Failure. */
export function toExperimentError(e: unknown): ExperimentError {
  if (e && typeof e === 'object' && '_tag' in e) return e as ExperimentError;
  const msg = e instanceof Error ? e.message : String(e);
  return failure(msg, e);
}

/** Throws an ExperimentError from inside `fromAsync` code. */
export function raise(e: ExperimentError): never {
  throw e;
}

/** Runs programs one after another, collecting their results. */
export function sequence<A>(ps: readonly Program<A>[]): Program<A[]> {
  return RTE.sequenceSeqArray(ps) as Program<A[]>;
}

/**
 * Runs independent programs of a sweep. Runs are pure config → result, so their order
 * does not change any result; here they run one after another on this process (the
 * sweeps module spreads them over worker processes or machines).
 */
export function sweep<A>(ps: readonly Program<A>[]): Program<A[]> {
  return sequence(ps);
}

/** Interprets a program in an environment. */
export async function run<A>(p: Program<A>, env: Env): Promise<E.Either<ExperimentError, A>> {
  return p(env)();
}

/** Interprets a program, throwing on failure (handy in tests and scripts). */
export async function runOrThrow<A>(p: Program<A>, env: Env): Promise<A> {
  const r = await run(p, env);
  if (E.isLeft(r)) throw Object.assign(new Error(`${r.left._tag}: ${r.left.message}`), { experimentError: r.left });
  return r.right;
}

/** A program that succeeds with `a` without touching the environment. */
export const of = <A>(a: A): Program<A> => RTE.right(a);
/** Sequences `p` with the program `f` makes from its result (pipeable). */
export const chain = <A, B>(f: (a: A) => Program<B>) => (p: Program<A>): Program<B> => pipe(p, RTE.chain(f));
/** Transforms a program's result with `f` (pipeable). */
export const map = <A, B>(f: (a: A) => B) => (p: Program<A>): Program<B> => pipe(p, RTE.map(f));
/** A program whose result is the environment itself. */
export const ask: Program<Env> = RTE.ask<Env, ExperimentError>();
export { pipe };

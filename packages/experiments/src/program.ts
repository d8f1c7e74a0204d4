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

/**
 * Why a program stopped without a result — stable codes a caller may branch on:
 * - `ConfigError`: an invalid config (`paths` lists one line per offending field);
 * - `StoreError`: the run store lacks something or holds something unreadable or inconsistent;
 * - `Interrupted`: the user asked to stop (rerunning the command resumes);
 * - `Failure`: anything else (`cause` keeps the original error).
 */
export type ExperimentErrorCode = 'ConfigError' | 'StoreError' | 'Interrupted' | 'Failure';

/**
 * The one error type of the experiments layer. Programs fail with it as their Left;
 * code running inside a program may throw it (see {@link fromAsync}). Its message is
 * for people: it names the file or field at fault and how to fix it.
 */
export class ExperimentError extends Error {
  override readonly name = 'ExperimentError';
  /** What kind of failure this is. */
  readonly code: ExperimentErrorCode;
  /** For a `ConfigError`, one entry per offending field (`path: problem`); empty otherwise. */
  readonly paths: readonly string[];

  constructor(code: ExperimentErrorCode, message: string, o: { paths?: readonly string[]; cause?: unknown } = {}) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.code = code;
    this.paths = o.paths ?? [];
  }
}

/** An invalid config: `message` for people, `paths` with one entry per offending field. */
export const configError = (message: string, paths: readonly string[]): ExperimentError => new ExperimentError('ConfigError', message, { paths });
/** The run store is missing something or holds something unreadable or inconsistent; say which file and what to do. */
export const storeError = (message: string, cause?: unknown): ExperimentError => new ExperimentError('StoreError', message, { cause });
/** The user asked the program to stop (it can be resumed by rerunning it). */
export const interrupted = (message = 'interrupted'): ExperimentError => new ExperimentError('Interrupted', message);
/** Anything else that went wrong; `cause` keeps the original error. */
export const failure = (message: string, cause?: unknown): ExperimentError => new ExperimentError('Failure', message, { cause });

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

/** Lifts an async computation; a thrown ExperimentError is the program's error, anything else thrown becomes a Failure. */
export function fromAsync<A>(f: (env: Env) => Promise<A>): Program<A> {
  return (env) => TE.tryCatch(() => f(env), toExperimentError);
}

/** Converts a thrown value to an ExperimentError: one already passes through, anything else becomes a Failure keeping it as `cause`. */
export function toExperimentError(e: unknown): ExperimentError {
  if (e instanceof ExperimentError) return e;
  return failure(e instanceof Error ? e.message : String(e), e);
}

/** Runs programs one after another, collecting their results. */
export function sequence<A>(ps: readonly Program<A>[]): Program<A[]> {
  return RTE.sequenceSeqArray(ps) as Program<A[]>;
}

/** Interprets a program in an environment. */
export async function run<A>(p: Program<A>, env: Env): Promise<E.Either<ExperimentError, A>> {
  return p(env)();
}

/** Interprets a program, throwing its ExperimentError on failure (handy in tests and scripts). */
export async function runOrThrow<A>(p: Program<A>, env: Env): Promise<A> {
  const r = await run(p, env);
  if (E.isLeft(r)) throw r.left;
  return r.right;
}

/** One line for people: `<code>: <message>`. */
export function describeError(e: ExperimentError): string {
  return `${e.code}: ${e.message}`;
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

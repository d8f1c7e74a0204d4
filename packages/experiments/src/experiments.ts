/**
 * Named experiments: each runs a list of figure programs and writes one report.
 * `main` is what `pnpm start` runs: fig1 and fig4 (the central results).
 */
import * as RTE from 'fp-ts/lib/ReaderTaskEither.js';
import type { StudyConfig } from './config.js';
import { FIGURES, figureByName, type FigureResult } from './figures/index.js';
import { chain, failure, pipe, sequence, type Program } from './program.js';
import { writeReport, type Report } from './report.js';
import { jobGraph } from './jobs.js';
import { sequentialExecutor, type Executor } from './sweep.js';

/** A named experiment: the figures it runs, written up as one report. */
export interface ExperimentDef {
  /** The name given on the command line (e.g. 'main', 'study', 'fig1'). */
  name: string;
  /** One line describing the experiment; used in the report's title. */
  description: string;
  /** Names of the figures it runs, in order. */
  figures: string[];
}

/** Every named experiment: 'main', 'study' (all figures), 'ablation' (the coverage ablation), and one per figure. */
export const EXPERIMENTS: readonly ExperimentDef[] = [
  { name: 'main', description: 'The central results: fig1 (KL vs win rate, online vs offline IPO) and fig4 (tandem replay of D_online)', figures: ['fig1', 'fig4'] },
  { name: 'study', description: 'Every figure of the study', figures: FIGURES.map((f) => f.name) },
  { name: 'ablation', description: 'The "optimum covered" ablation: online vs offline IPO when D_initial covers the optimum, beside the paper\'s sub-optimal regime', figures: ['coverage'] },
  ...FIGURES.map((f) => ({ name: f.name, description: f.title, figures: [f.name] })),
];

/** Looks up an experiment by name, or a figure by name or alias (as a one-figure experiment); undefined when neither exists. */
export function experimentByName(name: string): ExperimentDef | undefined {
  return EXPERIMENTS.find((e) => e.name === name) ?? (figureByName(name) ? { name, description: figureByName(name)!.title, figures: [figureByName(name)!.name] } : undefined);
}

/**
 * Runs an experiment: every run its figures read, with everything those depend on, as one
 * job graph on `executor` (in graph order in this process by default; `--workers N` runs it
 * on a local pool); then builds its figures from the stored runs and writes its report.
 */
export function runExperiment(exp: ExperimentDef, study: StudyConfig, preset: string, executor: Executor = sequentialExecutor): Program<Report> {
  const figs = exp.figures.map((n) => figureByName(n));
  const missing = exp.figures.filter((_, i) => !figs[i]);
  if (missing.length) return RTE.left(failure(`unknown figure(s): ${missing.join(', ')}; \`experiment list\` shows them`));
  const graph = jobGraph(figs.flatMap((f) => f!.runs(study)));
  return pipe(
    executor(graph, graph.targets),
    chain(() => sequence(figs.map((f) => f!.program(study)))),
    chain((results: FigureResult[]) => writeReport(`tandem — ${exp.description}`, exp.name, preset, study, results)),
  );
}

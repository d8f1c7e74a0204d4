/**
 * Named experiments: each runs a list of figure programs and writes one report.
 * `main` is what `pnpm start` runs: fig1 and fig4 (the central results).
 */
import type { StudyConfig } from './config.js';
import { FIGURES, figureByName, type FigureResult } from './figures/index.js';
import { chain, failure, fromAsync, pipe, sequence, type Program } from './program.js';
import { writeReport, type Report } from './report.js';

export interface ExperimentDef {
  name: string;
  description: string;
  figures: string[];
}

export const EXPERIMENTS: readonly ExperimentDef[] = [
  { name: 'main', description: 'The central results: fig1 (KL vs win rate, online vs offline IPO) and fig4 (tandem replay of D_online)', figures: ['fig1', 'fig4'] },
  { name: 'study', description: 'Every figure of the study', figures: FIGURES.map((f) => f.name) },
  ...FIGURES.map((f) => ({ name: f.name, description: f.title, figures: [f.name] })),
];

export function experimentByName(name: string): ExperimentDef | undefined {
  return EXPERIMENTS.find((e) => e.name === name) ?? (figureByName(name) ? { name, description: figureByName(name)!.title, figures: [figureByName(name)!.name] } : undefined);
}

/** Runs an experiment's figures (sharing cached runs) and writes its report. */
export function runExperiment(exp: ExperimentDef, study: StudyConfig, preset: string): Program<Report> {
  const figs = exp.figures.map((n) => figureByName(n));
  const missing = exp.figures.filter((_, i) => !figs[i]);
  if (missing.length) return fromAsync(async () => { throw failure(`unknown figure(s): ${missing.join(', ')}`); });
  return pipe(
    sequence(figs.map((f) => f!.program(study))),
    chain((results: FigureResult[]) => writeReport(`tandem — ${exp.description}`, exp.name, preset, study, results)),
  );
}

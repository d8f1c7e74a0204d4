/** The study's figures, each a program. */
import type { FigureDef } from './common.js';
import { fig1 } from './fig1.js';
import { coverage } from './coverage.js';
import { fig4, fig9, fig13 } from './fig4.js';
import { fig5 } from './datasets.js';
import { fig6, fig7, fig8 } from './classifiers.js';
import { fig10 } from './scaling.js';
import { setupFigure } from './setup.js';

/** Every figure program of the study, in report order. */
export const FIGURES: readonly FigureDef[] = [setupFigure, fig1, coverage, fig4, fig13, fig5, fig6, fig7, fig8, fig9, fig10];
/** Paper figure names that one of {@link FIGURES} covers, mapped to its name (e.g. fig12 → fig5). */
export const FIGURE_ALIASES: Record<string, string> = { fig12: 'fig5', fig11: 'fig10', fig14: 'fig10' };

/** Looks up a figure by name or alias; undefined when there is none. */
export function figureByName(name: string): FigureDef | undefined {
  return FIGURES.find((f) => f.name === (FIGURE_ALIASES[name] ?? name));
}

export * from './common.js';

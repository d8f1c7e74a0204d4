/**
 * `experiment export`: every run of an experiment as one tidy table — a row per run and
 * evaluation step, a column per metric (`<metric>`, and its standard error as
 * `<metric>_se`), and the run's config flattened into `config.<dotted.path>` columns —
 * written as CSV (RFC 4180) or JSON Lines, for pandas, R or a notebook.
 *
 * The runs are those of the experiment's report (its figures.json), so the experiment
 * must have been run with the same preset or config first; nothing is trained here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as E from 'fp-ts/lib/Either.js';
import { useBackend } from '@tandem/tensor';
import { StudyConfig, decodeWith, deepMerge, parseConfigJson } from './config.js';
import { nodeEnv } from './env.js';
import { experimentByName } from './experiments.js';
import { PRESETS } from './presets.js';
import { describeError, toExperimentError, type Env } from './program.js';
import { reportId, REPORT_FILES } from './report.js';
import type { FigureResult } from './figures/common.js';
import { tidyCsv, tidyJsonl, tidyTable } from './tidy.js';

/** One cell of the table: a number (NaN when not measured), a string, a boolean, or null (absent). */
export const EXPORT_USAGE = `usage: experiment export <experiment> [--preset quick|full|smoke] [--config file.json] [--out dir] [--format csv|jsonl] [--file path]
  Every run of the experiment's report as one table: a row per run and evaluation step, metric columns
  with <metric>_se standard errors, and config.* columns. Run the experiment (same preset/config) first.
  Writes to stdout, or to --file.`;

/** `experiment export <name> …` (argv after `export`): resolves to the exit code (0, 1 on a missing report or damaged run, 2 on a usage error). */
export async function exportMain(argv: string[]): Promise<number> {
  const usage = (msg: string) => {
    process.stderr.write(`${msg}\n${EXPORT_USAGE}\n`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true,
      options: {
        preset: { type: 'string', default: 'quick' }, config: { type: 'string' }, out: { type: 'string', default: 'runs' },
        format: { type: 'string', default: 'csv' }, file: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    return usage((e as Error).message);
  }
  const { values: o, positionals } = parsed;
  if (o.help) {
    process.stdout.write(`${EXPORT_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) return usage('experiment export needs one experiment name (`experiment list` shows them)');
  const exp = experimentByName(positionals[0]!);
  if (!exp) return usage(`unknown experiment '${positionals[0]}'; \`experiment list\` shows them`);
  if (o.format !== 'csv' && o.format !== 'jsonl') return usage(`--format must be csv or jsonl, got '${o.format}'`);
  const preset = PRESETS[o.preset!];
  if (!preset) return usage(`unknown preset '${o.preset}'; expected one of ${Object.keys(PRESETS).join(', ')}`);
  let overrides: unknown;
  let literals: Map<string, string> | undefined;
  if (o.config) {
    if (!existsSync(o.config)) return usage(`--config: no such file ${o.config}`);
    const text = parseConfigJson(readFileSync(o.config, 'utf8'), `--config ${o.config}`);
    if (E.isLeft(text)) return usage(text.left.message);
    overrides = text.right.value;
    literals = text.right.literals;
  }
  const decoded = decodeWith(StudyConfig, deepMerge(preset, overrides), o.config ? `config (${o.config} over preset ${o.preset})` : `preset ${o.preset}`, literals);
  if (E.isLeft(decoded)) return usage(decoded.left.message);
  const root = resolve(o.out!);
  // Reading runs needs no computation: the cpu backend, and Dawn is never loaded.
  const env = nodeEnv({ root, backend: await useBackend('cpu'), quiet: true });
  try {
    const id = reportId(exp.name, decoded.right, env.codeVersion);
    const figs = await env.store.readBlob(id, REPORT_FILES.figures);
    if (!figs) {
      const how = `pnpm experiment ${exp.name} --preset ${o.preset}${o.config ? ` --config ${o.config}` : ''}${o.out !== 'runs' ? ` --out ${o.out}` : ''}`;
      process.stderr.write(`export: no report of experiment ${exp.name} (preset ${o.preset}${o.config ? `, config ${o.config}` : ''}) with this code version in ${root}; run \`${how}\` first\n`);
      return 1;
    }
    const table = await tidyTable(env, JSON.parse(Buffer.from(figs).toString('utf8')) as FigureResult[]);
    const text = o.format === 'csv' ? tidyCsv(table) : tidyJsonl(table);
    if (o.file) {
      await writeFile(o.file, text);
      process.stderr.write(`export: ${table.rows.length} rows × ${table.columns.length} columns (${new Set(table.rows.map((r) => r.run)).size} runs) → ${o.file}\n`);
    } else {
      await new Promise<void>((res, rej) => process.stdout.write(text, (e) => (e ? rej(e) : res())));
    }
    return 0;
  } catch (e) {
    process.stderr.write(`export: ${describeError(toExperimentError(e))}\n`);
    return 1;
  } finally {
    env.dispose();
  }
}

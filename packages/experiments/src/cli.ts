#!/usr/bin/env node
/**
 * The experiments CLI — the edge where programs are interpreted.
 *   experiment list
 *   experiment <name> [--preset quick|full] [--config f.json] [--backend cpu|webgpu|auto] [--out dir] [--resume | --fresh]
 * Runs are cached and resumable: rerunning a command resumes unfinished runs from
 * their last checkpoint (the default; `--resume` says so explicitly) and reuses
 * finished ones. `--fresh` deletes unfinished runs first, each under its lock (refused
 * while another process holds one). SIGTERM is handled like Ctrl-C.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as E from 'fp-ts/lib/Either.js';
import { shutdownWebGPU, useBackend, webgpuAdapterInfo, type BackendChoice } from '@tandem/tensor';
import { StudyConfig, decodeWith, deepMerge, parseConfigJson } from './config.js';
import { exitCodeOf, nodeEnv } from './env.js';
import { EXPERIMENTS, experimentByName, runExperiment } from './experiments.js';
import { PRESETS } from './presets.js';
import { describeError, run, toExperimentError } from './program.js';
import { discardUnfinished } from './store/lock.js';
import { poolExecutor } from './pool.js';
import { checkRedis, parseRedisUrl, queueExecutor } from './queue.js';
import { describeRun } from './runs/train.js';
import { removeOrphans, repairStore, verifyStore, verifyTable } from './verify.js';
import { SWEEPS, runSweep, sequentialExecutor } from './sweep.js';
import { cpus } from 'node:os';
import { findingsMarkdown, verdict, type Report } from './report.js';
import { CODE_VERSION } from './version.js';
import { exportMain } from './export.js';

const USAGE = `usage:
  experiment list
  experiment <name> [--preset paper|quick|full|smoke] [--config file.json] [--backend cpu|webgpu|auto] [--out dir] [--resume | --fresh] [--results-md file] [--workers N]
  experiment sweep <offline|shuffle|losses|sizes> [--workers N | --queue redis://host:port] [same options]
  experiment verify [--out dir] [--repair]
  experiment export <name> [--preset p] [--config file.json] [--out dir] [--format csv|jsonl] [--file path]`;

function fail(msg: string, code = 2): never {
  process.stderr.write(`${msg}\n`);
  process.exit(code);
}

/** Runs the experiments CLI on `argv` (the arguments after the script) and resolves to its exit code: 0 on success, 1 on failure, 2 on a usage error, 130 when interrupted. Some invalid arguments exit the process with status 2 directly. */
export async function main(argv: string[]): Promise<number> {
  // `export` has options of its own (export.ts).
  if (argv[0] === 'export') return exportMain(argv.slice(1));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        preset: { type: 'string', default: 'quick' },
        config: { type: 'string' },
        backend: { type: 'string' },
        out: { type: 'string', default: 'runs' },
        resume: { type: 'boolean', default: false },
        fresh: { type: 'boolean', default: false },
        'results-md': { type: 'string' },
        workers: { type: 'string' },
        queue: { type: 'string' },
        repair: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
  }
  const { values: o, positionals } = parsed;
  if (o.help || positionals.length === 0) {
    process.stdout.write(`${USAGE}\n`);
    return o.help ? 0 : 2;
  }
  const name = positionals[0]!;
  if (name === 'list') {
    for (const e of EXPERIMENTS) process.stdout.write(`${e.name.padEnd(8)} ${e.description}\n`);
    process.stdout.write(`\nsweeps (experiment sweep <name>):\n`);
    for (const [n, sw] of Object.entries(SWEEPS)) process.stdout.write(`  ${n.padEnd(8)} ${sw.description}\n`);
    process.stdout.write(`\npresets: ${Object.keys(PRESETS).join(', ')}\n`);
    return 0;
  }
  if (name === 'verify') return verifyMain(resolve(o.out!), o.repair === true);
  if (o.repair) fail('--repair applies to `experiment verify`');
  const isSweep = name === 'sweep';
  const sweepName = positionals[1];
  if (isSweep && (!sweepName || !SWEEPS[sweepName])) fail(`experiment sweep needs one of: ${Object.keys(SWEEPS).join(', ')}`);
  const exp = isSweep ? { name: `sweep-${sweepName}`, description: SWEEPS[sweepName!]!.description, figures: [] } : experimentByName(name);
  if (!exp) fail(`unknown experiment '${name}'; \`experiment list\` shows them`);
  // Runs are processes on a local pool, one per core by default (results do not depend on the number).
  const workers = o.workers === undefined ? cpus().length : Number(o.workers);
  if (!Number.isInteger(workers) || workers < 1) fail(`--workers must be a positive integer, got '${o.workers}'`);
  if (o.queue && o.workers) fail('--workers and --queue are alternatives: give one');
  if (o.queue && !isSweep) fail('--queue applies to `experiment sweep <name>`; an experiment runs on this machine (--workers N for a local pool)');
  if (o.queue) {
    try {
      parseRedisUrl(o.queue);
    } catch (e) {
      fail((e as Error).message);
    }
  }
  const preset = PRESETS[o.preset!];
  if (!preset) fail(`unknown preset '${o.preset}'; expected one of ${Object.keys(PRESETS).join(', ')}`);
  if (o.resume && o.fresh) fail('--resume and --fresh contradict each other');
  // The whole config is decoded and checked before any work starts.
  let overrides: unknown;
  let literals: Map<string, string> | undefined;
  if (o.config) {
    if (!existsSync(o.config)) fail(`--config: no such file ${o.config}`);
    const text = parseConfigJson(readFileSync(o.config, 'utf8'), `--config ${o.config}`);
    if (E.isLeft(text)) fail(text.left.message);
    overrides = text.right.value;
    literals = text.right.literals;
  }
  const decoded = decodeWith(StudyConfig, deepMerge(preset, overrides), o.config ? `config (${o.config} over preset ${o.preset})` : `preset ${o.preset}`, literals);
  if (E.isLeft(decoded)) fail(decoded.left.message);
  const study = decoded.right;
  const choice = (o.backend ?? process.env.TANDEM_BACKEND ?? 'auto') as BackendChoice;
  if (!['cpu', 'webgpu', 'auto'].includes(choice)) fail(`--backend must be cpu, webgpu or auto, got '${choice}'`);
  // The queue's Redis is reached before any work (data, setup, baselines), with a timeout and a message.
  if (o.queue) {
    try {
      await checkRedis(o.queue);
    } catch (e) {
      fail((e as Error).message, 1);
    }
  }

  const backend = await useBackend(choice);
  const root = resolve(o.out!);
  await mkdir(root, { recursive: true });
  const env = nodeEnv({ root, backend, bars: process.stderr.isTTY === true });
  env.log(`tandem: experiment ${exp.name} (${exp.figures.join(', ')}), preset ${o.preset}, backend ${backend.name}${backend.name === 'webgpu' ? ` (${webgpuAdapterInfo()?.description})` : ''}, runs in ${root}`);
  if (o.fresh) {
    // Each unfinished run is deleted under its lock; nothing is deleted while another process holds one.
    try {
      const gone = await discardUnfinished(root, { log: env.log });
      env.log(`--fresh: deleted ${gone.length} unfinished run(s)`);
    } catch (e) {
      env.dispose();
      process.stderr.write(`${describeError(toExperimentError(e))}\n`);
      return 1;
    }
  }
  // Temp files of atomic writes whose process died (a crash mid-write) are removed; a running writer's stay.
  const orphans = await removeOrphans(env);
  if (orphans.length) env.log(`removed ${orphans.length} orphan temp file(s) left by a crash: ${orphans.join(', ')}`);
  const t0 = Date.now();
  if (isSweep) {
    const executor = o.queue ? queueExecutor({ url: o.queue }) : workers > 1 ? poolExecutor({ workers, root, backend: backend.name }) : sequentialExecutor;
    const sr = await run(runSweep(SWEEPS[sweepName!]!.build(study), executor), env);
    env.dispose();
    await shutdownWebGPU();
    if (E.isLeft(sr)) {
      process.stderr.write(`\n${describeError(sr.left)}\n`);
      return sr.left.code === 'Interrupted' ? exitCodeOf(env.interruption.signal) : 1;
    }
    for (const x of sr.right) process.stdout.write(`${x.id}  ${describeRun(x.config)}  final win rate ${x.result.final.metrics.winRate?.value.toFixed(3) ?? 'n/a'}  params ${x.result.paramsHash.slice(0, 12)}\n`);
    process.stdout.write(`\nsweep ${sweepName}: ${sr.right.length} runs in ${((Date.now() - t0) / 1000).toFixed(1)} s (${o.queue ? `queue ${o.queue}` : `${workers} worker${workers > 1 ? 's' : ''}`})\n`);
    return 0;
  }
  const r = await run(runExperiment(exp, study, o.preset!, workers > 1 ? poolExecutor({ workers, root, backend: backend.name }) : sequentialExecutor), env);
  env.dispose();
  await shutdownWebGPU();
  if (E.isLeft(r)) {
    const err = r.left;
    process.stderr.write(`\n${describeError(err)}\n`);
    if (process.env.TANDEM_DEBUG) process.stderr.write(`${err.cause instanceof Error ? err.cause.stack : err.stack}\n`);
    return err.code === 'Interrupted' ? exitCodeOf(env.interruption.signal) : 1;
  }
  const report = r.right;
  const mins = ((Date.now() - t0) / 60000).toFixed(1);
  process.stdout.write(`\nFindings:\n${report.figures.flatMap((f) => f.findings.map((x) => `  [${verdict(x).padEnd(12)}] ${f.name}: ${x.claim}\n      ${x.detail}`)).join('\n')}\n`);
  process.stdout.write(`\nReport: ${report.index}\n(${mins} min)\n`);
  if (o['results-md']) await writeResultsMd(o['results-md'], report, exp.name, o.preset!, backend.name, mins, workers);
  return 0;
}

/**
 * `experiment verify`: checks every run under `root` (see verify.ts), prints the table, and
 * exits 1 when a run is damaged or an orphan temp file is left; with `repair`, repairs
 * first and exits 1 only when damage remains.
 */
async function verifyMain(root: string, repair: boolean): Promise<number> {
  if (!existsSync(root)) fail(`verify: no run store at ${root} (give --out dir)`);
  const backend = await useBackend('cpu');
  const env = nodeEnv({ root, backend });
  try {
    let check = await verifyStore(env);
    process.stdout.write(`${verifyTable(check)}\n`);
    if (repair && (check.damaged || check.orphans)) {
      for (const line of await repairStore(env, check)) process.stdout.write(`repair: ${line}\n`);
      check = await verifyStore(env);
      process.stdout.write(`\nafter repair:\n${verifyTable(check)}\n`);
    }
    if (check.damaged || check.orphans) {
      process.stdout.write(`\n${root}: damage found; run \`experiment verify --repair --out ${root}\` to remove what cannot be trusted, then rerun the command to recompute it\n`);
      return 1;
    }
    return 0;
  } finally {
    env.dispose();
  }
}

/** docs/results.md: the figures (PNG copies beside it) and the findings table, with the commit and machine. */
async function writeResultsMd(path: string, report: Report, exp: string, preset: string, backend: string, mins: string, workers: number): Promise<void> {
  const { execSync } = await import('node:child_process');
  const os = await import('node:os');
  // The PNGs go beside the file, in a folder named after it (docs/results.md → docs/results/), so two result pages never share images.
  const dir = resolve(path, '..', basename(path).replace(/\.md$/i, ''));
  await mkdir(dir, { recursive: true });
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  } catch { /* not a git checkout */ }
  const rel = relative(process.cwd(), resolve(path));
  const lines = [
    `# Results of the ${preset} study`, '',
    `Experiment \`${exp}\`, preset \`${preset}\`, backend \`${backend}\`, commit \`${commit}\`, code version \`${CODE_VERSION}\`, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${workers} worker${workers > 1 ? 's' : ''}; this invocation took ${mins} minutes (runs already in the store are read, not recomputed).`, '',
    `Regenerate with \`pnpm experiment ${exp} --preset ${preset} --workers ${workers} --results-md ${rel}\` (resumable; finished runs are cache hits). The protocol, and the rule behind every verdict, is docs/decisions/study-protocol.md.`, '',
    '## Findings', '', findingsMarkdown(report.figures), '',
  ];
  for (const f of report.figures) {
    lines.push(`## ${f.title}`, '', f.description, '');
    for (const png of (report.pngs[f.name] ?? []) as string[]) {
      const target = join(dir, basename(png));
      await copyFile(png, target);
      lines.push(`![${basename(png)}](${relative(resolve(path, '..'), target)})`, '');
    }
    for (const t of f.tables) {
      lines.push(`**${t.title}**`, '', `| ${t.columns.join(' | ')} |`, `|${t.columns.map(() => '---').join('|')}|`, ...t.rows.map((r: unknown[]) => `| ${r.map((v) => String(v ?? '')).join(' | ')} |`), '');
    }
  }
  await writeFile(path, lines.join('\n'));
  process.stdout.write(`wrote ${path}\n`);
}

// Run only when this file is the entry point (not when imported by the package index).
if (process.argv[1] && realpathSync(fileURLToPath(import.meta.url)) === realpathSync(resolve(process.argv[1]))) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}

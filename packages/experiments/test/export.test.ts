/**
 * `experiment export`: the tidy table of an experiment's runs (a row per run × step,
 * metric and `<metric>_se` columns, flattened `config.*` columns), as RFC 4180 CSV and
 * JSON Lines — checked against the stored metrics on the smoke preset, in memory and
 * through the CLI.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryEnv } from '../src/env.js';
import { experimentByName, runExperiment } from '../src/experiments.js';
import { FIXED_COLUMNS, csvField, tidyCsv, tidyJsonl, tidyTable, type TidyTable } from '../src/tidy.js';
import { SMOKE } from '../src/presets.js';
import { runOrThrow } from '../src/program.js';
import { REPORT_FILES } from '../src/report.js';
import { readMetricRecords } from '../src/runs/metrics.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = join(ROOT, 'packages/experiments/src/cli.ts');

/** A strict RFC 4180 reader (quoted fields, doubled quotes, CRLF records) for checking the writer. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
      if (c === '"') { quoted = false; i++; continue; }
      field += c; i++; continue;
    }
    if (c === '"') {
      if (field !== '') throw new Error(`quote inside an unquoted field at ${i}`);
      quoted = true; i++; continue;
    }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' && text[i + 1] === '\n') { row.push(field); rows.push(row); row = []; field = ''; i += 2; continue; }
    if (c === '\n' || c === '\r') throw new Error(`bare line break at ${i}: records end with CRLF`);
    field += c; i++;
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (field !== '' || row.length) throw new Error('last record without CRLF');
  return rows;
}

/** A cell as the CSV writer must have written it. */
const asCsv = (v: unknown) => (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? '' : String(v));

describe('the tidy table', () => {
  let table: TidyTable;
  let env: ReturnType<typeof memoryEnv>;
  let reportCsv: string;

  it('has a row per run × evaluation step with metrics, standard errors and config columns (smoke, main)', async () => {
    env = memoryEnv();
    const report = await runOrThrow(runExperiment(experimentByName('main')!, SMOKE, 'smoke'), env);
    table = await tidyTable(env, report.figures);
    reportCsv = env.store.runs.get(report.id)!.texts.get(REPORT_FILES.metrics)!;
    expect(table.columns.slice(0, FIXED_COLUMNS.length)).toEqual([...FIXED_COLUMNS]);
    expect(table.columns).toEqual(expect.arrayContaining(['kl', 'kl_se', 'winRate', 'winRate_se', 'accGolden', 'accGolden_se', 'config.hyper.lr', 'config.hyper.beta', 'config.method.kind', 'config.loss', 'config.seed', 'config.eval.baseline']));
    expect(table.columns.indexOf('kl')).toBe(FIXED_COLUMNS.length);
    expect(new Set(table.columns).size).toBe(table.columns.length);
    // Every train run the figures read, each once, every stored record a row, values as stored.
    const runs = [...new Set(report.figures.flatMap((f) => f.runs))];
    expect([...new Set(table.rows.map((r) => r.run))]).toEqual(runs);
    let n = 0;
    for (const id of runs) {
      const records = await readMetricRecords(env, id);
      const rows = table.rows.filter((r) => r.run === id);
      n += records.length;
      expect(rows.map((r) => r.step)).toEqual(records.map((r) => r.step));
      records.forEach((rec, i) => {
        expect(rows[i]!.loss).toBe(rec.loss);
        for (const [k, m] of Object.entries(rec.metrics)) {
          expect(rows[i]![k]).toBe(m.value);
          expect(rows[i]![`${k}_se`]).toBe(m.se ?? null);
        }
      });
    }
    expect(table.rows.length).toBe(n);
    // Which figures use a run; a replay names its source run by id, not by a nested config.
    expect(table.rows.find((r) => r.run === runs[0])!.figures).toBe('fig1 fig4');
    const replays = table.rows.filter((r) => r['config.method.kind'] === 'replay');
    expect(replays.length).toBeGreaterThan(0);
    // Each replay's source is one of the online (proxy-labelled) runs of the table, named by its id.
    const onlineRuns = new Set(table.rows.filter((r) => r['config.method.kind'] === 'online' && r['config.method.labeller'] === 'proxy').map((r) => r.run));
    expect(onlineRuns.size).toBe(SMOKE.seeds + SMOKE.tasks.length - 1); // the default task's replicates, and replicate 0 of each other task
    for (const r of replays) expect(onlineRuns.has(String(r['config.method.source']))).toBe(true);
    expect(table.columns.some((c) => c.startsWith('config.method.source.'))).toBe(false);
    expect(table.rows.every((r) => typeof r['config.eval.baseline'] === 'string' && String(r['config.eval.baseline']).startsWith('train-'))).toBe(true);
  }, 120_000);

  it('is written as RFC 4180 CSV: header, CRLF records, a field per column, values as stored', () => {
    const csv = tidyCsv(table);
    expect(reportCsv).toBe(csv);
    const rows = parseCsv(csv);
    expect(rows[0]).toEqual(table.columns);
    expect(rows.length).toBe(table.rows.length + 1);
    table.rows.forEach((r, i) => expect(rows[i + 1]).toEqual(table.columns.map((c) => asCsv(r[c]))));
    // Descriptions hold spaces and '=' but no separators; numbers read back exactly.
    for (const [i, r] of table.rows.entries()) if (typeof r.kl === 'number') expect(Number(rows[i + 1]![table.columns.indexOf('kl')])).toBe(r.kl);
  });

  it('quotes fields with commas, quotes and line breaks, and only those', () => {
    expect(csvField('plain text = 1')).toBe('plain text = 1');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    const t: TidyTable = { columns: ['a', 'b,c', 'd'], rows: [{ a: 'x, "y"\r\nz', 'b,c': NaN, d: null }, { a: 1.5e-7, 'b,c': true, d: '' }] };
    expect(parseCsv(tidyCsv(t))).toEqual([['a', 'b,c', 'd'], ['x, "y"\r\nz', '', ''], ['1.5e-7', 'true', '']]);
  });

  it('is written as JSON Lines: an object per row with every column, null where absent', () => {
    const lines = tidyJsonl(table).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.length).toBe(table.rows.length);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(table.columns);
    expect(first.winRate).toBe(table.rows[0]!.winRate ?? null);
    expect(JSON.parse(tidyJsonl({ columns: ['a', 'b'], rows: [{ a: NaN }] }))).toEqual({ a: null, b: null });
  });
});

describe('experiment export (CLI)', () => {
  const out = mkdtempSync(join(tmpdir(), 'tandem-export-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));
  const cli = (args: string[]) => spawnSync(process.execPath, ['--conditions=tandem-source', '--import', 'tsx', CLI, ...args], { cwd: ROOT, encoding: 'utf8' });

  it('says how to make the report when there is none, and rejects a bad format', () => {
    const missing = cli(['export', 'main', '--preset', 'smoke', '--out', out]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`pnpm experiment main --preset smoke --out ${out}`);
    expect(missing.stdout).toBe('');
    const bad = cli(['export', 'main', '--format', 'xlsx', '--out', out]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--format must be csv or jsonl/);
  }, 60_000);

  it('writes the report\'s table to stdout as CSV and to --file as JSON Lines', () => {
    const run = cli(['main', '--preset', 'smoke', '--backend', 'cpu', '--out', out]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/^Warning:|Vulkan|Dawn/m);
    const csv = cli(['export', 'main', '--preset', 'smoke', '--out', out]);
    expect(csv.status, csv.stderr).toBe(0);
    const report = readdirSync(out).find((d) => d.startsWith('report-main-'))!;
    expect(csv.stdout).toBe(readFileSync(join(out, report, REPORT_FILES.metrics), 'utf8'));
    const rows = parseCsv(csv.stdout);
    expect(rows[0]!.slice(0, 7)).toEqual([...FIXED_COLUMNS, 'kl', 'kl_se']);
    expect(rows.length).toBeGreaterThan(10);
    const file = join(out, 'metrics.jsonl');
    const jsonl = cli(['export', 'main', '--preset', 'smoke', '--out', out, '--format', 'jsonl', '--file', file]);
    expect(jsonl.status, jsonl.stderr).toBe(0);
    expect(jsonl.stderr).toMatch(new RegExp(`${rows.length - 1} rows × ${rows[0]!.length} columns`));
    const objects = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objects.length).toBe(rows.length - 1);
    expect(Object.keys(objects[0]!)).toEqual(rows[0]);
  }, 120_000);
});

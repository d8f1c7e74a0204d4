/**
 * The HTML report of an experiment: its figures (SVG inline, PNG beside), tables,
 * the config, and the findings table that checks each of the paper's claims
 * against the measured numbers — reported honestly, including those that fail.
 */
import type { StudyConfig } from './config.js';
import type { FigureResult, Finding } from './figures/common.js';
import { canonicalJson, sha256 } from './hash.js';
import { fromAsync, type Program } from './program.js';
import { svgToPng, toSvg } from './render.js';

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** A finding's verdict as a word: 'yes', 'no' or 'inconclusive'. */
export function verdict(f: Finding): string {
  return f.holds === true ? 'yes' : f.holds === false ? 'no' : 'inconclusive';
}

/** A written report: where its index.html is, and the figures it shows. */
export interface Report {
  /** Path (or memory location) of index.html. */
  index: string;
  /** The report's id (its folder in the store): `report-<experiment>-<hash of study config, experiment and code version>`. */
  id: string;
  /** The figures' results, in report order. */
  figures: FigureResult[];
  /** Figure name → PNG locations. */
  pngs: Record<string, string[]>;
}

/** Renders figures and writes the report into its own run folder. */
export function writeReport(title: string, experiment: string, preset: string, study: StudyConfig, figures: FigureResult[]): Program<Report> {
  return fromAsync(async (env) => {
    const id = `report-${experiment}-${sha256(canonicalJson({ study, experiment, v: env.codeVersion })).slice(0, 12)}`;
    const pngs: Record<string, string[]> = {};
    const sections: string[] = [];
    for (const f of figures) {
      const charts: string[] = [];
      for (const c of f.charts) {
        const svg = await toSvg(c.spec);
        await env.store.writeText(id, `${c.name}.svg`, svg);
        const png = await env.store.writeArtifact(id, `${c.name}.png`, svgToPng(svg));
        (pngs[f.name] ??= []).push(png);
        await env.store.writeText(id, `${c.name}.vl.json`, JSON.stringify(c.spec, null, 2));
        charts.push(`<figure><div class="chart">${svg}</div><figcaption>${esc(c.title)} · <a href="${esc(c.name)}.png">PNG</a> · <a href="${esc(c.name)}.vl.json">Vega-Lite spec</a></figcaption></figure>`);
      }
      const tables = f.tables.map((t) => `<h4>${esc(t.title)}</h4><table><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>${t.rows.map((r) => `<tr>${r.map((v) => `<td>${esc(v)}</td>`).join('')}</tr>`).join('')}</table>`).join('');
      sections.push(`<section><h2>${esc(f.title)}</h2><p>${esc(f.description)}</p>${charts.join('')}${findingsTable(f.findings)}${tables}<p class="runs">runs: ${f.runs.map(esc).join(', ')}</p></section>`);
    }
    const all = figures.flatMap((f) => f.findings.map((x) => ({ ...x, figure: f.name })));
    const html = `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}.yes{color:#176b2c;font-weight:bold}.no{color:#a11;font-weight:bold}.inconclusive{color:#8a6d00;font-weight:bold}
figure{margin:1em 0}figcaption{font-size:.85em;color:#555}.runs{font-size:.8em;color:#777}pre{background:#f7f7f7;padding:1em;overflow:auto}
</style></head><body><h1>${esc(title)}</h1>
<p>Experiment <code>${esc(experiment)}</code>, preset <code>${esc(preset)}</code>, backend <code>${esc(env.backend.name)}</code>, code version <code>${esc(env.codeVersion)}</code>.</p>
<h2>Findings</h2>${findingsTable(all, true)}
${sections.join('\n')}
<h2>Config</h2><pre>${esc(JSON.stringify(study, null, 2))}</pre></body></html>`;
    const index = await env.store.writeText(id, 'index.html', html);
    await env.store.writeText(id, 'findings.json', JSON.stringify(all, null, 2));
    await env.store.writeText(id, 'figures.json', JSON.stringify(figures, null, 2));
    return { index, id, figures, pngs };
  });
}

function findingsTable(fs: readonly (Finding & { figure?: string })[], withFigure = false): string {
  return `<table><tr>${withFigure ? '<th>figure</th>' : ''}<th>paper's claim</th><th>reproduced?</th><th>measured</th></tr>${fs.map((f) => `<tr>${withFigure ? `<td>${esc(f.figure)}</td>` : ''}<td>${esc(f.claim)}</td><td class="${verdict(f)}">${verdict(f)}</td><td>${esc(f.detail)}</td></tr>`).join('')}</table>`;
}

/** The findings as a Markdown table (for docs/results.md and the terminal). */
export function findingsMarkdown(figures: readonly FigureResult[]): string {
  const rows = figures.flatMap((f) => f.findings.map((x) => `| ${f.name} | ${x.claim} | ${verdict(x)} | ${x.detail.replace(/\|/g, '\\|')} |`));
  return ['| figure | paper\'s claim | reproduced? | measured |', '|---|---|---|---|', ...rows].join('\n');
}

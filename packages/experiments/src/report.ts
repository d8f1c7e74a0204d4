/**
 * The HTML report of an experiment: its figures, tables, the config, and the findings
 * table that checks each of the paper's claims against the measured numbers — reported
 * honestly, including those that fail.
 *
 * Each figure is a Vega-Lite spec compiled once to Vega; from that Vega spec come the SVG
 * and PNG files (for papers) and the interactive view in index.html (tooltips, legend
 * toggles, zoom and pan), drawn in the browser by the vega and vega-embed builds inlined
 * into the page from node_modules — no CDN, so the report works offline and as one file.
 * Without JavaScript the page shows the static SVG. See docs/decisions/report-interactive.md.
 */
import type { StudyConfig } from './config.js';
import { tidyCsv, tidyTable } from './tidy.js';
import type { FigureResult, Finding } from './figures/common.js';
import { canonicalJson, sha256 } from './hash.js';
import { fromAsync, type Program } from './program.js';
import { svgToPng, toVega, vegaToSvg, viewerRuntime } from './render.js';

const esc = (s: unknown) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
/** JSON safe inside a `<script>` element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

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

/** The id (store folder) of an experiment's report: it depends on the study config, the experiment and the code version. */
export function reportId(experiment: string, study: StudyConfig, codeVersion: string): string {
  return `report-${experiment}-${sha256(canonicalJson({ study, experiment, v: codeVersion })).slice(0, 12)}`;
}

/** The report's files beside index.html: findings.json (every figure's findings, with `figure`), figures.json, metrics.csv (the tidy table of `experiment export`), and per chart `<name>.svg`, `.png`, `.vl.json`. */
export const REPORT_FILES = { findings: 'findings.json', figures: 'figures.json', metrics: 'metrics.csv' } as const;

/** How to use the interactive figures, shown once above them. */
const HOW_TO_READ = 'Hover a point for its run, step, values and standard errors. Click a legend entry to show that series alone (shift-click adds more; click an empty part of the legend to show all). Scroll to zoom, drag to pan, double-click to reset. The ⋯ menu saves a figure as SVG or PNG.';

/** Renders figures and writes the report into its own run folder. */
export function writeReport(title: string, experiment: string, preset: string, study: StudyConfig, figures: FigureResult[]): Program<Report> {
  return fromAsync(async (env) => {
    const id = reportId(experiment, study, env.codeVersion);
    const pngs: Record<string, string[]> = {};
    const sections: string[] = [];
    const specs: string[] = [];
    for (const f of figures) {
      const charts: string[] = [];
      for (const c of f.charts) {
        const warnings: string[] = [];
        const vg = toVega(c.spec, warnings);
        for (const w of warnings) env.log(`report: ${c.name}: vega-lite: ${w}`);
        const svg = await vegaToSvg(vg);
        await env.store.writeText(id, `${c.name}.svg`, svg);
        const png = await env.store.writeArtifact(id, `${c.name}.png`, svgToPng(svg));
        (pngs[f.name] ??= []).push(png);
        await env.store.writeText(id, `${c.name}.vl.json`, JSON.stringify(c.spec, null, 2));
        specs.push(`<script type="application/json" id="vg-${esc(c.name)}">${scriptJson(vg)}</script>`);
        charts.push(`<figure><div class="chart" data-chart="${esc(c.name)}">${svg}</div><figcaption>${esc(c.title)} · <a href="${esc(c.name)}.svg">SVG</a> · <a href="${esc(c.name)}.png">PNG</a> · <a href="${esc(c.name)}.vl.json">Vega-Lite spec</a></figcaption></figure>`);
      }
      const tables = f.tables.map((t) => `<h4>${esc(t.title)}</h4><table><tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>${t.rows.map((r) => `<tr>${r.map((v) => `<td>${esc(v)}</td>`).join('')}</tr>`).join('')}</table>`).join('');
      sections.push(`<section id="${esc(f.name)}"><h2>${esc(f.title)}</h2><p>${esc(f.description)}</p>${charts.join('')}${findingsTable(f.findings)}${tables}<p class="runs">runs: ${f.runs.map(esc).join(', ')}</p></section>`);
    }
    const all = figures.flatMap((f) => f.findings.map((x) => ({ ...x, figure: f.name })));
    const table = await tidyTable(env, figures);
    await env.store.writeText(id, REPORT_FILES.metrics, tidyCsv(table));
    const rt = viewerRuntime();
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title><style>
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}.yes{color:#176b2c;font-weight:bold}.no{color:#a11;font-weight:bold}.inconclusive{color:#8a6d00;font-weight:bold}
figure{margin:1.5em 0}figcaption{font-size:.9em;color:#444;margin-top:.3em}.runs{font-size:.8em;color:#777}pre{background:#f7f7f7;padding:1em;overflow:auto}
.chart{overflow-x:auto}.chart>svg{max-width:100%;height:auto}.howto{font-size:.9em;color:#444;background:#f5f8fc;border-left:3px solid #4c78a8;padding:.5em .8em}
</style></head><body><h1>${esc(title)}</h1>
<p>Experiment <code>${esc(experiment)}</code>, preset <code>${esc(preset)}</code>, backend <code>${esc(env.backend.name)}</code>, code version <code>${esc(env.codeVersion)}</code>.
Every run's metrics as one table: <a href="${REPORT_FILES.metrics}">${REPORT_FILES.metrics}</a> (a row per run and evaluation step; <code>pnpm experiment export ${esc(experiment)} --preset ${esc(preset)}</code> writes the same table as CSV or JSON Lines).</p>
<h2>Findings</h2>${findingsTable(all, true)}
<p class="howto">${esc(HOW_TO_READ)}</p>
${sections.join('\n')}
<h2>Config</h2><pre>${esc(JSON.stringify(study, null, 2))}</pre>
<p class="runs">Figures drawn with vega ${esc(rt.versions.vega)} and vega-embed ${esc(rt.versions.vegaEmbed)}, inlined in this file.</p>
${specs.join('\n')}
${rt.scripts.map((s) => `<script>${s}</script>`).join('\n')}
<script>${VIEWER}</script>
</body></html>`;
    const index = await env.store.writeText(id, 'index.html', html);
    await env.store.writeText(id, REPORT_FILES.findings, JSON.stringify(all, null, 2));
    await env.store.writeText(id, REPORT_FILES.figures, JSON.stringify(figures, null, 2));
    return { index, id, figures, pngs };
  });
}

/**
 * Replaces each static SVG with an interactive vega view of the same Vega spec. A figure
 * that fails keeps its SVG and logs a console error. `window.tandemReport` records the
 * views and errors and `done` once every figure settled (the browser test reads it).
 */
const VIEWER = `(function () {
  var R = window.tandemReport = { views: {}, errors: [], done: false };
  var charts = Array.prototype.slice.call(document.querySelectorAll('.chart[data-chart]'));
  if (typeof vegaEmbed !== 'function') { R.errors.push('vega-embed did not load'); console.error('tandem report: vega-embed did not load; the figures stay static'); R.done = true; return; }
  Promise.all(charts.map(function (el) {
    var name = el.getAttribute('data-chart');
    var fallback = el.innerHTML;
    try {
      var spec = JSON.parse(document.getElementById('vg-' + name).textContent);
      el.innerHTML = '';
      return vegaEmbed(el, spec, { mode: 'vega', renderer: 'svg', actions: { export: true, source: false, compiled: false, editor: false } })
        .then(function (res) { R.views[name] = res.view; el.setAttribute('data-rendered', 'vega'); })
        .catch(function (e) { fail(el, name, fallback, e); });
    } catch (e) { fail(el, name, fallback, e); return Promise.resolve(); }
  })).then(function () { R.done = true; document.documentElement.setAttribute('data-report', 'ready'); });
  function fail(el, name, fallback, e) {
    el.innerHTML = fallback; el.setAttribute('data-rendered', 'static'); R.errors.push(name + ': ' + e);
    console.error('tandem report: figure ' + name + ' is not interactive (showing its static SVG): ' + e);
  }
})();`;

function findingsTable(fs: readonly (Finding & { figure?: string })[], withFigure = false): string {
  return `<table${withFigure ? ' id="findings"' : ''} class="findings"><tr>${withFigure ? '<th>figure</th>' : ''}<th>paper's claim</th><th>reproduced?</th><th>measured</th></tr>${fs.map((f) => `<tr>${withFigure ? `<td>${esc(f.figure)}</td>` : ''}<td>${esc(f.claim)}</td><td class="${verdict(f)}">${verdict(f)}</td><td>${esc(f.detail)}</td></tr>`).join('')}</table>`;
}

/** The findings as a Markdown table (for docs/results.md and the terminal). */
export function findingsMarkdown(figures: readonly FigureResult[]): string {
  const rows = figures.flatMap((f) => f.findings.map((x) => `| ${f.name} | ${x.claim} | ${verdict(x)} | ${x.detail.replace(/\|/g, '\\|')} |`));
  return ['| figure | paper\'s claim | reproduced? | measured |', '|---|---|---|---|', ...rows].join('\n');
}

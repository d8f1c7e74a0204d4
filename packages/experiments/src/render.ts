/**
 * Vega-Lite specs rendered headless — compiled to Vega, to SVG with vega's renderer, to
 * PNG with resvg — and the browser runtime the report inlines to make them interactive.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { VegaLiteSpec } from './figures/common.js';

/** A Vega spec (the compiled form of a {@link VegaLiteSpec}). */
export type VegaSpec = Record<string, unknown>;

/** Vega-Lite → Vega. The report's interactive view and its SVG/PNG files come from this same spec. Warnings are collected, not printed. */
export function toVega(spec: VegaLiteSpec, warnings: string[] = []): VegaSpec {
  const quiet = { level: () => quiet, error: (...m: unknown[]) => warnings.push(m.join(' ')), warn: (...m: unknown[]) => warnings.push(m.join(' ')), info: () => quiet, debug: () => quiet };
  return compile(spec as never, { logger: quiet as never }).spec as unknown as VegaSpec;
}

/** A Vega spec as a standalone SVG document (static: interactions are not drawn). */
export async function vegaToSvg(spec: VegaSpec): Promise<string> {
  const view = new vega.View(vega.parse(spec as never), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A Vega-Lite spec as a standalone SVG document. */
export async function toSvg(spec: VegaLiteSpec): Promise<string> {
  return vegaToSvg(toVega(spec));
}

export function svgToPng(svg: string, scale = 2): Uint8Array {
  const r = new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } });
  return r.render().asPng();
}

/** The browser builds the report inlines: vega (the runtime) and vega-embed (tooltips, the actions menu), from node_modules. */
export interface ViewerRuntime {
  /** `vega` and `vega-embed` versions, for the report's footer. */
  versions: { vega: string; vegaEmbed: string };
  /** The scripts' text, safe to place inside `<script>` elements. */
  scripts: string[];
}

let runtime: ViewerRuntime | undefined;

/**
 * Reads the minified UMD builds of vega and vega-embed that npm installed (no CDN, no
 * download: the report works offline), once per process. Their source-map comments are
 * dropped (the maps are not shipped) and `</script` is escaped so they can be inlined.
 */
export function viewerRuntime(): ViewerRuntime {
  if (runtime) return runtime;
  const req = createRequire(import.meta.url);
  const vegaDir = dirname(req.resolve('vega/package.json'));
  // vega-embed's exports map hides package.json and build/; its CommonJS entry is build/vega-embed.js.
  const embedDir = dirname(req.resolve('vega-embed'));
  const read = (p: string) => readFileSync(p, 'utf8').replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n').replace(/<\/script/gi, '<\\/script');
  const version = (dir: string) => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  runtime = {
    versions: { vega: version(vegaDir), vegaEmbed: version(join(embedDir, '..')) },
    scripts: [read(join(vegaDir, 'build', 'vega.min.js')), read(join(embedDir, 'vega-embed.min.js'))],
  };
  return runtime;
}

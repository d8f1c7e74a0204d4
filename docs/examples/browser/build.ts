/**
 * Builds the example page into a folder: main.ts bundled for the browser by esbuild
 * (from the packages' sources, through their `browser` conditions) next to index.html.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForBrowser, forbiddenInputs } from '../../../browser-tests/lib/bundle.js';

const HERE = dirname(fileURLToPath(import.meta.url));

export async function buildExample(outdir: string): Promise<void> {
  mkdirSync(outdir, { recursive: true });
  const meta = await bundleForBrowser({ entryPoints: { main: join(HERE, 'main.ts') }, outdir, source: true });
  const bad = forbiddenInputs(meta);
  if (bad.length > 0) throw new Error(`the example bundle contains Node-only modules: ${bad.join(', ')}`);
  copyFileSync(join(HERE, 'index.html'), join(outdir, 'index.html'));
}

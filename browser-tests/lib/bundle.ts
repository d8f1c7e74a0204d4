/**
 * Bundling for the browser with esbuild: the packages' browser entries (the `browser`
 * condition and `browser` file maps of their package.json), from the TypeScript
 * sources (`tandem-source`) inside the workspace, or from dist/ for installed tarballs.
 * esbuild refuses `node:` modules and Dawn's native addon for platform 'browser', so a
 * bundle that builds is itself the check that the browser path imports neither.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The test files of @tandem/nn import '../src/index.js', its Node entry (checkpoints,
 * files); in the browser they get the browser entry, as a user's bundler would give them
 * through the `exports` map. A test that needs something the browser entry lacks fails
 * to bundle, naming it.
 */
const nnBrowserEntry: Plugin = {
  name: 'tandem-nn-browser-entry',
  setup(b) {
    const nnIndex = join(ROOT, 'packages', 'nn', 'src', 'index.js');
    b.onResolve({ filter: /\/src\/index\.js$/ }, (args) => {
      if (args.importer && join(args.resolveDir, args.path) === nnIndex) return { path: join(ROOT, 'packages', 'nn', 'src', 'browser.ts') };
      return undefined;
    });
  },
};

/**
 * Test files of the packages that compare bytes with Node's Buffer get shim/buffer.ts's
 * TestBuffer imported as `Buffer` (in that file only: library code gets no Buffer).
 */
const testBuffer: Plugin = {
  name: 'tandem-test-buffer',
  setup(b) {
    const shim = join(ROOT, 'browser-tests', 'shim', 'buffer.ts');
    b.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]test[\\/].*\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!/\bBuffer\./.test(text)) return undefined;
      return { contents: `import { TestBuffer as Buffer } from ${JSON.stringify(shim.split(sep).join('/'))};\n${text}`, loader: 'ts' };
    });
  },
};

export interface BundleOptions {
  /** Output name (without .js) → source file. */
  entryPoints: Record<string, string>;
  outdir: string;
  /** Resolve workspace packages to their sources (tandem-source), as the tests do. */
  source: boolean;
  /** Module aliases, e.g. { vitest: shim }. */
  alias?: Record<string, string>;
  /** Compile-time constants, e.g. { 'process.env.TANDEM_DEEP': 'undefined' }. */
  define?: Record<string, string>;
}

/** Bundles the entries as ES modules with shared chunks; throws with esbuild's messages on failure. */
export async function bundleForBrowser(o: BundleOptions): Promise<Metafile> {
  try {
    const r = await build({
      entryPoints: o.entryPoints,
      outdir: o.outdir,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      conditions: o.source ? ['tandem-source'] : [],
      alias: o.alias ?? {},
      define: o.define ?? {},
      plugins: o.source ? [nnBrowserEntry, testBuffer] : [],
      sourcemap: 'linked',
      metafile: true,
      logLevel: 'silent',
      chunkNames: 'chunks/[name]-[hash]',
    });
    return r.metafile;
  } catch (e) {
    const errors = (e as { errors?: { text: string; location?: { file: string; line: number } | null }[] }).errors;
    if (!errors) throw e;
    const lines = errors.slice(0, 10).map((m) => `  ${m.location ? `${relative(ROOT, m.location.file)}:${m.location.line}: ` : ''}${m.text}`);
    throw new Error(`esbuild could not bundle for the browser:\n${lines.join('\n')}`);
  }
}

/** The inputs of a bundle that a browser build must never contain: node: modules, Dawn. */
export function forbiddenInputs(meta: Metafile): string[] {
  return Object.keys(meta.inputs).filter((f) => /(^|\/)node_modules\/(\.pnpm\/)?webgpu[@/]/.test(f) || f.startsWith('node:') || /\.node$/.test(f));
}

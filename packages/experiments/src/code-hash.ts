/**
 * The content hash of the code that computes runs: every run id includes it (see
 * version.ts), so editing a loss, a task, an evaluator or a kernel gives every run a
 * new id and the old code's cached results are never returned for the new code.
 *
 * What is hashed: the files of the five `@tandem/*` packages that are loaded — their
 * `src/` when running from source (`.ts`, as under tsx or vitest with the
 * `tandem-source` condition), their `dist/` when running from a build — sorted by
 * package-relative path (`tensor/src/ops.ts`), each as its path, its length and its
 * bytes. Absolute paths, timestamps and the machine do not enter, so the CLI, its
 * pool workers and queue workers on other machines with the same code agree.
 * Presentation-only files of `@tandem/experiments` (the CLI and worker entry points,
 * figures, reports, rendering, the tidy-table export, and the scheduling of runs: job graph,
 * sweeps, pool and queue) are left out: they compute no stored number, so
 * editing them keeps the cache.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The packages whose code computes runs, in the order their roots are listed. */
export const CODE_PACKAGES = ['tensor', 'autodiff', 'nn', 'rlhf', 'experiments'] as const;

/**
 * Files of `@tandem/experiments` (package-relative, without extension; a trailing '/'
 * names a folder) that only present results or start processes: no stored number
 * depends on them, so they are not part of the code hash.
 */
export const PRESENTATION_ONLY: readonly string[] = [
  'cli', 'worker', 'report', 'render', 'export', 'tidy', 'figures/',
  // Scheduling: which runs an experiment asks for and where they execute; each run's numbers depend on its config and the run code only.
  'experiments', 'jobs', 'sweep', 'pool', 'pool-worker', 'pool-signals', 'queue',
];

/** One package's code folder: `name` (e.g. 'rlhf') and the absolute `dir` of its `src/` or `dist/`. */
export interface CodeRoot {
  readonly name: string;
  readonly dir: string;
}

const CODE_FILE = /\.(ts|mts|cts|js|mjs|cjs|wasm|json)$/;
const NOT_CODE = /(\.d\.[cm]?ts|\.map|\.tsbuildinfo)$/;

/** The code files under `root`, as `{ path: '<name>/<folder>/<relative path>', abs }`, sorted by path (code-unit order, not locale order). */
export function codeFiles(roots: readonly CodeRoot[]): { path: string; abs: string }[] {
  const out: { path: string; abs: string }[] = [];
  for (const root of roots) {
    const base = `${root.name}/${root.dir.split(/[\\/]/).filter(Boolean).pop()}`;
    if (!existsSync(root.dir)) {
      out.push({ path: `${base}/(missing)`, abs: '' });
      continue;
    }
    const stack = [''];
    while (stack.length > 0) {
      const rel = stack.pop()!;
      for (const e of readdirSync(join(root.dir, rel), { withFileTypes: true })) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) {
          if (e.name !== 'node_modules' && !e.name.startsWith('.')) stack.push(r);
        } else if (e.isFile() && CODE_FILE.test(e.name) && !NOT_CODE.test(e.name)) {
          if (root.name === 'experiments' && presentationOnly(r)) continue;
          out.push({ path: `${base}/${r}`, abs: join(root.dir, r) });
        }
      }
    }
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function presentationOnly(rel: string): boolean {
  const bare = rel.replace(/\.[^./]+$/, '');
  return PRESENTATION_ONLY.some((p) => (p.endsWith('/') ? rel.startsWith(p) : bare === p));
}

/** SHA-256 (hex) over the code files of `roots`: for each file in path order, its path, byte length and bytes. */
export function codeHashOf(roots: readonly CodeRoot[]): string {
  const h = createHash('sha256');
  for (const f of codeFiles(roots)) {
    const bytes = f.abs ? readFileSync(f.abs) : Buffer.alloc(0);
    h.update(`${f.path}\0${bytes.length}\0`);
    h.update(bytes);
  }
  return h.digest('hex');
}

/**
 * The code roots this process loaded: `src/` of every package when this module runs
 * from source, `dist/` when it runs from a build. Other packages are found the way
 * imports find them (node resolution from this package), so a workspace and an
 * installed copy both work.
 */
export function loadedCodeRoots(): CodeRoot[] {
  const here = fileURLToPath(import.meta.url);
  const folder = here.endsWith('.ts') ? 'src' : 'dist';
  const require = createRequire(import.meta.url);
  return CODE_PACKAGES.map((name) => {
    if (name === 'experiments') return { name, dir: dirname(here) };
    let pkgDir: string;
    try {
      pkgDir = dirname(require.resolve(`@tandem/${name}/package.json`));
    } catch {
      // Not resolvable (e.g. everything bundled into one file): that file is the code.
      return { name, dir: join(dirname(here), `(unresolved @tandem/${name})`) };
    }
    return { name, dir: join(pkgDir, folder) };
  });
}

let cached: string | undefined;

/** The SHA-256 of the loaded code (see {@link codeHashOf}); computed once per process, on first use. */
export function codeHash(): string {
  cached ??= codeHashOf(loadedCodeRoots());
  return cached;
}

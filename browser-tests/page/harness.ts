/**
 * The test page's script: imports the bundled test file named by `?test=` (which
 * registers its tests with the vitest shim), runs them, and reports each result to
 * the runner as a console line `@@tandem {json}`, ending with `{"type":"done"}`.
 */
import { recordEscapedError, runRegistered, type TestResult } from '../shim/vitest.js';

export type HarnessEvent =
  | { type: 'result'; result: TestResult }
  | { type: 'metric'; name: string; value: unknown }
  | { type: 'done'; ms: number };

function emit(ev: HarnessEvent): void {
  console.log(`@@tandem ${JSON.stringify(ev)}`);
}

/** Lets a test file hand the runner a measured value (printed in the summary, saved in runs/). */
(globalThis as { __tandemMetric?: (name: string, value: unknown) => void }).__tandemMetric = (name, value) => emit({ type: 'metric', name, value });

addEventListener('unhandledrejection', (ev) => recordEscapedError(ev.reason));
addEventListener('error', (ev) => recordEscapedError(ev.error ?? ev.message));

const name = new URLSearchParams(location.search).get('test') ?? '';
const t0 = performance.now();
let loaded = true;
try {
  // The test bundles are entry points next to this one (tests/<name>.js); a computed URL,
  // so that esbuild leaves the import to the browser.
  const url = new URL(`./tests/${name}.js`, import.meta.url).href;
  await import(url);
} catch (e) {
  loaded = false;
  emit({ type: 'result', result: { name: `${name} > (loading the file)`, status: 'fail', ms: 0, error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) } });
}
if (loaded) await runRegistered(name, (result) => emit({ type: 'result', result }));
emit({ type: 'done', ms: performance.now() - t0 });

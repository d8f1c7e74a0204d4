/**
 * `pnpm example:browser [--port N]`: builds the example page and serves it on
 * 127.0.0.1 (default port 8377; any free port if that one is taken), printing the URL.
 * Open it in a browser with WebGPU (Chrome, Edge; Firefox and Safari where enabled);
 * without an adapter the page trains on the cpu backend and says so.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveStatic, type Served } from '../../../browser-tests/lib/serve.js';
import { buildExample } from './build.js';

const portArg = process.argv.indexOf('--port');
const port = portArg >= 0 ? Number(process.argv[portArg + 1]) : 8377;
const out = mkdtempSync(join(tmpdir(), 'tandem-example-'));
await buildExample(out);
let served: Served;
try {
  served = await serveStatic({ '/': out }, port);
} catch {
  served = await serveStatic({ '/': out }, 0);
}
console.log(`tandem browser example: ${served.origin}/`);
console.log('  (?steps=N trains N steps, ?backend=cpu skips WebGPU; Ctrl-C stops the server)');
const stop = () => {
  void served.close().then(() => {
    rmSync(out, { recursive: true, force: true });
    process.exit(0);
  });
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

/**
 * A static file server on 127.0.0.1 for the browser tests and the example page.
 * Pages are served cross-origin isolated (COOP same-origin + COEP require-corp), so
 * SharedArrayBuffer exists and the cpu backend's matmul can use its Web Worker.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
};

export interface Served {
  /** e.g. http://127.0.0.1:40123 */
  origin: string;
  close(): Promise<void>;
}

/**
 * Serves each URL prefix from a folder, e.g. { '/': dirA, '/example/': dirB }; the longest
 * matching prefix wins and `/` maps to index.html. `port` 0 picks a free port.
 */
export async function serveStatic(mounts: Record<string, string>, port = 0): Promise<Served> {
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length);
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const prefix = prefixes.find((p) => path.startsWith(p) || `${path}/` === p);
    const send = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    if (path === '/favicon.ico') {
      res.writeHead(204);
      return res.end();
    }
    if (prefix === undefined) return send(404, 'not found');
    if (`${path}/` === prefix) {
      res.writeHead(301, { location: prefix });
      return res.end();
    }
    const root = mounts[prefix]!;
    let rel = path.slice(prefix.length);
    if (rel === '' || rel.endsWith('/')) rel += 'index.html';
    const file = normalize(join(root, rel));
    if (!file.startsWith(normalize(root) + sep) && file !== normalize(root)) return send(403, 'forbidden');
    if (!existsSync(file) || !statSync(file).isFile()) return send(404, `not found: ${path}`);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const { port: p } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${p}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

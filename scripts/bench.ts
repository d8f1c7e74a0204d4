/**
 * `pnpm bench <package> [--quick] [--backend cpu,webgpu]`: runs a package's
 * benchmark, which prints one JSON line per case. Packages: tensor, autodiff, nn.
 * `pnpm bench study [--quick] [--no-real]`: the study's own throughput on a fixed
 * workload (scripts/bench/study.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [pkg, ...rest] = process.argv.slice(2);
const known = ['tensor', 'autodiff', 'nn', 'study'];
if (!pkg || !known.includes(pkg)) {
  console.error(`usage: pnpm bench <${known.join('|')}> [--quick] [--backend cpu,webgpu]`);
  process.exit(2);
}
const entry = pkg === 'study' ? join(root, 'scripts', 'bench', 'study.ts') : join(root, 'packages', pkg, 'bench', 'index.ts');
if (!existsSync(entry)) {
  console.error(`bench: ${entry} does not exist`);
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--conditions=tandem-source', '--import', 'tsx', entry, ...rest], {
  stdio: 'inherit',
  env: { EGL_PLATFORM: 'surfaceless', XDG_RUNTIME_DIR: '/tmp', ...process.env },
});
process.exit(r.status ?? 1);

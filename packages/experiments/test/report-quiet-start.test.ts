/**
 * A quiet start: `--backend cpu` never loads Dawn (npm `webgpu`), and `--backend auto`
 * on a machine without a GPU device decides on cpu without starting Dawn, so neither
 * prints Dawn's native warnings ("Couldn't load Vulkan", "… artificially reduced …").
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const node = (args: string[]) => spawnSync(process.execPath, ['--conditions=tandem-source', '--import', 'tsx', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TANDEM_BACKEND: '' } });

/** Chooses a backend in a fresh process; reports the backend and whether Dawn's library is mapped (Linux). */
const CHOOSE = `const T = await import('@tandem/tensor');
const b = await T.useBackend(process.argv[1]);
const fs = await import('node:fs');
const maps = fs.existsSync('/proc/self/maps') ? fs.readFileSync('/proc/self/maps', 'utf8') : '';
console.log(JSON.stringify({ backend: b.name, dawn: /dawn/i.test(maps) }));
await T.shutdownWebGPU();`;

describe('a quiet start', () => {
  it('--backend cpu does not load Dawn and prints nothing', () => {
    const r = node(['-e', CHOOSE, 'cpu']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const got = JSON.parse(r.stdout) as { backend: string; dawn: boolean };
    expect(got.backend).toBe('cpu');
    if (existsSync('/proc/self/maps')) expect(got.dawn).toBe(false);
  }, 60_000);

  it('--backend auto probes without Dawn warnings (when it settles on cpu), and never warns about a missing Vulkan loader', () => {
    // The CLI's --backend is useBackend(choice), so choosing in a bare process is the same start.
    const r = node(['-e', CHOOSE, 'auto']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Couldn't load Vulkan/);
    // On a machine with a real GPU auto takes webgpu, and a hardware driver may say more.
    if ((JSON.parse(r.stdout) as { backend: string }).backend === 'cpu') expect(r.stderr).toBe('');
  }, 60_000);
});

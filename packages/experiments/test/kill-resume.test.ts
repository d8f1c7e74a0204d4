/**
 * A run killed at any point (SIGKILL, no chance to clean up) resumes from its last
 * checkpoint and ends bit-identical to an uninterrupted run — through the real CLI,
 * the filesystem store and separate processes.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../../..');
const CLI = ['--conditions=tandem-source', '--import', 'tsx', join(ROOT, 'packages/experiments/src/cli.ts')];

function cliArgs(out: string, config: string): string[] {
  // One process (no pool): the SIGKILL below must take the run's only writer down with it.
  return [...CLI, 'fig4', '--preset', 'smoke', '--config', config, '--out', out, '--backend', 'cpu', '--workers', '1'];
}

function runDirs(out: string): string[] {
  return readdirSync(out).filter((d) => d.startsWith('train-')).sort();
}

describe('kill and resume through the CLI', () => {
  it('SIGKILL mid-run, rerun, and the results equal an uninterrupted run bit for bit', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tandem-kill-'));
    try {
      const config = join(tmp, 'config.json');
      writeFileSync(config, JSON.stringify({ train: { steps: 30, checkpointEvery: 3 } }));
      const straight = join(tmp, 'straight');
      const killed = join(tmp, 'killed');
      const r1 = spawnSync(process.execPath, cliArgs(straight, config), { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
      expect(r1.status, r1.stderr).toBe(0);

      // Start the same command and kill it once some training run has a checkpoint but no result.
      const child = spawn(process.execPath, cliArgs(killed, config), { cwd: ROOT, stdio: 'ignore' });
      const killedAt = await new Promise<string>((res, rej) => {
        const timer = setInterval(() => {
          if (!existsSync(killed)) return;
          for (const d of runDirs(killed)) {
            const dir = join(killed, d);
            if (existsSync(join(dir, 'ckpt.bin')) && !existsSync(join(dir, 'result.json')) && d !== '') {
              const m = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
              if (m.length >= 2) {
                clearInterval(timer);
                child.kill('SIGKILL');
                res(d);
                return;
              }
            }
          }
        }, 20);
        child.on('exit', () => {
          clearInterval(timer);
          rej(new Error('the run finished before it could be killed'));
        });
      });
      await new Promise((r) => child.once('exit', r));
      expect(existsSync(join(killed, killedAt, 'result.json'))).toBe(false);

      const r2 = spawnSync(process.execPath, cliArgs(killed, config), { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
      expect(r2.status, r2.stderr).toBe(0);
      expect(r2.stderr).toMatch(/resuming .* from step \d+/);

      expect(runDirs(killed)).toEqual(runDirs(straight));
      for (const d of runDirs(straight)) {
        expect(readFileSync(join(killed, d, 'result.json'), 'utf8')).toBe(readFileSync(join(straight, d, 'result.json'), 'utf8'));
        expect(readFileSync(join(killed, d, 'metrics.jsonl'), 'utf8')).toBe(readFileSync(join(straight, d, 'metrics.jsonl'), 'utf8'));
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 600_000);

  it('a bad --config is rejected before any work starts, with every failing path', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'tandem-badcfg-'));
    try {
      const config = join(tmp, 'bad.json');
      writeFileSync(config, JSON.stringify({ train: { lr: 0, batchSize: 'four' }, eval: { evry: 3 } }));
      const out = join(tmp, 'out');
      const r = spawnSync(process.execPath, cliArgs(out, config), { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('train.lr: expected a positive number, got 0');
      expect(r.stderr).toContain('train.batchSize: expected a positive integer, got "four"');
      expect(r.stderr).toContain('eval.evry: unknown key');
      expect(existsSync(out)).toBe(false);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});

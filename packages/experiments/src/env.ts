/**
 * Interpreters' environments: the real one (filesystem store, terminal progress
 * bars, Ctrl-C handling) and an in-memory one for tests.
 */
import cliProgress from 'cli-progress';
import { getBackend, type Backend } from '@tandem/tensor';
import type { Env, ProgressBar } from './program.js';
import { fsStore } from './store/fs.js';
import { memoryStore, type MemoryStore } from './store/memory.js';
import { CODE_VERSION } from './version.js';

/** An environment for tests: memory store, silent progress, cpu backend unless given. Set `interruption.requested` to simulate Ctrl-C. */
export function memoryEnv(o: { backend?: Backend; store?: MemoryStore; log?: (m: string) => void; codeVersion?: string } = {}): Env & { store: MemoryStore; interruption: { requested: boolean } } {
  return {
    backend: o.backend ?? getBackend('cpu'),
    store: o.store ?? memoryStore(),
    codeVersion: o.codeVersion ?? CODE_VERSION,
    log: o.log ?? (() => undefined),
    progress: () => ({ update: () => undefined, stop: () => undefined }),
    interruption: { requested: false },
  };
}

/** Options for {@link nodeEnv}. */
export interface NodeEnvOptions {
  /** Directory of the filesystem run store. */
  root: string;
  /** The tensor backend runs compute on. */
  backend: Backend;
  /** Show progress bars (on a TTY); otherwise a line every ~10% of each run. */
  bars?: boolean;
  /** Suppress log lines (and the line-per-10% progress; bars, when on, still show). */
  quiet?: boolean;
}

/** The signals that request a clean stop (named without Node's types, so the published .d.ts needs no @types/node). */
export type StopSignal = 'SIGINT' | 'SIGTERM';

/** The exit status of a process stopped by `signal`: 128 + its number (130 for Ctrl-C, 143 for SIGTERM). */
export function exitCodeOf(signal: StopSignal | undefined): number {
  return signal === 'SIGTERM' ? 143 : 130;
}

/** The real environment: runs under `root`, progress on stderr, Ctrl-C or SIGTERM requests a clean stop (`interruption.signal` says which; a second one exits at once). Call `dispose()` when done to remove the signal handlers and stop the bars. */
export function nodeEnv(o: NodeEnvOptions): Env & { interruption: { requested: boolean; signal: StopSignal | undefined }; dispose(): void } {
  const interruption = { requested: false, signal: undefined as StopSignal | undefined };
  // SIGTERM (a `kill`, a service manager, a pool parent) is handled like Ctrl-C.
  const onSignal = (signal: StopSignal) => {
    const name = signal === 'SIGINT' ? 'Ctrl-C' : signal;
    if (interruption.requested) {
      process.stderr.write(`\n${name} again: aborting now; the run's lock is released and rerunning the same command resumes from its last checkpoint\n`);
      process.exit(exitCodeOf(signal));
    }
    interruption.requested = true;
    interruption.signal = signal;
    process.stderr.write(`\n${name}: stopping at the next checkpoint (${name} again to abort now)…\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const multi = o.bars ? new cliProgress.MultiBar({
    format: '{bar} {percentage}% | {value}/{total} | {rate} steps/s | ETA {eta_formatted} | {label} {extra}',
    hideCursor: true, clearOnComplete: false, stopOnComplete: true, stream: process.stderr,
  }, cliProgress.Presets.shades_classic) : undefined;
  const log = (m: string) => {
    if (o.quiet) return;
    if (multi) multi.log(`${m}\n`);
    else process.stderr.write(`${m}\n`);
  };
  return {
    backend: o.backend,
    store: fsStore(o.root),
    codeVersion: CODE_VERSION,
    log,
    interruption,
    progress(label: string, total: number): ProgressBar {
      const start = Date.now();
      if (multi) {
        const bar = multi.create(total, 0, { label, extra: '', rate: '-' });
        return {
          update(step, fields = {}) {
            const secs = (Date.now() - start) / 1000;
            const extra = Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ');
            bar.update(step, { label, extra, rate: secs > 0 ? (step / secs).toFixed(1) : '-' });
          },
          stop() { bar.stop(); },
        };
      }
      let lastTenth = -1;
      return {
        update(step, fields = {}) {
          const tenth = Math.floor((10 * step) / Math.max(1, total));
          if (tenth === lastTenth && step !== total) return;
          lastTenth = tenth;
          const secs = (Date.now() - start) / 1000;
          const extra = Object.entries(fields).map(([k, v]) => `${k}=${v}`).join(' ');
          log(`[${label}] ${step}/${total} ${secs > 0 ? (step / secs).toFixed(1) : '-'} steps/s ${extra}`);
        },
        stop() {},
      };
    },
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      multi?.stop();
    },
  };
}

/**
 * The benchmark harness every package's bench uses: calibrated repetitions,
 * median of samples, one JSON line per case on stdout.
 */
export interface BenchOptions {
  /** Few samples and short calibration: a run of a few seconds. */
  quick: boolean;
}

export function parseBenchArgs(argv: readonly string[]): BenchOptions & { backends: string[] } {
  const quick = argv.includes('--quick');
  const bi = argv.indexOf('--backend');
  const backends = bi >= 0 ? argv[bi + 1]!.split(',') : ['cpu', 'webgpu'];
  return { quick, backends };
}

/**
 * Median milliseconds per call of `fn` (sync or async): repetitions per sample are
 * calibrated to about `targetMs`, after `warmup` untimed calls.
 */
export async function measure(fn: () => unknown, o: { quick: boolean; samples?: number; targetMs?: number; warmup?: number; fixedReps?: number }): Promise<{ ms: number; reps: number; samples: number }> {
  const samples = o.samples ?? (o.quick ? 3 : 7);
  const targetMs = o.targetMs ?? (o.quick ? 20 : 50);
  for (let i = 0; i < (o.warmup ?? (o.quick ? 1 : 3)); i++) await fn();
  let reps = o.fixedReps ?? 1;
  if (o.fixedReps === undefined) {
    for (;;) {
      const t = performance.now();
      for (let i = 0; i < reps; i++) await fn();
      const e = performance.now() - t;
      if (e >= targetMs / 2 || reps >= 1 << 20) {
        reps = Math.max(1, Math.round((reps * targetMs) / Math.max(e, 1e-3)));
        break;
      }
      reps *= 2;
    }
  }
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t = performance.now();
    for (let i = 0; i < reps; i++) await fn();
    times.push((performance.now() - t) / reps);
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, reps, samples };
}

/** Prints one benchmark result as a JSON line (numbers rounded to 4 significant digits). */
export function report(fields: Record<string, unknown>): void {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(4)) : v;
  console.log(JSON.stringify(out));
}

/**
 * `measure`, except that a call slower than ~50 ms (a big case on a software webgpu
 * adapter) is timed with one call per sample, and a single sample under --quick.
 */
export async function measureAdaptive(fn: () => unknown, quick: boolean): Promise<{ ms: number; samples: number }> {
  // Two probe calls (the first also compiles webgpu pipelines); the faster one decides.
  let probe = Infinity;
  for (let i = 0; i < 2; i++) {
    const t = performance.now();
    await fn();
    probe = Math.min(probe, performance.now() - t);
  }
  if (probe < 50) return measure(fn, { quick });
  return measure(fn, { quick, fixedReps: 1, warmup: 0, samples: quick ? 1 : 5 });
}

/**
 * Initialises each requested backend; one that cannot start prints a `skipped` line for
 * each of `benches` (so a missing GPU is visible in the output) and is left out.
 */
export async function initBackends<B>(names: readonly string[], init: (name: string) => Promise<B>, benches: readonly string[]): Promise<B[]> {
  const out: B[] = [];
  for (const name of names) {
    try {
      out.push(await init(name));
    } catch (e) {
      for (const bench of benches) report({ bench, backend: name, skipped: String((e as Error).message) });
    }
  }
  return out;
}

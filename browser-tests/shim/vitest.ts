/**
 * The part of vitest's API that the packages' test files use (describe, it, expect,
 * hooks), for running those same files in a browser page. `pnpm test:browser` bundles
 * a test file with `vitest` aliased to this module; the page harness imports the
 * bundle (which registers its tests) and then calls `runRegistered`.
 *
 * Semantics follow vitest where the tests depend on them: toEqual compares primitives
 * with Object.is (NaN equals NaN, +0 differs from −0), ignores properties that are
 * undefined and requires the same class for objects; toThrow takes a substring, a
 * RegExp, an error class or an asymmetric matcher; a hook that throws fails the
 * tests of its suite. An unknown matcher is a failure that names it, never a pass.
 */

type Fn = () => unknown;

interface TestCase {
  kind: 'test';
  name: string;
  fn: Fn;
  skip: boolean;
  timeout: number | undefined;
}

interface Suite {
  kind: 'suite';
  name: string;
  skip: boolean;
  beforeAll: Fn[];
  afterAll: Fn[];
  beforeEach: Fn[];
  afterEach: Fn[];
  children: (Suite | TestCase)[];
}

const newSuite = (name: string, skip: boolean): Suite => ({
  kind: 'suite', name, skip, beforeAll: [], afterAll: [], beforeEach: [], afterEach: [], children: [],
});

let root = newSuite('', false);
let current = root;

/** A test's outcome, as reported to the runner. */
export interface TestResult {
  name: string;
  status: 'pass' | 'fail' | 'skip';
  ms: number;
  error?: string;
}

// ------------------------------------------------------------------ registration

function addSuite(name: string, fn: Fn, skip: boolean): void {
  const s = newSuite(name, skip || current.skip);
  current.children.push(s);
  const parent = current;
  current = s;
  try {
    const r = fn();
    if (r && typeof (r as Promise<unknown>).then === 'function') throw new Error(`describe('${name}') returned a promise: describe callbacks must be synchronous`);
  } finally {
    current = parent;
  }
}

type DescribeFn = ((name: string, fn: Fn) => void) & {
  skip: (name: string, fn: Fn) => void;
  skipIf: (cond: unknown) => (name: string, fn: Fn) => void;
  runIf: (cond: unknown) => (name: string, fn: Fn) => void;
};

export const describe: DescribeFn = Object.assign((name: string, fn: Fn) => addSuite(name, fn, false), {
  skip: (name: string, fn: Fn) => addSuite(name, fn, true),
  skipIf: (cond: unknown) => (name: string, fn: Fn) => addSuite(name, fn, Boolean(cond)),
  runIf: (cond: unknown) => (name: string, fn: Fn) => addSuite(name, fn, !cond),
});

type TestOpts = number | { timeout?: number };
function addTest(name: string, fn: Fn | undefined, opts: TestOpts | undefined, skip: boolean): void {
  const timeout = typeof opts === 'number' ? opts : opts?.timeout;
  current.children.push({ kind: 'test', name, fn: fn ?? (() => undefined), skip: skip || current.skip || fn === undefined, timeout });
}

type ItFn = ((name: string, fn?: Fn, opts?: TestOpts) => void) & {
  skip: (name: string, fn?: Fn, opts?: TestOpts) => void;
  todo: (name: string) => void;
  skipIf: (cond: unknown) => (name: string, fn?: Fn, opts?: TestOpts) => void;
  runIf: (cond: unknown) => (name: string, fn?: Fn, opts?: TestOpts) => void;
};

export const it: ItFn = Object.assign((name: string, fn?: Fn, opts?: TestOpts) => addTest(name, fn, opts, false), {
  skip: (name: string, fn?: Fn, opts?: TestOpts) => addTest(name, fn, opts, true),
  todo: (name: string) => addTest(name, undefined, undefined, true),
  skipIf: (cond: unknown) => (name: string, fn?: Fn, opts?: TestOpts) => addTest(name, fn, opts, Boolean(cond)),
  runIf: (cond: unknown) => (name: string, fn?: Fn, opts?: TestOpts) => addTest(name, fn, opts, !cond),
});
export const test = it;

export const beforeAll = (fn: Fn): void => void current.beforeAll.push(fn);
export const afterAll = (fn: Fn): void => void current.afterAll.push(fn);
export const beforeEach = (fn: Fn): void => void current.beforeEach.push(fn);
export const afterEach = (fn: Fn): void => void current.afterEach.push(fn);

/** vi is not supported in the browser (module mocking needs vitest's transform). */
export const vi = new Proxy({}, {
  get(_t, prop) {
    throw new Error(`vi.${String(prop)} is not available in the browser test shim`);
  },
});

// ------------------------------------------------------------------ running

/** The default per-test timeout, as in vitest.config.ts. */
const DEFAULT_TIMEOUT = 120_000;

function message(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const own = `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}`;
  // fast-check puts the property's own error in `cause`.
  return e.cause !== undefined && !e.message.includes(String((e.cause as Error)?.message ?? e.cause)) ? `${own}\nCaused by: ${message(e.cause)}` : own;
}

async function withTimeout(fn: Fn, ms: number, what: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(fn),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function countTests(s: Suite): TestCase[] {
  const out: TestCase[] = [];
  for (const c of s.children) {
    if (c.kind === 'test') out.push(c);
    else out.push(...countTests(c));
  }
  return out;
}

/** Errors that escaped a test (unhandled rejections, uncaught errors), charged to the running test. */
let escaped: string[] = [];
/** Records an error that escaped a test: the test that is running fails with it. */
export function recordEscapedError(e: unknown): void {
  escaped.push(message(e));
}

async function runSuite(s: Suite, path: string[], eachChain: { before: Fn[]; after: Fn[] }, report: (r: TestResult) => void): Promise<void> {
  const names = s.name ? [...path, s.name] : path;
  const tests = countTests(s);
  const skipAll = tests.every((t) => t.skip);
  if (skipAll) {
    for (const t of tests) report({ name: [...names, t.name].join(' > '), status: 'skip', ms: 0 });
    return;
  }
  let hookError: string | undefined;
  for (const h of s.beforeAll) {
    try {
      await withTimeout(h, 60_000, 'beforeAll');
    } catch (e) {
      hookError = `beforeAll failed: ${message(e)}`;
      break;
    }
  }
  const chain = { before: [...eachChain.before, ...s.beforeEach], after: [...s.afterEach, ...eachChain.after] };
  for (const c of s.children) {
    if (c.kind === 'suite') {
      if (hookError !== undefined) {
        for (const t of countTests(c)) report({ name: [...names, c.name, t.name].join(' > '), status: 'fail', ms: 0, error: hookError });
      } else await runSuite(c, names, chain, report);
      continue;
    }
    const name = [...names, c.name].join(' > ');
    if (c.skip) {
      report({ name, status: 'skip', ms: 0 });
      continue;
    }
    if (hookError !== undefined) {
      report({ name, status: 'fail', ms: 0, error: hookError });
      continue;
    }
    const t0 = performance.now();
    escaped = [];
    let error: string | undefined;
    try {
      for (const h of chain.before) await h();
      await withTimeout(c.fn, c.timeout ?? DEFAULT_TIMEOUT, 'test');
    } catch (e) {
      error = message(e);
    }
    for (const h of chain.after) {
      try {
        await h();
      } catch (e) {
        error ??= `afterEach failed: ${message(e)}`;
      }
    }
    // Let rejections queued by the test surface before judging it.
    await new Promise((r) => setTimeout(r, 0));
    if (error === undefined && escaped.length > 0) error = `unhandled error: ${escaped.join('; ')}`;
    report({ name, status: error === undefined ? 'pass' : 'fail', ms: performance.now() - t0, ...(error !== undefined ? { error } : {}) });
  }
  for (const h of s.afterAll) {
    try {
      await withTimeout(h, 60_000, 'afterAll');
    } catch (e) {
      report({ name: [...names, '(afterAll)'].join(' > '), status: 'fail', ms: 0, error: message(e) });
    }
  }
}

/** Runs every test registered since the last call, in order; `prefix` names the file. */
export async function runRegistered(prefix: string, report: (r: TestResult) => void): Promise<void> {
  const r = root;
  root = newSuite('', false);
  current = root;
  await runSuite(r, [prefix], { before: [], after: [] }, report);
}

// ------------------------------------------------------------------ expect

interface Asymmetric {
  asymmetricMatch(actual: unknown): boolean;
  toString(): string;
}
const isAsymmetric = (x: unknown): x is Asymmetric =>
  x !== null && typeof x === 'object' && typeof (x as Asymmetric).asymmetricMatch === 'function';

function classOf(x: unknown): string {
  return Object.prototype.toString.call(x);
}

/** vitest's toEqual (strict = toStrictEqual: undefined properties count). */
export function equals(a: unknown, b: unknown, strict = false, seen = new Map<object, object>()): boolean {
  if (isAsymmetric(b)) return b.asymmetricMatch(a);
  if (isAsymmetric(a)) return a.asymmetricMatch(b);
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (classOf(a) !== classOf(b)) return false;
  if (seen.get(a) === b) return true;
  seen.set(a, b);
  if (a instanceof Date && b instanceof Date) return Object.is(a.getTime(), b.getTime());
  if (a instanceof RegExp && b instanceof RegExp) return String(a) === String(b);
  if (a instanceof Error && b instanceof Error && a.message !== b.message) return false;
  if (a instanceof Map && b instanceof Map) {
    if (a.size !== b.size) return false;
    for (const [k, v] of a) if (!b.has(k) || !equals(v, b.get(k), strict, seen)) return false;
    return true;
  }
  if (a instanceof Set && b instanceof Set) {
    if (a.size !== b.size) return false;
    for (const v of a) if (!b.has(v)) return false;
    return true;
  }
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    const x = a as unknown as ArrayLike<unknown>, y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a) && Array.isArray(b) && a.length !== b.length) return false;
  const keys = (o: object) => Object.keys(o).filter((k) => strict || (o as Record<string, unknown>)[k] !== undefined);
  const ka = keys(a), kb = keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!equals((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], strict, seen)) return false;
  }
  return true;
}

/** Whether `actual` has (recursively) the properties of `expected`. */
function matchesObject(actual: unknown, expected: unknown): boolean {
  if (isAsymmetric(expected)) return expected.asymmetricMatch(actual);
  if (expected === null || typeof expected !== 'object' || actual === null || typeof actual !== 'object') return equals(actual, expected);
  if (Array.isArray(expected)) {
    return Array.isArray(actual) && actual.length === expected.length && expected.every((e, i) => matchesObject(actual[i], e));
  }
  return Object.keys(expected).every((k) => matchesObject((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k]));
}

function show(x: unknown, depth = 0): string {
  if (typeof x === 'string') return JSON.stringify(x.length > 200 ? `${x.slice(0, 200)}…` : x);
  if (typeof x === 'number') return Object.is(x, -0) ? '-0' : String(x);
  if (typeof x === 'bigint') return `${x}n`;
  if (typeof x === 'function') return `[Function ${x.name || 'anonymous'}]`;
  if (x === null || typeof x !== 'object') return String(x);
  if (isAsymmetric(x)) return x.toString();
  if (x instanceof Error) return `${x.name}(${JSON.stringify(x.message)})`;
  if (depth > 2) return Array.isArray(x) ? '[…]' : '{…}';
  if (Array.isArray(x) || ArrayBuffer.isView(x)) {
    const arr = Array.from(x as unknown as ArrayLike<unknown>);
    const body = arr.slice(0, 12).map((v) => show(v, depth + 1)).join(', ') + (arr.length > 12 ? `, … (${arr.length})` : '');
    return Array.isArray(x) ? `[${body}]` : `${x.constructor.name} [${body}]`;
  }
  const entries = Object.entries(x as Record<string, unknown>);
  return `{${entries.slice(0, 12).map(([k, v]) => `${k}: ${show(v, depth + 1)}`).join(', ')}${entries.length > 12 ? ', …' : ''}}`;
}

/** Whether an error matches toThrow's argument. */
function errorMatches(err: unknown, expected: unknown): boolean {
  if (expected === undefined) return true;
  const msg = err instanceof Error ? err.message : String(err);
  if (typeof expected === 'string') return msg.includes(expected);
  if (expected instanceof RegExp) return expected.test(msg);
  if (typeof expected === 'function') return err instanceof (expected as new () => unknown);
  if (isAsymmetric(expected)) return expected.asymmetricMatch(err);
  if (expected instanceof Error) return msg === expected.message;
  return matchesObject(err, expected);
}

type Matchers = Record<string, (...args: never[]) => unknown> & {
  not: Matchers;
  rejects: Matchers;
  resolves: Matchers;
};

class AssertionError extends Error {
  override name = 'AssertionError';
}

function makeMatchers(actual: unknown, negate: boolean, label: string | undefined, mode: 'sync' | 'rejects' | 'resolves'): Matchers {
  const fail = (what: string): never => {
    throw new AssertionError(`${label ? `${label}: ` : ''}expected ${show(actual)} ${negate ? 'not ' : ''}${what}`);
  };
  const check = (ok: boolean, what: string): void => {
    if (ok === negate) fail(what);
  };
  const num = (x: unknown) => x as number;
  const base: Record<string, (...args: never[]) => unknown> = {
    toBe: (e: unknown) => check(Object.is(actual, e), `to be ${show(e)}`),
    toEqual: (e: unknown) => check(equals(actual, e), `to equal ${show(e)}`),
    toStrictEqual: (e: unknown) => check(equals(actual, e, true), `to strictly equal ${show(e)}`),
    toMatchObject: (e: unknown) => check(matchesObject(actual, e), `to match object ${show(e)}`),
    toBeDefined: () => check(actual !== undefined, 'to be defined'),
    toBeUndefined: () => check(actual === undefined, 'to be undefined'),
    toBeNull: () => check(actual === null, 'to be null'),
    toBeNaN: () => check(Number.isNaN(actual), 'to be NaN'),
    toBeTruthy: () => check(Boolean(actual), 'to be truthy'),
    toBeFalsy: () => check(!actual, 'to be falsy'),
    toBeGreaterThan: (e: number) => check(num(actual) > e, `to be > ${e}`),
    toBeGreaterThanOrEqual: (e: number) => check(num(actual) >= e, `to be >= ${e}`),
    toBeLessThan: (e: number) => check(num(actual) < e, `to be < ${e}`),
    toBeLessThanOrEqual: (e: number) => check(num(actual) <= e, `to be <= ${e}`),
    toBeCloseTo: (e: number, digits = 2) => {
      const a = num(actual);
      const ok = (a === Infinity && e === Infinity) || (a === -Infinity && e === -Infinity) || Math.abs(e - a) < 10 ** -digits / 2;
      check(ok, `to be close to ${e} (${digits} digits)`);
    },
    toBeInstanceOf: (c: new (...a: never[]) => unknown) => check(actual instanceof c, `to be an instance of ${c.name}`),
    toContain: (e: unknown) => {
      const ok = typeof actual === 'string' ? actual.includes(String(e)) : Array.from(actual as ArrayLike<unknown>).includes(e);
      check(ok, `to contain ${show(e)}`);
    },
    toMatch: (e: string | RegExp) => check(typeof actual === 'string' && (typeof e === 'string' ? actual.includes(e) : e.test(actual)), `to match ${String(e)}`),
    toHaveLength: (n: number) => check((actual as { length?: number } | null)?.length === n, `to have length ${n}`),
    toHaveProperty: (k: string) => check(actual !== null && actual !== undefined && k in Object(actual), `to have property ${k}`),
    toThrow: (e?: unknown) => {
      if (mode === 'rejects') return check(errorMatches(actual, e), `to throw ${show(e)}`);
      if (typeof actual !== 'function') throw new AssertionError('toThrow needs a function');
      let threw = false, err: unknown;
      try {
        (actual as () => unknown)();
      } catch (x) {
        threw = true;
        err = x;
      }
      if (negate) {
        if (threw && errorMatches(err, e)) throw new AssertionError(`${label ? `${label}: ` : ''}expected no throw${e === undefined ? '' : ` matching ${show(e)}`}, got ${show(err)}`);
        return;
      }
      if (!threw) throw new AssertionError(`${label ? `${label}: ` : ''}expected the function to throw${e === undefined ? '' : ` ${show(e)}`}`);
      if (!errorMatches(err, e)) throw new AssertionError(`${label ? `${label}: ` : ''}expected the error to match ${show(e)}, got ${show(err)}`);
    },
  };
  base.toThrowError = base.toThrow!;
  return new Proxy(base, {
    get(target, prop: string) {
      if (prop === 'not') return makeMatchers(actual, !negate, label, mode);
      if (prop === 'then') return undefined;
      if (prop === 'rejects' || prop === 'resolves') {
        const p = Promise.resolve(actual);
        // Each matcher returns a promise that settles once the promise has.
        return new Proxy({}, {
          get(_t, m: string) {
            return (...args: never[]) => p.then(
              (v) => {
                if (prop === 'rejects') throw new AssertionError(`${label ? `${label}: ` : ''}expected the promise to reject, it resolved to ${show(v)}`);
                return (makeMatchers(v, negate, label, 'resolves') as Record<string, (...a: never[]) => unknown>)[m]!(...args);
              },
              (err: unknown) => {
                if (prop === 'resolves') throw new AssertionError(`${label ? `${label}: ` : ''}expected the promise to resolve, it rejected with ${show(err)}`);
                return (makeMatchers(err, negate, label, 'rejects') as Record<string, (...a: never[]) => unknown>)[m]!(...args);
              },
            );
          },
        });
      }
      const f = target[prop];
      if (f === undefined) {
        return () => {
          throw new AssertionError(`the browser test shim has no matcher ${prop}`);
        };
      }
      return f;
    },
  }) as Matchers;
}

type Expect = ((actual: unknown, label?: string) => Matchers) & {
  objectContaining: (o: Record<string, unknown>) => Asymmetric;
  arrayContaining: (a: unknown[]) => Asymmetric;
  stringContaining: (s: string) => Asymmetric;
  stringMatching: (r: string | RegExp) => Asymmetric;
  any: (c: unknown) => Asymmetric;
  anything: () => Asymmetric;
};

export const expect: Expect = Object.assign((actual: unknown, label?: string) => makeMatchers(actual, false, label, 'sync'), {
  objectContaining: (o: Record<string, unknown>): Asymmetric => ({
    asymmetricMatch: (a: unknown) => a !== null && typeof a === 'object' && Object.keys(o).every((k) => equals((a as Record<string, unknown>)[k], o[k])),
    toString: () => `ObjectContaining ${show(o)}`,
  }),
  arrayContaining: (arr: unknown[]): Asymmetric => ({
    asymmetricMatch: (a: unknown) => Array.isArray(a) && arr.every((e) => a.some((x) => equals(x, e))),
    toString: () => `ArrayContaining ${show(arr)}`,
  }),
  stringContaining: (s: string): Asymmetric => ({
    asymmetricMatch: (a: unknown) => typeof a === 'string' && a.includes(s),
    toString: () => `StringContaining ${JSON.stringify(s)}`,
  }),
  stringMatching: (r: string | RegExp): Asymmetric => ({
    asymmetricMatch: (a: unknown) => typeof a === 'string' && (typeof r === 'string' ? new RegExp(r) : r).test(a),
    toString: () => `StringMatching ${String(r)}`,
  }),
  any: (c: unknown): Asymmetric => ({
    asymmetricMatch: (a: unknown) => (c === Number ? typeof a === 'number' : c === String ? typeof a === 'string' : c === Boolean ? typeof a === 'boolean'
      : c === Function ? typeof a === 'function' : c === Object ? typeof a === 'object' && a !== null : a instanceof (c as new () => unknown)),
    toString: () => `Any<${(c as { name?: string }).name ?? '?'}>`,
  }),
  anything: (): Asymmetric => ({ asymmetricMatch: (a: unknown) => a !== null && a !== undefined, toString: () => 'Anything' }),
});

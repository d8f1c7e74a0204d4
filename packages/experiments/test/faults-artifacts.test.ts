/**
 * Fault injection for stored artifacts (docs/reliability.md, "Stored artifacts"): every
 * file a resume or a cache hit reads — ckpt.bin, stream.bin, metrics.jsonl, result.json,
 * config.json, dataset and params blobs — is damaged, or a write of it fails, at every
 * phase of a checkpoint. Each test asserts one of two outcomes: the run ends equal, byte
 * for byte, to the uninterrupted run (result.json, metrics.jsonl, stream.bin, final.ckpt),
 * or a StoreError names the run, the file and the fix — and after the fix
 * (`experiment verify --repair`, then the same command) the run equals the uninterrupted one.
 *
 * In process, with the memory store (and the filesystem store where files matter: temp
 * files, truncation, the `verify` command). Smoke preset, cpu backend.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as E from 'fp-ts/lib/Either.js';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync, truncateSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ExperimentError, SMOKE, checkRun, cliMain, encodeStreamSegments, ensureRun, fsStore, idOf, loadStream, memoryEnv, memoryStore, onlineOf, jobGraph, runJobsInOrder,
  readMetricRecords, removeOrphans, repairStore, replayOf, run, runOrThrow, scanStream, sequence, verifyStore, type Env, type MemoryStore, type RunStore,
  type TrainRunConfig,
} from '../src/index.js';

const ONLINE = onlineOf(SMOKE);
const REPLAY = replayOf(SMOKE, ONLINE, 1);
/** Files whose bytes must equal the uninterrupted run's. */
const COMPARED = ['result.json', 'metrics.jsonl', 'stream.bin', 'final.ckpt', 'params@4.ckpt', 'params@8.ckpt'];

let base: MemoryStore; // data, setup and baseline runs done
let straight: MemoryStore; // and the online run, uninterrupted
let onlineId: string;
let tmp: string;

/** A copy of a memory store (runs cloned file by file). */
async function clone(src: MemoryStore): Promise<MemoryStore> {
  const dst = memoryStore();
  for (const id of await src.listRuns()) await copyRun(src, dst, id);
  return dst;
}

async function copyRun(src: RunStore, dst: RunStore, id: string): Promise<void> {
  for (const f of await src.listFiles(id)) {
    const bytes = (await src.readBlob(id, f.name))!;
    if (f.name === 'config.json') await dst.writeConfig(id, JSON.parse(Buffer.from(bytes).toString()));
    else if (f.name === 'result.json') await dst.writeResult(id, JSON.parse(Buffer.from(bytes).toString()));
    else if (f.name === 'metrics.jsonl' || f.name === 'stream.bin') await dst.appendBlob(id, f.name, bytes);
    else await dst.writeBlob(id, f.name, bytes);
  }
}

/** A filesystem store under a fresh folder holding a copy of `src`. */
async function onDisk(src: MemoryStore): Promise<{ dir: string; store: RunStore }> {
  const dir = mkdtempSync(join(tmp, 'store-'));
  const store = fsStore(dir);
  for (const id of await src.listRuns()) await copyRun(src, store, id);
  return { dir, store };
}

const envOf = (store: RunStore): Env & { interruption: { requested: boolean } } => ({ ...memoryEnv(), store });

/** The run's files as bytes (those an uninterrupted run is compared on). */
async function filesOf(store: RunStore, id: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of COMPARED) {
    const b = await store.readBlob(id, name);
    if (b) out[name] = Buffer.from(b).toString('base64');
  }
  return out;
}

/** Asserts the online run in `store` equals the uninterrupted one, byte for byte. */
async function expectStraight(store: RunStore, id = onlineId): Promise<void> {
  const want = await filesOf(straight, id);
  expect(Object.keys(want)).toEqual(expect.arrayContaining(['result.json', 'metrics.jsonl', 'stream.bin', 'final.ckpt']));
  expect(await filesOf(store, id)).toEqual(want);
}

/** Runs `c` expecting a StoreError whose message matches every pattern (and names the remedy); returns the message. */
async function expectStoreError(env: Env, file: RegExp, c: TrainRunConfig = ONLINE): Promise<string> {
  const r = await run(ensureRun(c), env);
  expect(E.isLeft(r)).toBe(true);
  const e = (r as E.Left<ExperimentError>).left;
  expect(e.code, e.message).toBe('StoreError');
  expect(e.message).toMatch(file);
  expect(e.message).toMatch(/experiment verify --repair/);
  expect(e.message).toMatch(/run (train|data|setup|dataset)-[0-9a-f]{16}/);
  return e.message;
}

/** `experiment verify --repair` in process, then the same command again: must equal the uninterrupted run. */
async function repairAndRerun(env: Env, id = onlineId): Promise<void> {
  const before = await verifyStore(env);
  expect(before.damaged, JSON.stringify(before.runs.filter((r) => r.status === 'damaged'))).toBeGreaterThan(0);
  await repairStore(env, before);
  const after = await verifyStore(env);
  expect(after.damaged).toBe(0);
  await runOrThrow(ensureRun(ONLINE), env);
  await expectStraight(env.store, id);
}

/** Wraps a store method: `f` runs instead, with the original and a call counter per (method, file). */
function inject<K extends 'writeBlob' | 'appendBlob' | 'writeResult'>(store: RunStore, method: K, f: (orig: RunStore[K], n: number, ...a: Parameters<RunStore[K]>) => Promise<void>) {
  const orig = store[method].bind(store) as RunStore[K];
  const counts = new Map<string, number>();
  (store as unknown as Record<string, unknown>)[method] = async (...a: unknown[]) => {
    const key = String(a[1]);
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    return (f as (...x: unknown[]) => Promise<void>)(orig, n, ...a);
  };
  return () => ((store as unknown as Record<string, unknown>)[method] = orig);
}

/** An unfinished online run: stopped (as by Ctrl-C) right after its checkpoint at `step` (2, 4 or 6). */
async function stoppedAt(step: number): Promise<{ env: Env & { interruption: { requested: boolean } }; store: MemoryStore }> {
  const store = await clone(base);
  const env = envOf(store);
  const undo = inject(store, 'writeBlob', async (orig, n, id, name, data) => {
    await orig(id, name, data);
    if (id === onlineId && name === 'ckpt.bin' && n === step / 2) env.interruption.requested = true;
  });
  const r = await run(ensureRun(ONLINE), env);
  expect(E.isLeft(r) && r.left.code).toBe('Interrupted');
  undo();
  env.interruption.requested = false;
  return { env, store };
}

const blob = (s: MemoryStore, id: string, name: string) => s.runs.get(id)!.blobs.get(name)!;
const setBlob = (s: MemoryStore, id: string, name: string, b: Uint8Array) => s.runs.get(id)!.blobs.set(name, b);
const lines = (s: MemoryStore, id = onlineId) => Buffer.from(blob(s, id, 'metrics.jsonl')).toString().split(/(?<=\n)/);
const setLines = (s: MemoryStore, ls: string[], id = onlineId) => setBlob(s, id, 'metrics.jsonl', Buffer.from(ls.join('')));
/** Flips one bit of byte `at` (negative: from the end). */
const flip = (b: Uint8Array, at: number) => {
  const c = b.slice();
  const i = at < 0 ? c.length + at : at;
  c[i] = c[i]! ^ 0x04;
  return c;
};
/** A metric line torn: its first half, no line end. */
const tear = (line: string) => line.slice(0, Math.floor(line.length / 2));

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tandem-faults-'));
  base = memoryStore();
  await runOrThrow(runJobsInOrder({ jobs: jobGraph([ONLINE]).jobs.filter((j) => j.config !== ONLINE), deps: [] }), envOf(base));
  straight = await clone(base);
  const env = envOf(straight);
  onlineId = idOf(env, 'train', ONLINE);
  await runOrThrow(ensureRun(ONLINE), env);
  await runOrThrow(ensureRun(REPLAY), env);
}, 60_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the four reproduced bugs', () => {
  it('stream.bin of an unfinished online run deleted, then resumed: an error naming stream.bin, never a half-length stream', async () => {
    const { env, store } = await stoppedAt(4);
    store.runs.get(onlineId)!.blobs.delete('stream.bin');
    const msg = await expectStoreError(env, /stream\.bin is missing, but the checkpoint at step 4 covers 4 recorded batches/);
    expect(msg).toContain('--fresh');
    expect(store.runs.get(onlineId)!.result).toBeUndefined();
    await repairAndRerun(env);
  });

  it('last line of metrics.jsonl torn at a checkpoint, then resumed: the record is recomputed, the run equals the uninterrupted one', async () => {
    // The crash tears the evaluation record of step 4, appended after the checkpoint at step 4.
    const store = await clone(base);
    const env = envOf(store);
    const undo = inject(store, 'appendBlob', async (orig, n, id, name, data) => {
      if (id === onlineId && name === 'metrics.jsonl' && n === 2) {
        await orig(id, name, data.slice(0, 20));
        throw new Error('killed mid-append');
      }
      await orig(id, name, data);
    });
    expect(E.isLeft(await run(ensureRun(ONLINE), env))).toBe(true);
    undo();
    expect(lines(store).at(-1)).not.toMatch(/\n$/);
    const log = vi.fn();
    await runOrThrow(ensureRun(ONLINE), { ...env, log });
    expect(log.mock.calls.flat().join('\n')).toMatch(/metrics\.jsonl: cut 20 bytes written after the checkpoint at step 4/);
    await expectStraight(store);
  });

  it('a middle line of metrics.jsonl torn in an unfinished run: an error naming the line; the file is not rewritten', async () => {
    const { env, store } = await stoppedAt(6);
    const ls = lines(store);
    expect(ls.length).toBe(2); // steps 0 and 4
    setLines(store, [tear(ls[0]!), ls[1]!]);
    const damaged = blob(store, onlineId, 'metrics.jsonl').slice();
    await expectStoreError(env, /metrics\.jsonl.* line 1 is torn/);
    expect(blob(store, onlineId, 'metrics.jsonl')).toEqual(damaged); // no valid record dropped
    await repairAndRerun(env);
  });

  it('a middle line of metrics.jsonl torn in a finished run: no cache hit, readers name the line', async () => {
    const store = await clone(straight);
    const env = envOf(store);
    const ls = lines(store);
    setLines(store, [ls[0]!, tear(ls[1]!) + '\n', ls[2]!]);
    await expectStoreError(env, /metrics\.jsonl is \d+ bytes, but result\.json records \d+ \(truncated\)/);
    await expect(readMetricRecords(env, onlineId)).rejects.toThrow(/metrics\.jsonl line 2 is torn: not valid JSON/);
    await repairAndRerun(env);
  });
});

describe('a crash at every phase of a checkpoint (steps 2, 4, 6, 8; the one at step 4 fails)', () => {
  type Phase = { name: string; method: 'writeBlob' | 'appendBlob' | 'writeResult'; file: string; n: number; partial?: number; after?: boolean };
  const phases: Phase[] = [
    { name: 'before the stream append (disk full)', method: 'appendBlob', file: 'stream.bin', n: 2 },
    { name: 'mid stream append (torn segment)', method: 'appendBlob', file: 'stream.bin', n: 2, partial: 30 },
    { name: 'after the stream append, before ckpt.bin is written', method: 'writeBlob', file: 'ckpt.bin', n: 2 },
    { name: 'after ckpt.bin is renamed, before the metrics append', method: 'appendBlob', file: 'metrics.jsonl', n: 2 },
    { name: 'after the metrics append', method: 'appendBlob', file: 'metrics.jsonl', n: 2, after: true },
    { name: 'writing a kept params file', method: 'writeBlob', file: 'params@4.ckpt', n: 1 },
    { name: 'writing final.ckpt', method: 'writeBlob', file: 'final.ckpt', n: 1 },
    { name: 'writing result.json', method: 'writeResult', file: '', n: 1 },
  ];
  for (const p of phases) {
    it(`${p.name}: resumed, equals the uninterrupted run`, async () => {
      const store = await clone(base);
      const env = envOf(store);
      const undo = inject(store, p.method, async (orig, n, ...a) => {
        const [id, name, data] = a as [string, string, Uint8Array];
        const hit = id === onlineId && (p.method === 'writeResult' || name === p.file) && n === p.n;
        if (hit && p.partial) await (orig as RunStore['appendBlob'])(id, name, data.slice(0, p.partial));
        if (!hit || p.after) await (orig as (...x: unknown[]) => Promise<void>)(...a);
        if (hit) throw Object.assign(new Error(`ENOSPC: no space left on device, write '${name}'`), { code: 'ENOSPC' });
      });
      const r = await run(ensureRun(ONLINE), env);
      expect(E.isLeft(r) && r.left.message).toMatch(/ENOSPC/);
      undo();
      expect(store.runs.get(onlineId)!.result).toBeUndefined();
      await runOrThrow(ensureRun(ONLINE), env);
      await expectStraight(store);
    });
  }

  it('a Ctrl-C at each checkpoint, resumed each time: equals the uninterrupted run', async () => {
    const store = await clone(base);
    const env = envOf(store);
    const undo = inject(store, 'writeBlob', async (orig, n, id, name, data) => {
      await orig(id, name, data);
      if (id === onlineId && name === 'ckpt.bin') env.interruption.requested = true;
    });
    for (let i = 0; i < 4; i++) {
      const r = await run(ensureRun(ONLINE), env);
      expect(E.isLeft(r) && r.left.code).toBe('Interrupted');
      env.interruption.requested = false;
    }
    undo();
    await runOrThrow(ensureRun(ONLINE), env);
    await expectStraight(store);
  });
});

describe('damaged files of every kind', () => {
  it('ckpt.bin truncated or bit-flipped: an error naming ckpt.bin; repaired, the run is recomputed', async () => {
    for (const damage of [(b: Uint8Array) => b.slice(0, b.length - 100), (b: Uint8Array) => flip(b, -50)]) {
      const { env, store } = await stoppedAt(4);
      setBlob(store, onlineId, 'ckpt.bin', damage(blob(store, onlineId, 'ckpt.bin')));
      await expectStoreError(env, /ckpt\.bin is damaged/);
      await repairAndRerun(env);
    }
  });

  it('stream.bin truncated inside the checkpoint\'s part, or bit-flipped: an error naming stream.bin and the segment', async () => {
    const cases: [(b: Uint8Array) => Uint8Array, RegExp][] = [
      [(b) => b.slice(0, b.length - 10), /stream\.bin does not hold the 4 batches .* segment 3 at byte \d+: torn/],
      [(b) => flip(b, 100), /stream\.bin does not hold the 4 batches .* segment 0 at byte 16: checksum mismatch/],
    ];
    for (const [damage, msg] of cases) {
      const { env, store } = await stoppedAt(4);
      setBlob(store, onlineId, 'stream.bin', damage(blob(store, onlineId, 'stream.bin')));
      await expectStoreError(env, msg);
      await repairAndRerun(env);
    }
  });

  it('stream.bin with an uncheckpointed tail (segments after the checkpoint\'s bytes): cut on resume', async () => {
    const { env, store } = await stoppedAt(4);
    const s = blob(store, onlineId, 'stream.bin');
    setBlob(store, onlineId, 'stream.bin', Buffer.concat([s, s.subarray(16, 60)]));
    await runOrThrow(ensureRun(ONLINE), env);
    await expectStraight(store);
  });

  it('stream.bin of a finished online run bit-flipped or truncated: the cache hit and the replay of it refuse it', async () => {
    const store = await clone(straight);
    const env = envOf(store);
    setBlob(store, onlineId, 'stream.bin', flip(blob(store, onlineId, 'stream.bin'), -3));
    await expectStoreError(env, /stream\.bin has SHA-256 .* but result\.json records/);
    await expectStoreError(env, /stream\.bin has SHA-256/, REPLAY);
    setBlob(store, onlineId, 'stream.bin', blob(straight, onlineId, 'stream.bin').slice(0, 500));
    await expect(loadStream(env, onlineId, 8, 4)).rejects.toThrow(/stream\.bin is damaged: segment \d+ at byte \d+: torn/);
    await repairAndRerun(env);
  });

  it('metrics.jsonl: a digit changed before the checkpoint (still valid JSON) is caught by the checkpoint\'s hash', async () => {
    const { env, store } = await stoppedAt(6);
    const ls = lines(store);
    setLines(store, [ls[0]!.replace(/"value":(\d)/, (_, d) => `"value":${(Number(d) + 1) % 10}`), ls[1]!]);
    await expectStoreError(env, /metrics\.jsonl holds records before the checkpoint at step 6 other than those it recorded/);
    await repairAndRerun(env);
  });

  it('metrics.jsonl cut short of the checkpoint, or deleted: an error, never a shorter list', async () => {
    for (const keep of [1, 0]) {
      const { env, store } = await stoppedAt(6);
      setLines(store, lines(store).slice(0, keep));
      await expectStoreError(env, /metrics\.jsonl is \d+ bytes, shorter than the \d+ bytes \(2 records\) the checkpoint at step 6 covers/);
      await repairAndRerun(env);
    }
  });

  it('metrics.jsonl of a finished run: a changed digit, or a record from another run, disagrees with result.json', async () => {
    const store = await clone(straight);
    const env = envOf(store);
    const ls = lines(store);
    setLines(store, [ls[0]!, ls[1]!.replace(/"step":4/, '"step":5'), ls[2]!]);
    await expectStoreError(env, /metrics\.jsonl has SHA-256 .* but result\.json records/);
    await repairAndRerun(env);
  });

  it('result.json edited (a value changed, still valid JSON) or its recorded hashes changed: refused by its own checksum', async () => {
    const store = await clone(straight);
    const env = envOf(store);
    const r = store.runs.get(onlineId)!;
    const good = structuredClone(r.result) as { result: { paramsHash: string }; files: Record<string, { sha256: string }> };
    r.result = { ...good, result: { ...good.result, paramsHash: good.result.paramsHash.replace(/^./, (c) => (c === '0' ? '1' : '0')) } };
    await expectStoreError(env, /result\.json does not match its own checksum/);
    r.result = { ...good, files: { ...good.files, 'final.ckpt': { ...good.files['final.ckpt']!, sha256: '0'.repeat(64) } } };
    await expectStoreError(env, /result\.json does not match its own checksum/);
    await repairAndRerun(env);
  });

  it('final.ckpt bit-flipped in a finished run: no cache hit; repaired, the run resumes from its last checkpoint', async () => {
    const store = await clone(straight);
    const env = envOf(store);
    setBlob(store, onlineId, 'final.ckpt', flip(blob(store, onlineId, 'final.ckpt'), -7));
    await expectStoreError(env, /final\.ckpt has SHA-256/);
    const check = await verifyStore(env);
    await repairStore(env, check);
    expect(store.runs.get(onlineId)!.blobs.has('ckpt.bin')).toBe(true); // kept: everything it relies on checks out
    const log = vi.fn();
    await runOrThrow(ensureRun(ONLINE), { ...env, log });
    expect(log.mock.calls.flat().join('\n')).toMatch(/resuming .* from step 8/);
    await expectStraight(store);
  });

  it('a kept params file (params@4.ckpt) damaged in an unfinished run past step 4: an error naming it', async () => {
    const { env, store } = await stoppedAt(6);
    setBlob(store, onlineId, 'params@4.ckpt', flip(blob(store, onlineId, 'params@4.ckpt'), -9));
    await expectStoreError(env, /params@4\.ckpt is damaged: .*checksum mismatch.*kept at step 4, before the checkpoint at step 6/);
    await repairAndRerun(env);
  });

  it('dataset blobs (d_golden.bin of the data run) truncated or bit-flipped: the data run\'s cache hit refuses them', async () => {
    const store = await clone(straight);
    const env = envOf(store);
    const dataId = idOf(env, 'data', ONLINE.setup.data);
    const good = blob(store, dataId, 'd_golden.bin');
    setBlob(store, dataId, 'd_golden.bin', good.slice(0, good.length - 5));
    await expectStoreError(env, /data-[0-9a-f]{16}: memory:data-[0-9a-f]{16}\/d_golden\.bin is \d+ bytes, but result\.json records \d+ \(truncated\)/);
    setBlob(store, dataId, 'd_golden.bin', flip(good, 40));
    await expectStoreError(env, /d_golden\.bin has SHA-256/);
    await repairAndRerun(env);
    expect(blob(store, dataId, 'd_golden.bin')).toEqual(good);
  });

  it('config.json bit-flipped: verify names it (it no longer hashes to the run id); the cached result is still the right one', async () => {
    const store = await clone(straight);
    const env = envOf(store);
    const r = store.runs.get(onlineId)!;
    (r.config as { config: { seed: number } }).config.seed = 5;
    const check = await checkRun(env, onlineId);
    expect(check.status).toBe('damaged');
    expect(check.problems[0]!.file).toBe('config.json');
    expect(check.problems[0]!.why).toMatch(/does not hash to the run id/);
    await runOrThrow(ensureRun(ONLINE), env); // the run's files are intact: its result is served
    await expectStraight(store);
    await repairAndRerun(env);
    expect((r.config as { config: { seed: number } }).config.seed).toBe(ONLINE.seed);
  });
});

describe('the filesystem store and `experiment verify`', () => {
  /** `experiment verify` in process: its exit code and what it printed. */
  async function verifyCli(dir: string, ...extra: string[]): Promise<{ code: number; out: string }> {
    const chunks: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => (chunks.push(String(s)), true));
    try {
      const code = await cliMain(['verify', '--out', dir, ...extra]);
      return { code, out: chunks.join('') };
    } finally {
      spy.mockRestore();
    }
  }

  it('verify on a clean store exits 0 and lists every run as ok', async () => {
    const { dir } = await onDisk(straight);
    const r = await verifyCli(dir);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^run +kind +status +problem/);
    expect(r.out).toMatch(/(\d+) runs: \1 ok, 0 unfinished, 0 damaged, 0 running, 0 made by other code; 0 orphan temp files/);
  });

  it('verify on each kind of damage exits 1 naming the file; --repair, then the same command, equals the clean result', async () => {
    const damages: [string, (dir: string) => void, RegExp][] = [
      ['metrics.jsonl torn', (d) => writeFileSync(join(d, onlineId, 'metrics.jsonl'), tear(readFileSync(join(d, onlineId, 'metrics.jsonl'), 'utf8'))), /metrics\.jsonl is \d+ bytes, but result\.json records/],
      ['stream.bin deleted', (d) => rmSync(join(d, onlineId, 'stream.bin')), /stream\.bin is missing/],
      ['ckpt.bin truncated (unfinished run)', (d) => {
        rmSync(join(d, onlineId, 'result.json'));
        truncateSync(join(d, onlineId, 'ckpt.bin'), 1000);
      }, /ckpt\.bin is damaged/],
      ['result.json truncated', (d) => truncateSync(join(d, onlineId, 'result.json'), 200), /result\.json is not valid JSON/],
      ['final.ckpt bit-flipped', (d) => writeFileSync(join(d, onlineId, 'final.ckpt'), flip(readFileSync(join(d, onlineId, 'final.ckpt')), -3)), /final\.ckpt has SHA-256/],
    ];
    for (const [what, damage, named] of damages) {
      const { dir, store } = await onDisk(straight);
      damage(dir);
      const r = await verifyCli(dir);
      expect(r.code, `${what}\n${r.out}`).toBe(1);
      expect(r.out, what).toMatch(named);
      expect(r.out).toMatch(new RegExp(`${onlineId} +train +damaged`));
      const fixed = await verifyCli(dir, '--repair');
      expect(fixed.code, `${what}\n${fixed.out}`).toBe(0);
      expect(fixed.out).toMatch(/repair: .* marked unfinished/);
      await runOrThrow(ensureRun(ONLINE), envOf(store));
      await expectStraight(store);
      expect((await verifyCli(dir)).code).toBe(0);
    }
  });

  it('a full disk at the checkpoint write: the failed write leaves no temp file and the resumed run equals the uninterrupted one', async () => {
    const { dir, store } = await onDisk(base);
    rmSync(join(dir, onlineId), { recursive: true, force: true });
    const undo = inject(store, 'writeBlob', async (orig, n, id, name, data) => {
      if (id === onlineId && name === 'ckpt.bin' && n === 2) throw Object.assign(new Error(`ENOSPC: no space left on device, write '${name}'`), { code: 'ENOSPC' });
      return orig(id, name, data);
    });
    const r = await run(ensureRun(ONLINE), envOf(store));
    expect(E.isLeft(r)).toBe(true);
    undo();
    expect(readdirSync(join(dir, onlineId)).filter((n) => n.includes('.tmp-'))).toEqual([]);
    await runOrThrow(ensureRun(ONLINE), envOf(store));
    await expectStraight(store);
  });

  it('killed after the temp file is written, before the rename: the orphan is reported, removed on start, and the run resumes', async () => {
    const { dir, store } = await onDisk(base);
    const DEAD = 4_194_305; // above Linux's pid_max: no such process
    let orphan = '';
    const undo = inject(store, 'writeBlob', async (orig, n, id, name, data) => {
      if (id === onlineId && name === 'ckpt.bin' && n === 2) {
        orphan = join(dir, id, `ckpt.bin.tmp-${DEAD}-0123456789ab`);
        writeFileSync(orphan, data); // written and fsynced, never renamed: the process died here
        throw new Error('killed before rename');
      }
      return orig(id, name, data);
    });
    expect(E.isLeft(await run(ensureRun(ONLINE), envOf(store)))).toBe(true);
    undo();
    // A temp file of a live process (this one) is not an orphan.
    const live = join(dir, onlineId, `metrics.jsonl.tmp-${process.pid}-00aa11bb22cc`);
    writeFileSync(live, 'x');
    const r = await verifyCli(dir);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/orphan temp file ckpt\.bin\.tmp-4194305-0123456789ab/);
    expect(r.out).not.toMatch(/orphan temp file metrics/);
    expect(await removeOrphans({ store })).toEqual([`${onlineId}/ckpt.bin.tmp-${DEAD}-0123456789ab`]);
    expect(existsSync(orphan)).toBe(false);
    rmSync(live);
    await runOrThrow(ensureRun(ONLINE), envOf(store));
    await expectStraight(store);
    // An old temp file is an orphan whatever its pid.
    const old = join(dir, onlineId, `final.ckpt.tmp-${process.pid}-ffffffffffff`);
    writeFileSync(old, 'x');
    utimesSync(old, new Date(Date.now() - 2 * 3_600_000), new Date(Date.now() - 2 * 3_600_000));
    expect((await verifyCli(dir, '--repair')).code).toBe(0);
    expect(existsSync(old)).toBe(false);
  });

  it('a torn stream tail on disk is truncated on resume (no quadratic rewrite: each checkpoint appends only its batches)', async () => {
    const { dir, store } = await onDisk(base);
    const appends: number[] = [];
    const undo = inject(store, 'appendBlob', async (orig, n, id, name, data) => {
      if (id === onlineId && name === 'stream.bin') appends.push(data.length);
      if (id === onlineId && name === 'stream.bin' && n === 3) {
        await orig(id, name, data.slice(0, 7));
        throw new Error('killed mid-append');
      }
      return orig(id, name, data);
    });
    expect(E.isLeft(await run(ensureRun(ONLINE), envOf(store)))).toBe(true);
    undo();
    // Each checkpoint appends its own two batches, never the whole stream again.
    const whole = blob(straight, onlineId, 'stream.bin').length;
    for (const a of appends) expect(a).toBeLessThan(0.3 * whole);
    await runOrThrow(ensureRun(ONLINE), envOf(store));
    await expectStraight(store);
    expect(scanStream(readFileSync(join(dir, onlineId, 'stream.bin'))).batches.length).toBe(8);
  });
});

describe('the stream format', () => {
  it('segments are per batch, so the bytes do not depend on when checkpoints happened', async () => {
    const bytes = blob(straight, onlineId, 'stream.bin');
    const scan = scanStream(bytes, { batchSize: SMOKE.train.batchSize });
    expect(scan.problem).toBeUndefined();
    expect(scan.batches.length).toBe(SMOKE.train.steps);
    const again = Buffer.concat([encodeStreamSegments(scan.batches.slice(0, 3), 0, true), encodeStreamSegments(scan.batches.slice(3), 3, false)]);
    expect(Buffer.from(bytes).equals(again)).toBe(true);
    // Two segments swapped: each checksum holds, the order does not.
    const a = encodeStreamSegments(scan.batches.slice(1, 2), 1, false);
    const b = encodeStreamSegments(scan.batches.slice(0, 1), 0, false);
    expect(scanStream(Buffer.concat([Buffer.from('TANDEM-STREAM/1\n'), a, b])).problem).toMatch(/segment 0 at byte 16: holds batch 1, expected batch 0/);
  });
});

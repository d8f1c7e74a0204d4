/**
 * The browser example: trains a small encoder–decoder transformer on the copy task
 * (packages/nn/test/copy-task.test.ts) with the tandem packages bundled for the browser,
 * draws the loss curve live and shows greedy samples. WebGPU when navigator.gpu has an
 * adapter, else the cpu backend (the page says which, and why).
 *
 * Query parameters: `steps` (default 300), `backend` (`webgpu` | `cpu`, default webgpu
 * with fallback). The page publishes its state as `window.__example` for the browser
 * test (browser-tests/run.ts), which checks that the loss falls.
 */
import * as T from '@tandem/tensor';
import { valueAndGrad } from '@tandem/autodiff';
import { adam, applyUpdates, crossEntropyLoss, generate, initTransformer, transformerConfig, type TransformerParams } from '@tandem/nn';

interface ExampleState {
  backend: string;
  adapter: string;
  fallback: string | undefined;
  step: number;
  steps: number;
  losses: number[];
  samples: { input: string; output: string; correct: boolean }[];
  msPerStep: number;
  done: boolean;
  error: string | undefined;
}

const params = new URLSearchParams(location.search);
const STEPS = Math.max(1, Number(params.get('steps') ?? 300) || 300);
const WANT = params.get('backend') === 'cpu' ? 'cpu' : 'webgpu';

const state: ExampleState = { backend: '', adapter: '', fallback: undefined, step: 0, steps: STEPS, losses: [], samples: [], msPerStep: 0, done: false, error: undefined };
(window as unknown as { __example: ExampleState }).__example = state;

const $ = <E extends HTMLElement>(id: string) => document.getElementById(id) as E;
const statusEl = $('status');
const progressEl = $('progress');
const canvas = $<HTMLCanvasElement>('curve');
const tbody = $('samples').querySelector('tbody')!;

// The task: sequences of 6 tokens from 4..11 (shown as the letters a..h); the target is the input.
const LEN = 6;
const cfg = transformerConfig({ vocab: 12, dModel: 32, heads: 2, dFf: 64, encLayers: 1, decLayers: 1, maxSrc: LEN, maxTgt: LEN });
const letters = (row: number[]) => row.map((t) => (t >= 4 && t < 12 ? String.fromCharCode(97 + t - 4) : '·')).join('');
const batch = (k: T.Key, b: number) => T.tidy(() => T.add(T.cast(T.mul(T.uniform(k, [b, LEN]), 8 - 1e-3), 'int32'), 4));

async function chooseBackend(): Promise<void> {
  if (WANT === 'webgpu') {
    try {
      await T.useBackend('webgpu');
      const info = T.webgpuAdapterInfo()!;
      state.backend = 'webgpu';
      state.adapter = info.description + (info.isSoftware ? ' (a software adapter: the GPU is emulated on the CPU)' : '');
      statusEl.textContent = `Training on WebGPU: ${state.adapter}.`;
      return;
    } catch (e) {
      state.fallback = (e as Error).message;
    }
  }
  await T.useBackend('cpu');
  state.backend = 'cpu';
  state.adapter = 'WebAssembly SIMD';
  if (state.fallback) {
    statusEl.className = 'fallback';
    statusEl.textContent = `No WebGPU here, so training on the cpu backend (WebAssembly) instead. Why: ${state.fallback}`;
  } else statusEl.textContent = 'Training on the cpu backend (WebAssembly), as asked (?backend=cpu).';
}

function draw(): void {
  const ctx = canvas.getContext('2d')!;
  const w = canvas.width, h = canvas.height, pad = { l: 90, r: 60, t: 30, b: 70 };
  ctx.clearRect(0, 0, w, h);
  ctx.font = '26px system-ui, sans-serif';
  ctx.fillStyle = '#444';
  ctx.strokeStyle = '#bbb';
  ctx.lineWidth = 2;
  const ls = state.losses;
  const yMax = Math.max(2.6, ...ls.slice(0, 5));
  const x = (i: number) => pad.l + ((w - pad.l - pad.r) * i) / STEPS;
  const y = (v: number) => pad.t + (h - pad.t - pad.b) * (1 - Math.min(v, yMax) / yMax);
  ctx.beginPath();
  ctx.moveTo(pad.l, pad.t);
  ctx.lineTo(pad.l, h - pad.b);
  ctx.lineTo(w - pad.r, h - pad.b);
  ctx.stroke();
  for (let v = 0; v <= yMax + 1e-9; v += 0.5) {
    ctx.fillText(v.toFixed(1), 20, y(v) + 8);
    ctx.strokeStyle = '#eee';
    ctx.beginPath();
    ctx.moveTo(pad.l + 1, y(v));
    ctx.lineTo(w - pad.r, y(v));
    ctx.stroke();
  }
  for (let s = 0; s <= STEPS; s += Math.max(1, Math.round(STEPS / 6 / 10) * 10)) ctx.fillText(String(s), x(s) - 8 * String(s).length, h - pad.b + 35);
  ctx.fillText('step', w / 2, h - 10);
  ctx.strokeStyle = '#1f6feb';
  ctx.lineWidth = 4;
  ctx.beginPath();
  ls.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i), y(v)) : ctx.lineTo(x(i), y(v))));
  ctx.stroke();
  if (ls.length > 0) {
    ctx.fillStyle = '#1f6feb';
    ctx.fillText(`loss ${ls[ls.length - 1]!.toFixed(4)}`, w - pad.r - 220, pad.t + 30);
  }
}

async function showSamples(p: TransformerParams): Promise<void> {
  const src = batch(T.key(999), 8);
  const out = generate(p, cfg, src, { maxLen: LEN, greedy: true });
  // toArray, not toArraySync: a GPU tensor is read asynchronously.
  const want = (await src.toArray()) as number[][];
  const got = (await out.tokens.toArray()) as number[][];
  T.dispose([src, out.tokens, out.mask]);
  state.samples = want.map((row, i) => ({ input: letters(row), output: letters(got[i]!), correct: row.every((v, j) => v === got[i]![j]) }));
  tbody.innerHTML = '';
  for (const s of state.samples) {
    const tr = document.createElement('tr');
    tr.innerHTML = `<td>${s.input}</td><td>${s.output}</td><td class="${s.correct ? 'ok' : 'bad'}">${s.correct ? '✓ copied' : '✗'}</td>`;
    tbody.append(tr);
  }
}

let run = 0;
async function train(): Promise<void> {
  const me = ++run;
  state.step = 0;
  state.losses = [];
  state.done = false;
  let p = initTransformer(T.key(0), cfg);
  const opt = adam({ lr: 3e-3 });
  let s = opt.init(p);
  const t0 = performance.now();
  for (let step = 0; step < STEPS && me === run; step++) {
    const x = batch(T.foldIn(T.key(1), step), 32);
    const [l, np, ns] = T.tidy(() => {
      const [v, g] = valueAndGrad((q: TransformerParams) => crossEntropyLoss(q, cfg, x, x))(p);
      const [u, s2] = opt.update(g, s, p);
      return [v, applyUpdates(p, u), s2] as const;
    });
    const loss = (await l.data())[0]!;
    T.dispose([p, s, l, x]);
    p = np;
    s = ns;
    state.losses.push(loss);
    state.step = step + 1;
    state.msPerStep = (performance.now() - t0) / (step + 1);
    progressEl.textContent = `step ${step + 1} / ${STEPS} · ${state.msPerStep.toFixed(0)} ms per step`;
    draw();
    if (step % 50 === 49) await showSamples(p);
    // Let the page paint.
    await new Promise((r) => setTimeout(r, 0));
  }
  if (me !== run) {
    T.dispose([p, s]);
    return;
  }
  await showSamples(p);
  T.dispose([p, s]);
  state.done = true;
  progressEl.textContent += ' · done';
}

$('restart').addEventListener('click', () => void train());

try {
  await chooseBackend();
  await train();
} catch (e) {
  state.error = (e as Error).stack ?? String(e);
  statusEl.className = 'error';
  statusEl.textContent = `Error: ${(e as Error).message}`;
  throw e;
}

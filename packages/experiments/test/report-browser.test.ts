/**
 * The HTML report in a real browser: a smoke-preset study is run through the CLI
 * (`--backend cpu`, into a temp --out), its index.html opened from disk in headless
 * Chromium (playwright-core driving the system browser, no download), and checked: no
 * console errors or page errors, no network request (the vega runtime is inlined), every
 * figure is an interactive vega view with a non-empty SVG, tooltips and legend toggles
 * work, and the findings table says exactly what findings.json says. A screenshot is
 * saved to runs/screenshots/report.png (runs/ is git-ignored).
 *
 * Without Chromium the tests are skipped with a loud message; under
 * TANDEM_REQUIRE_BROWSER=1 a missing browser fails instead. TANDEM_CHROMIUM names
 * the executable (default: /usr/bin/chromium, Debian's package, as scripts/setup.sh installs it).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { Finding } from '../src/figures/common.js';
import { verdict } from '../src/report.js';

/** What the report's viewer script leaves on `window` (see VIEWER in report.ts). */
interface TandemReport {
  done: boolean;
  errors: string[];
  views: Record<string, { data(name: string): { values: unknown[] }[] }>;
}
/** The few browser globals the page functions below use (this project compiles without the DOM lib). */
interface PageElement {
  getAttribute(name: string): string | null;
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>;
  getBoundingClientRect(): { width: number; height: number };
  readonly textContent: string | null;
  readonly classList: { contains(c: string): boolean };
}
declare const window: { tandemReport?: TandemReport };
declare const document: { querySelectorAll(selector: string): ArrayLike<PageElement> & Iterable<PageElement>; getElementById(id: string): PageElement | null };

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = join(ROOT, 'packages/experiments/src/cli.ts');

/** The Chromium executable, or why there is none. */
function findChromium(): { path?: string; why?: string } {
  const candidates = process.env.TANDEM_CHROMIUM ? [process.env.TANDEM_CHROMIUM] : ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  const path = candidates.find((p) => existsSync(p));
  return path ? { path } : { why: `no Chromium at ${candidates.join(', ')} (install it with scripts/setup.sh or \`apt-get install chromium\`, or set TANDEM_CHROMIUM)` };
}

const chromium = findChromium();
if (!chromium.path && process.env.TANDEM_REQUIRE_BROWSER === '1') throw new Error(`TANDEM_REQUIRE_BROWSER=1 but ${chromium.why}`);
if (!chromium.path) console.warn(`\n*** report browser tests SKIPPED: ${chromium.why} ***\n`);

/** Runs the experiments CLI; returns its exit status and output. */
function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--conditions=tandem-source', '--import', 'tsx', CLI, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TANDEM_BACKEND: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(!chromium.path)('the HTML report in Chromium', () => {
  let out: string;
  let dir: string;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const requests: string[] = [];
  let generation: ReturnType<typeof cli>;

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'tandem-report-'));
    generation = cli(['study', '--preset', 'smoke', '--backend', 'cpu', '--out', out]);
    if (generation.status !== 0) throw new Error(`experiment study failed (${generation.status}):\n${generation.stderr}`);
    const report = readdirSync(out).find((d) => d.startsWith('report-study-'));
    if (!report) throw new Error(`no report folder in ${out}`);
    dir = join(out, report);
    const { chromium: driver } = await import('playwright-core');
    browser = await driver.launch({ executablePath: chromium.path, headless: false, args: ['--headless=new', '--no-sandbox', '--disable-gpu'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
    // The report must work offline: anything but the file itself is refused and recorded.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:')) return route.continue();
      requests.push(url);
      return route.abort();
    });
    await page.goto(pathToFileURL(join(dir, 'index.html')).href);
    await page.waitForFunction(() => window.tandemReport?.done === true, undefined, { timeout: 60_000 });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('generating the report with --backend cpu prints no Dawn or Vulkan warning', () => {
    expect(generation.stderr).not.toMatch(/Warning:|Vulkan|Dawn|dawn/);
  });

  it('loads without console errors, page errors or network requests', () => {
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([]);
  });

  it('draws every figure as an interactive vega view with a non-empty SVG', async () => {
    const figures = JSON.parse(readFileSync(join(dir, 'figures.json'), 'utf8')) as { name: string; charts: { name: string }[] }[];
    const expected = figures.flatMap((f) => f.charts.map((c) => c.name));
    expect(expected.length).toBeGreaterThanOrEqual(figures.length);
    const charts = await page.evaluate(() => {
      const R = window.tandemReport!;
      return {
        errors: R.errors,
        views: Object.keys(R.views),
        charts: [...document.querySelectorAll('.chart[data-chart]')].map((el) => {
          const svg = el.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          return {
            name: el.getAttribute('data-chart'),
            rendered: el.getAttribute('data-rendered'),
            marks: el.querySelectorAll('svg.marks path, svg.marks rect, svg.marks line, svg.marks text').length,
            width: box?.width ?? 0,
            height: box?.height ?? 0,
          };
        }),
      };
    });
    expect(charts.errors).toEqual([]);
    expect(charts.charts.map((c) => c.name)).toEqual(expected);
    expect(charts.views.sort()).toEqual([...expected].sort());
    for (const c of charts.charts) {
      expect(c.rendered, c.name!).toBe('vega');
      expect(c.marks, c.name!).toBeGreaterThan(10);
      expect(c.width, c.name!).toBeGreaterThan(100);
      expect(c.height, c.name!).toBeGreaterThan(100);
    }
  });

  it('shows a tooltip with run, step, KL, win rate and standard error on a Fig. 1 point', async () => {
    const point = page.locator('[data-chart="fig1-kl-winrate"] svg.marks path[aria-roledescription="point"]').first();
    await point.scrollIntoViewIfNeeded();
    const box = (await point.boundingBox())!;
    await page.mouse.move(box.x - 30, box.y - 30);
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2, { steps: 5 });
    // vega-tooltip fills #vg-tooltip-element and adds the class 'visible' on hover.
    const text = await page.waitForFunction(() => {
      const el = document.getElementById('vg-tooltip-element');
      return el?.classList.contains('visible') ? el.textContent : undefined;
    }, undefined, { timeout: 10_000 }).then((h) => h.jsonValue() as Promise<string>);
    for (const word of ['run', 'step', 'KL', 'win rate', 'standard error']) expect(text).toContain(word);
  });

  it('a click on a legend entry picks that series (the others fade)', async () => {
    const entry = page.locator('[data-chart="fig4-curves"] svg.marks g.role-legend-symbol path').first();
    await entry.scrollIntoViewIfNeeded();
    await entry.click({ force: true });
    // The selection store holds the picked series (a tuple per facet panel).
    const picked = await page.evaluate(() => {
      const view = window.tandemReport!.views['fig4-curves']!;
      return [...new Set(view.data('pick_store').map((t) => String(t.values[0])))];
    });
    expect(picked).toEqual(['online']);
  });

  it('the findings table matches findings.json', async () => {
    const findings = JSON.parse(readFileSync(join(dir, 'findings.json'), 'utf8')) as (Finding & { figure: string })[];
    const rows = await page.$$eval('#findings tr', (trs) => trs.slice(1).map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows).toEqual(findings.map((f) => [f.figure, f.claim, verdict(f), f.detail]));
    expect(rows.length).toBeGreaterThan(0);
  });


  it('saves a screenshot of the report under runs/screenshots/', async () => {
    // A page of its own: untouched by the interactions above (and a full-page screenshot
    // resizes the viewport, which would disturb hover tests that came after it).
    const shotPage = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await shotPage.goto(pathToFileURL(join(dir, 'index.html')).href);
    await shotPage.waitForFunction(() => window.tandemReport?.done === true, undefined, { timeout: 60_000 });
    const shots = join(ROOT, 'runs', 'screenshots');
    mkdirSync(shots, { recursive: true });
    await shotPage.screenshot({ path: join(shots, 'report.png'), fullPage: true });
    await shotPage.locator('#fig4').screenshot({ path: join(shots, 'report-fig4.png') });
    await shotPage.close();
    expect(readFileSync(join(shots, 'report.png')).subarray(1, 4).toString()).toBe('PNG');
  });
});

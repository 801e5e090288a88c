import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUp, type UpProcess } from './fakes/up-process.ts';

/**
 * The status page in a real browser: Debian's Chromium, headless, driven by playwright-core,
 * against `tandem up` (two role-`both` workers and the planner deciding every 2 s). The workers
 * must appear, the numbers must move as requests are sent, the planner's decision must show,
 * and a screenshot goes to test-output/. Without Chromium the test is skipped, except under
 * CI=true, where a missing browser is a failure (`.ci/setup-chromium` installs it).
 */

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
const INSTALL = 'install it with `apt-get install chromium` (what .ci/setup-chromium runs)';
const SCREENSHOT = new URL('../test-output/ui-status-page.png', import.meta.url).pathname;
const MODEL = 'Qwen/Qwen3-8B';

if (!available && process.env.CI !== 'true')
  console.warn(`test/ui-browser.test.ts skipped: no ${CHROMIUM}; ${INSTALL}`);

describe.runIf(!available && process.env.CI === 'true')('the status page in a browser (CI)', () => {
  it('needs Chromium', () => {
    throw new Error(`no ${CHROMIUM} under CI=true: ${INSTALL}`);
  });
});

describe.skipIf(!available)('the status page in a browser', () => {
  let up: UpProcess;
  let context: BrowserContext;
  let page: Page;
  const problems: string[] = [];
  const work = mkdtempSync(join(tmpdir(), 'tandem-ui-browser-'));

  beforeAll(async () => {
    const config = join(work, 'fleet.yaml');
    writeFileSync(config, 'planner:\n  interval_s: 2\norchestrator:\n  planner_poll_s: 1\n');
    up = await startUp(['--port', '0', '--workers', '2', '--config', config]);
    context = await chromium.launchPersistentContext(join(work, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 1500 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('requestfailed', (request) => {
      // The event stream is cut when the test ends; anything else failing is a problem.
      if (!request.url().endsWith('/ui/events')) problems.push(`request failed: ${request.url()}`);
    });
  }, 180_000);

  afterAll(async () => {
    await context?.close();
    if (up) {
      await up.stop('SIGINT').catch(() => undefined);
      up.killAll();
    }
    rmSync(work, { recursive: true, force: true });
  });

  // biome-ignore lint/performance/useDomNodeTextContent: what the page shows, as CSS lays it out (Playwright's innerText).
  const text = (selector: string) => page.locator(selector).innerText();
  const numberIn = async (selector: string) => Number((await text(selector)).replace(/[^\d.]/g, '') || 'NaN');

  it("shows the workers, numbers that move with the traffic, and the planner's decision", async () => {
    try {
      await checkPage();
    } catch (error) {
      // What the page and the fleet said, for a failure on a machine nobody watches (CI).
      throw new Error(
        `${(error as Error).message}\n--- page problems: ${problems.join('; ') || 'none'}\n--- tandem up, last output:\n${up.output().slice(-3000)}`,
        { cause: error },
      );
    }
  }, 120_000);

  async function checkPage(): Promise<void> {
    await page.goto(`${up.url}/ui`);
    await page.locator('#connection[data-state="ok"]').waitFor({ timeout: 15_000 });
    const rows = page.locator('#workers tbody tr[data-worker]');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(2);
    // Each row's first cell, as text: a row's innerText has tabs between cells only once the table
    // is laid out, and once in CI it was read before (the cells' texts ran together).
    const names = await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLTableRowElement).cells[0]?.textContent));
    expect(names.sort()).toEqual(['worker-0', 'worker-1']);
    await expect
      .poll(() => page.locator('#workers .health[data-state="healthy"]').count(), { timeout: 15_000 })
      .toBe(2);
    expect(await text('#workers tbody')).toContain('h100-sxm / qwen3-8b');
    expect(await text('#ready')).toBe('ready');
    // Nothing sent yet: no requests in the window.
    await expect.poll(() => text('#stat-request-rate'), { timeout: 10_000 }).toMatch(/^(0|\u2013)$/);
    const cachedBefore = await page.locator('#workers [data-field="cached"]').allInnerTexts();
    expect(cachedBefore.map(Number).reduce((a, b) => a + b, 0)).toBe(0);

    const client = new OpenAI({ baseURL: `${up.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const prompt = (i: number) => `${`You are a helpful assistant for the browser test. `.repeat(12)}Question ${i}?`;
    // About six seconds of traffic, so the charts draw lines: rounds of four concurrent requests.
    for (let round = 0; round < 12; round++) {
      await Promise.all([
        ...Array.from({ length: 4 }, (_, i) =>
          client.completions.create({ model: MODEL, prompt: prompt(round * 4 + i), max_tokens: 16 }),
        ),
        new Promise((resolve) => setTimeout(resolve, 500)),
      ]);
    }

    await expect.poll(() => numberIn('#stat-request-rate'), { timeout: 15_000 }).toBeGreaterThan(0);
    await expect.poll(() => text('#stat-ttft'), { timeout: 10_000 }).toMatch(/ms|s/);
    await expect.poll(() => numberIn('#stat-hit-rate'), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect
      .poll(
        async () =>
          (await page.locator('#workers [data-field="cached"]').allInnerTexts())
            .map((t) => Number(t.replace(/,/g, '')))
            .reduce((a, b) => a + b, 0),
        { timeout: 10_000 },
      )
      .toBeGreaterThan(0);
    // The chart's accessible label carries its latest value.
    await expect
      .poll(async () => (await page.locator('#chart-rate').getAttribute('aria-label')) ?? '', { timeout: 10_000 })
      .toMatch(/req\/s [1-9]|req\/s 0\.[0-9]*[1-9]/);
    await expect.poll(() => text('#planner'), { timeout: 30_000 }).toContain('P:D replicas');

    mkdirSync(new URL('../test-output/', import.meta.url).pathname, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
    expect(problems).toEqual([]);
  }
});

// Drives Debian's Chromium (headless) through the /demo page of the real server: a covered, a
// conditional and a not-covered scenario are signed at the 420 px card pane, and the test checks
// what a person sees: the summary visible and whole, no horizontal overflow, the indicator
// colour per outcome, and text from the EHR record shown as text (never as HTML or a link);
// then the conditional order's payer questions (DTR) are answered in the page and decide it.
// Usage: node demo.test.mjs BUILD/cryo-crd [SCREENSHOT.png]
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './server.mjs';

const [binary, screenshot] = process.argv.slice(2);
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
// Without a browser or the driver this test cannot run: SKIP (exit 77), never PASS.
if (!existsSync(chromium)) {
  console.log(`SKIP: no Chromium at ${chromium} (scripts/install-deps.sh installs it)`);
  process.exit(77);
}
let puppeteer;
try {
  puppeteer = (await import('puppeteer-core')).default;
} catch {
  console.log('SKIP: puppeteer-core is not installed (npm ci in tests/browser)');
  process.exit(77);
}
const colours = { info: 'rgb(0, 112, 210)', warning: 'rgb(255, 176, 0)', critical: 'rgb(194, 57, 52)' };
const cases = [
  { scenario: 'florida-blue-commercial-covered-unresectable-all-docs', indicator: 'info', says: 'covered' },
  { scenario: 'florida-blue-commercial-conditional-resectability-unknown', indicator: 'warning', says: 'not yet decided' },
  { scenario: 'medical-mutual-commercial-hcc-not-covered-4-lesions', indicator: 'warning', says: 'not covered' },
];
const hostile = '<img src=x onerror="window.__pwned=1"> [open](javascript:window.__pwned=2) *x*';

let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  if (!ok) failures++;
};

const server = await startServer(binary);
const profile = mkdtempSync(join(tmpdir(), 'cryo-crd-chromium-'));
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${profile}`],
});
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1400, height: 1000 });
  await page.goto(`${server.base}/demo`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('body[data-ready="true"]');

  for (const c of cases) {
    await page.click(`#scenario-list button[data-scenario="${c.scenario}"]`);
    await page.waitForSelector(`body[data-scenario="${c.scenario}"]`);
    if (c.indicator === 'warning' && c.says === 'not covered') {
      // EHR-supplied text: the diagnosis display of the Condition goes into the card's evidence.
      const input = await page.$('input[data-fact$="diagnosis text"]');
      await input.click({ clickCount: 3 });
      await input.type(hostile);
      await page.keyboard.press('Tab');
    }
    await page.click('#sign');
    await page.waitForFunction(() => /HTTP \d+/.test(document.getElementById('timing').textContent));
    const seen = await page.evaluate(() => {
      const pane = document.getElementById('card-pane');
      const card = pane.querySelector('.card');
      const summary = card && card.querySelector('.summary');
      const r = summary && summary.getBoundingClientRect();
      return {
        status: document.getElementById('timing').dataset.status,
        paneWidth: pane.getBoundingClientRect().width,
        paneOverflow: pane.scrollWidth - pane.clientWidth,
        cardOverflow: card ? card.scrollWidth - card.clientWidth : -1,
        summary: summary ? summary.textContent : '',
        summaryVisible: !!r && r.width > 0 && r.height > 0 && summary.scrollWidth <= summary.clientWidth,
        indicator: card ? card.dataset.indicator : '',
        border: card ? getComputedStyle(card).borderLeftColor : '',
        detail: card ? card.querySelector('.detail').textContent : '',
        images: pane.querySelectorAll('img').length,
        scriptLinks: [...pane.querySelectorAll('a')].filter((a) => !/^https?:/.test(a.href)).length,
        pwned: window.__pwned || 0,
        ci: document.getElementById('coverage-information').textContent,
      };
    });
    const name = c.scenario;
    check(seen.status === '200', `${name}: signed (HTTP ${seen.status})`);
    check(Math.round(seen.paneWidth) === 420, `${name}: card pane is 420 px (${seen.paneWidth})`);
    check(seen.summaryVisible, `${name}: summary visible`);
    check(seen.summary.length > 0 && [...seen.summary].length < 140 && !seen.summary.includes('…'), `${name}: summary whole: "${seen.summary}"`);
    check(seen.summary.includes(c.says), `${name}: summary says "${c.says}"`);
    check(seen.paneOverflow <= 0 && seen.cardOverflow <= 0, `${name}: no horizontal overflow (${seen.paneOverflow}, ${seen.cardOverflow})`);
    check(seen.indicator === c.indicator, `${name}: indicator ${seen.indicator}`);
    check(seen.border === colours[c.indicator], `${name}: ${c.indicator} colour (${seen.border})`);
    check(seen.ci.includes('"covered"'), `${name}: coverage-information shown`);
    if (c.says === 'not covered') {
      check(seen.detail.includes('<img src=x onerror="window.__pwned=1">'), `${name}: EHR text shown as text`);
      check(seen.detail.includes('[open](javascript:window.__pwned=2)'), `${name}: EHR link shown as text`);
      check(seen.images === 0 && seen.scriptLinks === 0 && seen.pwned === 0, `${name}: no HTML, no javascript: link, nothing ran`);
    }
    if (screenshot && c.says === 'not yet decided') {
      await page.setViewport({ width: 1280, height: 820 });
      await page.screenshot({ path: screenshot, type: 'png' });
      await page.setViewport({ width: 1400, height: 1000 });
    }
  }

  // DTR: the conditional scenario's questions, answered in the page, settle the decision, and
  // signing again with the completed questionnaire in the record gives the settled card.
  const conditional = 'florida-blue-commercial-conditional-resectability-unknown';
  await page.click(`#scenario-list button[data-scenario="${conditional}"]`);
  await page.waitForSelector(`body[data-scenario="${conditional}"]`);
  await page.click('#sign');
  await page.waitForFunction(() => /HTTP \d+/.test(document.getElementById('timing').textContent));
  check(await page.$eval('#dtr', (el) => !el.hidden), 'DTR: questions offered for the conditional order');
  await page.click('#dtr-start');
  await page.waitForFunction(() => document.getElementById('dtr').dataset.status);
  // What the record already answers is shown, read-only, with where it was read.
  const recorded = await page.$$eval('#dtr-form .dtr-recorded', (ps) => ps.map((p) => p.textContent));
  check(recorded.length > 0 && recorded.every((t) => t.startsWith('From the record') && /\(.+\)$/.test(t)),
    `DTR: ${recorded.length} answers from the record shown with their sources (${recorded[0] ?? 'none'})`);
  let rounds = 0;
  let asked = 0;
  while ((await page.$eval('#dtr', (el) => el.dataset.status)) !== 'completed' && rounds++ < 10) {
    asked += await page.$$eval('#dtr-form [data-link]', (inputs) => {
      for (const input of inputs) {
        if (input.tagName === 'SELECT') input.selectedIndex = 1;  // yes / the first code
        else if (input.type === 'checkbox') input.checked = true;  // attach the document
        else input.value = '1';
      }
      return inputs.length;
    });
    const before = await page.$eval('#dtr-status', (el) => el.textContent);
    await page.click('#dtr-next');
    await page.waitForFunction((b) => document.getElementById('dtr-status').textContent !== b, {}, before);
  }
  const decided = await page.$eval('#dtr', (el) => ({ status: el.dataset.status, covered: el.dataset.covered }));
  check(asked > 0, `DTR: ${asked} questions answered in the page`);
  check(decided.status === 'completed' && decided.covered === 'covered', `DTR: decided ${decided.covered}`);
  await page.click('#dtr-resign');
  await page.waitForFunction(() => /HTTP \d+/.test(document.getElementById('timing').textContent) &&
    !document.getElementById('card-pane').textContent.includes('not yet decided'));
  const resigned = await page.$eval('#card-pane .card .summary', (el) => el.textContent);
  check(resigned.includes('covered') && !resigned.includes('not yet decided'), `DTR: signed again: "${resigned}"`);
} finally {
  await browser.close();
  await server.stop();
  rmSync(profile, { recursive: true, force: true });
}
console.log(failures ? `${failures} failures` : 'all checks passed');
process.exit(failures ? 1 : 0);

// Drives the demo page (docs/sse-test.html, served by the gateway at /) in headless Debian
// Chromium, as a person would: choose a file, press Analyse, watch it finish.
//
//   node demo.mjs upload    uploads FIXTURE, expects the result card, also at phone width
//   node demo.mjs restart   analyses FILE_URL; while the job waits in `fetching` it asks the
//                           test (stdout line `@@ restart-gateway <jobId>`) to kill and restart
//                           the gateway, waits for `ok` on stdin, then expects the page to
//                           resume its stream and still show the completed job; then again
//                           with every reconnect answered 503, which the page's own backoff
//                           and ?lastEventId= must get through
//
// Environment: BASE_URL (the gateway), ARTIFACTS (screenshots go there), FIXTURE or
// FILE_URL, CHROMIUM (default /usr/bin/chromium). Exit code 0 means every check passed; a
// failure prints what the page showed and leaves a screenshot named *-failure.png.

import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const scenario = process.argv[2];
const base = required('BASE_URL');
const artifacts = required('ARTIFACTS');
const WAIT = 20_000;
mkdirSync(artifacts, { recursive: true });

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const stdin = createInterface({ input: process.stdin });
const answers = stdin[Symbol.asyncIterator]();

/** Asks the test to do something and waits for its `ok`. */
async function ask(command) {
  process.stdout.write(`@@ ${command}\n`);
  const { value, done } = await answers.next();
  check(!done && value.trim() === 'ok', `the test answered ${JSON.stringify(value)} to ${command}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  timeout: WAIT,
});
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.setDefaultTimeout(WAIT);
const consoleErrors = [];
page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
page.on('pageerror', (error) => consoleErrors.push(String(error)));
const streamRequests = [];
page.on('response', (response) => {
  if (response.url().includes('/sse/connect')) streamRequests.push(`${new Date().toISOString()} ${response.status()} ${response.url()}`);
});
page.on('requestfailed', (request) => {
  if (request.url().includes('/sse/connect')) streamRequests.push(`${new Date().toISOString()} failed ${request.failure()?.errorText} ${request.url()}`);
});

const shot = (name) => page.screenshot({ path: join(artifacts, `${scenario}-${name}.png`), fullPage: true });
const text = (selector) => page.locator(selector).innerText();

async function openPage() {
  await page.goto(base + '/');
  await page.getByRole('status', { name: 'Connection state' }).filter({ hasText: 'live' }).waitFor();
  check(await page.title() === 'Résumé analysis — live progress', `title: ${await page.title()}`);
}

/** Waits until the progress bar says 100 and the full result card (after the event's
 * summary card) is shown; returns the card text. */
async function waitForCompletion() {
  const bar = page.getByRole('progressbar', { name: 'Analysis progress' });
  await page.waitForFunction(
    () => document.querySelector('[role=progressbar]')?.getAttribute('aria-valuenow') === '100'
      && document.querySelector('#result .card:not(.summary)'),
  );
  check(await bar.getAttribute('aria-valuenow') === '100', 'progress bar at 100');
  // The bar itself is drawn full (after its transition).
  await page.waitForFunction(() => {
    const fill = document.querySelector('#bar');
    return fill.getBoundingClientRect().width >= fill.parentElement.getBoundingClientRect().width - 1;
  });
  check((await text('#percent')).trim() === '100 %', `percent label: ${await text('#percent')}`);
  check((await text('#status')).includes('completed'), `status: ${await text('#status')}`);
  return text('#result');
}

function expectCard(card, { email, skills, extra = [] }) {
  check(card.includes(email), `result card shows the email ${email}:\n${card}`);
  for (const skill of skills) check(card.includes(skill), `result card shows the skill ${skill}:\n${card}`);
  for (const item of extra) check(card.includes(item), `result card shows ${item}:\n${card}`);
}

async function timelineDone() {
  const items = page.locator('#timeline li');
  check(await items.count() === 6, `six stages in the timeline, got ${await items.count()}`);
  for (let i = 0; i < 6; i += 1) {
    const line = await items.nth(i).innerText();
    check(/\d+ ms/.test(line), `stage ${i + 1} has a duration: ${line}`);
  }
}

/** A worker_status whose fields carry markup (any backend can publish one) is shown as text. */
async function hostileWorkerStatus() {
  const workerId = await page.locator('#workers td.mono').first().innerText();
  const markup = '<img src=x onerror="window.pwned=1">';
  const response = await fetch(`${base}/api/v1/publish/worker/${workerId}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'worker_status', workerId, status: 'active', concurrency: markup, activeJobs: markup }),
  });
  check(response.status === 201, `publishing the worker status answered ${response.status}`);
  await page.locator('#workers', { hasText: '<img' }).waitFor();
  check(await page.locator('#workers img').count() === 0, 'no element made from an event field');
  check(await page.evaluate(() => window.pwned === undefined), 'no script ran from an event field');
}

async function upload() {
  await openPage();
  await page.locator('#file').setInputFiles(required('FIXTURE'));
  await page.getByLabel('Required skills').fill('Rust, Kubernetes, Java');
  await page.getByRole('button', { name: 'Analyse' }).click();
  const card = await waitForCompletion();
  expectCard(card, {
    email: 'jane.doe@example.com',
    skills: ['Rust', 'Kubernetes', 'PostgreSQL', 'Docker'],
    extra: ['Jane Doe', 'senior', 'years', 'Match', 'Java'],
  });
  check(/\b\d+ ?%/.test(await text('#result .score')), 'a match score');
  check((await text('#result .missing')).includes('Java'), 'Java listed as missing');
  await timelineDone();
  await page.locator('#workers tr', { hasText: 'worker' }).first().waitFor();
  await hostileWorkerStatus();
  await page.waitForFunction(() => /completed\s*1/.test(document.querySelector('#queue').innerText));
  await shot('desktop');

  // Phone width: everything fits the width, nothing needs sideways scrolling.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(100);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the page is ${overflow}px wider than a 390px screen`);
  await shot('phone');

  // A file that cannot be read: the card shows the error instead.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.locator('#file').setInputFiles({ name: 'broken.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\nnot really a pdf') });
  await page.getByRole('button', { name: 'Analyse' }).click();
  await page.locator('#result .error').waitFor();
  check((await text('#status')).includes('failed'), `status after a broken file: ${await text('#status')}`);
  check((await text('#result .error')).includes('corrupt'), `the error says why: ${await text('#result .error')}`);
  check((await text('#percent')).trim() !== '100 %', 'a failed job is not shown as 100 %');
  check(await page.locator('#timeline li.failed').innerText().then((t) => t.includes('parsing')), 'the timeline marks the failed stage');
  await page.waitForFunction(() => /failed\s*1/.test(document.querySelector('#queue').innerText));
  await shot('failed');
}

async function restart() {
  const connects = [];
  page.on('request', (request) => { if (request.url().includes('/sse/connect')) connects.push(request.url()); });
  await openPage();
  await page.getByLabel('…or a file URL').fill(required('FILE_URL'));

  // 1. Killed and started again: EventSource reconnects by itself with Last-Event-ID.
  let jobId = await submitAndWaitForFetching('');
  const connection = (await text('#connid')).trim();
  await shot('1-fetching');
  await ask(`restart-gateway ${jobId}`);
  expectCard(await waitForCompletion(), { email: 'jane.doe@example.com', skills: ['Rust', 'Kubernetes'] });
  await timelineDone();
  await page.locator('#resumes li').first().filter({ hasText: /resumed after .* missed events? replayed/ }).waitFor();
  check((await text('#connid')).trim() === connection, `the same connection resumed (${connection} → ${await text('#connid')})`);
  check(Number(await text('#reconnects')) === 1, 'one reconnect counted');
  await page.getByRole('status', { name: 'Connection state' }).filter({ hasText: 'live' }).waitFor();
  await shot('2-resumed');

  // 2. The same, but every reconnect meets a 503 (a load balancer with no ready gateway):
  //    EventSource gives up, and the page reopens the stream itself with ?lastEventId=.
  jobId = await submitAndWaitForFetching(jobId);
  const unavailable = (route) => route.fulfill({
    status: 503, contentType: 'application/json', headers: { 'retry-after': '1' },
    body: JSON.stringify({ error: { code: 'no_upstream', message: 'no ready gateway' } }),
  });
  await page.route('**/api/v1/sse/connect**', unavailable);
  await ask(`restart-gateway ${jobId}`);
  await page.getByRole('status', { name: 'Connection state' }).filter({ hasText: 'offline' }).waitFor();
  await shot('3-offline');
  await page.unroute('**/api/v1/sse/connect**', unavailable);
  expectCard(await waitForCompletion(), { email: 'jane.doe@example.com', skills: ['Rust', 'Kubernetes'] });
  await page.locator('#resumes li').nth(1).waitFor();
  check((await text('#connid')).trim() === connection, 'still the same connection');
  check(connects.some((url) => url.includes('lastEventId=')), `the page reopened with ?lastEventId= (${connects.join(', ')})`);
  await page.getByRole('status', { name: 'Connection state' }).filter({ hasText: 'live' }).waitFor();
  await shot('4-resumed-again');
  process.stdout.write(`the page's event log (newest first):\n${await page.locator('#log').textContent()}`);
}

async function cancel() {
  await openPage();
  await page.getByLabel('…or a file URL').fill(required('FILE_URL'));
  await submitAndWaitForFetching('');
  const button = page.getByRole('button', { name: 'Cancel analysis' });
  check(await button.isVisible(), 'a running job has a cancel button');
  await shot('1-fetching');
  const answer = page.waitForResponse((r) => r.request().method() === 'DELETE');
  await button.click();
  const status = (await answer).status();
  check(status === 202, `a running job's cancel answers 202, not ${status}: ${await (await answer).text()}`);
  // The worker stops at the end of the stage it is in: let the held file through.
  await ask('open-file');
  await page.locator('#status').filter({ hasText: 'cancelled' }).waitFor();
  check(await text('#message') === 'The analysis was cancelled.', `message: ${await text('#message')}`);
  check(await button.isHidden(), 'a cancelled job has no cancel button');
  check(!(await page.locator('#barwrap').getAttribute('class')).includes('done'), 'the bar does not say done');
  check(await page.locator('#timeline li', { hasText: 'fetching' }).locator('.mark').innerText() === '✗',
    'the stage it stopped in is not marked done');
  await page.locator('#queue tr', { hasText: 'cancelled' }).filter({ hasText: '1' }).waitFor();
  await shot('2-cancelled');
  // Nothing follows the final update.
  await page.waitForTimeout(1500);
  check((await text('#status')).startsWith('cancelled'), `status after a while: ${await text('#status')}`);
}

/** Presses Analyse and waits until the new job (not `previous`) waits in `fetching`. */
async function submitAndWaitForFetching(previous) {
  await page.getByRole('button', { name: 'Analyse' }).click();
  await page.waitForFunction((old) => {
    const id = document.querySelector('#jobid').textContent;
    return id && id !== old && document.querySelector('#stage').textContent === 'fetching';
  }, previous);
  return (await text('#jobid')).trim();
}

const scenarios = { upload, restart, cancel };
let failed = false;
try {
  check(scenarios[scenario], `unknown scenario ${scenario}: one of ${Object.keys(scenarios).join(', ')}`);
  await scenarios[scenario]();
  check(consoleErrors.filter((e) => !/ERR_CONNECTION_REFUSED|Failed to load resource/.test(e)).length === 0,
    `errors in the page's console: ${consoleErrors.join('\n')}`);
  process.stdout.write(`${scenario}: every check passed\n`);
} catch (error) {
  failed = true;
  process.stderr.write(`${scenario}: ${error.stack || error}\n`);
  await page.screenshot({ path: join(artifacts, `${scenario}-failure.png`), fullPage: true }).catch(() => {});
  const shown = await page.locator('body').innerText().catch(() => '(page not readable)');
  const events = await page.locator('#log').textContent().catch(() => '');
  process.stderr.write(`--- the page showed ---\n${shown}\n--- its event log ---\n${events}\n`
    + `--- stream requests ---\n${streamRequests.join('\n')}\n--- console ---\n${consoleErrors.join('\n')}\n`);
} finally {
  stdin.close();
  await browser.close();
}
process.exit(failed ? 1 : 0);

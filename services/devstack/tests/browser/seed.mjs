// Runs the original design's Vanilla JavaScript client (seed-vanilla.js, the example of
// REDIS_PUBSUB_SSE.md, its code unchanged apart from the base URL) in headless Debian
// Chromium. The page around it only supplies the two functions the example calls,
// updateProgressBar and updateStatusMessage, and records every job_update it shows.
//
// The client subscribes to job `job-123` once connected; the test finished that job before
// the page opened. Exit code 0 when the page shows it completed (100, the final message),
// having seen its updates once each, in order.
//
// Environment: BASE_URL (the gateway), ARTIFACTS (the screenshot goes there), CHROMIUM.

import { createServer } from 'node:http';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.BASE_URL;
const artifacts = process.env.ARTIFACTS;
if (!base || !artifacts) throw new Error('BASE_URL and ARTIFACTS must be set');
mkdirSync(artifacts, { recursive: true });
const WAIT = 20_000;

const client = readFileSync(new URL('./seed-vanilla.js', import.meta.url), 'utf8')
  .replaceAll('http://localhost:8000', base);
const page_html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>seed client</title></head>
<body>
  <p>Progress: <span id="progress">0</span></p>
  <p>Status: <span id="status"></span></p>
  <script>
    window.shown = [];
    function updateProgressBar(progress) { document.getElementById('progress').textContent = String(progress); }
    function updateStatusMessage(message) { document.getElementById('status').textContent = message ?? ''; }
  </script>
  <script>${client}</script>
  <script>
    eventSource.addEventListener('job_update', (e) => window.shown.push(JSON.parse(e.data)));
  </script>
</body></html>`;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  timeout: WAIT,
});
const page = await browser.newPage();
page.setDefaultTimeout(WAIT);
const errors = [];
page.on('pageerror', (error) => errors.push(String(error)));
page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
// The page comes from a loopback server of its own, as a frontend served apart from the API
// would (its requests to the gateway are cross-origin).
const server = createServer((request, response) => {
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  response.end(page_html);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
try {
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => document.getElementById('progress').textContent === '100'
    && window.shown.some((u) => u.status === 'completed'));
  const shown = await page.evaluate(() => window.shown);
  const statuses = shown.map((u) => u.status);
  console.log(`job_update statuses: ${statuses.join(' ')}`);
  check(shown.every((u) => u.jobId === 'job-123'), 'only job-123');
  check(statuses[0] === 'waiting', `the story starts at waiting: ${statuses}`);
  check(statuses.at(-1) === 'completed', `and ends completed: ${statuses}`);
  const ids = shown.map((u) => u.eventId);
  check(new Set(ids).size === ids.length, `each update once: ${ids}`);
  check(ids.every((id, i) => i === 0 || compareIds(ids[i - 1], id) < 0), `in order: ${ids}`);
  const status = await page.locator('#status').innerText();
  check(status === shown.at(-1).message, `the page shows the final message: ${status}`);
  check(errors.length === 0, `no errors in the page: ${errors.join('; ')}`);
  await page.screenshot({ path: join(artifacts, 'seed-vanilla-completed.png') });
} catch (error) {
  await page.screenshot({ path: join(artifacts, 'seed-vanilla-failure.png') }).catch(() => {});
  console.log(`page showed: progress ${await page.locator('#progress').innerText().catch(() => '?')}, status ${await page.locator('#status').innerText().catch(() => '?')}`);
  console.log(`updates seen: ${JSON.stringify(await page.evaluate(() => window.shown).catch(() => []))}`);
  console.log(`page errors: ${errors.join('; ')}`);
  throw error;
} finally {
  await browser.close();
  server.close();
}

function compareIds(a, b) {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am === bm ? (as < bs ? -1 : as > bs ? 1 : 0) : (am < bm ? -1 : 1);
}

// Opens VeloZ HTML reports in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core) and checks that every chart rendered with data:
// each <svg class="chart"> has data-points > 0, a non-zero bounding box and
// drawn elements (path/circle/rect/polyline) in its data group with a non-zero
// box. A run report must have the equity, drawdown, price, position and PnL
// charts; a sweep report at least one heatmap or bar chart. Fails on console
// errors, page errors and any request that is not a file:// URL (the reports
// must open without network access). Saves a full-page screenshot of each.
//
//   node check-reports.mjs OUT_DIR NAME=REPORT.html [NAME=REPORT.html ...]
//
// Writes OUT_DIR/NAME.png; exits 1 if a check fails.

import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [outDir, ...reports] = process.argv.slice(2);
if (!outDir || reports.length === 0) {
  console.error('usage: node check-reports.mjs OUT_DIR NAME=REPORT.html ...');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.error(`error: ${executablePath} not found; install Debian's chromium (apt-get install -y chromium) or set CHROMIUM`);
  process.exit(2);
}

// playwright starts Chromium with a fresh, empty profile of its own.
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

let failures = 0;
let passed = 0;
const fail = (name, msg) => { failures++; console.log(`FAIL ${name}: ${msg}`); };

try {
  for (const spec of reports) {
    const eq = spec.indexOf('=');
    const name = spec.slice(0, eq);
    const file = resolve(spec.slice(eq + 1));
    if (eq <= 0 || !existsSync(file)) {
      fail(spec, `expected NAME=REPORT.html with an existing file (${file})`);
      continue;
    }
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('request', (r) => { if (!r.url().startsWith('file://')) errors.push(`network request: ${r.url()}`); });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

    const charts = await page.$$eval('svg.chart', (svgs) => svgs.map((s) => {
      const box = s.getBoundingClientRect();
      const data = s.querySelector('g.data');
      const drawn = data ? [...data.querySelectorAll('path, circle, rect, polyline')] : [];
      const visible = drawn.filter((e) => { const b = e.getBBox(); return b.width > 0 || b.height > 0; });
      return {
        chart: s.dataset.chart,
        points: Number(s.dataset.points),
        width: box.width,
        height: box.height,
        drawn: drawn.length,
        visible: visible.length,
      };
    }));

    const names = charts.map((c) => c.chart);
    const isRun = names.includes('equity') || !names.some((n) => n.startsWith('sweep-'));
    const required = isRun ? ['equity', 'drawdown', 'position', 'pnl'] : [];
    for (const r of required) if (!names.includes(r)) fail(name, `chart ${r} is missing`);
    if (isRun && !names.some((n) => n.startsWith('price-'))) fail(name, 'no price chart');
    if (!isRun && !names.some((n) => n.startsWith('sweep-'))) fail(name, 'no sweep chart');
    for (const c of charts) {
      const desc = `${c.chart}: ${c.points} points, ${c.drawn} drawn elements (${c.visible} visible), ${Math.round(c.width)}x${Math.round(c.height)} px`;
      if (!(c.points > 0)) fail(name, `${desc}: no data points`);
      else if (c.width <= 0 || c.height <= 0) fail(name, `${desc}: zero size`);
      else if (c.visible === 0) fail(name, `${desc}: nothing drawn`);
      else { passed++; console.log(`ok   ${name} ${desc}`); }
    }
    for (const e of errors) fail(name, e);
    const shot = join(outDir, `${name}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    console.log(`screenshot ${shot}`);
    await page.close();
  }
} finally {
  await browser.close();
}

console.log(`${passed} passed, ${failures} failed`);
process.exit(failures === 0 ? 0 : 1);

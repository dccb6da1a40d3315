// report.test.ts: `steprl report` writes one offline HTML file; headless Chromium opens it, every
// chart is drawn (the page counts canvases with ink) and a screenshot is taken. Chromium comes from
// Debian (`apt-get install chromium`, which .ci/run does); without it this suite is skipped.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
if (!chromium) console.warn('Chromium not found: the report rendering check is skipped (apt-get install chromium)');

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync'];

function fakeMetrics(step: number, algo: number) {
  return {
    step, rewardMean: 0.4 + 0.01 * step, rewardStd: 0.3, accuracy: 0.4 + 0.012 * step + 0.01 * algo, scoreMean: 0.4 + 0.01 * step,
    zeroVarianceGroups: 0.2, advantageMean: 0, advantageStd: 1, advantageAbsMean: 0.8, loss: 0.01, pgLoss: 0.01, klLoss: 0, valueLoss: 0,
    clipFraction: 0.01 * algo, kl: 0.001 * step, approxKl: 0, entropy: 0.1, responseLength: 26 - 0.1 * step, gradNorm: 0.3, lr: 1e-4,
    rewardKlCoef: 0, tokensPerSecond: 1000, seconds: { total: 2 },
  };
}

(chromium ? test : test.skip)('the report opens in headless Chromium with every chart drawn', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-report-'));
  ['grpo', 'prpo'].forEach((algo, a) => {
    fs.mkdirSync(path.join(dir, algo));
    fs.writeFileSync(path.join(dir, algo, 'metrics.jsonl'), Array.from({ length: 12 }, (_, s) => JSON.stringify(fakeMetrics(s, a))).join('\n') + '\n');
  });
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify({ algorithms: [
    { algo: 'grpo', before: { 'avg@8': 0.5, 'pass@8': 0.9 }, after: { 'avg@8': 0.6, 'pass@8': 0.95 } },
    { algo: 'prpo', before: { 'avg@8': 0.5, 'pass@8': 0.9 }, after: { 'avg@8': 0.65, 'pass@8': 0.95 } },
  ] }));
  fs.writeFileSync(path.join(dir, 'best-of-n.json'), JSON.stringify({ model: 'SFT start', results: {
    prm: { 1: 0.5, 4: 0.7, 16: 0.8, 64: 0.85 }, orm: { 1: 0.5, 4: 0.65, 16: 0.7, 64: 0.72 }, majority: { 1: 0.5, 4: 0.6, 16: 0.66, 64: 0.68 },
  } }));
  const made = spawnSync(process.execPath, [path.join(root, 'dist', 'cli', 'main.js'), 'report', '--runs', dir], { encoding: 'utf8' });
  expect(made.status).toBe(0);
  const html = path.join(dir, 'report.html');
  expect(fs.readFileSync(html, 'utf8')).not.toMatch(/<script[^>]+src=/); // nothing fetched: readable offline
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-chromium-'));
  const url = `file://${html}`;
  const dom = spawnSync(chromium!, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--dump-dom', url], { encoding: 'utf8', timeout: 60000 });
  const drawn = /data-charts-drawn="(\d+)"/.exec(dom.stdout), total = /data-charts-total="(\d+)"/.exec(dom.stdout);
  expect(total?.[1]).toBe('6');
  expect(drawn?.[1]).toBe(total?.[1]);
  const png = path.join(dir, 'report.png');
  spawnSync(chromium!, [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--window-size=1280,1400', `--screenshot=${png}`, url], { timeout: 60000 });
  expect(fs.statSync(png).size).toBeGreaterThan(20000);
  fs.rmSync(profile, { recursive: true, force: true });
  fs.rmSync(dir, { recursive: true, force: true });
});

// report.ts: one self-contained HTML report (Chart.js inlined, so it opens offline): reward,
// accuracy, KL, response length and clip fraction over steps with the algorithms overlaid, best-of-N
// accuracy curves (PRM vs ORM vs majority vote), and the before/after table. After drawing, the
// page checks that every canvas has ink and records the count in <body data-charts-drawn>. The page
// frame (chartPage, with its ink check) is shared with the learning benchmark's report.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { StepMetrics } from '../optim/metrics';
import type { Selector } from '../optim/evaluate';

export interface ReportData {
  title: string;
  runs: { algo: string; metrics: StepMetrics[] }[];
  table?: { algo: string; before: Record<string, number>; after: Record<string, number> }[];
  bestOfN?: { model: string; results: Record<Selector, Record<number, number>> };
  notes?: string[];
  /** Held-out evaluations (`steprl eval --out` files found with the runs). */
  evals?: { name: string; model: string; task: string; n: number; problems: number; avg: number; pass: number }[];
}

const SERIES: { key: keyof StepMetrics; title: string }[] = [
  { key: 'scoreMean', title: 'Reward (the algorithm\'s score) per step' },
  { key: 'accuracy', title: 'Rollout accuracy per step' },
  { key: 'kl', title: 'KL to the reference per step' },
  { key: 'responseLength', title: 'Response length (tokens) per step' },
  { key: 'clipFraction', title: 'Clip fraction per step' },
];

export function chartScript(): string {
  // chart.js's exports map hides dist/; its main entry lives in the same folder as the UMD bundle.
  const file = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
  return fs.readFileSync(file, 'utf8').replace(/<\/script/gi, '<\\/script');
}

export const escapeHtml = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Line colours, in the order series are drawn. */
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#e377c2', '#7f7f7f', '#bcbd22', '#393b79', '#637939'];

export interface ChartSpec {
  id: string;
  title: string;
  /** A Chart.js configuration (plain JSON: it is embedded in the page). */
  config: unknown;
}

/**
 * One offline HTML page: `body` (already HTML) above the canvases of `charts`, Chart.js inlined.
 * After drawing, the page counts the canvases with ink into <body data-charts-drawn> (and the total
 * into data-charts-total), which the report tests read from headless Chromium. `hideLegend`: a
 * regular expression source; datasets whose label matches stay out of the legends.
 */
export function chartPage(options: { title: string; body: string; charts: readonly ChartSpec[]; width: number; height: number; hideLegend?: string }): string {
  const { title, body, charts, width, height } = options;
  const legend = options.hideLegend
    ? `  c.config.options.plugins.legend = { labels: { filter: (item) => !new RegExp(${JSON.stringify(options.hideLegend)}).test(item.text) } };\n`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}h2{font-size:16px}canvas{border:1px solid #eee;margin:8px}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}.notes{color:#555;font-size:13px}</style>
</head><body data-charts-drawn="0">
<h1>${escapeHtml(title)}</h1>
${body}
<div style="display:flex;flex-wrap:wrap">${charts.map((c) => `<canvas id="${c.id}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(c.title)}"></canvas>`).join('\n')}</div>
<script>${chartScript()}</script>
<script>
const charts = ${JSON.stringify(charts).replace(/<\/script/gi, '<\\/script')};
let drawn = 0;
for (const c of charts) {
${legend}  const canvas = document.getElementById(c.id);
  new Chart(canvas, c.config);
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) ink++;
  if (ink > 500) drawn++;
}
document.body.dataset.chartsDrawn = String(drawn);
document.body.dataset.chartsTotal = String(charts.length);
</script></body></html>
`;
}

export function renderReport(data: ReportData): string {
  const charts: ChartSpec[] = [];
  for (const s of SERIES) {
    charts.push({
      id: `chart-${String(s.key)}`, title: s.title,
      config: {
        type: 'line',
        data: { datasets: data.runs.map((run, i) => ({ label: run.algo, borderColor: PALETTE[i % PALETTE.length], backgroundColor: PALETTE[i % PALETTE.length], pointRadius: 0, borderWidth: 2, data: run.metrics.map((m) => ({ x: m.step, y: m[s.key] as number })) })) },
        options: { animation: false, responsive: false, parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'step' } } }, plugins: { title: { display: true, text: s.title } } },
      },
    });
  }
  if (data.bestOfN) {
    const sizes = Object.keys(data.bestOfN.results.prm).map(Number).sort((a, b) => a - b);
    const labels: Record<Selector, string> = { prm: 'PRM (product of step scores)', orm: 'ORM (outcome score)', majority: 'majority vote' };
    charts.push({
      id: 'chart-best-of-n', title: `Best-of-N accuracy (${data.bestOfN.model})`,
      config: {
        type: 'line',
        data: { datasets: (['prm', 'orm', 'majority'] as Selector[]).map((k, i) => ({ label: labels[k], borderColor: PALETTE[i], backgroundColor: PALETTE[i], data: sizes.map((n) => ({ x: n, y: data.bestOfN!.results[k][n] })) })) },
        options: { animation: false, responsive: false, parsing: false, scales: { x: { type: 'logarithmic', title: { display: true, text: 'N (samples per problem)' } }, y: { title: { display: true, text: 'accuracy' } } }, plugins: { title: { display: true, text: `Best-of-N accuracy (${data.bestOfN.model})` } } },
      },
    });
  }
  const table = data.table?.length
    ? `<table><tr><th>algorithm</th>${Object.keys(data.table[0].before).map((k) => `<th>${escapeHtml(k)} before</th><th>${escapeHtml(k)} after</th>`).join('')}</tr>${data.table
      .map((row) => `<tr><td>${escapeHtml(row.algo)}</td>${Object.keys(row.before).map((k) => `<td>${(row.before[k] * 100).toFixed(1)}%</td><td>${(row.after[k] * 100).toFixed(1)}%</td>`).join('')}</tr>`).join('')}</table>`
    : '';
  const evals = data.evals?.length
    ? `<h2>Held-out evaluation</h2><table><tr><th>evaluation</th><th>model</th><th>task</th><th>problems</th><th>avg@n</th><th>pass@n</th></tr>${data.evals
      .map((e) => `<tr><td>${escapeHtml(e.name)}</td><td>${escapeHtml(e.model)}</td><td>${escapeHtml(e.task)}</td><td>${e.problems}</td><td>${(e.avg * 100).toFixed(1)}% (n=${e.n})</td><td>${(e.pass * 100).toFixed(1)}%</td></tr>`).join('')}</table>`
    : '';
  const notes = (data.notes ?? []).map((n) => `<p class="notes">${escapeHtml(n)}</p>`).join('\n');
  return chartPage({ title: data.title, body: [table, evals, notes].join('\n'), charts, width: 560, height: 320 });
}

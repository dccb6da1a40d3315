// learn_report.ts: the learning benchmark's offline HTML report (report.ts's chartPage: Chart.js inlined):
// per task, the rollout-accuracy learning curve of every algorithm (mean over seeds with a 95% band),
// the per-step size of each process method's own signal against the outcome advantage, and the
// held-out pass@k curve (k = 1..n, mean with a 95% band, the SFT start dashed), best-of-N at the
// SFT start (PRM, ORM, majority against pass@N), and the results table with the claims. The page
// checks that every canvas has ink (chartPage), as the demo report does.
import { type CellResult, learnMarkdown, type LearnResults } from './learn_summary';
import { chartPage, type ChartSpec, escapeHtml as escape, PALETTE } from './report';

/** A mean line plus a translucent band between low and high (two hidden-border datasets filled together). */
function band(label: string, color: string, points: { x: number; mean: number; low: number; high: number }[]) {
  return [
    { label, borderColor: color, backgroundColor: color, pointRadius: 0, borderWidth: 2, fill: false, data: points.map((p) => ({ x: p.x, y: p.mean })) },
    { label: `${label} 95% low`, borderColor: 'transparent', backgroundColor: `${color}22`, pointRadius: 0, fill: false, data: points.map((p) => ({ x: p.x, y: p.low })) },
    { label: `${label} 95% high`, borderColor: 'transparent', backgroundColor: `${color}22`, pointRadius: 0, fill: '-1', data: points.map((p) => ({ x: p.x, y: p.high })) },
  ];
}

/** Markdown's **strong** (the claims' verdicts) in already escaped text. */
const bold = (html: string) => html.replace(/\*\*(.+?)\*\*/g, '<b>$1</b>');

function markdownToHtml(md: string): string {
  const out: string[] = [];
  let table: string[][] = [];
  const flush = () => {
    if (table.length === 0) return;
    const [head, , ...body] = table;
    out.push(`<table><tr>${head.map((c) => `<th>${escape(c)}</th>`).join('')}</tr>${body.map((r) => `<tr>${r.map((c) => `<td>${bold(escape(c))}</td>`).join('')}</tr>`).join('')}</table>`);
    table = [];
  };
  for (const line of md.split('\n')) {
    if (line.startsWith('|')) {
      table.push(line.slice(1, -1).split('|').map((c) => c.trim()));
      continue;
    }
    flush();
    if (line.startsWith('### ')) out.push(`<h3>${escape(line.slice(4))}</h3>`);
    else if (line.startsWith('## ')) out.push(`<h2>${escape(line.slice(3))}</h2>`);
    else if (line.startsWith('# ')) continue;
    else if (line.trim() !== '') out.push(`<p class="notes">${escape(line.replace(/^- /, ''))}</p>`);
  }
  flush();
  return out.join('\n');
}

export function renderLearnReport(results: LearnResults, _cells: readonly CellResult[] = []): string {
  const charts: ChartSpec[] = [];
  results.tasks.forEach((t, ti) => {
    const curves = t.algorithms.flatMap((a, i) => band(a.algo, PALETTE[i % PALETTE.length], a.curve.map((p) => ({ x: p.step, ...p }))));
    charts.push({
      id: `learn-curve-${ti}`, title: `${t.task}: rollout accuracy per step (mean, 95% band over seeds)`,
      config: {
        type: 'line', data: { datasets: curves },
        options: { animation: false, responsive: false, parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'step' } }, y: { title: { display: true, text: 'accuracy' } } },
          plugins: { title: { display: true, text: `${t.task}: rollout accuracy per step` } } },
      },
    });
    const withRatio = t.algorithms.map((a, i) => ({ a, color: PALETTE[i % PALETTE.length] })).filter(({ a }) => a.ratioCurve?.length);
    if (withRatio.length)
      charts.push({
        id: `learn-signal-${ti}`, title: `${t.task}: own signal / outcome advantage per step`,
        config: {
          type: 'line',
          data: { datasets: withRatio.map(({ a, color }) => ({ label: a.algo, borderColor: color, backgroundColor: color, pointRadius: 0, borderWidth: 2, fill: false, data: a.ratioCurve!.map((p) => ({ x: p.step, y: p.mean })) })) },
          options: { animation: false, responsive: false, parsing: false, scales: { x: { type: 'linear', title: { display: true, text: 'step' } }, y: { title: { display: true, text: 'process / outcome' } } },
            plugins: { title: { display: true, text: `${t.task}: own signal / outcome advantage per step (mean over seeds)` } } },
        },
      });
    const ks = Object.keys(t.algorithms[0]?.passAtK ?? {}).map(Number).sort((a, b) => a - b);
    const pass = t.algorithms.flatMap((a, i) => band(a.algo, PALETTE[i % PALETTE.length], ks.map((k) => {
      const iv = a.passAtK[k];
      return { x: k, mean: iv.mean, low: Number.isFinite(iv.low) ? iv.low : iv.mean, high: Number.isFinite(iv.high) ? iv.high : iv.mean };
    })));
    pass.push({ label: 'SFT start', borderColor: '#000000', backgroundColor: '#000000', pointRadius: 0, borderWidth: 1, fill: false, borderDash: [6, 4], data: ks.map((k) => ({ x: k, y: t.start.passAtK[k] })) } as never);
    charts.push({
      id: `learn-pass-${ti}`, title: `${t.task}: held-out pass@k`,
      config: {
        type: 'line', data: { datasets: pass },
        options: { animation: false, responsive: false, parsing: false, scales: { x: { type: 'logarithmic', title: { display: true, text: 'k' } }, y: { title: { display: true, text: 'pass@k' } } },
          plugins: { title: { display: true, text: `${t.task}: held-out pass@k (mean, 95% band)` } } },
      },
    });
    const b = t.bestOfN;
    if (b) {
      const line = (label: string, color: string, ys: (N: number) => number | undefined, dash?: number[]) => ({
        label, borderColor: color, backgroundColor: color, pointRadius: 3, borderWidth: 2, fill: false, ...(dash ? { borderDash: dash } : {}),
        data: b.sizes.filter((N) => ys(N) !== undefined).map((N) => ({ x: N, y: ys(N) })),
      });
      charts.push({
        id: `learn-bestofn-${ti}`, title: `${t.task}: best-of-N at the SFT start`,
        config: {
          type: 'line',
          data: { datasets: [line('PRM', PALETTE[0], (N) => b.accuracy.prm[N]), line('ORM', PALETTE[1], (N) => b.accuracy.orm[N]),
            line('majority', PALETTE[2], (N) => b.accuracy.majority[N]), line('pass@N (any correct)', '#000000', (N) => t.start.passAtK[N], [6, 4]) as never] },
          options: { animation: false, responsive: false, parsing: false, scales: { x: { type: 'logarithmic', title: { display: true, text: 'N' } }, y: { title: { display: true, text: 'accuracy of the pick' } } },
            plugins: { title: { display: true, text: `${t.task}: best-of-N at the SFT start (PRM vs ORM vs majority)` } } },
        },
      });
    }
  });
  const quick = results.budget.quick ? ' — quick mode: a pipeline check, not a result' : '';
  const body = `<p class="notes">${escape(results.command)}${quick}</p>\n${markdownToHtml(learnMarkdown(results))}`;
  // Band edges are datasets of their own: keep them out of the legend.
  return chartPage({ title: 'steprl learning benchmark', body, charts, width: 620, height: 360, hideLegend: '95% (low|high)$' });
}

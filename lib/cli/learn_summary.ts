// learn_summary.ts: what `steprl learn` records and reports: the per-cell result, the summaries
// over seeds (means with 95% t intervals, paired differences against GRPO, mean learning and
// own-signal curves), and the Markdown table of the results.
import { meanInterval, pairedInterval, type Interval } from '../optim/stats';
import { type BestOfNSummary, bestOfNMarkdown } from './learn_bestofn';
import { type ClaimRow, claimsMarkdown } from './learn_claims';

export interface Budget {
  steps: number;
  prompts: number;
  group: number;
  evalProblems: number;
  evalN: number;
  prmNoise: number;
}

export interface CellResult {
  task: string;
  algo: string;
  seed: number;
  settings: Record<string, unknown>;
  /** Mean correctness of the n held-out samples per problem (an unbiased estimate of avg@8). */
  avg8: number;
  /** Unbiased pass@k for k = 1..n. */
  passAtK: Record<number, number>;
  meanLength: number;
  tokensTrained: number;
  rollouts: number;
  seconds: { train: number; eval: number };
  /** CPU seconds of the process (all threads) for the same two parts (cells run before this was recorded lack it). */
  cpuSeconds?: { train: number; eval: number };
  /** The training's wall seconds by phase, summed over the steps. */
  phases?: { rollout: number; reference: number; advantages: number; update: number };
  /** Per step: rollout accuracy, and (process methods) the own-signal ratio. */
  curve: { step: number; accuracy: number; kl: number; suffix?: number; ratio?: number; process?: number; outcome?: number }[];
  /** Mean over steps of the process and outcome parts, and their ratio (process methods only). */
  signal?: { process: number; outcome: number; ratio: number };
  prlEta?: number;
}

export interface AlgoSummary {
  algo: string;
  seeds: number[];
  avg8: Interval;
  passAtK: Record<number, Interval>;
  tokensTrained: Interval;
  seconds: Interval;
  signalRatio?: Interval;
  /** Paired differences against GRPO over the seeds both have. */
  vsGrpo?: { avg8: Interval; passAtK: Record<number, Interval> };
  curve: { step: number; mean: number; low: number; high: number }[];
  /** Per step, the own-signal ratio averaged over seeds (process methods only). */
  ratioCurve?: { step: number; mean: number }[];
}

export interface TaskSummary {
  task: string;
  /** The factor on every algorithm's learning rate for this task (absent when 1). */
  lrScale?: number;
  start: { avg8: number; passAtK: Record<number, number>; meanLength: number };
  prlEta?: { value: number; rule: string };
  /** This task's cell budget (the run's flags, the rest from the task's defaults). */
  budget: Budget;
  algorithms: AlgoSummary[];
  /** What the task's cells cost (means per cell over those that recorded it) and its SFT start. */
  cost?: TaskCost;
  /** Best-of-N (PRM, ORM, majority) at the SFT start. */
  bestOfN?: BestOfNSummary;
  /** The seed claims checked on this task (learn_claims.ts). */
  claims?: ClaimRow[];
}

export interface TaskCost {
  cells: number;
  /** Mean wall seconds per cell: training (and its phases) and evaluation. */
  wall: { train: number; eval: number; rollout: number; reference: number; update: number };
  /** Mean CPU seconds per cell over the `cells` cells that recorded it (NaN where none did). */
  cpu: { train: number; eval: number; cells: number };
  /** The SFT start's wall and CPU seconds when this output folder made it. */
  sft?: { wall: number; cpu: number };
}

/** Means per cell of what `cells` cost. */
export function taskCost(cells: readonly CellResult[], sft?: { wall: number; cpu: number }): TaskCost {
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  const timed = cells.filter((c) => c.cpuSeconds), phased = cells.filter((c) => c.phases);
  return {
    cells: cells.length,
    wall: {
      train: mean(cells.map((c) => c.seconds.train)), eval: mean(cells.map((c) => c.seconds.eval)),
      rollout: mean(phased.map((c) => c.phases!.rollout)), reference: mean(phased.map((c) => c.phases!.reference)), update: mean(phased.map((c) => c.phases!.update)),
    },
    cpu: { train: mean(timed.map((c) => c.cpuSeconds!.train)), eval: mean(timed.map((c) => c.cpuSeconds!.eval)), cells: timed.length },
    ...(sft ? { sft } : {}),
  };
}

export interface LearnResults {
  command: string;
  budget: Budget & { seeds: number[]; quick: boolean };
  ks: number[];
  tasks: TaskSummary[];
  wallSeconds: number;
  notes: string[];
}

/** The ks reported: 1, 2, 4, ... up to n, and n itself. */
export function reportedKs(n: number): number[] {
  const ks: number[] = [];
  for (let k = 1; k <= n; k *= 2) ks.push(k);
  if (ks[ks.length - 1] !== n) ks.push(n);
  return ks;
}

export function summarize(cells: readonly CellResult[], algos: readonly string[], seeds: readonly number[], ks: readonly number[]): AlgoSummary[] {
  const grpo = new Map(cells.filter((c) => c.algo === 'grpo').map((c) => [c.seed, c]));
  return algos.map((algo) => {
    const mine = seeds.map((s) => cells.find((c) => c.algo === algo && c.seed === s)).filter((c): c is CellResult => Boolean(c));
    const passAtK: Record<number, Interval> = {};
    for (const k of ks) passAtK[k] = meanInterval(mine.map((c) => c.passAtK[k]));
    const paired = mine.filter((c) => grpo.has(c.seed));
    const vsGrpo = algo !== 'grpo' && paired.length > 0 ? {
      avg8: pairedInterval(paired.map((c) => c.avg8), paired.map((c) => grpo.get(c.seed)!.avg8)),
      passAtK: Object.fromEntries(ks.map((k) => [k, pairedInterval(paired.map((c) => c.passAtK[k]), paired.map((c) => grpo.get(c.seed)!.passAtK[k]))])),
    } : undefined;
    const steps = Math.max(0, ...mine.map((c) => c.curve.length));
    const curve = Array.from({ length: steps }, (_, i) => {
      const iv = meanInterval(mine.filter((c) => c.curve[i]).map((c) => c.curve[i].accuracy));
      return { step: i, mean: iv.mean, low: Number.isFinite(iv.low) ? iv.low : iv.mean, high: Number.isFinite(iv.high) ? iv.high : iv.mean };
    });
    const signals = mine.filter((c) => c.signal);
    const ratioCurve = Array.from({ length: steps }, (_, i) => {
      const rs = mine.map((c) => c.curve[i]?.ratio).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
      return { step: i, mean: rs.length ? rs.reduce((a, b) => a + b, 0) / rs.length : NaN };
    }).filter((p) => Number.isFinite(p.mean));
    return {
      algo, seeds: mine.map((c) => c.seed),
      avg8: meanInterval(mine.map((c) => c.avg8)), passAtK,
      tokensTrained: meanInterval(mine.map((c) => c.tokensTrained)),
      seconds: meanInterval(mine.map((c) => c.seconds.train + c.seconds.eval)),
      ...(signals.length ? { signalRatio: meanInterval(signals.map((c) => c.signal!.ratio).filter(Number.isFinite)) } : {}),
      ...(vsGrpo ? { vsGrpo } : {}),
      curve,
      ...(ratioCurve.length ? { ratioCurve } : {}),
    };
  });
}

const pct = (iv: Interval) => (Number.isFinite(iv.half) ? `${(100 * iv.mean).toFixed(1)} ± ${(100 * iv.half).toFixed(1)}` : `${(100 * iv.mean).toFixed(1)} (n/a)`);
const signedPct = (iv: Interval) => (Number.isFinite(iv.half)
  ? `${iv.mean >= 0 ? '+' : ''}${(100 * iv.mean).toFixed(1)} ± ${(100 * iv.half).toFixed(1)}`
  : `${iv.mean >= 0 ? '+' : ''}${(100 * iv.mean).toFixed(1)} (n/a)`);

/** The results as Markdown: one table per task, percentages with 95% half-widths over seeds. */
export function learnMarkdown(r: LearnResults): string {
  const n = r.budget.evalN;
  const mid = r.ks.includes(8) ? 8 : r.ks[Math.floor(r.ks.length / 2)];
  const lines = [`# steprl learning benchmark`, '', `\`${r.command}\` — ${r.budget.seeds.length} seed(s) (${r.budget.seeds.join(', ')}), ${(r.wallSeconds / 60).toFixed(1)} min wall${r.budget.quick ? ' — QUICK MODE: a pipeline check, not a result' : ''}`, ''];
  for (const t of r.tasks) {
    lines.push(`## ${t.task}`, '', `SFT start: avg@8 ${(100 * t.start.avg8).toFixed(1)}%, pass@1 ${(100 * t.start.passAtK[1]).toFixed(1)}%, pass@${mid} ${(100 * t.start.passAtK[mid]).toFixed(1)}%, pass@${n} ${(100 * t.start.passAtK[n]).toFixed(1)}%, mean response ${t.start.meanLength.toFixed(1)} tokens.` +
      (t.prlEta ? ` PRL η = ${t.prlEta.value.toPrecision(3)} (${t.prlEta.rule}).` : '') +
      (t.lrScale !== undefined ? ` Learning rates: each algorithm's × ${t.lrScale}.` : '') +
      (t.budget ? ` Each cell: ${t.budget.steps} steps × ${t.budget.prompts} prompts × ${t.budget.group} rollouts; held-out ${t.budget.evalProblems} problems × ${t.budget.evalN} samples.` : ''), '');
    lines.push(`| algorithm | seeds | avg@8 % | pass@1 % | pass@${mid} % | pass@${n} % | Δavg@8 vs GRPO | Δpass@${n} vs GRPO | own signal / outcome | tokens trained | wall s |`);
    lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const a of t.algorithms) {
      lines.push(`| ${a.algo} | ${a.seeds.length} | ${pct(a.avg8)} | ${pct(a.passAtK[1])} | ${pct(a.passAtK[mid])} | ${pct(a.passAtK[n])} | ` +
        `${a.vsGrpo ? signedPct(a.vsGrpo.avg8) : '—'} | ${a.vsGrpo ? signedPct(a.vsGrpo.passAtK[n]) : '—'} | ` +
        `${a.signalRatio && Number.isFinite(a.signalRatio.mean) ? a.signalRatio.mean.toPrecision(2) : '—'} | ${Math.round(a.tokensTrained.mean)} | ${a.seconds.mean.toFixed(0)} |`);
    }
    lines.push('');
    if (t.cost && t.cost.cells > 0) {
      const w = t.cost.wall, cpu = t.cost.cpu, s = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
      lines.push(`Cost per cell (mean of ${t.cost.cells}): wall ${s(w.train)} s training (rollouts ${s(w.rollout)}, reference ${s(w.reference)}, update ${s(w.update)}) + ${s(w.eval)} s evaluation; ` +
        `CPU ${s(cpu.train)} + ${s(cpu.eval)} s${cpu.cells !== t.cost.cells ? ` (mean of the ${cpu.cells} cells that recorded it)` : ''}` + (t.cost.sft ? `; SFT start ${s(t.cost.sft.wall)} s wall, ${s(t.cost.sft.cpu)} s CPU.` : '.'), '');
    }
    if (t.claims) lines.push(...claimsMarkdown(t.claims));
    if (t.bestOfN) lines.push(...bestOfNMarkdown(t.bestOfN, t.start.passAtK));
  }
  lines.push(...r.notes.map((note) => `- ${note}`), '');
  return lines.join('\n');
}

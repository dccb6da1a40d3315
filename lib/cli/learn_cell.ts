// learn_cell.ts: one cell of `steprl learn`: an algorithm trained from the task's SFT start for the
// budget with one seed, then evaluated on the held-out problems (n samples each: avg@8, unbiased
// pass@k, mean response length); and PRL's η chosen from the GRPO cells (docs/ALGORITHMS-notes.md).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { TinyLM } from '../model/tinylm';
import { Trainer } from '../optim/base';
import { accuracy, type Samples, sampleResponses } from '../optim/evaluate';
import type { StepMetrics } from '../optim/metrics';
import { prlEta } from '../optim/prl_eta';
import { passAtKCurve } from '../optim/stats';
import type { Task } from '../tasks/task';
import { learnAlgorithm } from './learn_algos';
import type { Budget, CellResult } from './learn_summary';
import { Progress } from './progress';
import { createPrm, tokenizer } from './setup';

/** CPU seconds (user + system, every thread of the process) since `from` (a process.cpuUsage() reading). */
export function cpuSecondsSince(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
}

/** The held-out samples a model is evaluated on: the task's first evalProblems test problems, evalN samples each at temperature 1. */
export async function drawEvalSamples(model: TinyLM, task: Task, budget: Budget, maxNewTokens: number, seed: number): Promise<Samples> {
  const problems = task.problems('test', budget.evalProblems, 0);
  return sampleResponses(model, tokenizer, task, problems, { n: budget.evalN, maxNewTokens, temperature: 1, seed: 0x5eed + seed });
}

/** avg@8, unbiased pass@k (k = 1..n) and mean response length of the held-out samples, and the samples. */
export async function evaluateModel(model: TinyLM, task: Task, budget: Budget, maxNewTokens: number, seed: number) {
  const samples = await drawEvalSamples(model, task, budget, maxNewTokens, seed);
  const counts = samples.correct.map((c) => c.filter(Boolean).length);
  let length = 0, count = 0;
  for (const texts of samples.texts) for (const t of texts) {
    length += tokenizer.encode(t).length + 1;
    count++;
  }
  const ks = Array.from({ length: budget.evalN }, (_, i) => i + 1);
  return { avg8: accuracy(samples).avg, passAtK: passAtKCurve(counts, budget.evalN, ks), meanLength: length / Math.max(count, 1), samples };
}

/**
 * What a cell is keyed by (result.json's settings; a finished cell is reused while they are equal as
 * JSON, key order included): the budget, response length, the SFT start's stamp, the learning rate
 * and PRL's η. Changing it re-runs every finished cell of every output folder.
 */
export function cellSettings(budget: Budget, maxNewTokens: number, sftStamp: number, lr: number, prlEta?: number): Record<string, unknown> {
  return { budget, maxNewTokens, sftStamp, lr, ...(prlEta !== undefined ? { prlEta } : {}) };
}

/** PRL's η: the flag's number, or the rule from the GRPO cells already run on this task. */
export function chooseEta(flag: string, cells: readonly CellResult[], meanLength: number, taskName: string): { value: number; rule: string } {
  if (flag !== 'auto') return { value: Number(flag), rule: `--prl-eta ${flag}` };
  const grpoCells = cells.filter((c) => c.algo === 'grpo');
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  const perCell = (pick: (p: CellResult['curve'][number]) => number | undefined) =>
    mean(grpoCells.map((c) => mean(c.curve.map(pick).filter((x): x is number => typeof x === 'number' && Number.isFinite(x)))));
  const suffixAbs = perCell((p) => p.suffix), outcomeAbs = perCell((p) => p.outcome);
  let value: number, source: string;
  if (grpoCells.length > 0 && suffixAbs > 0 && outcomeAbs > 0) {
    value = prlEta({ suffixAbs, outcomeAbs });
    source = `GRPO's ${grpoCells.length} cell(s): mean |S| ${suffixAbs.toPrecision(3)}, mean |A| ${outcomeAbs.toPrecision(3)}`;
  } else {
    // No usable GRPO cell (not run, or no learning signal): the first-order estimate κ·L/2.
    value = prlEta({ meanLength, klPerToken: FALLBACK_KL, outcomeAbs: FALLBACK_OUTCOME_ABS });
    source = `no usable GRPO cell; assumed per-token KL ${FALLBACK_KL}, |A| ${FALLBACK_OUTCOME_ABS}, L = ${meanLength.toFixed(1)}`;
  }
  process.stderr.write(`learn [${taskName}]: PRL η = ${value.toPrecision(3)} (${source}; target ratio 0.25)\n`);
  return { value, rule: `η = E|S|/(0.25·E|A|) from ${source}` };
}

const FALLBACK_KL = 0.01;
const FALLBACK_OUTCOME_ABS = 0.5;

export interface CellInputs {
  task: Task;
  taskName: string;
  algo: string;
  seed: number;
  budget: Budget;
  maxNewTokens: number;
  /** The algorithm's learning rate times the task's (or --lr-scale's) factor. */
  lr: number;
  sftDir: string;
  device: 'cpu' | 'cuda';
  cellDir: string;
  settings: Record<string, unknown>;
  eta?: number;
}

export async function runCell(c: CellInputs): Promise<CellResult> {
  const spec = learnAlgorithm(c.algo)!;
  const reference = TinyLM.load(c.sftDir, { device: c.device });
  const policy = TinyLM.load(c.sftDir, { device: c.device, valueHead: spec.valueHead });
  const prm = createPrm(c.task, c.budget.prmNoise, c.seed);
  const trainer = new Trainer({
    policy, reference, algorithm: spec.make({ prlEta: c.eta ?? 200 }), task: c.task, tokenizer, prm,
    promptsPerStep: c.budget.prompts, groupSize: c.budget.group, maxNewTokens: c.maxNewTokens, lr: c.lr, seed: c.seed,
  });
  const progress = new Progress(`learn [${c.taskName}] ${c.algo} seed ${c.seed}`, c.budget.steps);
  const metrics: StepMetrics[] = [];
  const trainStart = Date.now(), trainCpu = process.cpuUsage();
  const metricsFile = path.join(c.cellDir, 'metrics.jsonl');
  let tokensTrained = 0;
  while (trainer.step < c.budget.steps) {
    const m = await trainer.trainStep();
    metrics.push(m);
    tokensTrained += Math.round(m.responseLength * c.budget.prompts * c.budget.group);
    fs.appendFileSync(metricsFile, JSON.stringify(m) + '\n');
    progress.update(trainer.step, { acc: m.accuracy, kl: m.kl, len: m.responseLength, ...(m.signal ? { ratio: m.signal.ratio } : {}) });
  }
  const train = (Date.now() - trainStart) / 1000, trainCpuSeconds = cpuSecondsSince(trainCpu);
  const evalStart = Date.now(), evalCpu = process.cpuUsage();
  const evaluation = await evaluateModel(policy, c.task, c.budget, c.maxNewTokens, c.seed);
  const seconds = { train, eval: (Date.now() - evalStart) / 1000 };
  const cpuSeconds = { train: trainCpuSeconds, eval: cpuSecondsSince(evalCpu) };
  // Where the training's wall time went, summed over the steps (the Trainer times each phase).
  const phases = { rollout: 0, reference: 0, advantages: 0, update: 0 };
  for (const m of metrics) for (const k of Object.keys(phases) as (keyof typeof phases)[]) phases[k] += m.seconds?.[k] ?? 0;
  progress.finish(`avg@8 ${(100 * evaluation.avg8).toFixed(1)}%, pass@8 ${(100 * evaluation.passAtK[8]).toFixed(1)}%, ${seconds.train.toFixed(0)} s train + ${seconds.eval.toFixed(0)} s eval`);
  policy.dispose();
  reference.dispose();
  const withSignal = metrics.filter((m) => m.signal);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  return {
    task: c.taskName, algo: c.algo, seed: c.seed, settings: c.settings,
    avg8: evaluation.avg8, passAtK: evaluation.passAtK, meanLength: evaluation.meanLength,
    tokensTrained, rollouts: c.budget.steps * c.budget.prompts * c.budget.group, seconds, cpuSeconds, phases,
    curve: metrics.map((m) => ({
      step: m.step, accuracy: m.accuracy, kl: m.kl, outcome: m.advantageAbsMean,
      ...(m.suffixLogRatioAbs !== undefined ? { suffix: m.suffixLogRatioAbs } : {}),
      ...(m.signal ? { ratio: m.signal.ratio, process: m.signal.process, outcome: m.signal.outcome } : {}),
    })),
    ...(withSignal.length ? {
      signal: (() => {
        const process = mean(withSignal.map((m) => m.signal!.process)), outcome = mean(withSignal.map((m) => m.signal!.outcome));
        return { process, outcome, ratio: outcome > 0 ? process / outcome : NaN };
      })(),
    } : {}),
    ...(c.eta !== undefined ? { prlEta: c.eta } : {}),
  };
}


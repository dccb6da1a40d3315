// eval.ts: `steprl eval` — held-out avg@n and pass@n of a checkpoint, and best-of-N selection by
// the PRM, by an outcome-only scorer (ORM) and by majority vote for several N (the comparison of
// "Let's Verify Step by Step"), on an embedded task or on the held-out samples of --data with
// --reward. An empty held-out split is an error, not a score of 0.
import * as path from 'node:path';

import { accuracy, bestOfNAccuracy, sampleResponses, type AccuracyReport, type Selector } from '../../optim/evaluate';
import { writeFileAtomic } from '../../util/atomic';
import { type Flags, helpText, parse, UsageError } from '../args';
import { Progress } from '../progress';
import { createPrm, loadModel, loadTask } from '../setup';
import { combineRewards, toPrm } from '../../text/reward';
import { taskReward } from '../../text/task';
import { loadData, loadPrm, loadReward, loadTokenizer } from '../user_modules';

export const EVAL_FLAGS = {
  model: { type: 'string', description: 'checkpoint folder to evaluate (or "tiny")' },
  task: { type: 'string', description: 'arithmetic, arithmetic-long, sorting or file:<path.jsonl>', default: 'arithmetic' },
  data: { type: 'string', description: 'your samples (JSON Lines); their "split": "test" lines are evaluated (instead of --task)' },
  reward: { type: 'string', description: 'module whose default export is the reward function (with --data)' },
  prm: { type: 'string', description: 'PRM for best-of-N with --data: a module or a served PRM\'s URL' },
  tokenizer: { type: 'string', description: 'tokenizer folder (default: the model\'s)' },
  problems: { type: 'integer', description: 'held-out problems for avg@n / pass@n', default: 128, min: 1 },
  n: { type: 'integer', description: 'samples per problem', default: 8, min: 1 },
  'best-of': { type: 'string', description: 'N values for best-of-N selection (comma-separated; empty = skip)', default: '1,4,16,64' },
  'best-of-problems': { type: 'integer', description: 'held-out problems for best-of-N', default: 64, min: 1 },
  'max-new-tokens': { type: 'integer', description: 'response budget', default: 40, min: 1 },
  temperature: { type: 'number', description: 'sampling temperature', default: 1, min: 0 },
  'prm-noise': { type: 'number', description: 'label noise of the rule-based PRM', default: 0.1, min: 0, max: 1 },
  seed: { type: 'integer', description: 'sampling seed', default: 0, min: 0 },
  device: { type: 'string', description: 'cpu or cuda', default: 'cpu', choices: ['cpu', 'cuda'] },
  out: { type: 'string', description: 'write the results as JSON to this file' },
  quiet: { type: 'boolean', description: 'no progress output' },
} satisfies Flags;

export const EVAL_HELP = helpText('eval', 'held-out accuracy (avg@n, pass@n) and best-of-N with PRM / ORM / majority vote', EVAL_FLAGS);

export interface EvalResult {
  model: string;
  task: string;
  accuracy: AccuracyReport;
  bestOfN?: Record<Selector, Record<number, number>>;
}

export async function runEval(argv: readonly string[]): Promise<EvalResult | null> {
  const flags = parse('eval', argv, EVAL_FLAGS);
  if (flags.help) {
    process.stdout.write(EVAL_HELP);
    return null;
  }
  if (!flags.model) throw new UsageError('--model is required (a checkpoint folder)', 'eval');
  const sizes = flags['best-of']!.split(',').filter((s) => s.trim() !== '').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new UsageError(`--best-of must list positive integers (received ${JSON.stringify(flags['best-of'])})`, 'eval');
  if (flags.data && !flags.reward) throw new UsageError('--data needs --reward <module>', 'eval');
  const task = flags.data ? null : loadTask(flags.task!, 'eval');
  const data = flags.data ? loadData(flags.data, 'eval') : null;
  const verify = flags.reward ? combineRewards(await loadReward(flags.reward, 'eval')) : combineRewards(taskReward(task!));
  const taskName = data ? `data:${path.resolve(flags.data!)}` : task!.name;
  const heldOut = (count: number) => (data ? data.test.slice(0, count) : task!.problems('test', count, flags.seed));
  const problems = heldOut(flags.problems!);
  if (problems.length === 0)
    throw new UsageError(`${data ? `--data ${flags.data}` : `--task ${flags.task}`}: no held-out problems to evaluate (lines with "split": "test")`, 'eval');
  const model = loadModel(flags.model, flags.device as 'cpu' | 'cuda', 'eval');
  const tokenizer = loadTokenizer(flags.tokenizer ? path.resolve(flags.tokenizer) : flags.model === 'tiny' ? null : path.resolve(flags.model), model, 'eval');
  const common = { maxNewTokens: flags['max-new-tokens']!, temperature: flags.temperature, seed: flags.seed };
  const progress = flags.quiet ? null : new Progress(`eval ${path.basename(flags.model)}`, problems.length * flags.n!);
  const samples = await sampleResponses(model, tokenizer, verify, problems, { ...common, n: flags.n!, onProgress: (d) => progress?.update(d) });
  const result: EvalResult = { model: flags.model, task: taskName, accuracy: accuracy(samples) };
  progress?.finish(`avg@${flags.n} ${result.accuracy.avg.toFixed(3)}, pass@${flags.n} ${result.accuracy.pass.toFixed(3)}`);
  if (sizes.length > 0 && (task || flags.prm)) {
    const N = Math.max(...sizes);
    const subset = heldOut(flags['best-of-problems']!);
    const bonProgress = flags.quiet ? null : new Progress(`best-of-${N}`, subset.length * N);
    const many = await sampleResponses(model, tokenizer, verify, subset, { ...common, n: N, onProgress: (d) => bonProgress?.update(d) });
    let prm;
    if (flags.prm) prm = toPrm(await loadPrm(flags.prm, {}, 'eval'));
    else {
      const rule = createPrm(task!, flags['prm-noise']!, flags.seed!);
      rule.register(subset as never[]);
      prm = rule;
    }
    result.bestOfN = await bestOfNAccuracy(many, prm, sizes);
    bonProgress?.finish(sizes.map((s) => `N=${s}: prm ${result.bestOfN!.prm[s].toFixed(2)} orm ${result.bestOfN!.orm[s].toFixed(2)} maj ${result.bestOfN!.majority[s].toFixed(2)}`).join('; '));
  }
  model.dispose();
  if (flags.out) writeFileAtomic(path.resolve(flags.out), JSON.stringify(result, null, 2) + '\n');
  return result;
}

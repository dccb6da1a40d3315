// train.ts: `steprl train --algo <name>` — RL from a checkpoint on an embedded task, or on the
// user's own samples (--data file.jsonl) with the user's reward module (--reward) and PRM (--prm,
// a module or a served PRM's URL); a progress bar and live metrics, metrics.jsonl (one line per
// step), and an atomic checkpoint after every step (by default), so `--resume` after any kill
// continues from the last completed step exactly. A resumed run refuses settings that differ from
// the ones it was started with unless --force-resume.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { TinyLM } from '../../model/tinylm';
import { Trainer } from '../../optim/base';
import { loadOptimizerState, readTrainingState, saveTrainingCheckpoint } from '../../optim/checkpoint';
import type { StepMetrics } from '../../optim/metrics';
import { writeFileAtomic } from '../../util/atomic';
import type { LoadedSample } from '../../text/dataset';
import { promptFormatFor } from '../../text/prompt';
import { type Flags, helpText, parse, UsageError } from '../args';
import { loadData, loadPrm, loadReward, loadSplitter, loadTokenizer } from '../user_modules';
import { Progress } from '../progress';
import {
  ALGORITHMS, type AlgorithmName, checkFitsMemory, createAlgorithm, createPrm, DEFAULT_LR, isCheckpoint, loadModel, loadTask, needsValueHead,
} from '../setup';

export const TRAIN_FLAGS = {
  algo: { type: 'string', description: 'the algorithm', choices: ALGORITHMS },
  task: { type: 'string', description: 'arithmetic, arithmetic-long, sorting or file:<path.jsonl>', default: 'arithmetic' },
  data: { type: 'string', description: 'your samples, JSON Lines {"prompt": string | messages, "answer"?, "split"?: "train"|"test", ...} (instead of --task)' },
  reward: { type: 'string', description: 'module whose default export is the reward: (completion, sample) => number | Promise<number>, or a list of them / {fn, weight}' },
  prm: { type: 'string', description: 'process reward model: a module (default export (prompt, steps, sample) => scores) or a served PRM\'s URL' },
  'prm-format': { type: 'string', description: 'request shape of a served PRM', default: 'pooling', choices: ['pooling', 'classify', 'tgi'] },
  'prm-model': { type: 'string', description: 'model name sent to a served PRM' },
  'prm-timeout': { type: 'integer', description: 'milliseconds per PRM request', default: 60000, min: 1 },
  splitter: { type: 'string', description: 'step splitter: newline, numbered, fixed:<tokens>, entropy or a module (default: the algorithm\'s)' },
  model: { type: 'string', description: 'starting checkpoint folder (steprl or Hugging Face layout) or "tiny"', default: 'runs/sft' },
  tokenizer: { type: 'string', description: 'tokenizer folder (default: the model\'s)' },
  out: { type: 'string', description: 'run folder (checkpoint/, metrics.jsonl); default runs/<algo>' },
  resume: { type: 'boolean', description: 'continue the run in --out from its last checkpoint' },
  'force-resume': { type: 'boolean', description: '--resume even when settings differ from the saved ones' },
  steps: { type: 'integer', description: 'RL steps (total, counting resumed ones)', default: 30, min: 1 },
  prompts: { type: 'integer', description: 'prompts per step', default: 16, min: 1 },
  group: { type: 'integer', description: 'rollouts per prompt (G)', default: 8, min: 1 },
  lr: { type: 'number', description: 'learning rate (default: the algorithm\'s, 1e-4 or 5e-5 with a critic)', min: 0 },
  'max-new-tokens': { type: 'integer', description: 'response budget', default: 40, min: 1 },
  temperature: { type: 'number', description: 'sampling temperature', default: 1, min: 0 },
  'prm-noise': { type: 'number', description: 'label noise of the rule-based PRM (embedded tasks without --prm)', default: 0.1, min: 0, max: 1 },
  'save-every': { type: 'integer', description: 'checkpoint every N steps (1 = no completed step is ever lost)', default: 1, min: 1 },
  seed: { type: 'integer', description: 'seed of problems and sampling', default: 0, min: 0 },
  device: { type: 'string', description: 'cpu or cuda', default: 'cpu', choices: ['cpu', 'cuda'] },
  quiet: { type: 'boolean', description: 'no progress bar' },
} satisfies Flags;

export const TRAIN_HELP = helpText('train', 'reinforcement learning from a checkpoint', TRAIN_FLAGS);

export interface TrainSummary {
  algo: AlgorithmName;
  dir: string;
  checkpoint: string;
  steps: number;
  seconds: number;
  metrics: StepMetrics[];
}

function readMetrics(file: string, keep: number): StepMetrics[] {
  if (!fs.existsSync(file)) return [];
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const out: StepMetrics[] = [];
  for (const line of lines) {
    try {
      const m = JSON.parse(line) as StepMetrics;
      if (m.step < keep) out[m.step] = m;
    } catch {
      // a line torn by a kill: the step it described is redone
    }
  }
  return out.filter(Boolean);
}

export async function runTrain(argv: readonly string[], options: { label?: string } = {}): Promise<TrainSummary | null> {
  const flags = parse('train', argv, TRAIN_FLAGS);
  if (flags.help) {
    process.stdout.write(TRAIN_HELP);
    return null;
  }
  if (!flags.algo) throw new UsageError(`--algo is required (one of ${ALGORITHMS.join(', ')})`, 'train');
  const algo = flags.algo as AlgorithmName;
  const device = flags.device as 'cpu' | 'cuda';
  const dir = path.resolve(flags.out ?? path.join('runs', algo));
  const checkpoint = path.join(dir, 'checkpoint');
  const metricsFile = path.join(dir, 'metrics.jsonl');
  const state = isCheckpoint(checkpoint) ? readTrainingState(checkpoint) : null;
  const resume = flags.resume || flags['force-resume'];
  if (state && !resume)
    throw new UsageError(`${dir} already holds a run (step ${state.step}); pass --resume to continue it or choose another --out`, 'train');
  if (resume && !state) throw new UsageError(`--resume: no checkpoint to resume in ${checkpoint}`, 'train');
  if (state && state.run.algo !== algo)
    throw new UsageError(`--resume: ${dir} is a ${String(state.run.algo)} run, not ${algo}`, 'train');
  if (flags.data && !flags.reward) throw new UsageError('--data needs --reward <module> (the reward function of a completion and its sample)', 'train');
  const algorithm = createAlgorithm(algo);
  if (flags.data && algorithm.needs.prm && !flags.prm)
    throw new UsageError(`--algo ${algo} scores steps with a process reward model: pass --prm <module | URL>`, 'train');
  const task = flags.data ? null : loadTask(flags.task!, 'train');
  const data = flags.data ? loadData(flags.data, 'train') : null;
  if (data && data.train.length === 0) throw new UsageError(`--data ${flags.data}: no training samples (every line has "split": "test", or the file is empty)`, 'train');
  const reward = flags.reward ? await loadReward(flags.reward, 'train') : undefined;
  const splitter = flags.splitter ? await loadSplitter(flags.splitter, 'train') : undefined;
  const start = state ? String(state.run.from) : flags.model === 'tiny' ? 'tiny' : path.resolve(flags.model!);
  const initial = loadModel(start, device, 'train', flags.seed);
  const tokenizerDir = flags.tokenizer ? path.resolve(flags.tokenizer) : start === 'tiny' ? null : start;
  const tokenizer = loadTokenizer(tokenizerDir, initial, 'train');
  const format = promptFormatFor(tokenizer);
  const probeSamples: readonly LoadedSample[] = data ? data.train.slice(0, 64) : task!.problems('train', 64, flags.seed);
  const probe = probeSamples.reduce((n, p) => Math.max(n, format(p, tokenizer).length + 1), 0);
  checkFitsMemory(initial.config, flags.prompts! * flags.group!, probe + flags['max-new-tokens']!, 64, 'train',
    `--prompts ${flags.prompts} x --group ${flags.group} with --max-new-tokens ${flags['max-new-tokens']}`);
  const lr = flags.lr ?? DEFAULT_LR[algo];
  const run = {
    algo, task: data ? `data:${path.resolve(flags.data!)}` : task!.name, from: start, seed: flags.seed, lr, prompts: flags.prompts, group: flags.group,
    reward: flags.reward ? path.resolve(flags.reward) : null, prm: flags.prm ? (/^https?:/.test(flags.prm) ? flags.prm : path.resolve(flags.prm)) : null,
    splitter: flags.splitter ?? null, tokenizer: tokenizerDir, maxNewTokens: flags['max-new-tokens'], temperature: flags.temperature,
  };
  if (state && !flags['force-resume']) {
    const saved = state.run as Record<string, unknown>;
    const changed = Object.entries(run).filter(([k, v]) => k in saved && k !== 'from' && JSON.stringify(saved[k]) !== JSON.stringify(v));
    if (changed.length > 0)
      throw new UsageError(`--resume: settings differ from the saved run's (${changed.map(([k, v]) => `${k}: ${JSON.stringify(saved[k])} saved, ${JSON.stringify(v)} now`).join('; ')}); pass the same flags, or --force-resume`, 'train');
  }
  const prm = flags.prm
    ? await loadPrm(flags.prm, { format: flags['prm-format'], model: flags['prm-model'], timeoutMs: flags['prm-timeout'] }, 'train')
    : task ? createPrm(task, flags['prm-noise']!, flags.seed!) : undefined;
  const reference = initial.clone();
  const policy = state ? TinyLM.load(checkpoint, { device }) : initial.clone({ valueHead: needsValueHead(algo) });
  initial.dispose();
  const trainer = new Trainer({
    policy, reference, algorithm, tokenizer, prm, splitter,
    ...(data ? { dataset: data.train } : { task: task! }), ...(reward ? { reward } : {}),
    promptsPerStep: flags.prompts, groupSize: flags.group, maxNewTokens: flags['max-new-tokens'], temperature: flags.temperature, lr, seed: flags.seed,
  });
  if (state) {
    trainer.restore(state);
    loadOptimizerState(checkpoint, trainer.optimizer, state.optimizerStep);
  }
  fs.mkdirSync(dir, { recursive: true });
  // Lines past the checkpoint belong to steps that will be redone.
  const metrics = readMetrics(metricsFile, trainer.step);
  writeFileAtomic(metricsFile, metrics.map((m) => JSON.stringify(m) + '\n').join(''));
  let stop = false;
  const onSignal = () => {
    stop = true;
    process.stderr.write('\ntrain: stopping after this step (the checkpoint will be saved)\n');
  };
  process.once('SIGINT', onSignal);
  const label = options.label ?? `train ${algo}`;
  const progress = flags.quiet ? null : new Progress(label, flags.steps!);
  const started = Date.now();
  try {
    while (trainer.step < flags.steps! && !stop) {
      const m = await trainer.trainStep();
      metrics.push(m);
      fs.appendFileSync(metricsFile, JSON.stringify(m) + '\n');
      if (trainer.step % flags['save-every']! === 0 || trainer.step === flags.steps)
        saveTrainingCheckpoint(checkpoint, policy, trainer.optimizer, { ...trainer.state(), run });
      progress?.update(trainer.step, { acc: m.accuracy, reward: m.scoreMean, kl: m.kl, len: m.responseLength, 's/step': m.seconds.total });
    }
  } finally {
    process.removeListener('SIGINT', onSignal);
  }
  if (stop) saveTrainingCheckpoint(checkpoint, policy, trainer.optimizer, { ...trainer.state(), run });
  const seconds = (Date.now() - started) / 1000;
  progress?.finish(`${trainer.step} steps, last accuracy ${metrics.at(-1)?.accuracy.toFixed(3) ?? '-'}; ${checkpoint}`);
  policy.dispose();
  reference.dispose();
  return { algo, dir, checkpoint, steps: trainer.step, seconds, metrics };
}

// sft.ts: `steprl sft` — warm-start a policy with supervised fine-tuning on a task's worked
// solutions, a fraction of them deliberately flawed (one wrong step), so RL has room to improve.
import * as path from 'node:path';

import { supervisedFineTune } from '../../model/sft';
import { promptTokens } from '../../optim/rollout';
import { Random } from '../../util/random';
import { type Flags, helpText, parse } from '../args';
import { Progress } from '../progress';
import { loadModel, loadTask, tokenizer } from '../setup';

export const SFT_FLAGS = {
  task: { type: 'string', description: 'arithmetic, arithmetic-long, sorting or file:<path.jsonl>', default: 'arithmetic' },
  model: { type: 'string', description: '"tiny" (the embedded model, freshly initialized) or a checkpoint folder', default: 'tiny' },
  out: { type: 'string', description: 'checkpoint folder to write', default: 'runs/sft' },
  problems: { type: 'integer', description: 'training problems', default: 6000, min: 1 },
  epochs: { type: 'integer', description: 'passes over them', default: 4, min: 1 },
  flawed: { type: 'number', description: 'fraction of solutions with one wrong step', default: 0.2, min: 0, max: 1 },
  lr: { type: 'number', description: 'peak learning rate (warmup, cosine decay)', default: 3e-3, min: 0 },
  batch: { type: 'integer', description: 'sequences per step', default: 32, min: 1 },
  seed: { type: 'integer', description: 'seed of initialization, data and order', default: 0, min: 0 },
  device: { type: 'string', description: 'cpu or cuda', default: 'cpu', choices: ['cpu', 'cuda'] },
} satisfies Flags;

export const SFT_HELP = helpText('sft', 'supervised warm start on worked solutions (some deliberately flawed)', SFT_FLAGS);

export interface SftSummary {
  dir: string;
  seconds: number;
  finalLoss: number;
  tokensPerSecond: number;
}

export async function runSft(argv: readonly string[]): Promise<SftSummary | null> {
  const flags = parse('sft', argv, SFT_FLAGS);
  if (flags.help) {
    process.stdout.write(SFT_HELP);
    return null;
  }
  const task = loadTask(flags.task!, 'sft');
  const model = loadModel(flags.model!, flags.device as 'cpu' | 'cuda', 'sft', flags.seed);
  const random = new Random(flags.seed! + 5);
  const examples = task.problems('train', flags.problems!, flags.seed).map((p) => ({
    prompt: promptTokens(tokenizer, p),
    completion: Int32Array.from([...tokenizer.encode(task.solution(p, { flawed: random.next() < flags.flawed!, random })), tokenizer.eosId]),
  }));
  const started = Date.now();
  const progress = new Progress('sft', Math.ceil(examples.length / flags.batch!) * flags.epochs!);
  const result = await supervisedFineTune(model, examples, {
    epochs: flags.epochs, batchSize: flags.batch, lr: flags.lr, seed: flags.seed, padToken: tokenizer.padId,
    onStep: (s) => progress.update(s.step, { loss: s.loss, lr: s.lr }),
  });
  const seconds = (Date.now() - started) / 1000;
  progress.finish(`final loss ${result.finalLoss.toFixed(3)}, ${Math.round(result.tokensPerSecond)} tokens/s`);
  const dir = path.resolve(flags.out!);
  model.save(dir, {
    extraFiles: { 'sft.json': JSON.stringify({ task: task.name, settings: flags, finalLoss: result.finalLoss, seconds }, null, 2) + '\n' },
  });
  process.stderr.write(`sft: saved ${dir}\n`);
  model.dispose();
  return { dir, seconds, finalLoss: result.finalLoss, tokensPerSecond: result.tokensPerSecond };
}

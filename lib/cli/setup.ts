// setup.ts: what the CLI commands build from their flags: the tokenizer, the task, the embedded
// model (or a Hugging Face folder), the rule-based PRM and each algorithm with the settings the
// embedded task uses (its responses are ~30 tokens: steps are lines, PRPO's min gap is 4 tokens).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { TinyLM } from '../model/tinylm';
import { ByteTokenizer } from '../model/tokenizer';
import type { TinyLMConfig, TinyLMConfigInput } from '../model/config';
import type { Device } from '../tensor';
import { createTask, type Task } from '../tasks/index';
import { RuleBasedPRM } from '../reward/prm';
import { newlineSplitter } from '../reward/splitters';
import type { Algorithm } from '../optim/algorithm';
import { grpo } from '../optim/grpo';
import { ppo } from '../optim/ppo';
import { pspo } from '../optim/pspo';
import { prl } from '../optim/prl';
import { prpo } from '../optim/prpo';
import { processGrpo } from '../optim/process_grpo';
import { rloo } from '../optim/rloo';
import { reinforcePP } from '../optim/reinforce_pp';
import { gspo } from '../optim/gspo';
import { cispo } from '../optim/cispo';
import { UsageError } from './args';

/** What `steprl demo` runs by default: GRPO, PPO and the process-supervised methods. */
export const CORE_ALGORITHMS = ['grpo', 'ppo', 'pspo', 'prl', 'prpo', 'process-grpo'] as const;
/** Everything `--algo` accepts: the core set plus the outcome-RL baselines (docs/ALGORITHMS-baselines.md). */
export const ALGORITHMS = [...CORE_ALGORITHMS, 'rloo', 'reinforce++', 'reinforce++-baseline', 'gspo', 'cispo'] as const;
export type AlgorithmName = (typeof ALGORITHMS)[number];

export const tokenizer = new ByteTokenizer();

/** The embedded default: a 0.7M-parameter Llama-style model over bytes. */
export const TINY: TinyLMConfigInput = {
  architecture: 'llama', vocabSize: tokenizer.vocabSize, hiddenSize: 128, numLayers: 4, numHeads: 4, numKvHeads: 4,
  intermediateSize: 256, maxPositions: 256, tieEmbeddings: true, bosTokenId: tokenizer.bosId, eosTokenId: tokenizer.eosId, padTokenId: tokenizer.padId,
};

/** Learning rate each algorithm trains the embedded model with (critic algorithms take 4 updates per batch). */
export const DEFAULT_LR: Record<AlgorithmName, number> = {
  grpo: 1e-4, ppo: 5e-5, pspo: 5e-5, prl: 1e-4, prpo: 1e-4, 'process-grpo': 1e-4,
  rloo: 1e-4, 'reinforce++': 1e-4, 'reinforce++-baseline': 1e-4, gspo: 1e-4, cispo: 1e-4,
};

export function createAlgorithm(name: AlgorithmName): Algorithm {
  const critic = { epochs: 2, miniBatches: 2 };
  switch (name) {
    case 'grpo': return grpo();
    case 'ppo': return ppo(critic);
    case 'pspo': return pspo({ ...critic, splitter: newlineSplitter });
    case 'prl': return prl({ splitter: newlineSplitter });
    case 'prpo': return prpo({ minGap: 4 });
    case 'process-grpo': return processGrpo({ splitter: newlineSplitter });
    case 'rloo': return rloo();
    case 'reinforce++': return reinforcePP();
    case 'reinforce++-baseline': return reinforcePP({ baseline: true });
    case 'gspo': return gspo();
    case 'cispo': return cispo();
  }
}

export function needsValueHead(name: AlgorithmName): boolean {
  return name === 'ppo' || name === 'pspo';
}

export function loadTask(name: string, command: string): Task {
  try {
    return createTask(name);
  } catch (error) {
    throw new UsageError(`--task: ${(error as Error).message}`, command);
  }
}

export function isCheckpoint(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'config.json')) || fs.existsSync(path.join(path.dirname(path.resolve(dir)), `.${path.basename(dir)}.old`, 'config.json'));
}

/** `tiny` (a fresh embedded model) or a checkpoint folder. */
export function loadModel(spec: string, device: Device, command: string, seed = 0): TinyLM {
  if (spec === 'tiny') return TinyLM.create(TINY, { seed, device });
  if (!isCheckpoint(spec)) throw new UsageError(`--model ${spec}: no checkpoint there (expected a folder with config.json, or "tiny")`, command);
  return TinyLM.load(spec, { device });
}

export function createPrm(task: Task, noise: number, seed: number): RuleBasedPRM<never> {
  return new RuleBasedPRM(task as Task<never>, { noise, seed });
}

/**
 * Bytes one RL step needs at its peak, roughly: the weights, gradients, AdamW moments and a frozen
 * reference (5 copies of the parameters), the KV cache and workspace of generating every rollout
 * at once, and the activations of one training micro-batch.
 */
export function estimateStepBytes(config: TinyLMConfig, rows: number, sequence: number, microBatchRows: number): number {
  const { hiddenSize: C, intermediateSize: F, numLayers: L, numHeads: H, numKvHeads: KVH, headDim: D, vocabSize: V } = config;
  const params = L * (2 * C * H * D + 2 * C * KVH * D + 3 * C * F) + 2 * V * C;
  const kvCache = 2 * L * rows * sequence * KVH * D;
  const generation = rows * sequence * (4 * C + 2 * H * D + 2 * KVH * D + 3 * F) + rows * V;
  const perLayer = 4 * C + 2 * H * D + 2 * KVH * D + 3 * F + H;
  const training = Math.min(rows, microBatchRows) * sequence * (L * perLayer + 12 * C + 3 * F + 2 * V);
  return 4 * (5 * params + kvCache + generation + training);
}

/** Stops with one clear message when a step cannot fit in this machine's memory. */
export function checkFitsMemory(config: TinyLMConfig, rows: number, sequence: number, microBatchRows: number, command: string, flags: string): void {
  const need = estimateStepBytes(config, rows, sequence, microBatchRows), have = os.totalmem();
  if (need > 0.8 * have) {
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
    throw new UsageError(`${flags} need about ${gib(need)} per step (${rows} rollouts of up to ${sequence} tokens), more than this machine's ${gib(have)} allows; lower them`, command);
  }
}

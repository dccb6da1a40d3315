// checkpoint.ts: a resumable training checkpoint: the policy in Hugging Face layout plus
// trainer.json (step, controller state, what the run was started from and with) and
// optimizer.safetensors (AdamW moments per parameter), all written in one atomic folder swap.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { FormatError } from '../errors';
import { TinyLM } from '../model/tinylm';
import { encodeSafetensors, readSafetensors, toFloat32 } from '../model/safetensors';
import { resolveDirectory } from '../util/atomic';
import type { AdamW } from './adamw';

export interface TrainerCheckpointState {
  step: number;
  rewardKlCoef: number;
  /** Free-form run settings (algorithm, seed, the initial checkpoint...) needed to resume. */
  run: Record<string, unknown>;
}

export function saveTrainingCheckpoint(dir: string, policy: TinyLM, optimizer: AdamW, state: TrainerCheckpointState): void {
  const moments = optimizer.state();
  const tensors = moments.names.flatMap((name, i) => [
    { name: `m:${name}`, dtype: 'F32' as const, shape: [moments.m[i].length], data: moments.m[i] },
    { name: `v:${name}`, dtype: 'F32' as const, shape: [moments.v[i].length], data: moments.v[i] },
  ]);
  policy.save(dir, {
    extraFiles: {
      'trainer.json': JSON.stringify({ ...state, optimizerStep: moments.step }, null, 2) + '\n',
      'optimizer.safetensors': Buffer.concat(encodeSafetensors(tensors, { step: String(moments.step) })),
    },
  });
}

export function readTrainingState(dir: string): (TrainerCheckpointState & { optimizerStep: number }) | null {
  const file = path.join(resolveDirectory(dir), 'trainer.json');
  if (!fs.existsSync(file)) return null;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new FormatError(file, `cannot read the trainer state (${(error as Error).message})`);
  }
}

export function loadOptimizerState(dir: string, optimizer: AdamW, step: number): void {
  const file = path.join(resolveDirectory(dir), 'optimizer.safetensors');
  const { tensors } = readSafetensors(file);
  const names = optimizer.state().names;
  const get = (key: string) => {
    const t = tensors.get(key);
    if (!t) throw new FormatError(file, `missing optimizer moment ${key}`);
    return toFloat32(t);
  };
  optimizer.loadState({ step, names, m: names.map((n) => get(`m:${n}`)), v: names.map((n) => get(`v:${n}`)) });
}

// learn_algos.ts: the algorithms `steprl learn` compares, by name, with the settings the embedded
// tasks use (mirroring setup.ts): the six of `steprl train`, PSPO in both modes and with linear
// shaping, and GRPO with Dr. GRPO and DAPO settings. Any other name that setup.ts's ALGORITHMS
// knows (algorithms added there later) is built by its createAlgorithm with its DEFAULT_LR.
import type { Algorithm } from '../optim/algorithm';
import { grpo } from '../optim/grpo';
import { ppo } from '../optim/ppo';
import { prl } from '../optim/prl';
import { prpo } from '../optim/prpo';
import { processGrpo } from '../optim/process_grpo';
import { pspo } from '../optim/pspo';
import { newlineSplitter } from '../reward/splitters';
import { ALGORITHMS, createAlgorithm, DEFAULT_LR, needsValueHead, type AlgorithmName } from './setup';

export interface LearnAlgorithm {
  make(settings: { prlEta: number }): Algorithm;
  lr: number;
  valueHead: boolean;
}

const critic = { epochs: 2, miniBatches: 2 };

export const LEARN_ALGORITHMS: Record<string, LearnAlgorithm> = {
  grpo: { make: () => grpo(), lr: 1e-4, valueHead: false },
  'dr-grpo': { make: () => grpo({ variant: 'dr-grpo' }), lr: 1e-4, valueHead: false },
  // DAPO: whatever grpo({ variant: 'dapo' }) sets (clip-higher 0.28, no KL, token-mean, and dynamic
  // sampling where the Trainer runs it).
  dapo: { make: () => grpo({ variant: 'dapo' }), lr: 1e-4, valueHead: false },
  ppo: { make: () => ppo(critic), lr: 5e-5, valueHead: true },
  pspo: { make: () => pspo({ ...critic, splitter: newlineSplitter }), lr: 5e-5, valueHead: true },
  // PSPO-WRS with linear shaping (the paper's baseline, h(K) = 1: R = s̄): otherwise pspo exactly,
  // so pspo − pspo-linear measures the nonlinear (Weibull) shaping alone.
  'pspo-linear': { make: () => pspo({ ...critic, splitter: newlineSplitter, shaping: 'linear' }), lr: 5e-5, valueHead: true },
  'pspo-free': { make: () => pspo({ critic: false, splitter: newlineSplitter }), lr: 1e-4, valueHead: false },
  prl: { make: ({ prlEta }) => prl({ splitter: newlineSplitter, eta: prlEta }), lr: 1e-4, valueHead: false },
  prpo: { make: () => prpo({ minGap: 4 }), lr: 1e-4, valueHead: false },
  'process-grpo': { make: () => processGrpo({ splitter: newlineSplitter }), lr: 1e-4, valueHead: false },
};

export const DEFAULT_LEARN_ALGOS = Object.keys(LEARN_ALGORITHMS);

/** The benchmark's entry for `name`, or the train command's algorithm of that name, or null. */
export function learnAlgorithm(name: string): LearnAlgorithm | null {
  if (name in LEARN_ALGORITHMS) return LEARN_ALGORITHMS[name];
  if ((ALGORITHMS as readonly string[]).includes(name)) {
    const n = name as AlgorithmName;
    return { make: () => createAlgorithm(n), lr: DEFAULT_LR[n] ?? 1e-4, valueHead: needsValueHead(n) };
  }
  return null;
}

export function knownLearnAlgorithms(): string[] {
  return [...new Set([...DEFAULT_LEARN_ALGOS, ...ALGORITHMS])];
}

// step_cpu_seconds.test.ts: a Trainer step reports the process's CPU seconds per phase beside the
// wall seconds (StepMetrics.cpuSeconds): the same phases, non-negative, their total the sum, never
// more than the wall time on every core, and work a phase does on the CPU shows in that phase.
import * as os from 'node:os';

import { TinyLM } from '../../lib/model/tinylm';
import { Trainer } from '../../lib/optim/base';
import { grpo } from '../../lib/optim/grpo';
import type { Problem, Verdict } from '../../lib/tasks/task';
import { ToyTask, ToyTokenizer } from './toy';

const CONFIG = { vocabSize: 8, hiddenSize: 32, numLayers: 1, numHeads: 2, intermediateSize: 64, maxPositions: 32 };
const BUSY_MS = 60;

/** The toy task whose verifier spins the CPU for BUSY_MS in all (the rollout phase verifies). */
class BusyTask extends ToyTask {
  calls = 0;
  constructor(readonly perCallMs: number) {
    super();
  }
  override verify(problem: Problem, response: string): Verdict {
    this.calls++;
    const until = performance.now() + this.perCallMs;
    let x = 0;
    while (performance.now() < until) x += Math.sqrt(x + 1);
    return x < 0 ? { correct: false, reward: 0, answer: null } : super.verify(problem, response);
  }
}

test('trainStep reports CPU seconds for each timed phase', async () => {
  const rows = 2 * 4;
  const task = new BusyTask(BUSY_MS / rows);
  const policy = TinyLM.create(CONFIG, { seed: 3 });
  const reference = TinyLM.create(CONFIG, { seed: 4 });
  try {
    const trainer = new Trainer({
      policy, reference, algorithm: grpo({ klCoef: 0.01 }), task, tokenizer: new ToyTokenizer(),
      promptsPerStep: 2, groupSize: 4, maxNewTokens: 4, lr: 1e-3, microBatchRows: 4, trainProblems: 4, seed: 5,
    });
    const m = await trainer.trainStep();
    expect(task.calls).toBe(rows);
    const cpu = m.cpuSeconds!;
    expect(cpu).toBeDefined();
    expect(Object.keys(cpu).sort()).toEqual(Object.keys(m.seconds).sort());
    for (const phase of ['rollout', 'reference', 'advantages', 'update']) expect(cpu[phase]).toBeGreaterThanOrEqual(0);
    let sum = 0;
    for (const [phase, s] of Object.entries(cpu)) {
      expect(Number.isFinite(s)).toBe(true);
      expect(s).toBeGreaterThanOrEqual(0);
      // The process cannot use more CPU time than its wall time on every core (+ timer granularity).
      expect(s).toBeLessThanOrEqual(m.seconds[phase] * os.availableParallelism() + 0.02);
      if (phase !== 'total') sum += s;
    }
    expect(cpu.total).toBeCloseTo(sum, 9);
    // The verifier's spin runs on the main thread inside the rollout phase.
    expect(cpu.rollout).toBeGreaterThanOrEqual((0.8 * BUSY_MS) / 1000);
  } finally {
    policy.dispose();
    reference.dispose();
  }
});

// prm.ts: process reward models. A PRM scores each step of a response with P(step correct)
// (Lightman et al.; ALGORITHMS.md §2). RuleBasedPRM turns a task's step verifier into one, with
// optional label noise to stand in for an imperfect learned PRM; steps may be any text chunks
// (lines, fixed-length or entropy segments): a chunk is judged by the lines it overlaps.
import { Random } from '../util/random';
import type { Problem, Task } from '../tasks/task';
import type { Sample } from '../text/dataset';
import { splitLines } from '../tasks/task';

export interface ProcessRewardModel {
  /**
   * P(step k is correct | prompt, steps before it), one number in [0, 1] per step. `sample` is the
   * whole training sample (its answer, metadata) when the trainer calls it.
   */
  scoreSteps(prompt: string, steps: readonly string[], sample?: Sample): number[] | Promise<number[]>;
}

export interface RuleBasedPRMOptions {
  /** Probability that a step's label is flipped (0 = exact verifier). Default 0. */
  noise?: number;
  /** Score of a correct step; a wrong one gets 1 − confidence. Default 0.95. */
  confidence?: number;
  seed?: number;
}

export class RuleBasedPRM<P extends Problem> implements ProcessRewardModel {
  readonly #task: Task<P>;
  readonly #problems = new Map<string, P>();
  readonly #random: Random;
  readonly noise: number;
  readonly confidence: number;

  constructor(task: Task<P>, options: RuleBasedPRMOptions = {}) {
    this.#task = task;
    this.noise = options.noise ?? 0;
    this.confidence = options.confidence ?? 0.95;
    if (!(this.noise >= 0 && this.noise <= 1)) throw new RangeError(`Expected noise in [0, 1] but received ${this.noise}`);
    this.#random = new Random(options.seed ?? 0);
  }

  /** Makes problems known by their prompt text (the trainer registers every problem it samples). */
  register(problems: readonly P[]): void {
    for (const p of problems) this.#problems.set(p.prompt, p);
  }

  /** Correctness of each chunk, before noise. */
  labels(prompt: string, steps: readonly string[]): boolean[] {
    const problem = this.#problems.get(prompt);
    if (problem === undefined) throw new Error(`RuleBasedPRM: unknown prompt ${JSON.stringify(prompt.slice(0, 60))}; register() its problem first`);
    const text = steps.join('');
    // Lines of the whole response with their character ranges and verdicts.
    const lines: { begin: number; end: number; ok: boolean }[] = [];
    const verdicts = this.#task.verifySteps(problem, splitLines(text));
    let offset = 0, index = 0;
    for (const raw of text.split('\n')) {
      const begin = offset, end = offset + raw.length;
      offset = end + 1;
      if (raw.trim() === '') continue;
      // Lines after the answer line are not steps: they are wrong (the solution should have ended).
      lines.push({ begin, end: Math.max(end, begin + 1), ok: index < verdicts.length ? verdicts[index] : false });
      index++;
    }
    const result: boolean[] = [];
    let begin = 0;
    for (const step of steps) {
      const end = begin + step.length;
      const touched = lines.filter((l) => l.begin < end && l.end > begin);
      result.push(touched.length > 0 && touched.every((l) => l.ok));
      begin = end;
    }
    return result;
  }

  scoreSteps(prompt: string, steps: readonly string[]): number[] {
    return this.labels(prompt, steps).map((ok) => {
      const label = this.noise > 0 && this.#random.next() < this.noise ? !ok : ok;
      return label ? this.confidence : 1 - this.confidence;
    });
  }
}

// task.ts: a Task (problems, verifier) as the text-level pieces: its problems are samples and
// its verifier is a reward function. The Trainer uses this when it is given a task.
import type { Problem, Task } from '../tasks/task';
import type { LoadedSample } from './dataset';
import { defaultPromptFormat, type PromptFormat } from './prompt';
import { combineRewards, type RewardFunction, type Verifier } from './reward';

/** The task's verifier as a reward function (reward, correct and answer as the task judges them). */
export function taskReward<P extends Problem>(task: Task<P>): RewardFunction<LoadedSample> {
  const reward = (completion: string, sample: LoadedSample) => task.verify(sample as unknown as P, completion);
  Object.defineProperty(reward, 'name', { value: `${task.name}.verify` });
  return reward;
}

/** `count` problems of a split of the task, as samples. */
export function taskSamples<P extends Problem>(task: Task<P>, split: 'train' | 'test', count: number, seed = 0): (P & LoadedSample)[] {
  return task.problems(split, count, seed) as (P & LoadedSample)[];
}

/** What collectRollouts needs to lay out and score a task's problems: the default prompt format and its verifier. */
export function taskEnvironment<P extends Problem>(task: Task<P>): { promptFormat: PromptFormat; verify: Verifier<LoadedSample> } {
  return { promptFormat: defaultPromptFormat, verify: combineRewards(taskReward(task)) };
}

// text_api.test.ts: the text-level training API: samples from JSONL / arrays / (async) iterables,
// prompt formats (the default reproduces `[bos, ...encode(prompt + "\n")]`; a chat template is
// used when the tokenizer has one), reward functions (weighted, async, checked), PRM functions,
// text splitters, and the Trainer driven by plain functions instead of a Task.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ArgumentError, FormatError } from '../../lib/errors';
import { TinyLM } from '../../lib/model/tinylm';
import { ByteTokenizer, type ChatMessage, type Tokenizer } from '../../lib/model/tokenizer';
import { Trainer } from '../../lib/optim/base';
import { grpo } from '../../lib/optim/grpo';
import { prpo } from '../../lib/optim/prpo';
import { newlineSplitter } from '../../lib/reward/splitters';
import { loadSamples, readJsonl, splitOf } from '../../lib/text/dataset';
import { chatPromptFormat, defaultPromptFormat, plainPromptFormat, promptFormatFor } from '../../lib/text/prompt';
import { combineRewards, textSplitter, toPrm } from '../../lib/text/reward';
import { taskReward } from '../../lib/text/task';
import { ToyTask, ToyTokenizer } from '../optim/toy';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-text-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A byte tokenizer without BOS and with a ChatML-like template (what a Qwen tokenizer looks like to steprl). */
class ChatByteTokenizer extends ByteTokenizer {
  override readonly bosId = null as unknown as number;
  applyChatTemplate(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    return messages.map((m) => `<${m.role}>${m.content}</>\n`).join('') + (options.addGenerationPrompt ? '<assistant>' : '');
  }
}

describe('prompt formats', () => {
  const bytes = new ByteTokenizer();
  test('the default is [bos, ...encode(prompt + "\\n")] exactly', () => {
    const ids = defaultPromptFormat({ prompt: '12+7=?' }, bytes);
    expect(Array.from(ids)).toEqual([ByteTokenizer.BOS, ...Buffer.from('12+7=?\n')]);
    expect(promptFormatFor(bytes)).toBe(defaultPromptFormat);
  });

  test('no BOS when the tokenizer has none; prefix, suffix and bos are settable', () => {
    const noBos = { ...bytes, bosId: null, encode: bytes.encode, decode: bytes.decode } as Tokenizer;
    expect(Array.from(defaultPromptFormat({ prompt: 'x' }, noBos))).toEqual([...Buffer.from('x\n')]);
    const f = plainPromptFormat({ prefix: 'Q: ', suffix: '\nA:', bos: false });
    expect(bytes.decode(f({ prompt: 'x' }, bytes))).toBe('Q: x\nA:');
  });

  test('chat messages need a chat template or a renderMessages', () => {
    const messages = [{ role: 'user', content: 'hi' }];
    expect(() => defaultPromptFormat({ prompt: messages }, bytes)).toThrow(ArgumentError);
    const f = plainPromptFormat({ renderMessages: (m) => m.map((x) => x.content).join(' ') });
    expect(bytes.decode(f({ prompt: messages }, bytes))).toBe('hi\n');
  });

  test('a tokenizer with a chat template renders with it (add_generation_prompt)', () => {
    const chat = new ChatByteTokenizer();
    const format = promptFormatFor(chat);
    expect(chat.decode(format({ prompt: 'What is 2+2?' }, chat))).toBe('<user>What is 2+2?</>\n<assistant>');
    expect(chat.decode(format({ prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }] }, chat)))
      .toBe('<system>Be brief.</>\n<user>Hi</>\n<assistant>');
    expect(chat.decode(chatPromptFormat({ system: 'S' })({ prompt: 'Q' }, chat))).toBe('<system>S</>\n<user>Q</>\n<assistant>');
    expect(chat.decode(promptFormatFor(chat, 'plain')({ prompt: 'Q' }, chat))).toBe('Q\n');
    expect(() => chatPromptFormat()({ prompt: 'Q' }, bytes)).toThrow(/chat template/);
  });
});

describe('samples', () => {
  test('JSONL: ids by line, splits, extra fields kept; malformed lines name the line', () => {
    const file = path.join(tmp, 'data.jsonl');
    fs.writeFileSync(file, '{"prompt": "1+1", "answer": "2", "level": 3}\n\n{"prompt": [{"role": "user", "content": "2+2"}], "split": "test"}\n');
    const samples = readJsonl(file);
    expect(samples.map((s) => s.id)).toEqual(['0', '2']);
    expect((samples[0] as unknown as { level: number }).level).toBe(3);
    expect(splitOf(samples, 'train').length).toBe(1);
    expect(splitOf(samples, 'test')[0].prompt).toEqual([{ role: 'user', content: '2+2' }]);
    fs.writeFileSync(file, '{"prompt": "a"}\n{"prompt": 5}\n');
    expect(() => readJsonl(file)).toThrow(FormatError);
    expect(() => readJsonl(file)).toThrow(/line 2: "prompt" to be a string/);
    fs.writeFileSync(file, '{"prompt": "a"}\n{oops\n');
    expect(() => readJsonl(file)).toThrow(/line 2 is not JSON/);
  });

  test('arrays, iterables and async iterables (read up to the limit)', async () => {
    expect((await loadSamples([{ prompt: 'a' }, { prompt: 'b', id: 'x' }])).map((s) => s.id)).toEqual(['0', 'x']);
    function* forever() {
      for (let i = 0; ; i++) yield { prompt: `p${i}` };
    }
    expect((await loadSamples(forever(), { limit: 3 })).map((s) => s.prompt)).toEqual(['p0', 'p1', 'p2']);
    let pulled = 0;
    async function* stream() {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield { prompt: `q${i}` };
      }
    }
    expect((await loadSamples(stream(), { limit: 2 })).length).toBe(2);
    expect(pulled).toBeLessThanOrEqual(3);
    await expect(loadSamples([{ prompt: 'a' }, { nope: 1 } as never])).rejects.toThrow(/samples\[1\]/);
    await expect(loadSamples(42 as never)).rejects.toThrow(ArgumentError);
  });
});

describe('reward functions', () => {
  const sample = { id: '0', prompt: 'p', answer: '4' };
  test('weighted sum; correct by threshold or as a function says; async functions are awaited', async () => {
    const exact = (c: string, s: { answer?: string }) => (c.trim() === s.answer ? 1 : 0);
    const format = async (c: string) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      return c.endsWith('\n') ? 1 : 0;
    };
    const verify = combineRewards([exact, { fn: format, weight: 0.1 }]);
    expect(await verify('4\n', sample)).toEqual({ reward: 1.1, correct: true, answer: null });
    expect(await verify('5\n', sample)).toEqual({ reward: 0.1, correct: false, answer: null });
    const told = combineRewards((c) => ({ reward: 0.3, correct: c === 'x', answer: c }));
    expect(await told('x', sample)).toEqual({ reward: 0.3, correct: true, answer: 'x' });
    expect((await combineRewards(() => 0.5, { correctThreshold: 0.5 })('', sample)).correct).toBe(true);
  });

  test('a non-finite reward or a failing function is a typed error naming the function', async () => {
    const broken = function lengthReward() {
      return NaN;
    };
    await expect(combineRewards(broken)('x', sample)).rejects.toThrow(/from reward function lengthReward \(sample 0\) but received NaN/);
    await expect(combineRewards(async () => undefined as unknown as number)('x', sample)).rejects.toThrow(ArgumentError);
    await expect(combineRewards(async function grader() {
      throw new Error('sandbox crashed');
    })('x', sample)).rejects.toThrow(/reward function grader failed on sample 0: sandbox crashed/);
    expect(() => combineRewards([])).toThrow(ArgumentError);
    expect(() => combineRewards([{ fn: () => 1, weight: NaN }])).toThrow(/weight/);
  });

  test('PRM functions are checked', async () => {
    const prm = toPrm(async (_p, steps) => steps.map(() => 0.5));
    expect(await prm.scoreSteps('p', ['a', 'b'])).toEqual([0.5, 0.5]);
    await expect(toPrm(() => [1]).scoreSteps('p', ['a', 'b'])).rejects.toThrow(/Expected 2 finite step scores from the PRM but received an array of length 1/);
    await expect(toPrm(() => [0.5, NaN]).scoreSteps('p', ['a', 'b'])).rejects.toThrow(ArgumentError);
    expect(() => toPrm(42 as never)).toThrow(/prm/);
  });
});

test('textSplitter maps text pieces to the tokens that end them', () => {
  const tokenizer = new ByteTokenizer();
  const tokens = tokenizer.encode('ab. cd. e');
  const split = textSplitter((text) => text.split(/(?<=\.)/));
  const s = split({ tokens, tokenizer });
  expect(s.ends).toEqual([2, 6, 8]);
  expect(s.texts).toEqual(['ab.', ' cd.', ' e']);
});

describe('Trainer on plain functions', () => {
  const tokenizer = new ToyTokenizer();
  const task = new ToyTask();
  const make = () => TinyLM.create({ vocabSize: 8, hiddenSize: 32, numLayers: 1, numHeads: 2, intermediateSize: 64, maxPositions: 32 }, { seed: 3 });
  const common = { promptsPerStep: 3, groupSize: 4, maxNewTokens: 5, lr: 1e-2, microBatchRows: 16, trainProblems: 6, seed: 1 };

  test('a dataset and a reward function give the same bits as the Task they come from', async () => {
    const a = make(), b = make();
    const byTask = new Trainer({ policy: a, reference: a.clone(), algorithm: grpo(), task, tokenizer, ...common });
    const byText = new Trainer({ policy: b, reference: b.clone(), algorithm: grpo(), tokenizer, dataset: task.problems('train', 6), reward: taskReward(task), ...common });
    const ma = await byTask.trainStep(), mb = await byText.trainStep();
    expect(mb.loss).toBe(ma.loss);
    expect(Buffer.from((b.weightBuffer.toArray() as Float32Array).buffer).equals(Buffer.from((a.weightBuffer.toArray() as Float32Array).buffer))).toBe(true);
  });

  test('an async reward function trains (it used to end in "rewards ... NaN"); an async iterable dataset loads', async () => {
    const policy = make();
    async function* stream() {
      for (const p of ['b', 'c', 'd', 'bc']) yield { prompt: p };
    }
    const trainer = new Trainer({
      policy, reference: policy.clone(), algorithm: grpo(), tokenizer, dataset: stream(), ...common,
      reward: async (completion: string) => {
        await new Promise((resolve) => setImmediate(resolve));
        return completion.startsWith('a') ? 1 : 0;
      },
    });
    const m = await trainer.trainStep();
    expect(Number.isFinite(m.loss)).toBe(true);
    expect(Number.isFinite(m.scoreMean)).toBe(true);
    expect(trainer.samples.map((s) => s.prompt)).toEqual(['b', 'c', 'd', 'bc']);
  });

  test('PRPO scores the steps of the splitter the user names, with a PRM function', async () => {
    const policy = make();
    const seen: string[][] = [];
    const trainer = new Trainer({
      policy, reference: policy.clone(), algorithm: prpo({ minGap: 1, splitter: newlineSplitter }), tokenizer,
      dataset: [{ prompt: 'b' }, { prompt: 'c' }, { prompt: 'd' }], reward: (c: string) => (c.startsWith('a') ? 1 : 0),
      prm: (_prompt: string, steps: readonly string[]) => {
        seen.push([...steps]);
        return steps.map((s) => (/^a+\n?$/.test(s) ? 0.9 : 0.1));
      },
      ...common, maxNewTokens: 12,
    });
    const m = await trainer.trainStep();
    expect(Number.isFinite(m.loss)).toBe(true);
    expect(seen.length).toBe(12);
    // Newline steps: every step but the last ends with its newline, and no step holds one inside.
    for (const steps of seen) steps.forEach((s, k) => {
      expect(s.slice(0, -1)).not.toContain('\n');
      if (k < steps.length - 1) expect(s.endsWith('\n')).toBe(true);
    });
    expect(seen.some((s) => s.length > 1)).toBe(true);
  });

  test('chat prompts through a chat template: the policy sees the rendered text, the PRM the user turn', async () => {
    const chat = new ChatByteTokenizer();
    const policy = TinyLM.create({ vocabSize: chat.vocabSize, hiddenSize: 32, numLayers: 1, numHeads: 2, intermediateSize: 64, maxPositions: 96 }, { seed: 2 });
    const prompts: string[] = [];
    const rendered: string[] = [];
    const original = policy.generate.bind(policy);
    policy.generate = async (ids, options) => {
      rendered.push(...ids.map((p) => chat.decode(p)));
      return original(ids, options);
    };
    const trainer = new Trainer({
      policy, reference: policy.clone(), algorithm: prpo({ minGap: 1, splitter: newlineSplitter }), tokenizer: chat,
      dataset: [{ prompt: [{ role: 'system', content: 'Add.' }, { role: 'user', content: '1+1' }], answer: '2' }],
      reward: (c: string, s: { answer?: string }) => (c.includes(s.answer!) ? 1 : 0),
      prm: (prompt: string, steps: readonly string[]) => {
        prompts.push(prompt);
        return steps.map(() => 0.5);
      },
      promptsPerStep: 1, groupSize: 2, maxNewTokens: 6, lr: 1e-3, seed: 1,
    });
    expect(Number.isFinite((await trainer.trainStep()).loss)).toBe(true);
    expect(rendered[0]).toBe('<system>Add.</>\n<user>1+1</>\n<assistant>');
    expect(new Set(prompts)).toEqual(new Set(['1+1']));
  });

  test('a bad sample in a stream fails the first step with a typed error', async () => {
    const policy = make();
    async function* stream() {
      yield { prompt: 'b' };
      yield { prompt: 7 } as never;
    }
    const trainer = new Trainer({ policy, algorithm: grpo({ klCoef: 0 }), tokenizer, dataset: stream(), reward: () => 1, ...common });
    await new Promise((resolve) => setTimeout(resolve, 10));
    await expect(trainer.trainStep()).rejects.toThrow(/samples\[1\]/);
  });

  test('bad options are typed errors', () => {
    const policy = make();
    expect(() => new Trainer({ policy, algorithm: grpo({ klCoef: 0 }), tokenizer, reward: () => 1 })).toThrow(/options.dataset/);
    expect(() => new Trainer({ policy, algorithm: grpo({ klCoef: 0 }), tokenizer, dataset: [{ prompt: 'b' }] })).toThrow(/options.reward/);
  });
});

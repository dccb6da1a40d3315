// check_gpu.test.ts: `npm run check:gpu` cannot rot on machines without a GPU: scripts/check-gpu.sh
// --sim builds tools/check_gpu against the SIMT simulator (CMake, CHECK_GPU=SIM, into
// build-check-gpu-sim/: minutes the first time, seconds after) and runs its reduced mode (every
// kernel family, tiny and odd shapes, against the CPU kernels). The report must list every family
// with passing rows; and the same executable with --perturb (every GPU output corrupted in one
// element) must fail every row, so a mismatch cannot go unnoticed.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const exe = path.join(root, 'build-check-gpu-sim', 'check_gpu');
// The simulator's fibers switch contexts with x86-64 Linux assembly (cuda/sim/README.md).
const simulatorRuns = process.platform === 'linux' && process.arch === 'x64';
const describeSim = simulatorRuns ? describe : describe.skip;

interface Row { family: string; op: string; shape: string; class: string; pass: boolean; elements: number; worst: number | string; note: string }
interface Report { mode: string; device: { simulated: boolean }; failed: number; rows: Row[] }

describeSim('npm run check:gpu on the simulator (reduced mode)', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-check-gpu-'));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

  let script: ReturnType<typeof spawnSync>;
  beforeAll(() => {
    script = spawnSync('bash', [path.join(root, 'scripts', 'check-gpu.sh'), '--sim', '--out', out], {
      cwd: root, encoding: 'utf8', env: { ...process.env, CHECK_GPU_BUDGET_S: '1500', CHECK_GPU_BUILD_S: '1400' },
    });
  }, 1_600_000);

  test('the wrapper builds the harness, runs every family and passes', () => {
    const log = `${script.stdout}\n${script.stderr}`;
    expect(script.error).toBeUndefined();
    if (script.status !== 0) throw new Error(`scripts/check-gpu.sh --sim exited ${script.status}:\n${log}`);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as Report;
    expect(report.mode).toBe('reduced');
    expect(report.device.simulated).toBe(true);
    expect(report.failed).toBe(0);
    const families = spawnSync(exe, ['--list'], { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(families.length).toBeGreaterThanOrEqual(21);
    for (const family of families) {
      const rows = report.rows.filter((r) => r.family === family);
      expect({ family, tiny: rows.some((r) => r.class === 'tiny'), odd: rows.some((r) => r.class === 'odd') })
        .toEqual({ family, tiny: true, odd: true });
      for (const r of rows) expect({ family, op: r.op, pass: r.pass, compared: r.elements > 0 }).toEqual({ family, op: r.op, pass: true, compared: true });
    }
    const markdown = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(markdown).toContain('| family | op | class | shape |');
    expect(markdown).toContain('### check:gpu stages');
    const stages = JSON.parse(fs.readFileSync(path.join(out, 'stages.json'), 'utf8')) as { stage: string; status: string }[];
    expect(stages.find((s) => s.stage.startsWith('kernels'))?.status).toBe('ok');
  });

  test("the sanitizer cases (the issue's shapes) run on the simulator and pass", () => {
    const stages = JSON.parse(fs.readFileSync(path.join(out, 'stages.json'), 'utf8')) as { stage: string; status: string }[];
    expect(stages.find((s) => s.stage === 'sanitize cases (sim)')?.status).toBe('ok');
    const report = JSON.parse(fs.readFileSync(path.join(out, 'sanitize-sim', 'report.json'), 'utf8')) as Report;
    expect(report.mode).toBe('sanitize');
    expect(report.failed).toBe(0);
    const rows = report.rows.filter((r) => r.class === 'sanitize');
    expect(rows.length).toBe(report.rows.length);
    // What issue 14 asks compute-sanitizer racecheck/synccheck (and memcheck/initcheck) to see.
    const wanted: [string, RegExp][] = [
      ['attention', /^B=2 T=33 S=70 .*D=64\b/], ['attention', /^B=2 T=33 S=70 .*D=100\b/], ['attention', /^B=2 T=33 S=70 .*D=256\b/],
      ['matmul', /^N=33 C=67 OC=129\b/], ['matmul', /^N=1040 C=72 OC=2320\b/],
      ['sampling', /\bV=5\b/], ['sampling', /\bV=151936\b/],
      ['entropy_segments', /./],
      ['gae', /\bT=900\b/], ['prl_advantage', /\bT=900\b/], ['process_grpo_advantage', /\bT=900\b/],
      ['group_advantage', /^R=1\b/], ['group_advantage', /^R=2\b/], ['group_advantage', /^R=5000\b/],
    ];
    for (const [family, shape] of wanted) {
      const hits = rows.filter((r) => r.family === family && shape.test(r.shape));
      expect({ family, shape: String(shape), found: hits.length > 0, pass: hits.every((r) => r.pass) })
        .toEqual({ family, shape: String(shape), found: true, pass: true });
    }
    // Every layout of the fp32 GEMM at both matmul shapes: forward (K-major x K-major) and the
    // backward row (dinput: K x N-major, dweight: M x N-major).
    for (const shape of [/^N=33 C=67 OC=129\b(?!.*bf16)/, /^N=1040 C=72 OC=2320\b/]) {
      const ops = rows.filter((r) => r.family === 'matmul' && shape.test(r.shape)).map((r) => r.op).sort();
      expect(ops).toEqual(['backward dinp+dweight+dbias', 'forward']);
    }
    // The same for the bf16 tensor-core GEMM (cuda/gemm_bf16.cu): element-wise loads with tails,
    // 16-byte cp.async with M, N and K tails, and the forward on 128x128 tiles.
    for (const shape of [/^N=33 C=67 OC=129 .*bf16$/, /^N=65 C=136 OC=40 .*bf16$/, /^N=1040 C=40 OC=1928 .*bf16$/]) {
      const found = rows.filter((r) => r.family === 'matmul' && shape.test(r.shape));
      expect({ shape: String(shape), ops: found.map((r) => r.op).sort(), pass: found.every((r) => r.pass) })
        .toEqual({ shape: String(shape), ops: ['backward bf16 dinp+dweight+dbias', 'forward bf16'], pass: true });
    }
  });

  test('a corrupted GPU output fails its row and the exit status (--perturb)', () => {
    const perturbed = path.join(out, 'perturb');
    const run = spawnSync(exe, ['--mode', 'reduced', '--only', 'matmul,sampling,gae,entropy_segments', '--perturb', '--out', perturbed], {
      cwd: root, encoding: 'utf8', env: { ...process.env, STEPRL_SIM_ALIGN: '16' },
    });
    expect(run.status).toBe(1);
    const report = JSON.parse(fs.readFileSync(path.join(perturbed, 'report.json'), 'utf8')) as Report;
    expect(report.rows.length).toBeGreaterThan(10);
    expect(report.rows.filter((r) => r.pass)).toEqual([]);
    expect(report.failed).toBe(report.rows.length);
  });

  test('bad arguments are refused with exit status 2', () => {
    const run = spawnSync(exe, ['--only', 'no_such_family'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('no family named no_such_family');
  });
});

// The GPU mode's commands without a GPU: --plan prints what each stage would run and runs nothing.
describe('npm run check:gpu --plan (the GPU mode, printed)', () => {
  test('compute-sanitizer memcheck, racecheck, synccheck and initcheck over the sanitize cases; jest under memcheck and initcheck', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-check-gpu-plan-'));
    try {
      const run = spawnSync('bash', [path.join(root, 'scripts', 'check-gpu.sh'), '--plan', '--arch', '90', '--out', out,
        '--jest-memcheck', '--jest-initcheck'], { cwd: root, encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`check-gpu.sh --plan exited ${run.status}:\n${run.stdout}\n${run.stderr}`);
      const plan = run.stdout.split('\n').filter((l) => l.startsWith('check:gpu: plan: '));
      const line = (stage: string) => plan.find((l) => l.slice('check:gpu: plan: '.length).startsWith(stage)) ?? '';
      expect(line('configure')).toMatch(/cmake -S tools\/check_gpu -B build-check-gpu -DCHECK_GPU=CUDA -DCMAKE_CUDA_ARCHITECTURES=90/);
      expect(line('kernels (full)')).toMatch(/check_gpu --mode full/);
      for (const tool of ['memcheck', 'racecheck', 'synccheck', 'initcheck']) {
        expect(line(`sanitizer ${tool}`)).toMatch(
          new RegExp(`compute-sanitizer --tool ${tool} .*--error-exitcode 9 .*build-check-gpu/check_gpu --mode sanitize --out `));
      }
      expect(line('sanitizer memcheck')).toContain('--leak-check full');
      expect(line('sanitizer initcheck')).toContain('--track-unused-memory no');
      for (const tool of ['memcheck', 'initcheck']) {
        const jest = line(`jest under ${tool}`);
        // Without the device cache (STEPRL_CUDA_NO_CACHE=1): initcheck sees every block's first read.
        expect(jest).toMatch(new RegExp(`STEPRL_BACKEND=cuda STEPRL_CUDA_NO_CACHE=1 STEPRL_TEST_DEVICES=cuda compute-sanitizer --tool ${tool} .*jest\\.js --runInBand`));
        expect(jest).toContain('test/ops/attention.test.ts');
      }
      expect(line('jest device suites')).toMatch(/STEPRL_BACKEND=cuda STEPRL_TEST_DEVICES=cuda node .*jest\.js/);  // the cache stays on there
      const stages = JSON.parse(fs.readFileSync(path.join(out, 'stages.json'), 'utf8')) as { stage: string; status: string }[];
      expect(stages.every((s) => s.status === 'planned')).toBe(true);
      expect(fs.existsSync(path.join(out, 'kernels.log'))).toBe(false);  // nothing ran
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});

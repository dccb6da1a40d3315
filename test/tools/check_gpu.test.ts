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

interface Row { family: string; op: string; class: string; pass: boolean; elements: number; worst: number | string; note: string }
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

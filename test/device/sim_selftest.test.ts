// sim_selftest.test.ts: builds and runs the SIMT simulator's own selftest (cuda/sim/selftest.cu,
// see cuda/sim/README.md) in the simulator pass of `npm test`: the barrier, shuffle, atomics and
// fault checks, and the tensor-core checks of cuda/sim/selftest_tensor_core.cuh (every mma.sync
// m16n8k16 fragment slot of A, B, C/D and every ldmatrix x1/x2/x4 (.trans) register against the
// PTX ISA's tables, a 16x16x8 product, cp.async zero-fill, a kernel that forgets
// cp.async.wait_group reading NaN, misuse faults), and the launch limits the build's source pass
// (cuda/sim/rewrite.mjs) makes checkable: a block over a kernel's __launch_bounds__ refused,
// static + dynamic shared memory over 48 KiB (or the opt-in limit) refused, static __shared__
// garbage at every block's start. Runs only on the cuda-sim backend and where g++ exists; the
// build is -O1 to keep it short.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { backendInfo } from '../../lib';
import { describeOn } from '../util/devices';

const root = path.resolve(__dirname, '..', '..');
const simulated = backendInfo().backend === 'cuda-sim';
const gxx = spawnSync('g++', ['--version']).status === 0;

describeOn('cuda', 'the SIMT simulator selftest', () => {
  (simulated && gxx ? test : test.skip)('builds and passes (tensor-core fragment tables and launch limits included)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'steprl-sim-selftest-'));
    try {
      const exe = path.join(dir, 'selftest');
      const sim = path.join(root, 'cuda', 'sim');
      // The build's source pass first (launch bounds and static shared memory become checks), over
      // the whole cuda/ folder so that no header is reached both as itself and as its rewrite.
      const mirror = path.join(dir, 'cuda');
      const rewrite = spawnSync(process.execPath, [path.join(sim, 'rewrite.mjs'), '--tree', path.join(root, 'cuda'), mirror],
        { encoding: 'utf8' });
      expect(rewrite.stderr).toBe('');
      expect(rewrite.status).toBe(0);
      const sources = fs.readdirSync(sim).filter((f) => f.endsWith('.cc')).map((f) => path.join(sim, f));
      const build = spawnSync('g++', ['-std=c++17', '-O1', '-x', 'c++', '-DSTEPRL_CUDA_SIM', '-iquote', path.join(root, 'cuda'),
        path.join(mirror, 'sim', 'selftest.cu'), '-x', 'none', ...sources, '-pthread', '-o', exe], { encoding: 'utf8' });
      expect(build.stderr + build.stdout).not.toMatch(/error/);
      expect(build.status).toBe(0);
      const run = spawnSync(exe, [], { encoding: 'utf8', env: { ...process.env, STEPRL_SIM_THREADS: '2' } });
      if (run.status !== 0) throw new Error(`selftest failed (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
      expect(run.stdout).toMatch(/selftest: ok \(0 failures/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 900_000);
});

// kernel_resources.test.ts: scripts/kernel-resources.mjs (the generator of docs/KERNELS.md) cannot
// rot: its H100 occupancy arithmetic on hand-worked cases, and, where nvcc exists, one real run on
// the smallest kernel file (cuda/kl_penalty.cu, compiled for sm_80 and sm_90) whose row must carry
// the ptxas figures and the launch configuration.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const script = path.join(root, 'scripts', 'kernel-resources.mjs');
const nvcc = spawnSync(process.env.CUDACXX || 'nvcc', ['--version']).status === 0;

function occupancy(registers: number, shared: number, threads: number) {
  const code = `import(${JSON.stringify(script)}).then((m) => process.stdout.write(JSON.stringify(m.occupancyH100(${registers}, ${shared}, ${threads}))))`;
  const run = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as { blocks: number; warps: number; fraction: number; limiter: string };
}

describe('scripts/kernel-resources.mjs', () => {
  test('H100 occupancy: threads, registers (256 per warp granules) and shared memory (+1 KiB a block) limit it', () => {
    // 32 registers, 256 threads: 8 blocks of 8 warps fill the 64 warp slots.
    expect(occupancy(32, 0, 256)).toEqual({ blocks: 8, warps: 64, fraction: 1, limiter: 'threads' });
    // 130 registers -> 4352 per warp -> 15 warps fit -> one 8-warp block.
    expect(occupancy(130, 16896, 256)).toMatchObject({ blocks: 1, warps: 8, limiter: 'registers' });
    // 127 registers round up to 128 -> 4096 per warp -> 16 warps -> two blocks.
    expect(occupancy(127, 16896, 256)).toMatchObject({ blocks: 2, limiter: 'registers' });
    // 100 KiB of shared memory (+1 KiB reserved): two blocks in 228 KiB.
    expect(occupancy(32, 100 * 1024, 128)).toMatchObject({ blocks: 2, warps: 8, limiter: 'shared memory' });
    // Over the 227 KiB a block may use: it cannot launch.
    expect(occupancy(32, 228 * 1024, 128).blocks).toBe(0);
  });

  (nvcc ? test : test.skip)('one file through nvcc: a row per kernel with ptxas registers and the launch configuration', () => {
    const run = spawnSync(process.execPath, [script, path.join(root, 'cuda', 'kl_penalty.cu')], { cwd: root, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`kernel-resources failed:\n${run.stdout}\n${run.stderr}`);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\| file \| kernel \| regs sm_80 \/ sm_90 \| static smem \|/);
    const row = lines.find((l) => l.includes('`kl_penalty_kernel`'));
    expect(row).toBeDefined();
    const cells = row!.split('|').map((c) => c.trim());
    // | file | kernel | regs | static | spills | dynamic | threads | bound | source | blocks | occupancy |
    expect(cells[1]).toBe('kl_penalty.cu');
    expect(cells[3]).toMatch(/^[1-9]\d* \/ [1-9]\d*$/);
    expect(cells[5]).toBe('0/0');
    expect(cells[7]).toBe('256');
    expect(cells[8]).toBe('256');
    expect(cells[11]).toMatch(/^\d+% \((threads|registers|shared memory|blocks)\)$/);
  }, 600_000);
});

// sim_rewrite.test.ts: cuda/sim/rewrite.mjs, the source pass of the simulator build, on snippets:
// what it turns into simulator checks (__launch_bounds__ on a kernel definition, each static
// __shared__ declarator), what it must leave alone (comments, strings, preprocessor lines, extern
// __shared__, declarations without a body), that it keeps every line where it was, and that it
// refuses what it cannot read instead of guessing.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const script = path.join(root, 'cuda', 'sim', 'rewrite.mjs');

// Runs rewrite() in a child Node (the module is ESM; jest runs CommonJS here).
function rewrite(text: string): { out: string; error: string } {
  const code = `import(${JSON.stringify(script)}).then((m) => { try { process.stdout.write(m.rewrite(process.argv[1], 'x.cu')); }` +
    ` catch (e) { process.stderr.write(e.message); process.exit(1); } })`;
  const run = spawnSync(process.execPath, ['-e', code, text], { encoding: 'utf8' });
  return { out: run.stdout, error: run.stderr };
}

describe('cuda/sim/rewrite.mjs', () => {
  test('a kernel with launch bounds checks them first thing; a declaration is left alone', () => {
    const src = [
      'template <int TM>',
      '__global__ void __launch_bounds__(kThreads, TM == 8 ? 1 : 2)',
      'k(const float* x,  // (a comment with ) and {',
      '  int n) {',
      '  x += n;',
      '}',
      '__global__ void __launch_bounds__(64) declared_only(int);',
    ].join('\n');
    const { out, error } = rewrite(src);
    expect(error).toBe('');
    expect(out.split('\n')).toEqual([
      'template <int TM>',
      '__global__ void __launch_bounds__(kThreads, TM == 8 ? 1 : 2)',
      'k(const float* x,  // (a comment with ) and {',
      '  int n) { STEPRL_SIM_KERNEL_BOUNDS(kThreads, TM == 8 ? 1 : 2);',
      '  x += n;',
      '}',
      '__global__ void __launch_bounds__(64) declared_only(int);',
    ]);
  });

  test('every static __shared__ declarator is registered; comments, strings, macros and extern are not', () => {
    const src = [
      '// a 32-slot __shared__ scratch',
      '#define DYN extern __shared__ __align__(16) unsigned char dyn_[]; \\',
      '  __shared__ int in_macro;',
      'void f() {',
      '  __shared__ __align__(16) float4 slabs[(2 * kA + kB) / 4];  // tail',
      '  __shared__ int64_t a[kMax], count;',
      '  const char* s = "__shared__ int no;";',
      '  extern __shared__ float dynamic[];',
      '  __shared__ Tile<float, 32> tile;',
      '}',
    ].join('\n');
    const { out, error } = rewrite(src);
    expect(error).toBe('');
    const lines = out.split('\n');
    expect(lines).toHaveLength(10);
    expect(lines.slice(0, 4)).toEqual(src.split('\n').slice(0, 4));
    expect(lines[4]).toBe('  __shared__ __align__(16) float4 slabs[(2 * kA + kB) / 4]; STEPRL_SIM_STATIC_SHARED(slabs);  // tail');
    expect(lines[5]).toBe('  __shared__ int64_t a[kMax], count; STEPRL_SIM_STATIC_SHARED(a); STEPRL_SIM_STATIC_SHARED(count);');
    expect(lines.slice(6, 8)).toEqual(src.split('\n').slice(6, 8));
    expect(lines[8]).toBe('  __shared__ Tile<float, 32> tile; STEPRL_SIM_STATIC_SHARED(tile);');
    expect(lines[9]).toBe('}');
  });

  test('what it cannot read is an error naming the line, not a guess', () => {
    expect(rewrite('void f() {\n  __shared__ int x = 3;\n}').error).toMatch(/x\.cu:2: a __shared__ variable cannot have an initializer/);
    expect(rewrite('__global__ void __launch_bounds__(64) k(int n) n;').error).toMatch(/x\.cu:1: expected the kernel body/);
  });
});

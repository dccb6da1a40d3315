#!/usr/bin/env node
// pack.mjs: `npm run pack` — the release tarballs, side by side in build-pack/:
//   steprl-<v>.tgz                     dist/, native/ + cuda/ sources (the source-build fallback),
//                                      prebuilds/<platform>-<arch>/ (prebuildify, scripts/prebuild.mjs)
//   steprl-linux-x64-cuda-<v>.tgz      @steprl/linux-x64-cuda: build-cuda/Release/steprl.node
//                                      (npm run build:cuda), stripped, and manifest.json
// and proves which GPU architectures the CUDA .node embeds: it reads the .nv_fatbin section of the
// staged binary (scripts/fatbin.cjs), checks every translation unit has SASS for sm_80/86/89/90
// and PTX for compute_90, checks each cubin's own ELF header and each PTX's .target agree, compares
// with what the build asked nvcc for (build-cuda/build.ninja), and writes the list into the
// manifest. Stale builds are rebuilt first. Fails on test or build debris in either tarball.
// Options: --no-cuda (CPU tarball only; automatic off linux-x64), --out <dir>.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const { readFatbin, summarize, buildRecord } = require('./fatbin.cjs');
const { debrisIn, CUDA_PACKAGE_FILES, REQUIRED_ARCHITECTURES: REQUIRED } = require('./package_contents.cjs');

const argv = process.argv.slice(2);
const outArg = argv.indexOf('--out');
const out = path.resolve(root, outArg >= 0 ? argv[outArg + 1] : 'build-pack');
const cudaPackageDir = path.join(root, 'packages', 'linux-x64-cuda');
const cudaBuild = path.join(root, 'build-cuda', 'Release', 'steprl.node');
const withCuda = !argv.includes('--no-cuda') && process.platform === 'linux' && process.arch === 'x64';

const fail = (message) => {
  console.error(`pack: ${message}`);
  process.exit(1);
};
const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

function run(title, command, args, options = {}) {
  console.log(`\npack: ${title}`);
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (r.status !== 0) fail(`${title} failed (${r.error ?? `exit ${r.status ?? r.signal}`})`);
}

function npm(args, cwd) {
  const npmCli = process.env.npm_execpath;
  const [command, prefix] = npmCli && /\.[cm]?js$/.test(npmCli) ? [process.execPath, [npmCli]] : ['npm', []];
  const r = spawnSync(command, [...prefix, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], shell: process.platform === 'win32' && command === 'npm' });
  if (r.status !== 0) fail(`npm ${args.join(' ')} failed in ${cwd} (${r.error ?? `exit ${r.status}`})\n${r.stdout}`);
  return r.stdout;
}

/** npm pack --json's report (lifecycle output may precede the JSON). */
function npmPack(cwd) {
  const stdout = npm(['pack', '--json', '--pack-destination', out], cwd);
  const start = stdout.search(/^\[/m);
  if (start < 0) fail(`npm pack printed no JSON report:\n${stdout}`);
  return JSON.parse(stdout.slice(start))[0];
}

function checkDebris(report) {
  const bad = debrisIn(report.files.map((f) => f.path));
  if (bad.length) fail(`${report.filename} holds test or build debris:\n  ${bad.join('\n  ')}`);
}

function newestMtime(p) {
  if (!fs.existsSync(p)) return 0;
  const stat = fs.statSync(p);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...fs.readdirSync(p).map((entry) => newestMtime(path.join(p, entry))));
}

const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
fs.mkdirSync(out, { recursive: true });
for (const old of fs.readdirSync(out).filter((f) => f.endsWith('.tgz'))) fs.rmSync(path.join(out, old));

// 1. The CPU prebuild for this platform.
if (spawnSync(process.execPath, [path.join(root, 'scripts', 'prebuild.mjs'), '--check-fresh']).status === 0) {
  console.log('pack: prebuilds/ is newer than every native source; kept');
} else {
  run('CPU prebuild (prebuildify; a few minutes)', process.execPath, [path.join(root, 'scripts', 'prebuild.mjs')]);
}

// 2. The main tarball (npm pack runs `prepare`: tsc into dist/).
console.log('\npack: npm pack (prepare compiles dist/)');
const main = npmPack(root);
checkDebris(main);
if (!main.files.some((f) => f.path.startsWith('prebuilds/'))) fail(`${main.filename} has no prebuilds/`);
const tarballs = [main];

// 3. The CUDA platform package.
let proof = null;
if (withCuda) {
  const sources = ['include', 'native', 'cuda', 'CMakeLists.txt', 'binding.gyp'].map((s) => newestMtime(path.join(root, s)));
  if (!fs.existsSync(cudaBuild) || fs.statSync(cudaBuild).mtimeMs < Math.max(...sources)) {
    run('build:cuda (build-cuda/ is missing or older than its sources; nvcc, several minutes)', process.execPath,
      [require.resolve('cmake-js/bin/cmake-js'), 'compile', '--out', 'build-cuda', '--CDSTEPRL_CUDA=ON']);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(cudaPackageDir, 'package.json'), 'utf8'));
  if (pkg.version !== version) fail(`${pkg.name} is at ${pkg.version} but steprl is at ${version}: the versions are pinned together`);
  const optional = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).optionalDependencies ?? {};
  if (optional[pkg.name] !== version) fail(`package.json optionalDependencies must list ${pkg.name}@${version} (has ${optional[pkg.name]})`);

  const stage = path.join(out, 'stage', 'linux-x64-cuda');
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  for (const f of ['package.json', 'README.md']) fs.copyFileSync(path.join(cudaPackageDir, f), path.join(stage, f));
  const binary = path.join(stage, 'steprl.node');
  fs.copyFileSync(cudaBuild, binary);
  const strip = spawnSync('strip', ['--strip-all', binary]);
  console.log(`\npack: CUDA addon ${path.relative(root, cudaBuild)} ${mib(fs.statSync(cudaBuild).size)} -> ${mib(fs.statSync(binary).size)}${strip.status === 0 ? ' stripped' : ' (strip not available)'}`);

  // The proof, read from the staged (stripped) file that ships.
  const fatbin = readFatbin(binary);
  const summary = summarize(fatbin);
  const record = buildRecord(path.join(root, 'build-cuda'));
  console.log(`pack: .nv_fatbin of the staged steprl.node: ${summary.containers} containers (one per .cu with device code)`);
  for (const c of fatbin.containers) {
    const list = c.entries.map((e) => `${e.kind === 'sass' ? 'sm' : 'compute'}_${e.sm}${e.payloadSm === e.sm ? '' : e.payloadSm === null ? '?' : '!'}`);
    console.log(`  ${path.basename(c.source || `@${c.offset}`).padEnd(28)} ${list.join(' ')}`);
  }
  console.log(`  payloads whose own header agrees (cubin e_flags, PTX .target): ${summary.payloadsChecked}`);
  console.log(`  embedded in every container: SASS ${summary.sass.join(' ')}; PTX ${summary.ptx.join(' ')}`);
  console.log(record ? `  the build asked nvcc for:     SASS ${record.sass.join(' ')}; PTX ${record.ptx.join(' ')}  (${path.relative(root, record.from)})`
    : '  the build record (build-cuda/build.ninja or flags.make) is missing: no cross-check with the build');
  const problems = [...summary.problems];
  for (const kind of ['sass', 'ptx']) {
    const missing = REQUIRED[kind].filter((a) => !summary[kind].includes(a));
    if (missing.length) problems.push(`missing ${kind.toUpperCase()} ${missing.join(', ')}`);
    if (record && record[kind].join() !== summary[kind].join())
      problems.push(`the binary's ${kind.toUpperCase()} (${summary[kind].join(' ')}) differs from the build's (${record[kind].join(' ')})`);
  }
  const cuFiles = fs.readdirSync(path.join(root, 'cuda')).filter((f) => f.endsWith('.cu')).sort();
  const embedded = fatbin.containers.map((c) => path.basename(c.source)).sort();
  if (embedded.join() !== cuFiles.join()) problems.push(`containers (${embedded.join(' ')}) do not match cuda/*.cu (${cuFiles.join(' ')})`);
  if (problems.length) fail(`the CUDA addon's architectures are not what steprl promises:\n  ${problems.join('\n  ')}`);
  console.log(`pack: architectures proved: every cuda/*.cu is embedded with SASS ${REQUIRED.sass.join(' ')} and PTX ${REQUIRED.ptx.join(' ')}`);

  // It must load without a driver (static runtime), in a child so nothing here can crash.
  const { runProbe } = require(path.join(root, 'dist', 'backend', 'cuda_probe.js'));
  const probe = runProbe(binary);
  if (probe.reason?.startsWith('load') || probe.reason?.startsWith('crash')) fail(`the staged CUDA addon does not load: ${probe.reason}`);
  console.log(`pack: probe of the staged addon: ${probe.ok ? `ok on ${probe.device.name}` : probe.reason} (loads: yes)`);

  const nvcc = spawnSync(process.env.CUDACXX || 'nvcc', ['--version'], { encoding: 'utf8' }).stdout?.match(/release [\d.]+, V([\d.]+)/)?.[1] ?? 'unknown';
  const bytes = fs.readFileSync(binary);
  const manifest = {
    name: pkg.name,
    version,
    binary: 'steprl.node',
    architectures: { sass: summary.sass, ptx: summary.ptx },
    proof: {
      method: 'scripts/fatbin.cjs: .nv_fatbin container and entry headers, each cubin e_flags and PTX .target, against build-cuda/build.ninja',
      containers: embedded,
      payloadsChecked: summary.payloadsChecked,
      buildRecord: record ? { sass: record.sass, ptx: record.ptx } : null,
    },
    cuda: { nvcc, runtime: 'static' },
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
  fs.writeFileSync(path.join(stage, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log('\npack: npm pack @steprl/linux-x64-cuda');
  const cuda = npmPack(stage);
  const files = cuda.files.map((f) => f.path).sort();
  if (files.join() !== CUDA_PACKAGE_FILES.join()) fail(`${cuda.filename} holds ${files.join(', ')}; expected ${CUDA_PACKAGE_FILES.join(', ')}`);
  tarballs.push(cuda);
  proof = manifest.architectures;
} else {
  console.log('\npack: no CUDA package on this platform (or --no-cuda)');
}

// 4. The report.
console.log(`\npack: tarballs in ${path.relative(process.cwd(), out) || '.'}/`);
for (const t of tarballs) {
  console.log(`  ${t.filename.padEnd(34)} ${mib(t.size).padStart(10)} packed  ${mib(t.unpackedSize).padStart(10)} unpacked  ${String(t.entryCount).padStart(4)} files`);
}
const biggest = main.files.filter((f) => f.path.startsWith('prebuilds/')).map((f) => `${f.path} ${kib(f.size)}`);
console.log(`  prebuilds in ${main.filename}: ${biggest.join(', ')}`);
if (proof) console.log(`  ${tarballs[1].filename}: SASS ${proof.sass.join(' ')}, PTX ${proof.ptx.join(' ')}`);

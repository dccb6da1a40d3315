// cuda_locate.ts: where an NVIDIA driver and a CUDA build of the addon could be, found by looking at
// files only (nothing is loaded here). The loader runs a child-process probe only when both exist,
// so a machine without a GPU pays a few stat() calls, never a process spawn.
//
// The CUDA addon ships as an optional platform package (`@steprl/linux-x64-cuda`, see
// packages/linux-x64-cuda/) holding steprl.node and manifest.json; a dev checkout also has
// build-cuda/Release/steprl.node (`npm run build:cuda`).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The machine as the lookups see it; tests pass a fake root folder and environment. */
export interface HostFacts {
  platform: NodeJS.Platform;
  arch: string;
  env: NodeJS.ProcessEnv;
  /** '/' on a real machine; a temp folder holding proc/, usr/, etc/ in tests. */
  root: string;
}

export function currentHost(): HostFacts {
  return { platform: process.platform, arch: process.arch, env: process.env, root: path.parse(process.cwd()).root };
}

export interface DriverInfo {
  present: boolean;
  /** e.g. "580.65.06", from /proc/driver/nvidia/version or libcuda's file name; null when unknown. */
  version: string | null;
  /** What identifies the driver (part of the probe cache key): version, or libcuda's path and mtime. */
  identity: string;
  /** What was found, or what was missing, in a few words. */
  evidence: string;
  /** Folders searched for libcuda.so.1 (Linux). */
  looked: string[];
}

/** Platforms with a published CUDA package, and the package's name. */
const CUDA_PACKAGES: Record<string, string> = { 'linux-x64-glibc': '@steprl/linux-x64-cuda' };

export function libcOf(host: HostFacts): 'glibc' | 'musl' | null {
  if (host.platform !== 'linux') return null;
  const lib = path.join(host.root, 'lib');
  try {
    if (fs.readdirSync(lib).some((f) => f.startsWith('ld-musl-'))) return 'musl';
  } catch {
    // no /lib: assume glibc like node-gyp-build does
  }
  return 'glibc';
}

/** The CUDA platform package for this machine, or null when none is published for it. */
export function cudaPackageName(host: HostFacts): string | null {
  return CUDA_PACKAGES[`${host.platform}-${host.arch}-${libcOf(host) ?? ''}`.replace(/-$/, '')] ?? null;
}

const LIBCUDA_DIRS = [
  'usr/lib/x86_64-linux-gnu', 'usr/lib/aarch64-linux-gnu', 'usr/lib64', 'usr/lib', 'lib64', 'lib',
  'usr/lib/wsl/lib', // WSL2: the Windows driver's libcuda, without /proc/driver/nvidia
  'usr/local/nvidia/lib64', // NVIDIA container toolkit
];

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function readJson<T>(file: string): T | null {
  const text = readText(file);
  try {
    return text === null ? null : (JSON.parse(text) as T);
  } catch {
    return null;
  }
}

/** A path under host.root as the real machine would name it. */
const shown = (host: HostFacts, file: string): string => `/${path.relative(host.root, file)}`;

/** libcuda.so.1 paths named in /etc/ld.so.cache (its string table holds them as plain text). */
function ldCacheEntries(root: string): string[] {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path.join(root, 'etc', 'ld.so.cache'));
  } catch {
    return [];
  }
  const found = bytes.toString('latin1').match(/\/[\x21-\x7e]*\/libcuda\.so\.1(?=\0)/g) ?? [];
  return [...new Set(found)];
}

function findLibcuda(host: HostFacts): { file: string | null; looked: string[] } {
  const dirs = [
    ...(host.env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => path.isAbsolute(d)),
    ...ldCacheEntries(host.root).map((f) => path.dirname(f)),
    ...LIBCUDA_DIRS.map((d) => `/${d}`),
  ];
  const looked: string[] = [];
  for (const dir of new Set(dirs)) {
    if (/(^|\/)stubs(\/|$)/.test(dir)) continue; // the toolkit's link-time stub, not a driver
    looked.push(dir);
    const file = path.join(host.root, dir, 'libcuda.so.1');
    if (fs.existsSync(file)) return { file, looked };
  }
  return { file: null, looked };
}

/** Is an NVIDIA driver installed? File checks only: /proc/driver/nvidia, libcuda.so.1, nvcuda.dll. */
export function detectDriver(host: HostFacts = currentHost()): DriverInfo {
  if (host.platform === 'win32') {
    const dll = path.join(host.env.SystemRoot ?? 'C:\\Windows', 'System32', 'nvcuda.dll');
    if (fs.existsSync(dll)) {
      const stat = fs.statSync(dll);
      return { present: true, version: null, identity: `${dll}@${stat.mtimeMs}:${stat.size}`, evidence: dll, looked: [] };
    }
    return { present: false, version: null, identity: 'none', evidence: `no ${dll}`, looked: [] };
  }
  if (host.platform !== 'linux')
    return { present: false, version: null, identity: 'none', evidence: `NVIDIA drivers with CUDA do not exist for ${host.platform}`, looked: [] };

  const procFile = path.join(host.root, 'proc', 'driver', 'nvidia', 'version');
  const proc = readText(procFile);
  const libcuda = findLibcuda(host);
  if (proc !== null) {
    const version = /Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)/.exec(proc)?.[1] ?? /\b(\d{3,}\.\d+(?:\.\d+)?)\b/.exec(proc)?.[1] ?? null;
    const lib = libcuda.file === null ? '; libcuda.so.1 not found' : `; ${shown(host, libcuda.file)}`;
    return {
      present: true,
      version,
      identity: version ?? proc.trim().split('\n')[0],
      evidence: `NVIDIA kernel module ${version ?? '(version not parsed)'} (/proc/driver/nvidia/version${lib})`,
      looked: libcuda.looked,
    };
  }
  if (libcuda.file !== null) {
    const real = (() => {
      try {
        return fs.realpathSync(libcuda.file);
      } catch {
        return libcuda.file;
      }
    })();
    const version = /libcuda\.so\.(\d+\.\d+(?:\.\d+)?)$/.exec(real)?.[1] ?? null;
    const stat = fs.statSync(real);
    const where = shown(host, libcuda.file);
    return {
      present: true,
      version,
      identity: version ?? `${where}@${stat.mtimeMs}:${stat.size}`,
      evidence: `${where}${version ? ` (${version})` : ''}, no /proc/driver/nvidia (WSL2 or a container: the probe decides)`,
      looked: libcuda.looked,
    };
  }
  return {
    present: false,
    version: null,
    identity: 'none',
    evidence: 'no /proc/driver/nvidia/version, no libcuda.so.1',
    looked: libcuda.looked,
  };
}

/** manifest.json of a CUDA platform package, written by scripts/pack.mjs. */
export interface CudaManifest {
  name: string;
  version: string;
  binary: string;
  /** What the packing script read from the binary's .nv_fatbin: SASS targets and PTX targets. */
  architectures: { sass: string[]; ptx: string[] };
  cuda: { nvcc: string; runtime: 'static' };
  bytes: number;
  sha256: string;
}

export interface CudaCandidate {
  file: string;
  origin: 'cuda package' | 'cuda dev build';
  /** How to name it in one line: the package and version, or the dev build's path. */
  label: string;
  manifest?: CudaManifest;
}

export interface CudaLookup {
  /** The platform package for this machine, or null when none is published for it. */
  packageName: string | null;
  /** 'linked' = found without a binary: a checkout's workspace link (npm run pack stages the binary). */
  packageState: 'installed' | 'not installed' | 'other version' | 'linked' | 'none for this platform';
  candidates: CudaCandidate[];
  /** Why the package (or dev build) is not a candidate, one sentence each. */
  notes: string[];
}

export interface LookupOptions {
  packageRoot: string;
  version: string;
  host?: HostFacts;
  /** Finds `<name>/package.json` from packageRoot; null when not installed. */
  resolvePackage?: (name: string) => string | null;
}

function defaultResolve(packageRoot: string): (name: string) => string | null {
  return (name) => {
    try {
      return require.resolve(`${name}/package.json`, { paths: [packageRoot] });
    } catch {
      return null;
    }
  };
}

/** The CUDA addons this install could use, best first: the platform package, then a dev build. */
export function findCudaBinaries(options: LookupOptions): CudaLookup {
  const host = options.host ?? currentHost();
  const packageName = cudaPackageName(host);
  const candidates: CudaCandidate[] = [];
  const notes: string[] = [];
  let packageState: CudaLookup['packageState'] = 'none for this platform';

  if (packageName === null) {
    notes.push(`no CUDA package is published for ${host.platform}-${host.arch}${host.platform === 'linux' ? ` ${libcOf(host)}` : ''}`);
  } else {
    const manifestPath = (options.resolvePackage ?? defaultResolve(options.packageRoot))(packageName);
    if (manifestPath === null) {
      packageState = 'not installed';
      notes.push(`${packageName} is not installed`);
    } else {
      const dir = path.dirname(manifestPath);
      const pkg = readJson<{ version?: string }>(manifestPath) ?? {};
      const manifest = readJson<CudaManifest>(path.join(dir, 'manifest.json')) ?? undefined;
      const file = path.join(dir, manifest?.binary ?? 'steprl.node');
      if (pkg.version !== options.version) {
        packageState = 'other version';
        notes.push(`${packageName} ${pkg.version} does not match steprl ${options.version} (npm install ${packageName}@${options.version})`);
      } else if (!fs.existsSync(file)) {
        packageState = 'linked';
        notes.push(`${packageName} at ${dir} holds no ${path.basename(file)} (in a checkout it is a workspace link; npm run pack stages the binary)`);
      } else {
        packageState = 'installed';
        candidates.push({ file, origin: 'cuda package', label: `${packageName}@${pkg.version}`, manifest });
      }
    }
  }

  const devBuild = path.join(options.packageRoot, 'build-cuda', 'Release', 'steprl.node');
  if (fs.existsSync(devBuild)) candidates.push({ file: devBuild, origin: 'cuda dev build', label: 'the CUDA dev build (build-cuda/)' });
  return { packageName, packageState, candidates, notes };
}

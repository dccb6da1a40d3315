// select.ts: which addon to load, decided without loading anything (binding.ts loads it). Pure
// apart from what `deps` does, so the decision table is tested with fakes (test/core/loader.test.ts).
//
//   STEPRL_BINARY=/path.node        that file                                    (explicit)
//   STEPRL_BACKEND=cpu              the CPU addon through node-gyp-build           (explicit)
//   STEPRL_BACKEND=cuda             the CUDA package, else build-cuda/; it must see a GPU, or throw
//   STEPRL_BACKEND=cuda-sim         build-cuda-sim/ (dev checkouts)
//   auto (default)                  CUDA only if a driver is present AND a child-process probe of
//                                   the binary runs a kernel (cached); else the CPU addon, with one
//                                   line saying why when CUDA was in sight (a driver or a CUDA binary)
// (An embedder's useBinding() object comes before all of these; binding.ts handles it.)
import { BackendError } from '../errors';
import type { CudaCandidate, CudaLookup, DriverInfo } from './cuda_locate';
import type { ProbeResult } from './cuda_probe';

export type LoadPlan =
  | { kind: 'cpu' }
  | { kind: 'file'; file: string }
  | { kind: 'cuda'; candidate: CudaCandidate; requireDevice: boolean }
  | { kind: 'cuda-sim'; file: string };

export interface Decision {
  mode: 'explicit' | 'auto';
  plan: LoadPlan;
  /** Why this plan, one sentence (doctor prints it). */
  reason: string;
  /** The one line auto prints on stderr when it chose the CPU although CUDA was in sight; else null. */
  notice: string | null;
  driver?: DriverInfo;
  cuda?: CudaLookup;
  probes: { candidate: CudaCandidate; result: ProbeResult }[];
}

export interface SelectDeps {
  env: { STEPRL_BACKEND?: string; STEPRL_BINARY?: string };
  version: string;
  lookup(): CudaLookup;
  driver(): DriverInfo;
  probe(candidate: CudaCandidate, driver: DriverInfo): ProbeResult;
  simulatorFile: string;
}

const SILENCE = 'STEPRL_BACKEND=cpu silences this';

function installHint(lookup: CudaLookup, version: string): string {
  if (lookup.packageName === null)
    return `${lookup.notes[0] ?? 'no CUDA package fits this machine'}: build one in a checkout (npm run build:cuda) and set STEPRL_BINARY`;
  return `npm install ${lookup.packageName}@${version} (or npm install --include=optional when a lockfile dropped it)`;
}

export function selectBackend(deps: SelectDeps): Decision {
  const binary = deps.env.STEPRL_BINARY;
  const backend = (deps.env.STEPRL_BACKEND ?? 'auto').trim().toLowerCase() || 'auto';
  if (binary) return { mode: 'explicit', plan: { kind: 'file', file: binary }, reason: `STEPRL_BINARY=${binary}`, notice: null, probes: [] };

  switch (backend) {
    case 'cpu':
      return { mode: 'explicit', plan: { kind: 'cpu' }, reason: 'STEPRL_BACKEND=cpu', notice: null, probes: [] };
    case 'cuda-sim':
      return { mode: 'explicit', plan: { kind: 'cuda-sim', file: deps.simulatorFile }, reason: 'STEPRL_BACKEND=cuda-sim', notice: null, probes: [] };
    case 'cuda': {
      const cuda = deps.lookup();
      if (cuda.candidates.length === 0)
        throw new BackendError(
          `STEPRL_BACKEND=cuda but no CUDA build of steprl is installed (${cuda.notes.join('; ')}). ` +
            `Install it: ${installHint(cuda, deps.version)}; or use STEPRL_BACKEND=cpu.`,
        );
      return { mode: 'explicit', plan: { kind: 'cuda', candidate: cuda.candidates[0], requireDevice: true }, reason: 'STEPRL_BACKEND=cuda', notice: null, cuda, probes: [] };
    }
    case 'auto':
      return selectAuto(deps);
    default:
      throw new BackendError(`Expected one of auto, cpu, cuda, cuda-sim for STEPRL_BACKEND but received ${JSON.stringify(deps.env.STEPRL_BACKEND)}`);
  }
}

function selectAuto(deps: SelectDeps): Decision {
  const cuda = deps.lookup();
  const driver = deps.driver();
  const base = { mode: 'auto' as const, driver, cuda };
  const cpu = (reason: string, notice: string | null, probes: Decision['probes'] = []): Decision => ({
    ...base, plan: { kind: 'cpu' }, reason, notice: notice === null ? null : `steprl: using the CPU backend: ${notice}`, probes,
  });

  if (!driver.present) {
    if (cuda.candidates.length === 0) return cpu(`no NVIDIA driver and no CUDA build of steprl (${cuda.notes.join('; ')})`, null);
    return cpu(
      `no NVIDIA driver (${driver.evidence})`,
      `no NVIDIA driver (${driver.evidence}), so ${cuda.candidates[0].label} stays unused; install the NVIDIA driver to use a GPU (${SILENCE})`,
    );
  }
  if (cuda.candidates.length === 0)
    return cpu(
      `NVIDIA driver present but no CUDA build of steprl (${cuda.notes.join('; ')})`,
      `an NVIDIA driver${driver.version ? ` (${driver.version})` : ''} is present but ${cuda.notes[0] ?? 'no CUDA build of steprl is installed'}; for the GPU: ${installHint(cuda, deps.version)} (${SILENCE})`,
    );

  const probes: Decision['probes'] = [];
  for (const candidate of cuda.candidates) {
    const result = deps.probe(candidate, driver);
    probes.push({ candidate, result });
    if (result.ok) {
      const where = result.device ? ` on ${result.device.name} (sm ${result.device.computeCapability})` : '';
      return { ...base, plan: { kind: 'cuda', candidate, requireDevice: false }, reason: `the probe ran a kernel${where}${result.cachedIn ? ' (cached)' : ''}`, notice: null, probes };
    }
  }
  const failed = probes.map((p) => `${p.candidate.label}: ${p.result.reason}`).join('; ');
  return cpu(
    `the CUDA probe failed (${failed})`,
    `the CUDA probe failed (${failed}); an NVIDIA driver new enough for the addon's CUDA version fixes most failures, steprl doctor shows details (${SILENCE})`,
    probes,
  );
}
